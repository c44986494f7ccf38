// Package opstest reads a worker's ops server the way its users do, for
// tests: Call sends a request as a probe or an operator would, and Scrape
// reads /metrics with Prometheus' own text parser, so tests assert on what
// a scrape really returns rather than on the registry's internals.
package opstest
