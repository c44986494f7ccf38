package config

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// HTTP_ADDR must be a listen address; a bad one stops the worker at start
// with the usual one line instead of failing later in net.Listen.
func TestHTTPAddr(t *testing.T) {
	for _, ok := range []string{":8080", "127.0.0.1:0", "[::1]:9090", "0.0.0.0:80"} {
		c, err := LoadFrom(map[string]string{"HTTP_ADDR": ok})
		require.NoError(t, err, ok)
		require.Equal(t, ok, c.HTTPAddr)
	}
	for _, bad := range []string{"8080", "localhost", ":http", ":99999"} {
		_, err := LoadFrom(map[string]string{"HTTP_ADDR": bad})
		require.ErrorContains(t, err, "HTTP_ADDR: not a [host]:port listen address", "%q", bad)
	}
}
