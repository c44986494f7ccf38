package runs

import (
	"context"
	"fmt"
	"time"
)

// epochKey marks a Redis that has held adsync's queues. Redis without
// persistence loses it with everything else on a restart or FLUSHALL, which
// is how the scheduler notices that queued work may be gone.
const epochKey = "adsync:epoch"

// MarkEpoch sets the marker if it is missing and reports whether it was:
// true means Redis is new or lost its data since the marker was set.
func (s *Starter) MarkEpoch(ctx context.Context) (bool, error) {
	set, err := s.rdb.SetNX(ctx, epochKey, time.Now().UTC().Format(time.RFC3339), 0).Result()
	if err != nil {
		return false, fmt.Errorf("runs: check Redis epoch marker: %w", err)
	}
	return set, nil
}
