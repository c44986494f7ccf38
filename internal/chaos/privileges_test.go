//go:build chaos

package chaos

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgerrcode"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/require"

	"github.com/adsync/adsync/internal/testenv"
)

// readmeSQL returns the SQL block that follows the marker comment in the
// operations guide (docs/operations.md), so the test runs exactly what it
// tells operators to run.
func readmeSQL(t *testing.T, marker string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "docs", "operations.md"))
	require.NoError(t, err)
	_, after, ok := strings.Cut(string(b), "<!-- "+marker+" -->")
	require.True(t, ok, "docs/operations.md has no %q marker", marker)
	_, after, ok = strings.Cut(after, "```sql\n")
	require.True(t, ok, "no sql block after %q", marker)
	block, _, ok := strings.Cut(after, "```")
	require.True(t, ok)
	return block
}

// The least-privilege setup of docs/operations.md works as written: migrations run as
// the owner role, then the worker and the enqueuer run as the restricted
// role (their start-up migration check finds nothing to do and needs only
// to read schema_migrations and take the advisory lock) and sync every
// campaign; the restricted role cannot delete rows or change the schema.
func TestLeastPrivilegeRole(t *testing.T) {
	ctx := context.Background()
	suffix := fmt.Sprintf("%d_%d", os.Getpid(), time.Now().UnixNano())
	owner, workerRole, db := "chaos_owner_"+suffix, "chaos_worker_"+suffix, "adsync_chaos_priv_"+suffix
	names := strings.NewReplacer("adsync_owner", owner, "adsync_worker", workerRole,
		"DATABASE adsync ", "DATABASE "+db+" ", "DATABASE adsync;", "DATABASE "+db+";")

	admin, err := pgx.Connect(ctx, testenv.AdminDatabaseURL())
	require.NoError(t, err)
	defer admin.Close(ctx)
	t.Cleanup(func() {
		c, err := pgx.Connect(context.Background(), testenv.AdminDatabaseURL())
		if err != nil {
			t.Errorf("cleanup: %v", err)
			return
		}
		defer c.Close(context.Background())
		for _, q := range []string{
			"DROP DATABASE IF EXISTS " + pgx.Identifier{db}.Sanitize() + " WITH (FORCE)",
			"DROP ROLE IF EXISTS " + pgx.Identifier{workerRole}.Sanitize(),
			"DROP ROLE IF EXISTS " + pgx.Identifier{owner}.Sanitize(),
		} {
			if _, err := c.Exec(context.Background(), q); err != nil {
				t.Errorf("cleanup %s: %v", q, err)
			}
		}
	})
	for _, stmt := range statements(names.Replace(readmeSQL(t, "sql:superuser"))) {
		_, err := admin.Exec(ctx, stmt)
		require.NoError(t, err, stmt)
	}

	// Migrations as the owner, with any adsync command: `enqueuer status`.
	ownerURL := fmt.Sprintf("postgres://%s:%s@127.0.0.1:5432/%s?sslmode=disable", owner, dbPassword, db)
	workerURL := fmt.Sprintf("postgres://%s:%s@127.0.0.1:5432/%s?sslmode=disable", workerRole, dbPassword, db)
	d := deploy(t, deployOptions{clients: 2, databaseURL: workerURL})
	ownerEnv := with(d.env, "DATABASE_URL", ownerURL)
	migrate := startProc(t, d.dir, "enqueuer-status-owner", binary("enqueuer"), ownerEnv, "status")
	require.Equal(t, 0, migrate.wait(t, time.Minute), "migrations as the owner:\n%s", migrate.stderr())

	oc, err := pgx.Connect(ctx, ownerURL)
	require.NoError(t, err)
	defer oc.Close(ctx)
	for _, stmt := range statements(names.Replace(readmeSQL(t, "sql:owner"))) {
		_, err := oc.Exec(ctx, stmt)
		require.NoError(t, err, stmt)
	}

	// The worker and the enqueuer as the restricted role.
	w := d.startWorker()
	enq := d.enqueuer("sync", "--wait")
	ids := d.runIDs(enq)
	require.Equal(t, 0, enq.wait(t, 2*time.Minute), "sync as the restricted role:\n%s", tail(enq.stdout(), 20))
	d.verify(d.waitRuns(ids, time.Minute))
	w.stop(t)

	wc, err := pgx.Connect(ctx, workerURL)
	require.NoError(t, err)
	defer wc.Close(ctx)
	for _, q := range []string{
		"DELETE FROM campaigns",
		"TRUNCATE sync_runs CASCADE",
		"DROP TABLE campaigns",
		"CREATE TABLE intruder (id int)",
		"ALTER TABLE campaigns ADD COLUMN x int",
		"UPDATE schema_migrations SET dirty = true",
	} {
		_, err := wc.Exec(ctx, q)
		var pgErr *pgconn.PgError
		require.True(t, errors.As(err, &pgErr), "%s should be refused, got %v", q, err)
		require.Contains(t, []string{pgerrcode.InsufficientPrivilege}, pgErr.Code, "%s: %v", q, err)
	}
}

// statements splits an SQL script into statements at semicolons that end
// a line; comment lines are dropped.
func statements(script string) []string {
	var out []string
	var cur strings.Builder
	for _, line := range strings.Split(script, "\n") {
		if trimmed := strings.TrimSpace(line); trimmed == "" || strings.HasPrefix(trimmed, "--") {
			continue
		}
		cur.WriteString(line + "\n")
		if strings.HasSuffix(strings.TrimSpace(line), ";") {
			out = append(out, strings.TrimSpace(cur.String()))
			cur.Reset()
		}
	}
	return out
}
