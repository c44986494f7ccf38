package campaign

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// InvalidError says why a record was rejected and which field is at fault.
// It is permanent: retrying the same record cannot fix it.
type InvalidError struct {
	Field  string
	Reason string
}

func (e *InvalidError) Error() string {
	if e.Field == "" {
		return "invalid campaign: " + e.Reason
	}
	return fmt.Sprintf("invalid campaign: field %s: %s", e.Field, e.Reason)
}

// ErrInvalid matches every *InvalidError with errors.Is.
var ErrInvalid = errors.New("invalid campaign")

// Is makes errors.Is(err, ErrInvalid) true for an *InvalidError.
func (e *InvalidError) Is(target error) bool { return target == ErrInvalid }

// MaxRecordBytes bounds the size of one raw record.
const MaxRecordBytes = 64 << 10

// Parse decodes and validates one raw campaign record from a page. Every
// field is checked for presence, JSON type and range, and the first problem
// is reported naming its field and saying which it is: "missing" (absent),
// "null", "wrong type (got string)", or what is wrong with the value. A
// null metric (budget, impressions, clicks, conversions) is not a problem:
// the platform has no figure yet, and it is kept as unknown. Unknown fields
// are ignored, as a client of an evolving API should.
func Parse(raw []byte) (Campaign, error) {
	if len(raw) > MaxRecordBytes {
		return Campaign{}, &InvalidError{Reason: fmt.Sprintf("record is %d bytes, more than %d", len(raw), MaxRecordBytes)}
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil || fields == nil {
		return Campaign{}, &InvalidError{Reason: "record is not a JSON object"}
	}
	var c Campaign
	var err error
	if c.ID, err = text(fields, "id", maxIDLen, true); err != nil {
		return Campaign{}, err
	}
	if c.Name, err = text(fields, "name", maxNameLen, false); err != nil {
		return Campaign{}, err
	}
	if c.Status, err = text(fields, "status", maxStatusLen, true); err != nil {
		return Campaign{}, err
	}
	if isNull(fields, "budget") {
		c.Unknown |= MetricBudget
	} else if c.Budget, err = budget(fields); err != nil {
		return Campaign{}, err
	}
	for _, f := range []struct {
		name   string
		dst    *int64
		metric Metrics
	}{{"impressions", &c.Impressions, MetricImpressions}, {"clicks", &c.Clicks, MetricClicks},
		{"conversions", &c.Conversions, MetricConversions}} {
		if isNull(fields, f.name) {
			c.Unknown |= f.metric
		} else if *f.dst, err = count(fields, f.name); err != nil {
			return Campaign{}, err
		}
	}
	if c.CreatedAt, err = timestamp(fields, "created_at"); err != nil {
		return Campaign{}, err
	}
	return c, nil
}

// field returns a member that is present and not null: absent is
// "missing", null is "null", so the reason says which.
func field(fields map[string]json.RawMessage, name string) (json.RawMessage, error) {
	v, ok := fields[name]
	switch {
	case !ok:
		return nil, &InvalidError{Field: name, Reason: "missing"}
	case isNullValue(v):
		return nil, &InvalidError{Field: name, Reason: "null"}
	}
	return v, nil
}

// isNull reports whether the member is present and null.
func isNull(fields map[string]json.RawMessage, name string) bool {
	v, ok := fields[name]
	return ok && isNullValue(v)
}

func isNullValue(v json.RawMessage) bool { return bytes.Equal(bytes.TrimSpace(v), []byte("null")) }

// kindOf names the JSON type of a value from its first byte.
func kindOf(v json.RawMessage) string {
	v = bytes.TrimSpace(v)
	if len(v) == 0 {
		return "nothing"
	}
	switch v[0] {
	case '"':
		return "string"
	case '{':
		return "object"
	case '[':
		return "array"
	case 't', 'f':
		return "boolean"
	default:
		return "number"
	}
}

// wrongType is the reason for a value of another JSON type than the field's.
func wrongType(name string, v json.RawMessage) error {
	return &InvalidError{Field: name, Reason: "wrong type (got " + kindOf(v) + ")"}
}

func text(fields map[string]json.RawMessage, name string, maxLen int, nonEmpty bool) (string, error) {
	v, err := field(fields, name)
	if err != nil {
		return "", err
	}
	var s string
	if err := json.Unmarshal(v, &s); err != nil {
		return "", wrongType(name, v)
	}
	switch {
	case nonEmpty && strings.TrimSpace(s) == "":
		return "", &InvalidError{Field: name, Reason: "is empty"}
	case !utf8.ValidString(s):
		return "", &InvalidError{Field: name, Reason: "is not valid UTF-8"}
	case strings.ContainsRune(s, 0):
		return "", &InvalidError{Field: name, Reason: "contains a NUL character"}
	case utf8.RuneCountInString(s) > maxLen:
		return "", &InvalidError{Field: name, Reason: fmt.Sprintf("longer than %d characters", maxLen)}
	}
	return s, nil
}

// maxBudget keeps budgets inside numeric(20,4)-sized values.
var maxBudget = new(big.Float).SetFloat64(1e15)

func budget(fields map[string]json.RawMessage) (string, error) {
	v, err := field(fields, "budget")
	if err != nil {
		return "", err
	}
	if kindOf(v) != "number" {
		return "", wrongType("budget", v)
	}
	s := string(bytes.TrimSpace(v))
	f, _, err := big.ParseFloat(s, 10, 128, big.ToNearestEven)
	if err != nil {
		return "", &InvalidError{Field: "budget", Reason: "is not a decimal number"}
	}
	if f.Sign() < 0 {
		return "", &InvalidError{Field: "budget", Reason: "is negative"}
	}
	if f.Cmp(maxBudget) > 0 {
		return "", &InvalidError{Field: "budget", Reason: "is larger than 1e15"}
	}
	return s, nil
}

func count(fields map[string]json.RawMessage, name string) (int64, error) {
	v, err := field(fields, name)
	if err != nil {
		return 0, err
	}
	if kindOf(v) != "number" {
		return 0, wrongType(name, v)
	}
	s := string(bytes.TrimSpace(v))
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		if f, ferr := strconv.ParseFloat(s, 64); ferr == nil && f == math.Trunc(f) && math.Abs(f) < 1<<53 {
			n = int64(f) // 1e3 and 12.0 are whole numbers written another way
		} else {
			return 0, &InvalidError{Field: name, Reason: "must be a whole number that fits 64 bits, got " + truncate(s, 32)}
		}
	}
	if n < 0 {
		return 0, &InvalidError{Field: name, Reason: "is negative"}
	}
	return n, nil
}

func timestamp(fields map[string]json.RawMessage, name string) (time.Time, error) {
	v, err := field(fields, name)
	if err != nil {
		return time.Time{}, err
	}
	var s string
	if err := json.Unmarshal(v, &s); err != nil {
		return time.Time{}, wrongType(name, v)
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, &InvalidError{Field: name, Reason: "is not an RFC 3339 timestamp: " + strconv.Quote(truncate(s, 40))}
	}
	return t, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

// KeyOf returns the record's id when it is a usable one (a non-empty string
// within the length limit), so a page can name its records before each is
// validated on its own.
func KeyOf(raw []byte) (string, bool) {
	var rec struct {
		ID json.RawMessage `json:"id"`
	}
	if json.Unmarshal(raw, &rec) != nil || rec.ID == nil {
		return "", false
	}
	id, err := text(map[string]json.RawMessage{"id": rec.ID}, "id", maxIDLen, true)
	return id, err == nil
}
