package store

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/adsync/adsync/internal/testenv"
)

// BenchmarkSaveCampaign measures the store's cost per saved campaign on the
// hot path: SaveCampaign called by 64 concurrent tasks and group-committed
// with DefaultOptions, the campaigns of all runs interleaved as when many
// clients sync at once, so that a batch touches many runs. Runs hold 100
// campaigns (an account of the reference platform) or 1,000 (an account of
// bench-throughput); ns/op is per campaign. Run it with a fixed count, such
// as -benchtime=4000x, so both sizes save the same number of campaigns.
func BenchmarkSaveCampaign(b *testing.B) {
	for _, perRun := range []int{100, 1000} {
		b.Run(fmt.Sprintf("run_of_%d", perRun), func(b *testing.B) {
			url := testenv.DatabaseURL(b)
			ctx := context.Background()
			require.NoError(b, Migrate(ctx, url))
			st, err := Open(ctx, url)
			require.NoError(b, err)
			b.Cleanup(st.Close)
			runs := make([]Run, (b.N+perRun-1)/perRun)
			for r := range runs {
				runs[r] = startRun(b, st, fmt.Sprintf("client-%d", r), perRun)
			}

			b.ResetTimer()
			var next atomic.Int64
			var wg sync.WaitGroup
			for range 64 {
				wg.Go(func() {
					for k := int(next.Add(1)) - 1; k < b.N; k = int(next.Add(1)) - 1 {
						if err := st.SaveCampaign(ctx, savedOf(runs[k%len(runs)], k/len(runs)+1)); err != nil {
							b.Error(err)
							return
						}
					}
				})
			}
			wg.Wait()
		})
	}
}
