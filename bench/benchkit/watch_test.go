package benchkit

import (
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// The watcher follows the named descendants of its root, and only those:
// a process of the same name outside the tree is left out. It keeps each
// one's DATABASE_URL.
func TestWatchFollowsNamedDescendantsOnly(t *testing.T) {
	outsider := exec.Command("sleep", "5")
	require.NoError(t, outsider.Start())
	t.Cleanup(func() { _ = outsider.Process.Kill(); _ = outsider.Wait() })

	root := exec.Command("sh", "-c", "sleep 1 & sleep 1 & wait")
	const dbURL = "postgres://bench@127.0.0.1:5432/adsync_watched"
	root.Env = append(os.Environ(), "DATABASE_URL="+dbURL)
	require.NoError(t, root.Start())
	w := Watch(root.Process.Pid, WatchOptions{Name: "sleep", Every: 20 * time.Millisecond})
	require.NoError(t, root.Wait())
	seen := w.Stop()

	require.Len(t, seen, 2)
	for _, p := range seen {
		require.NotEqual(t, outsider.Process.Pid, p.PID)
		require.False(t, p.First.IsZero())
		require.False(t, p.Last.Before(p.First))
		require.Positive(t, p.MaxRSSBytes)
		require.Equal(t, dbURL, p.DatabaseURL)
	}
	require.Len(t, Generations(seen), 1, "two processes that ran together are one generation")
}

func TestGenerationsSplitsProcessesThatRanOneAfterAnother(t *testing.T) {
	t0 := time.Now()
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	procs := []Watched{
		{PID: 1, First: at(0), Last: at(10)},
		{PID: 2, First: at(1), Last: at(12)},
		{PID: 3, First: at(13), Last: at(20)}, // after both ended: a new pass
		{PID: 4, First: at(19), Last: at(21)},
	}
	gens := Generations(procs)
	require.Len(t, gens, 2)
	require.Equal(t, []int{1, 2}, []int{gens[0][0].PID, gens[0][1].PID})
	require.Equal(t, []int{3, 4}, []int{gens[1][0].PID, gens[1][1].PID})
}
