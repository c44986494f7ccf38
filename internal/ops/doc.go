// Package ops is the worker's operations HTTP server on HTTP_ADDR:
//
//   - GET /healthz: 200 while the process serves HTTP (liveness);
//   - GET /readyz: 200 when Redis and PostgreSQL answer within a short
//     timeout, 503 with the failing check's reason in a small JSON body
//     otherwise (readiness);
//   - GET /metrics: the Prometheus metrics of package metrics;
//   - /monitoring/: asynqmon, the web UI of asynq's queues, where an operator
//     reads dead-lettered tasks (the archived tab, with each task's last
//     error) and runs them again. asynqmon has no authentication of its
//     own: with ASYNQMON_USER and ASYNQMON_PASSWORD set, basic auth guards
//     it.
package ops
