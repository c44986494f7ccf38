package mock

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// Page size rules of GET /api/campaigns.
const (
	defaultLimit = 10
	maxLimit     = 100
)

// pageKey names one cached list answer; version is the catalogue's
// listing version (0 before any change).
type pageKey struct{ size, page, limit, version int }

// listAnswer is the 200 body of GET /api/campaigns.
type listAnswer struct {
	Data       []wireCampaign `json:"data"`
	Pagination pagination     `json:"pagination"`
}

// pagination tells the client where it is; HasMore is the truth about a
// next page, Total may grow between calls.
type pagination struct {
	Page    int  `json:"page"`
	Limit   int  `json:"limit"`
	Total   int  `json:"total"`
	HasMore bool `json:"has_more"`
}

// pageRequest is a parsed page query.
type pageRequest struct {
	page, limit int
	// capped is the X-Limit-Capped header value when limit was lowered.
	capped string
}

// parsePage reads page and limit; the error is the 400 message.
func parsePage(rawQuery string) (pageRequest, error) {
	q, err := url.ParseQuery(rawQuery)
	if err != nil {
		return pageRequest{}, fmt.Errorf("malformed query string: %w", err)
	}
	req := pageRequest{page: 1, limit: defaultLimit}
	if q.Has("page") {
		if req.page, err = positive("page", q.Get("page")); err != nil {
			return pageRequest{}, err
		}
	}
	if q.Has("limit") {
		raw := q.Get("limit")
		if req.limit, err = positive("limit", raw); err != nil {
			return pageRequest{}, err
		}
		if req.limit > maxLimit {
			req.limit = maxLimit
			req.capped = "requested=" + raw + " max=" + strconv.Itoa(maxLimit)
		}
	}
	return req, nil
}

// positive parses a query value that must be an integer >= 1. A value too
// large for an int is taken as the largest int: past the end for a page,
// capped for a limit.
func positive(name, raw string) (int, error) {
	n, err := strconv.Atoi(raw)
	switch {
	case errors.Is(err, strconv.ErrRange) && !strings.HasPrefix(raw, "-"):
		return math.MaxInt, nil
	case err != nil:
		return 0, fmt.Errorf("%s must be a positive integer, got %s", name, quoteInput(raw))
	case n < 1:
		return 0, fmt.Errorf("%s must be 1 or more, got %s", name, quoteInput(raw))
	}
	return n, nil
}

// handleList serves GET /api/campaigns for an admitted, authorized request.
func (s *Server) handleList(w http.ResponseWriter, r *http.Request, c *client) {
	req, err := parsePage(r.URL.RawQuery)
	if err != nil {
		s.reply(w, c, epList, http.StatusBadRequest, apiError{Error: "Bad request", Message: err.Error()})
		return
	}
	body, err := s.page(c, req.page, req.limit)
	if err != nil {
		s.reply(w, c, epList, http.StatusInternalServerError, apiError{
			Error: "Internal server error", Message: "The mock could not build this page.",
		})
		s.log.Error("mock page encoding failed", "client", c.id, "error", err)
		return
	}
	if req.capped != "" {
		w.Header().Set("X-Limit-Capped", req.capped)
	}
	c.count(epList, "200")
	writeBody(w, http.StatusOK, body)
	if s.cfg.GrowBy > 0 {
		c.grown.Store(true)
	}
	s.change(c, req.page)
}

// page returns the encoded list answer of a page of the client's current
// catalogue, from the cache unless metrics are volatile.
func (s *Server) page(c *client, page, limit int) ([]byte, error) {
	l := c.listing.Load()
	key := pageKey{size: s.catalogueSize(c), page: page, limit: limit}
	if l != nil {
		key.version = l.version
	}
	if !s.cfg.VolatileMetrics {
		if body, ok := c.pages.Load(key); ok {
			return body.([]byte), nil
		}
	}
	var bump int64
	if s.cfg.VolatileMetrics {
		bump = s.metricTick.Add(1)
	}
	body, err := json.Marshal(s.answer(c.id, l, key.size, page, limit, bump))
	if err != nil {
		return nil, fmt.Errorf("encode page %d of client %q: %w", page, c.id, err)
	}
	if !s.cfg.VolatileMetrics {
		c.pages.Store(key, body)
	}
	return body, nil
}

// answer builds the list answer of a page of a catalogue of size campaigns
// listed as l says, with the broken-platform knobs applied: from EmptyFrom
// on every page is empty yet says has_more; from RepeatFrom on every page
// repeats the one before RepeatFrom.
func (s *Server) answer(clientID string, l *listing, size, page, limit int, bump int64) listAnswer {
	switch {
	case s.cfg.EmptyFrom > 0 && page >= s.cfg.EmptyFrom:
		return listAnswer{Data: []wireCampaign{}, Pagination: pagination{Page: page, Limit: limit, Total: size, HasMore: true}}
	case s.cfg.RepeatFrom > 0 && page >= s.cfg.RepeatFrom:
		ans := s.answer(clientID, l, size, s.cfg.RepeatFrom-1, limit, bump)
		ans.Pagination.Page = page
		return ans
	}
	if pages := (size + limit - 1) / limit; page > pages {
		return listAnswer{Data: []wireCampaign{}, Pagination: pagination{Page: page, Limit: limit, Total: size}}
	}
	start := (page - 1) * limit
	end := min(start+limit, size)
	ans := listAnswer{
		Data:       make([]wireCampaign, 0, end-start),
		Pagination: pagination{Page: page, Limit: limit, Total: size, HasMore: end < size},
	}
	for i := start; i < end; i++ {
		camp, kind := campaignOf(s.cfg, clientID, l.numberAt(i))
		ans.Data = append(ans.Data, wire(camp, kind, bump))
	}
	return ans
}

// syncAnswer is the 200 body of POST /api/campaigns/{id}/sync.
type syncAnswer struct {
	Success    bool   `json:"success"`
	CampaignID string `json:"campaign_id"`
	SyncedAt   string `json:"synced_at"`
	Message    string `json:"message"`
}

// handleSync serves POST /api/campaigns/{id}/sync for an admitted,
// authorized request: 404 for an id the client does not have, else the
// slow answer.
func (s *Server) handleSync(w http.ResponseWriter, r *http.Request, c *client, id string) {
	if !s.hasCampaign(c, id) {
		s.reply(w, c, epSync, http.StatusNotFound, apiError{
			Error:   "Campaign not found",
			Message: "No campaign with id " + quoteInput(id) + " for this client.",
		})
		return
	}
	if !s.pause(r, s.syncDelay) {
		c.count(epSync, OutcomeCanceled)
		// Drop the connection without an answer; net/http recovers this
		// value silently.
		panic(http.ErrAbortHandler)
	}
	s.reply(w, c, epSync, http.StatusOK, syncAnswer{
		Success:    true,
		CampaignID: id,
		SyncedAt:   stamp(s.now()),
		Message:    "Campaign synced successfully",
	})
}

// hasCampaign reports whether id is "campaign_N" for a campaign N the
// client has now, spelled as the list serves it (no sign, no leading zero)
// and not a poison record whose id is sent empty.
func (s *Server) hasCampaign(c *client, id string) bool {
	digits, ok := strings.CutPrefix(id, "campaign_")
	if !ok || digits == "" || digits[0] < '1' || digits[0] > '9' {
		return false
	}
	n, err := strconv.Atoi(digits)
	if err != nil || strconv.Itoa(n) != digits {
		return false
	}
	if l := c.listing.Load(); l != nil {
		if !slices.Contains(l.order, n) {
			return false
		}
	} else if n > s.catalogueSize(c) {
		return false
	}
	return poisonOf(n, s.cfg.PoisonEvery) != poisonEmptyID
}
