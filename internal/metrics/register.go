package metrics

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// Register adds other packages' collectors (the live client list's) to the
// registry that /metrics serves, so one endpoint shows them all.
func (m *Metrics) Register(cs ...prometheus.Collector) error {
	for _, c := range cs {
		if err := m.registry.Register(c); err != nil {
			return fmt.Errorf("metrics: register: %w", err)
		}
	}
	return nil
}
