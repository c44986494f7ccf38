// Package pipeline holds the worker's task handlers, fetch-page and save,
// and the task policy (Policy): the one place that settles a failed
// attempt (requeue without penalty when the rate budget is spent or the
// database is down, or for a bounded while when this worker does not know
// the client yet or the platform refused its credentials, retry with
// backoff when the failure is transient or unknown, dead-letter when it is
// permanent or the retries are spent) and
// derives every wait of a retry, the platform client's in-place ones
// included, and the task timeout from the configuration.
package pipeline
