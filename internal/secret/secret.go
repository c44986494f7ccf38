// Package secret holds values that must never be printed: passwords and
// tokens. A Secret formats, logs and marshals as a fixed mask, so a stray
// log line, error message or JSON dump cannot leak it; code that really needs
// the value (building an Authorization header) asks for it with Reveal.
package secret

import (
	"fmt"
	"log/slog"
)

// Mask is what a Secret prints as.
const Mask = "[REDACTED]"

// Secret is a string that redacts itself everywhere it could be printed.
type Secret string

// Reveal returns the value; call it only where the value leaves the process
// on purpose, such as an Authorization header.
func (s Secret) Reveal() string { return string(s) }

// IsZero reports whether no value is set.
func (s Secret) IsZero() bool { return s == "" }

// String returns Mask, so fmt's %s and %v never show the value.
func (s Secret) String() string { return Mask }

// GoString returns Mask, so %#v never shows the value either.
func (s Secret) GoString() string { return Mask }

// Format makes every fmt verb, %q and %x included, print Mask.
func (s Secret) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(Mask)) }

// LogValue makes log/slog print Mask.
func (s Secret) LogValue() slog.Value { return slog.StringValue(Mask) }

// MarshalJSON writes Mask, so a configuration dump stays safe.
func (s Secret) MarshalJSON() ([]byte, error) { return []byte(`"` + Mask + `"`), nil }

// MarshalText writes Mask for encoders that use encoding.TextMarshaler.
func (s Secret) MarshalText() ([]byte, error) { return []byte(Mask), nil }
