package mock

import (
	"encoding/binary"
	"encoding/json"
	"hash/fnv"
	"math/rand/v2"
	"strconv"
	"time"
)

// Campaign is one campaign of a client's catalogue, the ground truth that
// tests compare a sync's results with. Every value is a deterministic
// function of (seed, client id, campaign number), so a row saved under the
// wrong client does not match.
//
// For a poison record (Poison non-empty) the field Poison names is sent
// malformed; its Go value here is what the malformed text encodes: ID ""
// for an empty id, a negative Budget, the Budget whose string form is sent,
// the CreatedAt sent in a non-RFC 3339 layout, Status holding the decimal
// digits sent as a JSON number, Impressions without the ".5" sent after it,
// Name "" for a missing name field.
type Campaign struct {
	// ID is "campaign_N" for campaign number N (empty for that poison kind).
	ID string
	// Name is free text with quotes, semicolons, unicode and SQL-looking
	// strings.
	Name string
	// Status is active, paused, completed, draft or archived.
	Status string
	// Budget may have cents.
	Budget float64
	// Impressions, Clicks and Conversions are the metrics, with
	// Conversions <= Clicks <= Impressions.
	Impressions, Clicks, Conversions int64
	// CreatedAt carries the zone it is sent in (UTC, +05:30 or -08:00);
	// compare it with time.Time.Equal.
	CreatedAt time.Time
	// Poison is empty for a valid record, else a short reason naming the bad
	// field, such as "budget: negative".
	Poison string
	// Nulls names the metrics sent as null under MOCK_NULL_EVERY (budget,
	// impressions, clicks, conversions); their fields above keep the
	// figure the platform does not send.
	Nulls []string
}

// nullSets are the metrics sent as null on campaign_K, campaign_2K, ...
// under MOCK_NULL_EVERY=K, in turn.
var nullSets = [][]string{
	{"conversions"}, {"impressions"}, {"clicks"}, {"budget"},
	{"budget", "impressions", "clicks", "conversions"},
}

// nullsOf returns the metrics sent as null on campaign number n.
func nullsOf(n, every int) []string {
	if every <= 0 || n%every != 0 {
		return nil
	}
	return nullSets[(n/every-1)%len(nullSets)]
}

// poisonKind is how a poison record is malformed; kinds cycle in this order
// over campaign_N, campaign_2N, ... for MOCK_POISON_EVERY=N.
type poisonKind int

const (
	poisonNone poisonKind = iota
	poisonEmptyID
	poisonNegativeBudget
	poisonBudgetString
	poisonCreatedAtLayout
	poisonStatusNumber
	poisonImpressionsFraction
	poisonMissingName
	poisonKinds = int(poisonMissingName)
)

// reason is the Campaign.Poison text of a kind.
func (k poisonKind) reason() string {
	switch k {
	case poisonEmptyID:
		return "id: empty"
	case poisonNegativeBudget:
		return "budget: negative"
	case poisonBudgetString:
		return "budget: string instead of number"
	case poisonCreatedAtLayout:
		return "created_at: not RFC 3339"
	case poisonStatusNumber:
		return "status: number instead of string"
	case poisonImpressionsFraction:
		return "impressions: number with a fraction"
	case poisonMissingName:
		return "name: missing"
	}
	return ""
}

// poisonOf returns the kind of campaign number n under MOCK_POISON_EVERY.
func poisonOf(n, every int) poisonKind {
	if every <= 0 || n%every != 0 {
		return poisonNone
	}
	return poisonKind((n/every-1)%poisonKinds + 1)
}

// badCreatedAtLayout is the non-RFC 3339 layout of poisonCreatedAtLayout.
const badCreatedAtLayout = "02/01/2006 15:04"

// nameTemplates give names the text a careless client mishandles.
var nameTemplates = []string{
	`Summer Sale "Hot Deals"`,
	`O'Brien's Pub; happy hour`,
	`Café Crème – été`,
	`日本の春キャンペーン`,
	`Launch 🚀 week`,
	`'; DROP TABLE campaigns; --`,
	`Robert'); DROP TABLE students;--`,
	`50% off & free shipping`,
	`<b>Bold</b> move`,
	`Back\slash, "quotes" and 'apostrophes'`,
	`Zürich; Genève; Łódź`,
	"Tab\tand\nnewline",
	`Ünïcödé — ñ ß ø`,
	`Plain brand awareness`,
}

// statuses is weighted towards active campaigns, like a real account.
var statuses = []string{"active", "active", "active", "paused", "paused", "completed", "draft", "archived"}

// zones are the offsets created_at is sent in.
var zones = []*time.Location{time.UTC, time.FixedZone("", 5*3600+30*60), time.FixedZone("", -8*3600)}

// createdBase is the earliest created_at.
var createdBase = time.Date(2023, 1, 1, 0, 0, 0, 0, time.UTC)

// Catalogue returns campaigns 1..n of a client exactly as the mock serves
// them with VolatileMetrics off: the ground truth for tests. Only cfg.Seed,
// cfg.PoisonEvery and cfg.NullEvery matter. A catalogue changed by
// MOCK_CHANGE_AFTER_PAGE is read with Server.Catalogue.
func Catalogue(cfg Config, clientID string, n int) []Campaign {
	out := make([]Campaign, 0, max(n, 0))
	for i := 1; i <= n; i++ {
		c, _ := campaignOf(cfg, clientID, i)
		out = append(out, c)
	}
	return out
}

// campaignOf is campaign number n of a client as served, and its poison
// kind.
func campaignOf(cfg Config, clientID string, n int) (Campaign, poisonKind) {
	c, kind := generate(cfg.Seed, clientID, n, cfg.PoisonEvery)
	c.Nulls = nullsOf(n, cfg.NullEvery)
	return c, kind
}

// generate builds campaign number n of a client, and its poison kind.
func generate(seed int64, clientID string, n, poisonEvery int) (Campaign, poisonKind) {
	r := rand.New(rand.NewPCG(uint64(seed), campaignStream(clientID, n))) // #nosec G115 G404 -- reproducible test data from a seed, by design; no security role
	c := Campaign{
		ID:     "campaign_" + strconv.Itoa(n),
		Name:   nameTemplates[r.IntN(len(nameTemplates))] + " #" + strconv.Itoa(n),
		Status: statuses[r.IntN(len(statuses))],
	}
	cents := 5_000 + r.Int64N(5_000_000)
	if r.IntN(4) == 0 {
		cents -= cents % 100
	}
	c.Budget = float64(cents) / 100
	c.Impressions = r.Int64N(2_000_000)
	c.Clicks = r.Int64N(c.Impressions/10 + 1)
	c.Conversions = r.Int64N(c.Clicks/5 + 1)
	at := createdBase.Add(time.Duration(r.Int64N(2*365*24*3600)) * time.Second)
	if r.IntN(3) == 0 {
		at = at.Add(time.Duration(r.Int64N(1000)) * time.Millisecond)
	}
	c.CreatedAt = at.In(zones[r.IntN(len(zones))])

	kind := poisonOf(n, poisonEvery)
	c.Poison = kind.reason()
	switch kind {
	case poisonEmptyID:
		c.ID = ""
	case poisonNegativeBudget:
		c.Budget = -c.Budget
	case poisonStatusNumber:
		c.Status = strconv.Itoa(1 + r.IntN(9))
	case poisonMissingName:
		c.Name = ""
	}
	return c, kind
}

// campaignStream derives the PCG stream of (client id, campaign number).
func campaignStream(clientID string, n int) uint64 {
	h := fnv.New64a()
	_, _ = h.Write([]byte(clientID)) // hash.Hash.Write never fails
	var num [8]byte
	binary.LittleEndian.PutUint64(num[:], uint64(n)) // #nosec G115 -- hashes the bits of a campaign number; a sign change could not matter
	_, _ = h.Write(num[:])
	return h.Sum64()
}

// wireCampaign is a campaign as sent. The loose field types let a poison
// record carry a value of the wrong JSON type.
type wireCampaign struct {
	ID          string  `json:"id"`
	Name        *string `json:"name,omitempty"`
	Status      any     `json:"status"`
	Budget      any     `json:"budget"`
	Impressions any     `json:"impressions"`
	Clicks      any     `json:"clicks"`
	Conversions any     `json:"conversions"`
	CreatedAt   string  `json:"created_at"`
}

// wire renders a campaign for the list answer; bump is added to the metrics
// when VolatileMetrics is on (0 otherwise).
func wire(c Campaign, kind poisonKind, bump int64) wireCampaign {
	w := wireCampaign{
		ID:          c.ID,
		Name:        &c.Name,
		Status:      c.Status,
		Budget:      c.Budget,
		Impressions: c.Impressions + 5*bump,
		Clicks:      c.Clicks + 2*bump,
		Conversions: c.Conversions + bump,
		CreatedAt:   c.CreatedAt.Format(time.RFC3339Nano),
	}
	switch kind {
	case poisonBudgetString:
		w.Budget = strconv.FormatFloat(c.Budget, 'f', -1, 64)
	case poisonCreatedAtLayout:
		w.CreatedAt = c.CreatedAt.Format(badCreatedAtLayout)
	case poisonStatusNumber:
		w.Status = json.Number(c.Status)
	case poisonImpressionsFraction:
		w.Impressions = json.Number(strconv.FormatInt(c.Impressions+5*bump, 10) + ".5")
	case poisonMissingName:
		w.Name = nil
	}
	for _, m := range c.Nulls {
		switch m {
		case "budget":
			w.Budget = nil
		case "impressions":
			w.Impressions = nil
		case "clicks":
			w.Clicks = nil
		case "conversions":
			w.Conversions = nil
		}
	}
	return w
}
