package store

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

// ledgerCounts is what a run's page and item rows say, counted from them.
type ledgerCounts struct {
	PagesPlanned, PagesPending, PagesDone, PagesFailed int
	ItemsSeen, ItemsPending, ItemsSaved, ItemsDead     int
	Listing                                            string
}

// countLedger counts the rows of the run with COUNT(*) FILTER, the truth
// the run's counts must equal.
func countLedger(t *testing.T, st *Store, runID int64) ledgerCounts {
	t.Helper()
	var c ledgerCounts
	require.NoError(t, st.pool.QueryRow(context.Background(), `SELECT
			(SELECT count(*) FROM sync_run_pages WHERE run_id = $1),
			(SELECT count(*) FILTER (WHERE status = 'pending') FROM sync_run_pages WHERE run_id = $1),
			(SELECT count(*) FILTER (WHERE status = 'done') FROM sync_run_pages WHERE run_id = $1),
			(SELECT count(*) FILTER (WHERE status = 'failed') FROM sync_run_pages WHERE run_id = $1),
			(SELECT count(*) FROM sync_run_items WHERE run_id = $1),
			(SELECT count(*) FILTER (WHERE status = 'pending') FROM sync_run_items WHERE run_id = $1),
			(SELECT count(*) FILTER (WHERE status = 'saved') FROM sync_run_items WHERE run_id = $1),
			(SELECT count(*) FILTER (WHERE status = 'dead') FROM sync_run_items WHERE run_id = $1),
			(SELECT listing FROM sync_runs WHERE id = $1)`, runID).Scan(
		&c.PagesPlanned, &c.PagesPending, &c.PagesDone, &c.PagesFailed,
		&c.ItemsSeen, &c.ItemsPending, &c.ItemsSaved, &c.ItemsDead, &c.Listing))
	return c
}

// requireLedgerAgrees checks every run against its rows: its counts equal
// the rows', and its status is final exactly when nothing is pending and
// its listing has ended (or a page failed), with the status those rows
// give. A cancelled run stays cancelled whatever its rows.
func requireLedgerAgrees(t *testing.T, st *Store, runs []Run, step string) {
	t.Helper()
	for _, r := range runs {
		got := mustRun(t, st, r.ID)
		c := countLedger(t, st, r.ID)
		require.Equal(t, [6]int{c.PagesPlanned, c.PagesDone, c.PagesFailed, c.ItemsSeen, c.ItemsSaved, c.ItemsDead},
			[6]int{got.PagesPlanned, got.PagesDone, got.PagesFailed, got.CampaignsSeen, got.CampaignsSaved, got.CampaignsDead},
			"%s: counts of run %d (planned, done, failed pages; seen, saved, dead items)", step, r.ID)
		if got.Status == StatusCancelled {
			continue
		}
		want := StatusRunning
		if c.PagesPending == 0 && c.ItemsPending == 0 && (c.PagesFailed > 0 || c.Listing != listingOpen) {
			switch {
			case c.PagesFailed > 0:
				want = StatusFailed
			case c.Listing == listingIncomplete:
				want = StatusIncomplete
			case c.ItemsDead > 0:
				want = StatusDoneWithFailures
			default:
				want = StatusDone
			}
		}
		require.Equal(t, want, got.Status, "%s: status of run %d with %+v", step, r.ID, c)
	}
}

// The counts of sync_runs equal the page and item rows, and each run's
// status follows from them, after random interleavings of everything that
// changes a ledger: pages recorded (again, out of order, with drift that
// starts a reconcile pass, or empty with has_more), saves batched across
// runs (twice, or of items the ledger does not hold), records and pages
// dead-lettered (twice), replays that save a dead item or record a failed
// page and revive its run, and cancels, after which the client starts a
// new run. The steps follow from the seed the test prints; the saves of
// one step run concurrently.
func TestLedgerCountsMatchRowsAfterRandomInterleavings(t *testing.T) {
	for _, seed := range []uint64{1, 2, 3, 4} {
		t.Run(fmt.Sprintf("seed_%d", seed), func(t *testing.T) {
			t.Logf("seed %d", seed)
			st := setup(t)
			ctx := context.Background()
			rng := rand.New(rand.NewPCG(seed, seed))
			// Each client's account has 1 to 3 pages of 3 campaigns.
			var all []Run
			active, pages := make([]Run, 3), make([]int, 3)
			start := func(c int) {
				run, err := st.CreateRun(ctx, fmt.Sprintf("client-%d", c))
				require.NoError(t, err)
				all, active[c], pages[c] = append(all, run), run, rng.IntN(3)+1
			}
			for c := range active {
				start(c)
			}
			for step := range 300 {
				c := rng.IntN(len(active))
				run, p := active[c], pages[c]
				var what string
				switch op := rng.IntN(100); {
				case op < 30:
					n := rng.IntN(p+1) + 1 // a page past the last one now and then
					f := FetchedPage{RunID: run.ID, Page: n, Total: 3 * p, HasMore: n < p, ReconcilePasses: 1}
					if n <= p {
						f.Items = ids(3*n-2, 3*n)
					}
					switch rng.IntN(12) {
					case 0: // a campaign deleted while the run pages: the listing moved
						f.Items, f.Total = ids(3*n-1, 3*n+1), f.Total-1
					case 1:
						f.Items, f.HasMore = nil, true
					}
					if n == 1 {
						f.PlanThrough = p
					} else if f.HasMore {
						f.PlanThrough = n + 1
					}
					what = fmt.Sprintf("record page %d of run %d: %d items, total %d, has_more %t",
						n, run.ID, len(f.Items), f.Total, f.HasMore)
					_, err := st.RecordPage(ctx, f)
					require.NoError(t, err, what)
				case op < 75:
					cs := make([]SavedCampaign, rng.IntN(6)+1)
					for i := range cs {
						r := rng.IntN(len(active))
						cs[i] = savedOf(active[r], rng.IntN(3*pages[r]+1)+1)
					}
					what = fmt.Sprintf("save %d campaigns at once", len(cs))
					for _, err := range saveAll(st, cs) {
						require.NoError(t, err, what)
					}
				case op < 90:
					k := fmt.Sprintf("campaign_%d", rng.IntN(3*p)+1)
					what = fmt.Sprintf("dead-letter %s of run %d", k, run.ID)
					require.NoError(t, st.RecordDeadLetter(ctx, DeadLetter{TaskID: fmt.Sprintf("run%d:save:%s", run.ID, k),
						TaskType: "campaigns:save", RunID: run.ID, ClientID: run.ClientID, ItemKey: k, Reason: "bad", Payload: []byte(`{}`)}), what)
				case op < 98:
					n := rng.IntN(p) + 1
					what = fmt.Sprintf("dead-letter page %d of run %d", n, run.ID)
					require.NoError(t, st.RecordDeadLetter(ctx, DeadLetter{TaskID: fmt.Sprintf("run%d:page%d", run.ID, n),
						TaskType: "campaigns:fetch_page", RunID: run.ID, ClientID: run.ClientID, Page: n, Reason: "503", Payload: []byte(`{}`)}), what)
				default:
					what = fmt.Sprintf("cancel the runs of %s", run.ClientID)
					_, err := st.CancelClientRuns(ctx, run.ClientID, "client removed")
					require.NoError(t, err, what)
					start(c)
				}
				requireLedgerAgrees(t, st, all, fmt.Sprintf("seed %d, step %d (%s)", seed, step, what))
			}
		})
	}
}
