// Package runs starts sync runs and reconciles the running ones with the
// queues. Start records a run per client in the ledger and enqueues the
// run's first page, whose worker discovers the page count and enqueues the
// rest (workers plan the pages, not this package). Resume finds the running
// runs' work that Redis lost and enqueues it again, and records as dead
// letters the tasks asynq archived without the ledger knowing, so every run
// can end.
//
// The package talks to PostgreSQL and Redis only, never to the platform, so
// starting runs is instant and needs no credentials; every counted request
// is made by workers under the shared rate budget.
package runs
