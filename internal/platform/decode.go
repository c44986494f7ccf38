package platform

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
)

// fields is one JSON object whose members are checked one at a time, so a
// decode error names the member and what was wrong with it
// ("pagination.has_more: expected bool, got string") and never quotes the
// body. encoding/json's own type errors are vaguer and differ by case.
type fields struct {
	path    string // dotted path of this object, "" at the top
	members map[string]json.RawMessage
}

// decodeObject parses raw as a JSON object found at path.
func decodeObject(raw []byte, path string) (fields, error) {
	if len(bytes.TrimSpace(raw)) == 0 {
		return fields{}, errors.New("empty body")
	}
	if t := jsonType(raw); t != "object" {
		return fields{}, typeError(path, "object", t)
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return fields{}, fmt.Errorf("%sinvalid JSON: %w", prefix(path), err)
	}
	return fields{path: path, members: m}, nil
}

// raw returns a member that is present and not null.
func (f fields) raw(name string) (json.RawMessage, bool) {
	v, ok := f.members[name]
	if !ok || jsonType(v) == "null" {
		return nil, false
	}
	return v, true
}

// member returns a required member of the given JSON type.
func (f fields) member(name, want string) (json.RawMessage, error) {
	v, ok := f.raw(name)
	if !ok {
		return nil, fmt.Errorf("%s: missing", f.name(name))
	}
	if got := jsonType(v); got != want {
		return nil, typeError(f.name(name), want, got)
	}
	return v, nil
}

// object returns a required nested object.
func (f fields) object(name string) (fields, error) {
	v, err := f.member(name, "object")
	if err != nil {
		return fields{}, err
	}
	return decodeObject(v, f.name(name))
}

// array returns a required array's elements, left raw.
func (f fields) array(name string) ([]json.RawMessage, error) {
	v, err := f.member(name, "array")
	if err != nil {
		return nil, err
	}
	var out []json.RawMessage
	if err := json.Unmarshal(v, &out); err != nil {
		return nil, fmt.Errorf("%s: %w", f.name(name), err)
	}
	return out, nil
}

// int returns a required integer.
func (f fields) int(name string) (int, error) {
	v, err := f.member(name, "number")
	if err != nil {
		return 0, err
	}
	var n int
	if err := json.Unmarshal(v, &n); err != nil {
		return 0, fmt.Errorf("%s: expected integer", f.name(name))
	}
	return n, nil
}

// number returns a required number.
func (f fields) number(name string) (float64, error) {
	v, err := f.member(name, "number")
	if err != nil {
		return 0, err
	}
	var n float64
	if err := json.Unmarshal(v, &n); err != nil {
		return 0, fmt.Errorf("%s: %w", f.name(name), err)
	}
	return n, nil
}

// bool returns a required boolean.
func (f fields) bool(name string) (bool, error) {
	v, err := f.member(name, "bool")
	if err != nil {
		return false, err
	}
	return bytes.Equal(v, []byte("true")), nil
}

// string returns a required string.
func (f fields) string(name string) (string, error) {
	v, err := f.member(name, "string")
	if err != nil {
		return "", err
	}
	var s string
	if err := json.Unmarshal(v, &s); err != nil {
		return "", fmt.Errorf("%s: %w", f.name(name), err)
	}
	return s, nil
}

// optionalString returns a string member if present, reporting whether it
// was; a present member of another type is an error.
func (f fields) optionalString(name string) (string, bool, error) {
	if _, ok := f.raw(name); !ok {
		return "", false, nil
	}
	s, err := f.string(name)
	return s, err == nil, err
}

// name is the dotted path of a member, for error messages.
func (f fields) name(member string) string {
	return prefix(f.path) + member
}

// prefix is path followed by a dot, or nothing at the top.
func prefix(path string) string {
	if path == "" {
		return ""
	}
	return path + "."
}

// typeError says what was found where something else was expected.
func typeError(path, want, got string) error {
	if path == "" {
		return fmt.Errorf("expected %s, got %s", want, got)
	}
	return fmt.Errorf("%s: expected %s, got %s", path, want, got)
}

// jsonType names the JSON type of a value from its first byte; the value is
// validated when it is decoded.
func jsonType(v []byte) string {
	v = bytes.TrimSpace(v)
	if len(v) == 0 {
		return "nothing"
	}
	switch c := v[0]; {
	case c == '{':
		return "object"
	case c == '[':
		return "array"
	case c == '"':
		return "string"
	case c == 't' || c == 'f':
		return "bool"
	case c == 'n':
		return "null"
	case c == '-' || (c >= '0' && c <= '9'):
		return "number"
	default:
		return "invalid JSON"
	}
}
