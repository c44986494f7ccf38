package benchkit

import (
	"bufio"
	"fmt"
	"io"
	"strings"
)

// Result is one bench's RESULT line, as key=value pairs.
type Result map[string]string

// LastResult reads a bench's output and returns its last RESULT line whose
// bench= is bench, so a bench can run another as a subprocess and use its
// figures. Lines are copied to echo (nil: not copied) as they come, so the
// subprocess's table still reaches the reader.
func LastResult(out io.Reader, bench string, echo io.Writer) (Result, error) {
	var last Result
	sc := bufio.NewScanner(out)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		line := sc.Text()
		if echo != nil {
			fmt.Fprintln(echo, line)
		}
		rest, ok := strings.CutPrefix(line, "RESULT ")
		if !ok {
			continue
		}
		r := Result{}
		for _, kv := range strings.Fields(rest) {
			if k, v, ok := strings.Cut(kv, "="); ok {
				r[k] = v
			}
		}
		if r["bench"] == bench {
			last = r
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read the output of bench %s: %w", bench, err)
	}
	if last == nil {
		return nil, fmt.Errorf("bench %s printed no RESULT line", bench)
	}
	return last, nil
}

// Float is the value of key as a number; a missing or malformed value is
// an error naming the key, so a change in the other bench's RESULT line
// shows at once.
func (r Result) Float(key string) (float64, error) {
	v, ok := r[key]
	if !ok {
		return 0, fmt.Errorf("RESULT bench=%s has no %s", r["bench"], key)
	}
	var f float64
	if _, err := fmt.Sscan(v, &f); err != nil {
		return 0, fmt.Errorf("RESULT bench=%s: %s=%q is not a number", r["bench"], key, v)
	}
	return f, nil
}
