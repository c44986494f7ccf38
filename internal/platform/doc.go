// Package platform is adsync's one HTTP client for the ad platform (see
// PLATFORM.md): everything that talks to the platform goes through a Client,
// and every outcome is classified in this package.
//
// A Client, shared by all workers of a process:
//
//   - authenticates each client account with Basic auth on POST /auth/token
//     and caches the Bearer token per client id, replacing it before it
//     expires (in the background, while the old one still serves);
//     concurrent requests of one client share a single fetch. A 401 from the
//     API drops the token, fetches a new one and retries once. A refused
//     token request (ErrCredentialsRefused) makes it read the configuration
//     again (ReloadWith) and try new credentials at once; the same ones are
//     not sent again for Options.RefusalPause, since platforms lock
//     accounts after repeated failed logins. KeepTokens
//     fetches every configured client's token when a worker starts, so a
//     run's first request finds one ready.
//   - retries a request that failed transiently in place, a few times
//     (Options.InPlaceRetries, after Options.InPlaceDelay, both from the
//     task policy) and only while the budget lets each retry go within the
//     limiter's in-place wait; further retries are the caller's.
//   - passes every request the platform counts (list and sync calls, and
//     their retries) through the shared Limiter first; on a 429 it calls
//     Limiter.Block with the platform's wait, so every worker holds off, and
//     returns the error without retrying.
//   - bounds every request by its endpoint's learned timeout (LearnTimeouts;
//     Options.Timeout, PLATFORM_TIMEOUT, is the ceiling) and every body by
//     Options.MaxBodyBytes, because the platform sometimes never answers.
//   - sends X-Client-ID on every request, which is how the platform counts
//     a client's rate budget.
//
// Errors are *Error values with a Kind: KindTransient (5xx, timeouts,
// broken connections: retry with backoff), KindRateLimited (429: wait
// RetryAfter) or KindPermanent (refused credentials, other 4xx, a body that
// breaks the contract: dead-letter it). The Kind classifies the call; what
// a task does about it is the task policy's (pipeline.Policy). An Error never carries a
// response body, a stack trace, a token or a password: only the platform's
// short error name, cleaned up, as Code.
//
// Records are returned raw (json.RawMessage): each is validated by its
// consumer, so one bad campaign never fails its page.
package platform
