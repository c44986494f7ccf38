package mock

import (
	"net/http"
	"slices"
)

// listing is a client's catalogue once MOCK_CHANGE_AFTER_PAGE changed it:
// its campaign numbers in listing order. A value is never changed once
// published; a change publishes a new one with the next version, which
// keys the page cache.
type listing struct {
	version int
	order   []int
	// deleted are the numbers the change deleted, in their former order,
	// for RestoreDeleted.
	deleted []int
}

// numberAt is the number of the campaign at index i (from 0) of a
// catalogue: the plain catalogue lists 1..size in order.
func (l *listing) numberAt(i int) int {
	if l == nil {
		return i + 1
	}
	return l.order[i]
}

// change applies MOCK_CHANGE_AFTER_PAGE to a client whose page was just
// served, once: the first Delete campaigns in listing order are deleted and
// Insert new ones, numbered after the highest so far, go to the front.
func (s *Server) change(c *client, page int) {
	if s.cfg.ChangeAfterPage == 0 || page != s.cfg.ChangeAfterPage || !c.changed.CompareAndSwap(false, true) {
		return
	}
	size := s.catalogueSize(c)
	old := c.listing.Load()
	order := make([]int, 0, size+s.cfg.Insert)
	next := 0
	for i := range size {
		next = max(next, old.numberAt(i))
	}
	for i := range s.cfg.Insert {
		order = append(order, next+s.cfg.Insert-i)
	}
	deleted := min(s.cfg.Delete, size)
	l := &listing{version: 1, deleted: make([]int, 0, deleted)}
	for i := range size {
		if i < deleted {
			l.deleted = append(l.deleted, old.numberAt(i))
			continue
		}
		order = append(order, old.numberAt(i))
	}
	l.order = order
	if old != nil {
		l.version = old.version + 1
	}
	c.listing.Store(l)
}

// RestoreDeleted lists the campaigns that MOCK_CHANGE_AFTER_PAGE deleted
// from a client's catalogue again, at the front, as a platform does when a
// deleted campaign is restored, and returns how many it restored. Tests use
// it to show that a campaign marked removed is un-marked when it comes
// back.
func (s *Server) RestoreDeleted(clientID string) int {
	c := s.client(clientID)
	for {
		old := c.listing.Load()
		if old == nil || len(old.deleted) == 0 {
			return 0
		}
		l := &listing{version: old.version + 1, order: append(slices.Clone(old.deleted), old.order...)}
		if c.listing.CompareAndSwap(old, l) {
			return len(old.deleted)
		}
	}
}

// Catalogue returns a client's campaigns as the mock lists them now, in
// listing order, with every change made so far (growth, inserts,
// deletes): the ground truth that tests compare a sync's results with, by
// id. GET /__mock/catalogue?client=ID answers the same as JSON.
func (s *Server) Catalogue(clientID string) []Campaign {
	var out []Campaign
	s.eachListed(clientID, func(c Campaign, _ poisonKind) { out = append(out, c) })
	return out
}

// eachListed calls fn for each campaign of the client's catalogue now, in
// listing order.
func (s *Server) eachListed(clientID string, fn func(Campaign, poisonKind)) {
	c := s.client(clientID)
	l := c.listing.Load()
	for i := range s.catalogueSize(c) {
		fn(campaignOf(s.cfg, clientID, l.numberAt(i)))
	}
}

// catalogueAnswer is the body of GET /__mock/catalogue: the campaigns as
// the list endpoint sends them.
type catalogueAnswer struct {
	Client    string         `json:"client"`
	Total     int            `json:"total"`
	Campaigns []wireCampaign `json:"campaigns"`
}

// handleCatalogue serves GET /__mock/catalogue?client=ID (default: the
// default client).
func (s *Server) handleCatalogue(w http.ResponseWriter, r *http.Request) {
	id := r.URL.Query().Get("client")
	if id == "" {
		id = defaultClientID
	}
	ans := catalogueAnswer{Client: id, Campaigns: []wireCampaign{}}
	s.eachListed(id, func(c Campaign, kind poisonKind) { ans.Campaigns = append(ans.Campaigns, wire(c, kind, 0)) })
	ans.Total = len(ans.Campaigns)
	writeJSON(w, http.StatusOK, ans)
}
