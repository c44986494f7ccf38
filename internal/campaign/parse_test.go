package campaign

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

const valid = `{"id":"campaign_1","name":"Spring 'sale'; \"50%\" off ☀","status":"active","budget":1234.50,
"impressions":100,"clicks":7,"conversions":1,"created_at":"2026-01-02T03:04:05Z","extra":"ignored"}`

func TestParseValid(t *testing.T) {
	c, err := Parse([]byte(valid))
	require.NoError(t, err)
	require.Equal(t, Campaign{
		ID: "campaign_1", Name: `Spring 'sale'; "50%" off ☀`, Status: "active", Budget: "1234.50",
		Impressions: 100, Clicks: 7, Conversions: 1,
		CreatedAt: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
	}, c)
}

func TestParseRejectsWithFieldNamed(t *testing.T) {
	cases := []struct {
		name, replace, with, field string
	}{
		{"empty id", `"id":"campaign_1"`, `"id":""`, "id"},
		{"id not a string", `"id":"campaign_1"`, `"id":17`, "id"},
		{"missing name", `"name":"Spring 'sale'; \"50%\" off ☀",`, ``, "name"},
		{"status a number", `"status":"active"`, `"status":3`, "status"},
		{"negative budget", `"budget":1234.50`, `"budget":-1`, "budget"},
		{"budget as string", `"budget":1234.50`, `"budget":"1234.50"`, "budget"},
		{"budget huge", `"budget":1234.50`, `"budget":1e300`, "budget"},
		{"impressions fraction", `"impressions":100`, `"impressions":100.5`, "impressions"},
		{"clicks too big", `"clicks":7`, `"clicks":99999999999999999999999`, "clicks"},
		{"conversions negative", `"conversions":1`, `"conversions":-1`, "conversions"},
		{"created_at not rfc3339", `"created_at":"2026-01-02T03:04:05Z"`, `"created_at":"02/01/2026"`, "created_at"},
		{"created_at null", `"created_at":"2026-01-02T03:04:05Z"`, `"created_at":null`, "created_at"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			raw := strings.Replace(valid, tc.replace, tc.with, 1)
			require.NotEqual(t, valid, raw, "test case did not change the record")
			_, err := Parse([]byte(raw))
			var inv *InvalidError
			require.True(t, errors.As(err, &inv), "want *InvalidError, got %v", err)
			require.Equal(t, tc.field, inv.Field)
			require.ErrorIs(t, err, ErrInvalid)
			require.Contains(t, err.Error(), tc.field)
		})
	}
}

// The reason says which: an absent field is "missing", a null one "null",
// one of another JSON type "wrong type (got <type>)".
func TestParseReasonSaysWhich(t *testing.T) {
	cases := map[string]struct{ replace, with, reason string }{
		"id absent":           {`"id":"campaign_1",`, ``, "invalid campaign: field id: missing"},
		"id null":             {`"id":"campaign_1"`, `"id":null`, "invalid campaign: field id: null"},
		"id a number":         {`"id":"campaign_1"`, `"id":17`, "invalid campaign: field id: wrong type (got number)"},
		"conversions string":  {`"conversions":1`, `"conversions":"1"`, "invalid campaign: field conversions: wrong type (got string)"},
		"conversions absent":  {`"conversions":1,`, ``, "invalid campaign: field conversions: missing"},
		"budget an object":    {`"budget":1234.50`, `"budget":{}`, "invalid campaign: field budget: wrong type (got object)"},
		"created_at a number": {`"created_at":"2026-01-02T03:04:05Z"`, `"created_at":5`, "invalid campaign: field created_at: wrong type (got number)"},
		"status null":         {`"status":"active"`, `"status":null`, "invalid campaign: field status: null"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			raw := strings.Replace(valid, tc.replace, tc.with, 1)
			require.NotEqual(t, valid, raw, "test case did not change the record")
			_, err := Parse([]byte(raw))
			require.EqualError(t, err, tc.reason)
		})
	}
}

// A null metric is a figure the platform does not have yet: the record is
// valid and the metric unknown.
func TestParseKeepsNullMetrics(t *testing.T) {
	raw := strings.NewReplacer(`"budget":1234.50`, `"budget":null`, `"conversions":1`, `"conversions": null `).Replace(valid)
	c, err := Parse([]byte(raw))
	require.NoError(t, err)
	require.True(t, c.Unknown.Has(MetricBudget|MetricConversions))
	require.False(t, c.Unknown.Has(MetricImpressions))
	require.False(t, c.Unknown.Has(MetricClicks))
	require.Equal(t, "", c.Budget)
	require.Equal(t, int64(100), c.Impressions)
	require.Zero(t, c.Conversions)
}

func TestParseRejectsNonObjects(t *testing.T) {
	for _, raw := range []string{``, `null`, `[]`, `"x"`, `12`, `{`, strings.Repeat(" ", MaxRecordBytes+1)} {
		_, err := Parse([]byte(raw))
		require.ErrorIs(t, err, ErrInvalid, "input %.20q", raw)
	}
}

func TestKeyOf(t *testing.T) {
	id, ok := KeyOf([]byte(valid))
	require.True(t, ok)
	require.Equal(t, "campaign_1", id)
	for _, raw := range []string{`{"id":""}`, `{"id":5}`, `{}`, `[1]`, `{"id":"  "}`} {
		_, ok := KeyOf([]byte(raw))
		require.False(t, ok, raw)
	}
}

// FuzzParse: no input panics, and whatever Parse accepts satisfies the
// invariants the store relies on.
func FuzzParse(f *testing.F) {
	f.Add([]byte(valid))
	f.Add([]byte(`{"id":"a","name":"","status":"x","budget":0,"impressions":0,"clicks":0,"conversions":0,"created_at":"2020-01-01T00:00:00+01:00"}`))
	f.Add([]byte(`{"id":"\u0000","budget":"1"}`))
	f.Add([]byte(`{"impressions":1e400}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		c, err := Parse(raw)
		if err != nil {
			require.ErrorIs(t, err, ErrInvalid)
			return
		}
		require.NotEmpty(t, c.ID)
		require.NotEmpty(t, c.Status)
		require.GreaterOrEqual(t, c.Impressions, int64(0))
		require.False(t, strings.ContainsRune(c.Name, 0))
		KeyOf(raw)
	})
}
