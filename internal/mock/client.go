package mock

import (
	"math/rand/v2"
	"net/http"
	"sync"
	"sync/atomic"
)

// defaultClientID names requests without an X-Client-ID header.
const defaultClientID = "default"

// client is the state the mock keeps per X-Client-ID. Each client has its
// own mutex, so clients never wait for each other.
type client struct {
	id string
	// grown is set once the catalogue grew by Config.GrowBy; a reset keeps
	// it, since rows a sync already saved do not disappear.
	grown atomic.Bool
	// changed is set once ChangeAfterPage changed the catalogue, and
	// listing holds the catalogue from then on (nil: the plain 1..size);
	// a reset keeps both, as it keeps growth.
	changed atomic.Bool
	listing atomic.Pointer[listing]
	// pages caches encoded list answers by pageKey (not with
	// VolatileMetrics); values never change, so a reset keeps them.
	pages sync.Map

	mu       sync.Mutex
	admitted timeQueue  // admitted /api arrivals inside the window
	arrivals timeQueue  // all /api arrivals inside the window
	recent   timeQueue  // the last RateLimit+1 /api arrivals
	hangRNG  *rand.Rand // hang decisions, seeded by (seed, id)
	stats    counters
}

// clientID names the client of a request.
func clientID(r *http.Request) string {
	if id := r.Header.Get("X-Client-ID"); id != "" {
		return id
	}
	return defaultClientID
}

// client returns the state of a client, creating it on first sight.
func (s *Server) client(id string) *client {
	if v, ok := s.clients.Load(id); ok {
		return v.(*client)
	}
	c := &client{id: id}
	c.resetLocked(s.cfg.Seed)
	v, _ := s.clients.LoadOrStore(id, c)
	return v.(*client)
}

// resetLocked clears the windows, statistics and hang sequence; the caller
// holds c.mu or owns c exclusively.
func (c *client) resetLocked(seed int64) {
	c.admitted.clear()
	c.arrivals.clear()
	c.recent.clear()
	c.hangRNG = rand.New(rand.NewPCG(uint64(seed), campaignStream(c.id, 0)^0x9e3779b97f4a7c15)) // #nosec G115 G404 -- reproducible fault decisions from a seed, by design
	c.stats = counters{}
}

// drawHang decides, from the client's reproducible sequence, whether a
// request hangs under the given percentage.
func (c *client) drawHang(percent float64) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.hangRNG.Float64()*100 < percent
}

// CatalogueSize returns how many campaigns a client has now: its initial
// size (ClientCampaigns, else Campaigns), plus GrowBy once its catalogue
// grew, or as many as ChangeAfterPage left. Tests use it as ground truth.
func (s *Server) CatalogueSize(clientID string) int {
	v, ok := s.clients.Load(clientID)
	if !ok {
		return s.cfg.initialSize(clientID)
	}
	return s.catalogueSize(v.(*client))
}

// catalogueSize is CatalogueSize for a known client.
func (s *Server) catalogueSize(c *client) int {
	if l := c.listing.Load(); l != nil {
		return len(l.order)
	}
	if c.grown.Load() {
		return s.cfg.initialSize(c.id) + s.cfg.GrowBy
	}
	return s.cfg.initialSize(c.id)
}
