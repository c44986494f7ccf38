package fanout

import (
	"fmt"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/stretchr/testify/require"

	"github.com/adsync/adsync/internal/ratelimit"
	"github.com/adsync/adsync/internal/store"
	"github.com/adsync/adsync/internal/tasks"
	"github.com/adsync/adsync/internal/testenv"
)

// items returns n records of a page.
func items(n int) []store.Item {
	out := make([]store.Item, n)
	for i := range out {
		key := fmt.Sprintf("c%d", i+1)
		out[i] = store.Item{Key: key, Record: []byte(`{"id":"` + key + `"}`)}
	}
	return out
}

// A fan-out books the pages first and then the saves, each task queued for
// shortly before its own slot; fanning the same work out again books and
// enqueues nothing more.
func TestEnqueueBooksEachTaskItsSlot(t *testing.T) {
	t.Parallel()
	rdb := testenv.Redis(t)
	const window = 10 * time.Second
	lim, err := ratelimit.New(rdb, ratelimit.Options{Limit: 2, Window: window, MaxInPlaceWait: 1500 * time.Millisecond})
	require.NoError(t, err)
	q := tasks.NewQueue(asynq.NewClientFromRedisClient(rdb), 3, time.Minute)
	f := New(q, lim, true)
	w := Work{RunID: 7, ClientID: "acme", PageSize: 3, Pages: []int{2, 3},
		Saves: []PageItems{{Page: 1, Items: items(3)}}}

	start := time.Now()
	require.NoError(t, f.Enqueue(t.Context(), w))
	require.NoError(t, f.Enqueue(t.Context(), w))

	insp := asynq.NewInspectorFromRedisClient(rdb)
	pages, err := insp.ListPendingTasks(tasks.QueuePages)
	require.NoError(t, err)
	require.Len(t, pages, 2, "the pages take the two free slots and go at once")
	saves, err := insp.ListScheduledTasks(tasks.QueueSaves)
	require.NoError(t, err)
	require.Len(t, saves, 3, "the saves wait for their slots, once each")
	due := map[string]time.Time{}
	for _, s := range saves {
		due[s.ID] = s.NextProcessAt
	}
	// Slots at 10 s, 10 s and 20 s; each save is due half a second before
	// its slot, which asynq rounds down to the second.
	for key, slot := range map[string]time.Duration{"c1": window, "c2": window, "c3": 2 * window} {
		at := due[tasks.SaveID(7, key)]
		require.False(t, at.Before(start.Add(slot-1500*time.Millisecond).Truncate(time.Second)), "%s due %s", key, at.Sub(start))
		require.False(t, at.After(time.Now().Add(slot)), "%s due %s", key, at.Sub(start))
	}

	// The slots are the tasks' tickets: each is still booked for its task.
	again, err := lim.Book(t.Context(), "acme", nil, []string{tasks.SaveID(7, "c3")})
	require.NoError(t, err)
	require.Greater(t, again[0], 2*window-2*time.Second, "c3 keeps its slot a second window on")
}

// The first pagesAhead pages go before the saves in the client's line, the
// other pages after them.
func TestPagesBeyondTheFirstFewWaitBehindTheSaves(t *testing.T) {
	t.Parallel()
	rdb := testenv.Redis(t)
	lim, err := ratelimit.New(rdb, ratelimit.Options{Limit: 1, Window: time.Minute, MaxInPlaceWait: time.Second})
	require.NoError(t, err)
	q := tasks.NewQueue(asynq.NewClientFromRedisClient(rdb), 3, time.Minute)
	require.NoError(t, New(q, lim, true).Enqueue(t.Context(), Work{RunID: 9, ClientID: "acme", PageSize: 3,
		Pages: []int{2, 3, 4, 5, 6}, Saves: []PageItems{{Page: 1, Items: items(2)}}}))

	line := []string{tasks.FetchPassPageID(9, 0, 2), tasks.FetchPassPageID(9, 0, 3), tasks.FetchPassPageID(9, 0, 4),
		tasks.SaveID(9, "c1"), tasks.SaveID(9, "c2"), tasks.FetchPassPageID(9, 0, 5), tasks.FetchPassPageID(9, 0, 6)}
	// Booking a holder again returns how long until the slot it holds (the
	// first is due at once, a moment ago by now).
	slots, err := lim.Book(t.Context(), "acme", nil, line)
	require.NoError(t, err)
	for i := 1; i < len(line); i++ {
		require.InDelta(t, time.Minute, slots[i]-slots[i-1], float64(time.Second), "%s comes a window after %s", line[i], line[i-1])
	}
}

// Saves that make no sync call spend no budget: only the pages are booked,
// and the saves run at once.
func TestSavesWithoutSyncCallAreNotBooked(t *testing.T) {
	t.Parallel()
	rdb := testenv.Redis(t)
	lim, err := ratelimit.New(rdb, ratelimit.Options{Limit: 1, Window: time.Minute, MaxInPlaceWait: time.Second})
	require.NoError(t, err)
	q := tasks.NewQueue(asynq.NewClientFromRedisClient(rdb), 3, time.Minute)
	require.NoError(t, New(q, lim, false).Enqueue(t.Context(), Work{RunID: 8, ClientID: "acme", PageSize: 3,
		Pages: []int{2, 3}, Saves: []PageItems{{Page: 1, Items: items(4)}}}))

	insp := asynq.NewInspectorFromRedisClient(rdb)
	saves, err := insp.GetQueueInfo(tasks.QueueSaves)
	require.NoError(t, err)
	require.Equal(t, 4, saves.Pending)
	pages, err := insp.GetQueueInfo(tasks.QueuePages)
	require.NoError(t, err)
	require.Equal(t, 1, pages.Pending, "one slot free now")
	require.Equal(t, 1, pages.Scheduled, "the other page waits a window")
}
