package store

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/adsync/adsync/internal/testenv"
)

// BenchmarkSaveBatch measures the store's cost per saved campaign on the
// hot path: one group-committed transaction of 64 saves, each of another
// run, as when many clients sync at once, so that a batch touches as many
// runs as it can. Runs hold 100 campaigns (an account of the reference
// platform) or 1,000 (an account of bench-throughput). The batch is written
// directly, without the batcher's waiting, so ns/campaign is the database's
// work and not the timing of concurrent callers; with TEST_DATABASE_URL
// ending in &synchronous_commit=off, the wait for the commit's flush to
// disk is left out too. b.N is at most the run's size: run it with
// -benchtime=100x.
func BenchmarkSaveBatch(b *testing.B) {
	const batch = 64
	for _, perRun := range []int{100, 1000} {
		b.Run(fmt.Sprintf("run_of_%d", perRun), func(b *testing.B) {
			require.LessOrEqual(b, b.N, perRun, "every save of a run is of another campaign")
			url := testenv.DatabaseURL(b)
			ctx := context.Background()
			require.NoError(b, Migrate(ctx, url))
			st, err := OpenWith(ctx, url, Options{WriteBatchSize: 1})
			require.NoError(b, err)
			b.Cleanup(st.Close)
			runs := make([]Run, batch)
			for r := range runs {
				runs[r] = startRun(b, st, fmt.Sprintf("client-%d", r), perRun)
			}

			b.ResetTimer()
			for i := range b.N {
				cs := make([]SavedCampaign, batch)
				for r, run := range runs {
					cs[r] = savedOf(run, i+1)
				}
				require.NoError(b, st.saveCampaigns(ctx, cs))
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*batch), "ns/campaign")
		})
	}
}
