package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"

	"github.com/jackc/pgerrcode"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/adsync/adsync/internal/batcher"
)

// Store is adsync's PostgreSQL database.
type Store struct {
	pool *pgxpool.Pool
	// saves group-commits SaveCampaign calls; nil when each commits alone.
	saves *batcher.Batcher[SavedCampaign]
}

// Open connects to the database at url with DefaultOptions and checks that
// it answers.
func Open(ctx context.Context, url string) (*Store, error) {
	return OpenWith(ctx, url, DefaultOptions())
}

// OpenWith is Open with explicit Options.
func OpenWith(ctx context.Context, url string, o Options) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("store: parse DATABASE_URL: %w", sanitize(err))
	}
	keepWarm(cfg, url)
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("store: connect: %w", sanitize(err))
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("store: PostgreSQL at %s:%d is not reachable: %w", cfg.ConnConfig.Host, cfg.ConnConfig.Port, sanitize(err))
	}
	return newStore(pool, o), nil
}

// Close writes the saved campaigns still waiting for their batch, then
// releases the connections. Close it after the tasks that save have ended.
func (s *Store) Close() {
	if s.saves != nil {
		s.saves.Close()
	}
	s.pool.Close()
}

// Ping reports whether the database answers, for readiness checks.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.pool.Ping(ctx); err != nil {
		return fmt.Errorf("store: ping: %w", sanitize(err))
	}
	return nil
}

// inTx runs fn in a transaction, committing when it returns nil.
func (s *Store) inTx(ctx context.Context, fn func(pgx.Tx) error) error {
	return pgx.BeginFunc(ctx, s.pool, fn)
}

// ErrUnavailable marks a failure to reach PostgreSQL, as opposed to a
// failure of the data: the same work succeeds once the database is back, so
// the pipeline waits for it instead of spending the task's retries.
var ErrUnavailable = errors.New("database unavailable")

// sanitize keeps the server's message and code of a PostgreSQL error but
// drops connection strings that pgconn may echo, which can hold a password.
// Failures to reach the database are marked ErrUnavailable.
func sanitize(err error) error {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		if unavailableCode(pgErr.Code) {
			return fmt.Errorf("%w: %w", ErrUnavailable, err)
		}
		return err
	}
	var connErr *pgconn.ConnectError
	if errors.As(err, &connErr) {
		return fmt.Errorf("%w: %s", ErrUnavailable, connErr.Unwrap().Error())
	}
	var parseErr *pgconn.ParseConfigError
	if errors.As(err, &parseErr) {
		return errors.New("malformed connection string")
	}
	var netErr net.Error
	if errors.As(err, &netErr) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, pgconn.ErrConnClosed) || pgconn.SafeToRetry(err) {
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	return err
}

// unavailableCode tells the SQLSTATEs of a server that is going away or not
// yet accepting work: connection exceptions (class 08) and operator
// intervention (class 57: shutdown, crash shutdown, starting up) other than
// a cancelled query.
func unavailableCode(code string) bool {
	return strings.HasPrefix(code, "08") || (strings.HasPrefix(code, "57") && code != pgerrcode.QueryCanceled)
}
