package opstest

import (
	"bytes"
	"io"
	"net/http"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/require"
)

// Families are the metric families of one scrape, by name.
type Families map[string]*dto.MetricFamily

// Scrape GETs url (a /metrics endpoint), requires a 200 in the text
// format, and parses it.
func Scrape(t testing.TB, url string) Families {
	t.Helper()
	resp, err := http.Get(url) // #nosec G107 -- a test helper scraping the server its test started
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode, "scrape %s: %s", url, body)
	require.Equal(t, expfmt.TypeTextPlain, expfmt.ResponseFormat(resp.Header).FormatType(), "scrape %s: content type", url)
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(bytes.NewReader(body))
	require.NoError(t, err, "parse the scrape of %s", url)
	return fams
}

// Sum adds up the series of family name whose labels include every pair of
// labels: counter, gauge and untyped values, and the sample count of
// histograms. It fails the test when no series matches.
func (f Families) Sum(t testing.TB, name string, labels map[string]string) float64 {
	t.Helper()
	fam, ok := f[name]
	require.True(t, ok, "metric family %s not in the scrape", name)
	total, matched := 0.0, 0
	for _, m := range fam.GetMetric() {
		if !hasLabels(m, labels) {
			continue
		}
		matched++
		switch {
		case m.Counter != nil:
			total += m.GetCounter().GetValue()
		case m.Gauge != nil:
			total += m.GetGauge().GetValue()
		case m.Untyped != nil:
			total += m.GetUntyped().GetValue()
		case m.Histogram != nil:
			total += float64(m.GetHistogram().GetSampleCount())
		}
	}
	require.NotZero(t, matched, "no series of %s has labels %v", name, labels)
	return total
}

func hasLabels(m *dto.Metric, want map[string]string) bool {
	found := 0
	for _, lp := range m.GetLabel() {
		if v, ok := want[lp.GetName()]; ok && v == lp.GetValue() {
			found++
		}
	}
	return found == len(want)
}
