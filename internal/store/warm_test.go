package store

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// The pool keeps connections open and idle for a run's first page task,
// each of which has already made the task's first reads, so the task does
// not wait for a connection or for PostgreSQL to plan them.
func TestPoolKeepsWarmConnections(t *testing.T) {
	st := setup(t)
	ctx := context.Background()
	require.EqualValues(t, warmIdleConns, st.pool.Config().MinIdleConns)
	require.Eventually(t, func() bool { return st.pool.Stat().IdleConns() >= warmIdleConns },
		10*time.Second, 10*time.Millisecond, "the pool opens its idle connections by itself")

	conn, err := st.pool.Acquire(ctx)
	require.NoError(t, err)
	defer conn.Release()
	var prepared []string
	rows, err := conn.Query(ctx, `SELECT statement FROM pg_prepared_statements WHERE statement = ANY($1)`,
		[]string{runAgeSQL, pageStatusSQL})
	require.NoError(t, err)
	for rows.Next() {
		var s string
		require.NoError(t, rows.Scan(&s))
		prepared = append(prepared, s)
	}
	require.NoError(t, rows.Err())
	require.ElementsMatch(t, []string{runAgeSQL, pageStatusSQL}, prepared,
		"the connection made a page task's first reads when it opened")
}
