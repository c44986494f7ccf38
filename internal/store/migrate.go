package store

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/golang-migrate/migrate/v4"
	_ "github.com/golang-migrate/migrate/v4/database/pgx/v5" // registers the pgx5:// driver
	"github.com/golang-migrate/migrate/v4/source/iofs"
	"github.com/jackc/pgerrcode"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/adsync/adsync/migrations"
)

// Migrate brings the schema at databaseURL up to date, creating the database
// first when it does not exist. golang-migrate holds a PostgreSQL advisory
// lock while it works, so many workers and enqueuers may start at once.
func Migrate(ctx context.Context, databaseURL string) error {
	databaseURL = withoutPoolParams(databaseURL)
	if err := ensureDatabase(ctx, databaseURL); err != nil {
		return err
	}
	src, err := iofs.New(migrations.FS, ".")
	if err != nil {
		return fmt.Errorf("store: read embedded migrations: %w", err)
	}
	m, err := migrate.NewWithSourceInstance("iofs", src, migrateURL(databaseURL))
	if err != nil {
		return fmt.Errorf("store: start migrations: %w", sanitize(err))
	}
	defer m.Close()
	if err := m.Up(); err != nil && !errors.Is(err, migrate.ErrNoChange) {
		return fmt.Errorf("store: apply migrations: %w", sanitize(err))
	}
	return nil
}

// withoutPoolParams drops pgxpool's own settings (pool_max_conns and the
// other pool_ parameters) from a postgres:// URL: the pool reads them, but
// a single connection (the migrations, the check that the database exists)
// would send them to the server, which refuses parameters it does not know.
func withoutPoolParams(databaseURL string) string {
	u, err := url.Parse(databaseURL)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return databaseURL
	}
	q := u.Query()
	found := false
	for k := range q {
		if strings.HasPrefix(k, "pool_") {
			q.Del(k)
			found = true
		}
	}
	if !found {
		return databaseURL
	}
	u.RawQuery = q.Encode()
	return u.String()
}

// migrateURL turns a postgres:// URL into golang-migrate's pgx5:// form.
func migrateURL(databaseURL string) string {
	for _, p := range []string{"postgres://", "postgresql://"} {
		if strings.HasPrefix(databaseURL, p) {
			return "pgx5://" + strings.TrimPrefix(databaseURL, p)
		}
	}
	return databaseURL
}

// ensureDatabase creates the database named in databaseURL when the server
// says it does not exist. Two processes may race to create it; the loser's
// "already exists" is success.
func ensureDatabase(ctx context.Context, databaseURL string) error {
	conn, err := pgx.Connect(ctx, databaseURL)
	if err == nil {
		return conn.Close(ctx)
	}
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Code != pgerrcode.InvalidCatalogName {
		return fmt.Errorf("store: connect: %w", sanitize(err))
	}
	u, perr := url.Parse(databaseURL)
	if perr != nil {
		return fmt.Errorf("store: DATABASE_URL is malformed")
	}
	name := strings.TrimPrefix(u.Path, "/")
	u.Path = "/postgres"
	admin, err := pgx.Connect(ctx, u.String())
	if err != nil {
		return fmt.Errorf("store: database %q does not exist and the postgres database is not reachable to create it (run: createdb %s): %w", name, name, sanitize(err))
	}
	defer admin.Close(ctx)
	// CREATE DATABASE takes no parameters; the name is quoted as an identifier.
	_, err = admin.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize())
	if errors.As(err, &pgErr) && (pgErr.Code == pgerrcode.DuplicateDatabase || pgErr.Code == pgerrcode.UniqueViolation) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("store: create database %q (or run: createdb %s): %w", name, name, sanitize(err))
	}
	return nil
}
