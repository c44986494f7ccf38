package benchkit

import (
	"bytes"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestLastResultTakesTheLastLineOfItsBenchAndEchoes(t *testing.T) {
	out := "table\nRESULT bench=other x=1\nRESULT bench=ratelimit ratio_max=1.2 http429=3\nRESULT bench=ratelimit ratio_max=1.1 http429=0\ntrailer\n"
	var echo bytes.Buffer
	r, err := LastResult(strings.NewReader(out), "ratelimit", &echo)
	require.NoError(t, err)
	require.Equal(t, out, echo.String())
	v, err := r.Float("ratio_max")
	require.NoError(t, err)
	require.InDelta(t, 1.1, v, 1e-9)
	_, err = r.Float("requeues")
	require.ErrorContains(t, err, "RESULT bench=ratelimit has no requeues")
	r["wall_s"] = "fast"
	_, err = r.Float("wall_s")
	require.ErrorContains(t, err, `wall_s="fast" is not a number`)
}

func TestLastResultFailsWithoutItsLine(t *testing.T) {
	_, err := LastResult(strings.NewReader("RESULT bench=other x=1\n"), "ratelimit", nil)
	require.ErrorContains(t, err, "bench ratelimit printed no RESULT line")
}
