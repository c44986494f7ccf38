package platform

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/adsync/adsync/internal/secret"
)

// maxErrorLen bounds an error message about a bad answer: one clear line,
// never a dump of the body.
const maxErrorLen = 600

// requireClearError fails unless err reads as one bounded line.
func requireClearError(t *testing.T, err error) {
	t.Helper()
	msg := err.Error()
	if strings.ContainsAny(msg, "\r\n") || len(msg) > maxErrorLen || !utf8.ValidString(msg) {
		t.Fatalf("error is not one clear line of at most %d bytes: %q", maxErrorLen, msg)
	}
}

// pageSeeds are bodies of GET /api/campaigns: good, broken in each member,
// and hostile.
var pageSeeds = []string{
	`{"data":[{"id":"campaign_1","name":"x"}],"pagination":{"page":1,"limit":10,"total":100,"has_more":true}}`,
	`{"data":[],"pagination":{"page":1,"limit":10,"total":0,"has_more":false}}`,
	`{"data":[1,"two",null,{},[]],"pagination":{"page":1,"limit":10,"total":5,"has_more":false}}`,
	`{"data":[{"id":"campaign_1"}`,
	`{"data":null,"pagination":{"page":1,"limit":10,"total":100,"has_more":true}}`,
	`{"data":{},"pagination":{"page":1,"limit":10,"total":100,"has_more":true}}`,
	`{"data":[],"pagination":"1/10"}`,
	`{"data":[],"pagination":{"page":"1","limit":10,"total":100,"has_more":true}}`,
	`{"data":[],"pagination":{"page":1.5,"limit":10,"total":100,"has_more":true}}`,
	`{"data":[],"pagination":{"page":1e400,"limit":10,"total":100,"has_more":true}}`,
	`{"data":[],"pagination":{"page":1,"limit":10,"total":99999999999999999999999,"has_more":true}}`,
	`{"data":[],"pagination":{"page":1,"limit":-10,"total":-1,"has_more":"yes"}}`,
	`{"data":[],"pagination":{"page":1,"limit":10,"total":100}}`,
	`{"data":[],"data":{},"pagination":{"page":1,"limit":10,"total":1,"has_more":false}}`,
	`{"data":[],"pagination":{"page":2,"limit":10,"total":100,"has_more":true}}`,
	`<html><body><h1>502 Bad Gateway</h1></body></html>`,
	`[1,2,3]`, `"string"`, `null`, `true`, `-0`, ``, `   `, `{`, `}`, "\xff\xfe{}", "{\"data\":[\"\xff\"]}",
	strings.Repeat("[", 20000) + strings.Repeat("]", 20000),
	`{"data":[` + strings.Repeat(`{"id":"c"},`, 500) + `{}],"pagination":{"page":1,"limit":10,"total":501,"has_more":false}}`,
}

// FuzzDecodePage: the page decoder never panics; what it accepts keeps the
// contract (the page asked for, records that are JSON values) and what it
// refuses comes with one clear line starting "decode page: ".
func FuzzDecodePage(f *testing.F) {
	for _, s := range pageSeeds {
		f.Add([]byte(s), 1)
	}
	f.Add([]byte(pageSeeds[0]), 2)
	f.Add([]byte(pageSeeds[0]), -1)
	f.Fuzz(func(t *testing.T, body []byte, page int) {
		p, err := decodePage(body, page)
		if err != nil {
			if p != nil {
				t.Fatalf("a page and an error: %v", err)
			}
			requireClearError(t, err)
			if !strings.HasPrefix(err.Error(), "decode page: ") {
				t.Fatalf("error does not say what failed: %q", err)
			}
			return
		}
		if p.Pagination.Page != page {
			t.Fatalf("accepted page %d when %d was asked for", p.Pagination.Page, page)
		}
		if p.Data == nil {
			t.Fatal("accepted a page without data")
		}
		if len(p.Data) > len(body) {
			t.Fatalf("%d records from %d bytes", len(p.Data), len(body))
		}
		for i, r := range p.Data {
			if !json.Valid(r) {
				t.Fatalf("record %d is not a JSON value: %q", i, r)
			}
		}
	})
}

// statusOf maps a fuzzed byte to a status the platform might answer.
func statusOf(b byte) int {
	statuses := []int{200, 200, 200, 200, 400, 401, 404, 408, 429, 500, 502, 503}
	return statuses[int(b)%len(statuses)]
}

// FuzzListCampaigns drives the exported path, Client.ListCampaigns, against
// a server answering a fuzzed status, content type and body: no panic, and
// every failure is a classified *Error with one clear line, permanent for
// an answer that breaks the contract, transient for a 5xx, a rate-limit
// wait within bounds for a 429. Bodies beyond MaxBodyBytes are refused
// without being read whole.
func FuzzListCampaigns(f *testing.F) {
	const maxBody = 4 << 10
	for _, s := range pageSeeds {
		f.Add(byte(0), "application/json", []byte(s))
	}
	f.Add(byte(0), "text/html; charset=utf-8", []byte(`<html>Bad gateway</html>`))
	f.Add(byte(0), "application/problem+json", []byte(pageSeeds[0]))
	f.Add(byte(0), "", []byte(pageSeeds[0]))
	f.Add(byte(0), "application/json; charset=\"", []byte(pageSeeds[0]))
	f.Add(byte(0), "application/json", []byte(`{"data":[`+strings.Repeat(`{"id":"x"},`, maxBody/10)+`{}]}`))
	f.Add(byte(8), "application/json", []byte(`{"error":"Rate limit exceeded","retry_after":1e300}`))
	f.Add(byte(8), "application/json", []byte(`{"error":"Rate limit exceeded","retry_after":"-5"}`))
	f.Add(byte(11), "text/html", []byte("<html>Service Unavailable\n at server.js:1</html>"))
	f.Add(byte(4), "application/json", []byte(`{"error":"Bad \u0000 request\nstack","message":"x"}`))

	var mu sync.Mutex
	var status int
	var contentType string
	var body []byte
	fp := newFakePlatform()
	fp.list = func(w http.ResponseWriter, _ *http.Request) {
		mu.Lock()
		s, ct, b := status, contentType, body
		mu.Unlock()
		w.Header()["Content-Type"] = []string{ct}
		w.WriteHeader(s)
		_, _ = w.Write(b)
	}
	srv := httptest.NewServer(fp.handler())
	f.Cleanup(srv.Close)
	client, err := New(Options{
		BaseURL: srv.URL, Timeout: 5 * time.Second, MaxBodyBytes: maxBody, Limiter: &countingLimiter{},
		Credentials: func(string) (Credentials, bool) {
			return Credentials{Email: testEmail, Password: secret.Secret(testPassword)}, true
		},
	})
	if err != nil {
		f.Fatal(err)
	}

	f.Fuzz(func(t *testing.T, code byte, ct string, b []byte) {
		s := statusOf(code)
		mu.Lock()
		status, contentType, body = s, ct, b
		mu.Unlock()
		if strings.ContainsAny(ct, "\r\n\x00") {
			t.Skip("not a header value a server can send")
		}
		page, err := client.ListCampaigns(t.Context(), testClient, 1, 10)
		if err == nil {
			if s != http.StatusOK || page == nil || page.Pagination.Page != 1 {
				t.Fatalf("status %d accepted as page %+v", s, page)
			}
			return
		}
		requireClearError(t, err)
		var e *Error
		if !errors.As(err, &e) {
			t.Fatalf("unclassified error %T: %v", err, err)
		}
		switch want := wantKind(s); {
		case s == http.StatusTooManyRequests:
			if e.Kind != KindRateLimited || e.RetryAfter <= 0 || e.RetryAfter > maxRetryAfter {
				t.Fatalf("429: kind %s, wait %s", e.Kind, e.RetryAfter)
			}
		case e.Kind != want:
			t.Fatalf("status %d: kind %s, want %s: %v", s, e.Kind, want, err)
		}
		if s == http.StatusOK && len(b) > maxBody && !strings.Contains(err.Error(), "larger than "+strconv.Itoa(maxBody)) {
			t.Fatalf("a %d-byte body was not refused for its size: %v", len(b), err)
		}
		if utf8.RuneCountInString(e.Code) > maxCodeLen+1 || strings.ContainsAny(e.Code, "\r\n") {
			t.Fatalf("error code not cleaned up: %q", e.Code)
		}
	})
}

// wantKind is the classification of an answer with this status.
func wantKind(status int) Kind {
	switch {
	case status == http.StatusTooManyRequests:
		return KindRateLimited
	case status >= 500, status == http.StatusRequestTimeout:
		return KindTransient
	default: // 2xx that breaks the contract, 4xx
		return KindPermanent
	}
}

// FuzzErrorAnswer fuzzes what an error answer may carry (its body, a
// Retry-After and a Date header): the classification depends on the status
// alone, a 429's wait stays within (0, 24h], and the error code is one
// printable line of bounded length that never shows a secret.
func FuzzErrorAnswer(f *testing.F) {
	const password = "hunter2-Secret"
	f.Add(byte(8), `{"error":"Rate limit exceeded","retry_after":60}`, "", "")
	f.Add(byte(8), `{"error":"Rate limit exceeded","retry_after":0.517}`, "", "")
	f.Add(byte(8), `{}`, "120", "")
	f.Add(byte(8), `{}`, "Wed, 21 Oct 2015 07:28:00 GMT", "Wed, 21 Oct 2015 07:27:00 GMT")
	f.Add(byte(8), `{"retry_after":"NaN"}`, "-1", "")
	f.Add(byte(8), `{"retry_after":1e309}`, "1e309", "")
	f.Add(byte(11), `{"error":"Internal error for `+password+`\n at x.js:1"}`, "", "")
	f.Add(byte(4), `<html>`+strings.Repeat("é", 500)+`</html>`, "", "")
	f.Add(byte(5), `{"error":"Token expired","expired_at":"2024-01-01T00:00:00Z"}`, "", "")
	f.Fuzz(func(t *testing.T, code byte, body, retryAfterHeader, date string) {
		s := statusOf(code)
		if s == http.StatusOK {
			s = http.StatusInternalServerError
		}
		resp := &http.Response{StatusCode: s, Header: http.Header{}}
		resp.Header.Set("Retry-After", retryAfterHeader)
		resp.Header.Set("Date", date)
		e := classifyStatus("list campaigns page 1", resp, []byte(body), secret.Secret(password))
		if e.Kind != wantKind(s) || e.Status != s {
			t.Fatalf("status %d classified %s", s, e.Kind)
		}
		if s == http.StatusTooManyRequests && (e.RetryAfter <= 0 || e.RetryAfter > maxRetryAfter) {
			t.Fatalf("429 wait %s out of bounds", e.RetryAfter)
		}
		if strings.Contains(e.Code, password) {
			t.Fatalf("error code shows the password: %q", e.Code)
		}
		if utf8.RuneCountInString(e.Code) > maxCodeLen+1 || strings.ContainsAny(e.Code, "\r\n") || !utf8.ValidString(e.Code) {
			t.Fatalf("error code not cleaned up: %q", e.Code)
		}
		requireClearError(t, fmt.Errorf("%w", e))
	})
}
