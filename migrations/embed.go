// Package migrations embeds the SQL migrations so the worker and enqueuer
// binaries carry their schema with them and need no files at run time.
package migrations

import "embed"

// FS holds the numbered up and down migrations, in golang-migrate's naming.
//
//go:embed *.sql
var FS embed.FS
