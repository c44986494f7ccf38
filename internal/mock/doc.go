// Package mock is the ad platform of PLATFORM.md, wire-exact, for demos,
// tests and benchmarks: Basic-auth tokens, paged campaigns, the slow sync
// call, the per-client sliding-window rate limit, and the platform's
// failures (503 every Nth list call, requests that never get an answer),
// plus knobs the real platform lacks: a time scale that runs the platform
// faster, down clients, poison records, catalogues that grow mid-sync, and
// runtime fault control.
//
// Tests of other packages use it three ways: as a server (NewServer, then
// httptest.NewServer or cmd/mockapi), as ground truth (Catalogue,
// CatalogueSize), and as a witness (Stats, GET /__mock/stats: every request
// a client made, how many fell in one window, how many hung).
//
// Endpoints besides the contract:
//
//	GET  /__mock/stats   per-client counts (Stats)
//	POST /__mock/reset   clear counts, rate windows and the 503 counter
//	GET  /__mock/faults  current Faults
//	POST /__mock/faults  replace Faults with the JSON body
//
// Every answer is JSON, errors included, and never carries a stack trace.
package mock
