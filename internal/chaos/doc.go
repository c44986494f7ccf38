// Package chaos holds adsync's fault-injection tests: they run the real
// binaries (bin/worker, bin/enqueuer, bin/mockapi) as processes against real
// Redis and PostgreSQL, break something on purpose in the middle of a
// multi-client sync at time scale 60 (a worker killed with SIGKILL or
// stopped with SIGTERM, PostgreSQL or Redis restarted, the platform down or
// hanging) and then check the stored campaigns against the mock's ground
// truth: every campaign of every client exactly once, value for value.
//
// The long tests carry the build tag chaos and run with `make chaos`; the
// short ones (bad configuration of the real binaries) run with `make test`.
// The tests build the binaries themselves, or use those in $ADSYNC_BIN when
// it is set. Faults that need a server of their own (a Redis restarted
// without persistence, a PostgreSQL restarted) start a throwaway one on
// another port, so the machine's shared Redis and PostgreSQL, which other
// tests use at the same time, are never stopped or flushed.
package chaos
