// Package store is the one place that owns SQL: the campaigns table, the
// sync-run ledger (runs, their pages and items) and the dead-letter table.
//
// Delivery from the queue is at-least-once, so every write here is
// idempotent: a page or item changes state at most once per transition. The
// run's counts are not moved by this code: triggers of the database
// (migration 000003) move them in every statement that inserts or updates
// page or item rows, by exactly the rows it changed, so they equal the rows
// however those change. Every transaction that changes pages or items of
// runs holds their row locks and ends in settle (inLedgerTx), which ends a
// run (done, done_with_failures, incomplete or failed) once its counts show
// nothing pending, so its status is exact however many workers race on it.
package store
