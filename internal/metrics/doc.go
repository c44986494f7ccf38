// Package metrics holds adsync's Prometheus metrics on a registry of their
// own (so a library that registers on the global one cannot add or clash
// with series): the platform client's requests, token refreshes and
// timeouts, the rate limiter's waits, the pipeline's saves, dead letters,
// pages and requeues, asynq's queues, and the run ledger, read at scrape
// time.
//
// One *Metrics implements platform.Observer, platform.TimeoutObserver,
// ratelimit.Observer and pipeline.Metrics, so the worker hands the same
// value to each part. Label values are client ids, endpoint names,
// outcomes and queue names: never a credential.
package metrics
