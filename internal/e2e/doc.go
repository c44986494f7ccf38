// Package e2e holds adsync's end-to-end tests: the real worker and run starter
// against real Redis and PostgreSQL (each test with its own Redis database
// and PostgreSQL database) and the project's mock platform over real HTTP,
// at time scale 60 so that the real protocol runs sixty times faster.
package e2e
