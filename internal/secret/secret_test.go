package secret

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestSecretNeverPrints(t *testing.T) {
	s := Secret("hunter2-very-secret")
	for _, out := range []string{
		fmt.Sprint(s), fmt.Sprintf("%s %v %q %x %#v %+v", s, s, s, s, s, s),
		fmt.Sprint(struct{ P Secret }{s}),
	} {
		require.NotContains(t, out, "hunter2")
	}
	b, err := json.Marshal(map[string]Secret{"p": s})
	require.NoError(t, err)
	require.NotContains(t, string(b), "hunter2")

	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("x", "password", s)
	require.NotContains(t, buf.String(), "hunter2")
	require.True(t, strings.Contains(buf.String(), Mask))
	require.Equal(t, "hunter2-very-secret", s.Reveal())
}
