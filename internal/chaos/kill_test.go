//go:build chaos

package chaos

import (
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// kills is how many times the test kills a worker with SIGKILL.
const kills = 4

// orphanAfter is how long a task must stay active after a kill to count
// as orphaned by it: no task of a live worker runs this long at time
// scale 60 (a request is cut at 400 ms, an in-place rate wait at 1 s),
// and asynq cannot recover one sooner than leaseRecovery.
const orphanAfter = 20 * time.Second

// A worker killed with SIGKILL again and again during a 20-client sync,
// with a second worker alive and the killed one restarted each time: the
// tasks it held are recovered by asynq once their lease expires (30 s, then
// up to a minute until the recoverer's next pass), and every campaign of
// every client lands exactly once. `enqueuer sync --wait` exits 0.
func TestWorkerKilledRepeatedly(t *testing.T) {
	d := deploy(t, deployOptions{clients: 20})
	victim := d.startWorker()
	survivor := d.startWorker()
	start := time.Now()
	enq := d.enqueuer("sync", "--wait")
	ids := d.runIDs(enq)
	total := len(ids) * campaigns

	// Watch asynq's active list: a task still active orphanAfter after a
	// kill was held by the killed worker; the moment it leaves the list is
	// when asynq recovered it.
	insp := d.inspector()
	var mu sync.Mutex
	type kill struct {
		at       time.Time
		active   map[string]bool      // active right after the kill
		lastSeen map[string]time.Time // last time each of those was active
	}
	var killed []*kill
	stopWatch := make(chan struct{})
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stopWatch:
				return
			case <-tick.C:
			}
			active, err := activeTasks(insp)
			if err != nil {
				continue
			}
			now := time.Now()
			mu.Lock()
			for _, k := range killed {
				for id := range k.active {
					if active[id] {
						k.lastSeen[id] = now
					}
				}
			}
			mu.Unlock()
		}
	}()

	for i := 1; i <= kills; i++ {
		d.waitSaved(ids, total*i/(kills+2), 2*time.Minute)
		victim.kill(t)
		k := &kill{at: time.Now(), lastSeen: map[string]time.Time{}}
		var err error
		k.active, err = activeTasks(insp)
		require.NoError(t, err)
		mu.Lock()
		killed = append(killed, k)
		mu.Unlock()
		t.Logf("kill %d: SIGKILL worker %s (pid %d) after %s with %d/%d saved; %d tasks active",
			i, victim.name, victim.pid(), time.Since(start).Round(time.Millisecond), d.saved(ids), total, len(k.active))
		victim = d.startWorker()
	}
	lastKill := time.Now()

	code := enq.wait(t, 5*time.Minute)
	require.Equal(t, 0, code, "enqueuer sync --wait:\n%s", tail(enq.stdout(), 30))
	wall, afterLastKill := time.Since(start), time.Since(lastKill)
	close(stopWatch)
	<-watched

	runs := d.waitRuns(ids, time.Minute)
	d.verify(runs)
	d.requireNoSecrets(survivor)

	orphans := 0
	var recovery []time.Duration
	for i, k := range killed {
		var ks []time.Duration
		for _, seen := range k.lastSeen {
			if held := seen.Sub(k.at); held >= orphanAfter {
				ks = append(ks, held)
			}
		}
		orphans += len(ks)
		recovery = append(recovery, ks...)
		t.Logf("kill %d: %d tasks orphaned, recovered after %s", i+1, len(ks), durations(ks))
		for _, held := range ks {
			require.GreaterOrEqual(t, held, leaseRecovery-time.Second, "recovered sooner than asynq's lease allows?")
		}
	}
	t.Logf("RESULT kills=%d orphaned_tasks=%d recovery_after_kill=[%s] wall=%s done_after_last_kill=%s",
		kills, orphans, durations(recovery), wall.Round(time.Millisecond), afterLastKill.Round(time.Millisecond))
	require.Positive(t, orphans, "the kills should have orphaned tasks, or the test proved nothing")
	victim.stop(t)
	survivor.stop(t)
}
