package opstest

import (
	"encoding/json"
	"strings"
)

// LogAddr finds the first JSON log line whose msg is msg (such as the
// worker's "ops server listening" or the mock's "mockapi listening") and
// returns its addr attribute: how a test learns the port that an address
// such as 127.0.0.1:0 was given.
func LogAddr(logs, msg string) (string, bool) {
	for _, line := range strings.Split(logs, "\n") {
		var l struct{ Msg, Addr string }
		if json.Unmarshal([]byte(line), &l) == nil && l.Msg == msg {
			return l.Addr, true
		}
	}
	return "", false
}
