// Package store is the one place that owns SQL: the campaigns table, the
// sync-run ledger (runs, their pages and items) and the dead-letter table.
//
// Delivery from the queue is at-least-once, so every write here is
// idempotent: a page or item changes state at most once per transition, and
// the run's counters move only in the same transaction as the row whose state
// they count. A run ends (done, done_with_failures or failed) in the same
// transaction that ends its last page or item, so its status is exact however
// many workers race on it.
package store
