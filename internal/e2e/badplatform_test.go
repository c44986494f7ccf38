package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/stretchr/testify/require"

	"github.com/adsync/adsync/internal/store"
	"github.com/adsync/adsync/internal/tasks"
)

// badPlatform is an httptest server standing in for the platform: it
// issues tokens for the test account like the real one, and answers each
// list page and sync call the way the test decides, however wrong.
type badPlatform struct {
	// page answers GET /api/campaigns?page=N; attempt counts from 1.
	page func(w http.ResponseWriter, page, attempt int)
	// sync answers POST /api/campaigns/{id}/sync; nil answers success.
	sync func(w http.ResponseWriter, id string)

	mu       sync.Mutex
	attempts map[int]int
	url      string
}

// newBadPlatform starts the server; it is closed when the test ends.
func newBadPlatform(t *testing.T, page func(w http.ResponseWriter, page, attempt int)) *badPlatform {
	t.Helper()
	p := &badPlatform{page: page, attempts: map[int]int{}}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /auth/token", func(w http.ResponseWriter, r *http.Request) {
		user, pass, ok := r.BasicAuth()
		if !ok || user != email || pass != password {
			answer(w, http.StatusUnauthorized, "application/json", `{"error":"Invalid credentials"}`)
			return
		}
		answer(w, http.StatusOK, "application/json", fmt.Sprintf(
			`{"access_token":"bad-platform-token-0123456789","token_type":"Bearer","expires_in":3600,"issued_at":%d}`, time.Now().Unix()))
	})
	mux.HandleFunc("GET /api/campaigns", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer bad-platform-token-0123456789" {
			answer(w, http.StatusUnauthorized, "application/json", `{"error":"Unauthorized"}`)
			return
		}
		n, _ := strconv.Atoi(r.URL.Query().Get("page"))
		p.mu.Lock()
		p.attempts[n]++
		attempt := p.attempts[n]
		p.mu.Unlock()
		p.page(w, n, attempt)
	})
	mux.HandleFunc("POST /api/campaigns/{id}/sync", func(w http.ResponseWriter, r *http.Request) {
		id := r.PathValue("id")
		if p.sync != nil {
			p.sync(w, id)
			return
		}
		quoted, _ := json.Marshal(id)
		answer(w, http.StatusOK, "application/json", fmt.Sprintf(
			`{"success":true,"campaign_id":%s,"synced_at":"2024-05-06T07:08:09Z","message":"Campaign synced"}`, quoted))
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	p.url = srv.URL
	return p
}

// attemptsOf returns how often a page was asked for.
func (p *badPlatform) attemptsOf(page int) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.attempts[page]
}

func answer(w http.ResponseWriter, status int, contentType, body string) {
	w.Header().Set("Content-Type", contentType)
	w.WriteHeader(status)
	_, _ = w.Write([]byte(body))
}

// wireCampaign is a campaign as the platform sends it.
type wireCampaign struct {
	ID          string  `json:"id"`
	Name        string  `json:"name"`
	Status      string  `json:"status"`
	Budget      float64 `json:"budget"`
	Impressions int64   `json:"impressions"`
	Clicks      int64   `json:"clicks"`
	Conversions int64   `json:"conversions"`
	CreatedAt   string  `json:"created_at"`
}

// goodCampaign is a valid campaign numbered n.
func goodCampaign(id string, n int) wireCampaign {
	return wireCampaign{ID: id, Name: "Campaign " + strconv.Itoa(n), Status: "active", Budget: float64(n) + 0.25,
		Impressions: int64(1000 * n), Clicks: int64(10 * n), Conversions: int64(n), CreatedAt: "2024-03-01T10:00:00Z"}
}

// pageBody renders a valid page envelope around raw records.
func pageBody(page, total int, hasMore bool, records ...string) string {
	return fmt.Sprintf(`{"data":[%s],"pagination":{"page":%d,"limit":10,"total":%d,"has_more":%t}}`,
		strings.Join(records, ","), page, total, hasMore)
}

func marshal(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return string(b)
}

// badPlatformOverrides point the bundle at the stand-in platform, with a
// budget that does not slow the test down and room to read a 10 MB body.
func badPlatformOverrides(url string) map[string]string {
	return map[string]string{"PLATFORM_URL": url, "PLATFORM_RATE_LIMIT": "100", "PLATFORM_TIMEOUT": "3s"}
}

// A platform that answers some pages with malformed JSON, wrong types,
// missing members, a 50 MB body, a wrong content type or an HTML error
// page, and some records with wrong types, missing fields and huge
// numbers: each broken page and record is dead-lettered with a reason that
// names the fault, a transient HTML 502 is retried until the page comes
// through, the good pages and records all land, and the worker stays up
// to complete the next, healthy run.
func TestBadPlatformAnswers(t *testing.T) {
	t.Parallel()
	const total = 90 // pages 1..9 of 10
	good := func(page int) []string {
		var out []string
		for i := 1; i <= 10; i++ {
			n := (page-1)*10 + i
			out = append(out, marshal(t, goodCampaign(fmt.Sprintf("campaign_%d", n), n)))
		}
		return out
	}
	badRecords := map[string]string{ // id -> the field the reason must name
		"budget_as_text": "budget", "no_created_at": "created_at", "huge_impressions": "impressions",
		"huge_budget": "budget", "clicks_overflow": "clicks",
	}
	page9 := []string{
		`{"id":"budget_as_text","name":"n","status":"active","budget":"12.50","impressions":1,"clicks":1,"conversions":1,"created_at":"2024-03-01T10:00:00Z"}`,
		`{"id":"no_created_at","name":"n","status":"active","budget":1,"impressions":1,"clicks":1,"conversions":1}`,
		`{"id":"huge_impressions","name":"n","status":"active","budget":1,"impressions":1e400,"clicks":1,"conversions":1,"created_at":"2024-03-01T10:00:00Z"}`,
		`{"id":"huge_budget","name":"n","status":"active","budget":1e300,"impressions":1,"clicks":1,"conversions":1,"created_at":"2024-03-01T10:00:00Z"}`,
		`{"id":"clicks_overflow","name":"n","status":"active","budget":1,"impressions":1,"clicks":99999999999999999999,"conversions":1,"created_at":"2024-03-01T10:00:00Z"}`,
		marshal(t, goodCampaign("sync_answers_html", 99)),
	}
	page9 = append(page9, good(9)[:4]...)
	deadPages := map[int]string{ // page -> what its dead letter's reason must say
		2: "decode page: invalid JSON",
		3: "decode page: pagination.total: expected number, got string",
		4: "decode page: pagination: missing",
		5: "response body larger than",
		6: "content type text/plain, expected application/json",
		7: "content type text/html, expected application/json",
	}
	healthy := false
	var mu sync.Mutex
	bp := newBadPlatform(t, func(w http.ResponseWriter, page, attempt int) {
		mu.Lock()
		ok := healthy
		mu.Unlock()
		if ok {
			recs := good(page)
			answer(w, http.StatusOK, "application/json", pageBody(page, total, page < 9, recs...))
			return
		}
		switch page {
		case 1:
			answer(w, http.StatusOK, "application/json", pageBody(1, total, true, good(1)...))
		case 2:
			answer(w, http.StatusOK, "application/json", `{"data":[{"id":"campaign_11",`)
		case 3:
			answer(w, http.StatusOK, "application/json", `{"data":[],"pagination":{"page":3,"limit":10,"total":"90","has_more":true}}`)
		case 4:
			answer(w, http.StatusOK, "application/json", `{"data":[`+strings.Join(good(4), ",")+`]}`)
		case 5:
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusOK)
			chunk := []byte(strings.Repeat(" ", 64<<10))
			for written := 0; written < 50<<20; written += len(chunk) {
				if _, err := w.Write(chunk); err != nil {
					return // the client stopped reading, as it should
				}
			}
		case 6:
			answer(w, http.StatusOK, "text/plain", pageBody(6, total, true, good(6)...))
		case 7:
			answer(w, http.StatusOK, "text/html; charset=utf-8", "<!DOCTYPE html><html><body><h1>Maintenance</h1></body></html>")
		case 8:
			if attempt <= 2 {
				answer(w, http.StatusBadGateway, "text/html", "<html><body><h1>502 Bad Gateway</h1>\n<pre>at proxy.js:12</pre></body></html>")
				return
			}
			answer(w, http.StatusOK, "application/json", pageBody(8, total, true, good(8)...))
		case 9:
			answer(w, http.StatusOK, "application/json", pageBody(9, total, false, page9...))
		default:
			answer(w, http.StatusOK, "application/json", pageBody(page, total, false))
		}
	})
	bp.sync = func(w http.ResponseWriter, id string) {
		if id == "sync_answers_html" {
			answer(w, http.StatusOK, "text/html", "<html>Sync done!</html>")
			return
		}
		quoted, _ := json.Marshal(id)
		answer(w, http.StatusOK, "application/json", fmt.Sprintf(
			`{"success":true,"campaign_id":%s,"synced_at":"2024-05-06T07:08:09Z"}`, quoted))
	}
	badRecords["sync_answers_html"] = "content type text/html"

	b := setup(t, mockConfig(), []string{"acme"}, badPlatformOverrides(bp.url))
	stop := b.startWorker(t)
	runs := b.sync(t, "acme")
	run := runs[0]

	require.Equal(t, store.StatusFailed, run.Status, "pages failed for good, so the run failed: %s", run.Reason)
	require.Equal(t, 3, run.PagesDone, "pages 1, 8 and 9 came through")
	require.Equal(t, len(deadPages), run.PagesFailed)
	require.Equal(t, 24, run.CampaignsSaved, "10 of page 1, 10 of page 8, 4 of page 9")
	require.Equal(t, len(badRecords), run.CampaignsDead)
	require.Equal(t, 3, bp.attemptsOf(8), "the 502 page was retried until it came through")
	for page := range deadPages {
		require.Equal(t, 1, bp.attemptsOf(page), "page %d breaks the contract: not retried", page)
	}

	// The good records landed, value for value.
	var want []string
	for _, p := range []int{1, 8} {
		for i := 1; i <= 10; i++ {
			want = append(want, fmt.Sprintf("campaign_%d", (p-1)*10+i))
		}
	}
	want = append(want, "campaign_81", "campaign_82", "campaign_83", "campaign_84")
	sort.Strings(want)
	got, err := b.store.Campaigns(context.Background(), "acme")
	require.NoError(t, err)
	var gotIDs []string
	for _, g := range got {
		gotIDs = append(gotIDs, g.ID)
		n, err := strconv.Atoi(strings.TrimPrefix(g.ID, "campaign_"))
		require.NoError(t, err)
		w := goodCampaign(g.ID, n)
		require.Equal(t, w.Name, g.Name)
		require.Equal(t, w.Impressions, g.Impressions)
		require.Equal(t, fmt.Sprint(w.Budget), trimZeros(g.Budget))
	}
	require.Equal(t, want, gotIDs)

	// Every broken page and record has a dead letter whose reason names
	// the fault, here and in asynq's archive.
	dead, err := b.store.DeadLetters(context.Background(), run.ID)
	require.NoError(t, err)
	require.Len(t, dead, len(deadPages)+len(badRecords))
	for _, d := range dead {
		if d.ItemKey == "" {
			require.Contains(t, d.Reason, deadPages[d.Page], "reason of page %d", d.Page)
			require.Contains(t, d.Reason, "permanent", "page %d", d.Page)
		} else {
			require.Contains(t, d.Reason, badRecords[d.ItemKey], "reason of record %s", d.ItemKey)
		}
		require.NotContains(t, d.Reason, "<html", "a reason never quotes the body")
		require.Less(t, len(d.Reason), 300, "a reason is one short line: %q", d.Reason)
	}
	insp := asynq.NewInspectorFromRedisClient(b.rdb)
	archivedPages, err := insp.ListArchivedTasks(tasks.QueuePages, asynq.PageSize(100))
	require.NoError(t, err)
	require.Len(t, archivedPages, len(deadPages))
	archivedSaves, err := insp.ListArchivedTasks(tasks.QueueSaves, asynq.PageSize(100))
	require.NoError(t, err)
	require.Len(t, archivedSaves, len(badRecords))

	// The worker is still up: the next run, against a healthy platform,
	// completes.
	mu.Lock()
	healthy = true
	mu.Unlock()
	next := b.sync(t, "acme")
	require.Equal(t, store.StatusDone, next[0].Status, "reason: %s", next[0].Reason)
	require.Equal(t, total, next[0].CampaignsSaved)
	stop()
}

// hostile are SQL injection payloads and other text that must be stored
// exactly as sent.
var hostile = []string{
	`x'; DROP TABLE campaigns; --`,
	`1; DELETE FROM sync_runs WHERE '1'='1`,
	`"; DROP TABLE sync_run_items; --`,
	`Robert'); DROP TABLE students;--`,
	`' OR 1=1 --`,
	`$1`,
	`$$; DROP SCHEMA public CASCADE; $$`,
	`E'\\''; TRUNCATE dead_letters; --`,
	`%s%n%x %27%20OR%201%3D1`,
	`campaign/../../etc/passwd?x=1#frag`,
	`/* comment */ SELECT pg_sleep(10); --`,
	`ünï'cødé "quoted" \back\slash ☀ 🚀`,
	`{{.}} ${jndi:ldap://127.0.0.1/a}`,
	"tab\tnew\nline",
}

// Every text field (id, name, status) of every record holds an SQL
// injection payload: all are stored verbatim, the tables survive, and
// nothing is dead-lettered. The ids also travel through the sync call's
// URL, the ledger and the task ids.
func TestInjectionPayloadsStoredVerbatim(t *testing.T) {
	t.Parallel()
	var records []wireCampaign
	for i, id := range hostile {
		c := goodCampaign(id, i+1)
		c.Name = hostile[(i+1)%len(hostile)]
		c.Status = hostile[(i+2)%len(hostile)]
		records = append(records, c)
	}
	var raw []string
	for _, r := range records {
		raw = append(raw, marshal(t, r))
	}
	bp := newBadPlatform(t, func(w http.ResponseWriter, page, _ int) {
		var recs []string
		if start := (page - 1) * 10; start < len(raw) {
			recs = raw[start:min(start+10, len(raw))]
		}
		answer(w, http.StatusOK, "application/json", pageBody(page, len(raw), page*10 < len(raw), recs...))
	})
	var synced sync.Map
	bp.sync = func(w http.ResponseWriter, id string) {
		synced.Store(id, true)
		quoted, _ := json.Marshal(id)
		answer(w, http.StatusOK, "application/json", fmt.Sprintf(
			`{"success":true,"campaign_id":%s,"synced_at":"2024-05-06T07:08:09Z"}`, quoted))
	}

	b := setup(t, mockConfig(), []string{"acme"}, badPlatformOverrides(bp.url))
	b.startWorker(t)
	runs := b.sync(t, "acme")
	require.Equal(t, store.StatusDone, runs[0].Status, "reason: %s", runs[0].Reason)
	require.Equal(t, len(records), runs[0].CampaignsSaved)

	got, err := b.store.Campaigns(context.Background(), "acme")
	require.NoError(t, err)
	require.Len(t, got, len(records), "the campaigns table still holds every row")
	byID := map[string]store.StoredCampaign{}
	for _, g := range got {
		byID[g.ID] = g
	}
	for _, want := range records {
		g, ok := byID[want.ID]
		require.True(t, ok, "id %q stored verbatim", want.ID)
		require.Equal(t, want.Name, g.Name)
		require.Equal(t, want.Status, g.Status)
		_, ok = synced.Load(want.ID)
		require.True(t, ok, "the sync call named %q exactly", want.ID)
	}
	recent, err := b.store.RecentRuns(context.Background(), 10)
	require.NoError(t, err)
	require.Len(t, recent, 1, "sync_runs is intact")
	dead, err := b.store.DeadLetters(context.Background(), runs[0].ID)
	require.NoError(t, err)
	require.Empty(t, dead)
}
