package store

import (
	"errors"
	"time"

	"github.com/jackc/pgerrcode"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/adsync/adsync/internal/batcher"
)

// Options tunes how a Store writes saved campaigns.
type Options struct {
	// WriteBatchSize is the most saved campaigns committed in one
	// transaction (WRITE_BATCH_SIZE): the SaveCampaign calls of concurrent
	// tasks share a transaction (group commit), because a commit per
	// campaign, not the rows, is what costs. 1 or less commits each
	// campaign in a transaction of its own, in its caller's goroutine.
	WriteBatchSize int
	// WriteBatchWait is the longest a saved campaign waits for others to
	// join its transaction (WRITE_BATCH_WAIT). Zero commits whatever has
	// arrived as soon as the previous transaction has committed.
	WriteBatchWait time.Duration
}

// DefaultOptions are Open's options: the defaults of WRITE_BATCH_SIZE and
// WRITE_BATCH_WAIT.
func DefaultOptions() Options {
	return Options{WriteBatchSize: 500, WriteBatchWait: 5 * time.Millisecond}
}

func newStore(pool *pgxpool.Pool, o Options) *Store {
	s := &Store{pool: pool}
	if o.WriteBatchSize > 1 {
		s.saves = batcher.New(s.saveCampaigns, batcher.Options{
			MaxBatch: o.WriteBatchSize, MaxWait: o.WriteBatchWait, Isolate: rowFault,
		})
	}
	return s
}

// rowFault reports whether a failed batch's error may come from one of its
// rows: a value PostgreSQL refuses (class 22, such as a budget that is not
// a number), a constraint a row breaks (class 23, such as a negative
// budget), or a row of a run the ledger does not hold. Such a batch is split
// until the row at fault fails alone. Any other error (connection lost,
// timeout) fails the whole batch, and its tasks retry.
func rowFault(err error) bool {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgerrcode.IsDataException(pgErr.Code) || pgerrcode.IsIntegrityConstraintViolation(pgErr.Code)
	}
	return errors.Is(err, ErrRunNotFound)
}
