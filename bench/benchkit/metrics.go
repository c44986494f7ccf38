package benchkit

import (
	"fmt"
	"net/http"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// SumCounters scrapes /metrics of every ops address and sums each named
// counter family over its series and the processes: how a bench tells what
// the workers did (slots given up, requeues) besides what the mock saw.
// A family no worker has exported yet sums to 0.
func SumCounters(addrs []string, names ...string) (map[string]float64, error) {
	sums := make(map[string]float64, len(names))
	for _, addr := range addrs {
		families, err := scrape("http://" + addr + "/metrics")
		if err != nil {
			return nil, err
		}
		for _, name := range names {
			if f, ok := families[name]; ok {
				for _, m := range f.GetMetric() {
					sums[name] += m.GetCounter().GetValue()
				}
			}
		}
	}
	return sums, nil
}

func scrape(url string) (map[string]*dto.MetricFamily, error) {
	resp, err := http.Get(url) // #nosec G107 -- a loopback URL built by the benchmark
	if err != nil {
		return nil, fmt.Errorf("scrape %s: %w", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("scrape %s: status %s", url, resp.Status)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	families, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("scrape %s: %w", url, err)
	}
	return families, nil
}
