package benchkit

import (
	"os"
	"strconv"
)

// EnvInt is the positive integer in the environment variable name, or def
// when it is unset or not a positive integer.
func EnvInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// EnvString is the environment variable name, or def when it is unset or
// empty.
func EnvString(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}
