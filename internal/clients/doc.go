// Package clients keeps the live list of client accounts that a worker or
// the enqueuer syncs, and follows CLIENTS_FILE (and the secret files it and
// PLATFORM_PASSWORD_FILE point at) while the process runs, so that clients
// are onboarded, rotated and removed without a restart.
//
// A change is noticed through fsnotify on the files' directories (a
// Kubernetes Secret volume swaps a `..data` symlink rather than writing the
// file, which only a directory watch sees), and by a slow periodic re-read
// in case a notification is lost (network file systems send none). Each
// change is parsed and validated whole by internal/config; a list with any
// problem is refused and the last good list stays in force, with one error
// line in the log, a metric and a line in /readyz's body until the file is
// fixed.
package clients
