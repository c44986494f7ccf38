// Package pipeline holds the worker's task handlers, fetch-page and save,
// and the one policy that turns their errors into asynq outcomes: requeue
// without penalty when the rate budget is spent, retry with backoff when the
// failure is transient, dead-letter at once when it is permanent.
package pipeline
