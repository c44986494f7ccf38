// Package testenv gives integration tests their own slice of the real
// services on this machine: a Redis database number nobody else is using and
// a fresh PostgreSQL database, both released when the test ends. Tests can
// therefore run in parallel, across packages, against the real thing.
//
// The services are found through TEST_REDIS_ADDR (default 127.0.0.1:6379)
// and TEST_DATABASE_URL (default
// postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable). A test that
// cannot reach them fails; it is never skipped.
package testenv
