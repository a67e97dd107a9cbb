package mediawiki

import (
	"net/http"
	"slices"
	"testing"
	"time"
)

func TestMaxlag(t *testing.T) {
	s, ts := start(t, Options{MaxlagEvery: 2, RetryAfter: 3})
	lagged := params("action", "query", "prop", "images", "titles", "A", "maxlag", "5")
	for n := 1; n <= 4; n++ {
		a := get(t, ts, en, lagged)
		if n%2 == 1 {
			if decode[queryResult](t, a.body).Error != nil {
				t.Fatalf("request %d: %s", n, a.body)
			}
			continue
		}
		e := apiErr(t, a, "maxlag")
		if string(a.body) != `{"error":{"code":"maxlag","info":"Waiting for 10.64.0.1: 7 seconds lagged.","host":"10.64.0.1","lag":7,"type":"db"}}` {
			t.Fatalf("body %s", a.body)
		}
		if a.header.Get("Retry-After") != "3" || a.header.Get("X-Database-Lag") != "7" || e.Lag != 7 {
			t.Fatalf("headers %v", a.header)
		}
	}
	// Without maxlag, or with maxlag at or above the lag, the server answers.
	for _, p := range []string{"", "7", "10"} {
		v := params("action", "query", "prop", "images", "titles", "A")
		if p != "" {
			v.Set("maxlag", p)
		}
		get(t, ts, en, v) // request 5, 7, 9: not due
		if a := get(t, ts, en, v); decode[queryResult](t, a.body).Error != nil {
			t.Fatalf("maxlag=%q: %s", p, a.body)
		}
	}
	s.SetMaxlagEvery(0)
	get(t, ts, en, lagged)
	if a := get(t, ts, en, lagged); decode[queryResult](t, a.body).Error != nil {
		t.Fatalf("fault off: %s", a.body)
	}
	// Lag is configurable.
	_, ts2 := start(t, Options{MaxlagEvery: 1, Lag: 12})
	if e := apiErr(t, get(t, ts2, en, lagged), "maxlag"); e.Lag != 12 || e.Info != "Waiting for 10.64.0.1: 12 seconds lagged." {
		t.Fatalf("%+v", e)
	}
}

func TestStatusFaults(t *testing.T) {
	s, ts := start(t, Options{Status429Every: 2, Status5xxEvery: 3})
	p := params("action", "query", "prop", "images", "titles", "A")
	want := []int{200, 429, 503, 429, 200, 503}
	for i, w := range want {
		a := do(t, ts, http.MethodGet, en, "", p)
		if a.status != w {
			t.Fatalf("request %d: %d, want %d", i+1, a.status, w)
		}
		if w == 429 && a.header.Get("Retry-After") != "1" {
			t.Fatalf("429 Retry-After %q", a.header.Get("Retry-After"))
		}
	}
	s.SetStatus429Every(0)
	s.SetStatus5xxEvery(0)
	for range 6 {
		get(t, ts, en, p)
	}
	var got []int
	for _, r := range s.Requests() {
		got = append(got, r.Status)
	}
	if !slices.Equal(got[:6], want) || s.Count() != 12 {
		t.Fatalf("statuses %v, count %d", got, s.Count())
	}
}

// Latency is checked only from below, so the test cannot flake.
func TestLatency(t *testing.T) {
	s, ts := start(t, Options{Latency: 30 * time.Millisecond})
	p := params("action", "query", "prop", "images", "titles", "A")
	began := time.Now()
	get(t, ts, en, p)
	get(t, ts, en, p)
	if d := time.Since(began); d < 60*time.Millisecond {
		t.Fatalf("2 requests with 30ms latency took %v", d)
	}
	s.SetLatency(0)
	get(t, ts, en, p)
}

func TestClose(t *testing.T) {
	s, ts := start(t, Options{Latency: time.Minute})
	done := make(chan int, 1)
	go func() {
		resp, err := ts.Client().Get(ts.URL + "/w/api.php?" + params("action", "query", "prop", "images", "titles", "A").Encode())
		if err != nil {
			done <- -1
			return
		}
		resp.Body.Close()
		done <- resp.StatusCode
	}()
	for s.Count() == 0 {
		time.Sleep(time.Millisecond)
	}
	s.Close() // ends the wait at once
	if st := <-done; st != http.StatusServiceUnavailable {
		t.Fatalf("waiting request after Close: %d", st)
	}
}

func TestRequestLog(t *testing.T) {
	s, ts := start(t, Options{MaxlagEvery: 1})
	get(t, ts, en, params("action", "query", "prop", "images", "titles", "A|b_c", "redirects", "", "imcontinue", "1|X.jpg", "continue", "||"))
	do(t, ts, http.MethodPost, de, "", params("action", "query", "prop", "images", "pageids", "1|2", "maxlag", "5"))
	get(t, ts, en, params("action", "parse", "prop", "images", "oldid", "99"))
	rs := s.Requests()
	if len(rs) != 3 || s.Count() != 3 {
		t.Fatalf("%d requests, count %d", len(rs), s.Count())
	}
	ua := "sluice-test/1.0 (https://example.org; test@example.org)"
	q, p, parse := rs[0], rs[1], rs[2]
	if q.Method != "GET" || q.Host != en || q.Action != "query" || !slices.Equal(q.Titles, []string{"A", "b_c"}) ||
		!q.Redirects || q.Maxlag || q.IMContinue != "1|X.jpg" || q.UserAgent != ua || q.Status != 200 || q.Error != "" {
		t.Fatalf("query %+v", q)
	}
	if p.Method != "POST" || p.Host != de || !slices.Equal(p.PageIDs, []string{"1", "2"}) || !p.Maxlag || p.Error != "maxlag" {
		t.Fatalf("pageids %+v", p)
	}
	if parse.Action != "parse" || parse.OldID != "99" || parse.Titles != nil || parse.UserAgent != ua {
		t.Fatalf("parse %+v", parse)
	}
	s.Reset()
	if len(s.Requests()) != 0 || s.Count() != 0 {
		t.Fatal("Reset")
	}
	get(t, ts, en, params("action", "parse", "prop", "images", "oldid", "99"))
	if s.Count() != 1 || len(s.Requests()) != 1 {
		t.Fatal("after Reset")
	}
}
