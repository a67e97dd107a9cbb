package eventstreams

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Event times accepted, in unix milliseconds: years 0001 to 9999.
const minMs, maxMs = -62135596800000, 253402300799999

// requestError is a request refused before streaming.
type requestError struct {
	status int
	typ    string
	detail string
}

// startOf returns the replay offset a request starts at: after the position
// in Last-Event-ID if it names one, else at the first event at or after
// since, else at the beginning of the recording.
func (s *Server) startOf(r *http.Request) (int64, *requestError) {
	if h := r.Header.Get("Last-Event-ID"); h != "" {
		off, ms, ok, err := parseLastEventID(h)
		if err != nil {
			return 0, &requestError{http.StatusBadRequest, "invalid_last_event_id", err.Error()}
		}
		if ok {
			if off >= 0 {
				return s.clamp(off + 1), nil
			}
			return s.seekTime(ms), nil
		}
	}
	if v := r.URL.Query().Get("since"); v != "" {
		ms, err := parseSince(v)
		if err != nil {
			return 0, &requestError{http.StatusBadRequest, "invalid_timestamp", err.Error()}
		}
		return s.seekTime(ms), nil
	}
	return 0, nil
}

// clamp keeps an offset inside what can be replayed: without Loop, the end
// of the recording means "nothing more".
func (s *Server) clamp(off int64) int64 {
	if !s.opts.Loop || len(s.evs) == 0 {
		return min(off, int64(len(s.evs)))
	}
	return off
}

// position is one entry of an EventStreams id.
type position struct {
	Topic     string `json:"topic"`
	Partition int    `json:"partition"`
	Offset    *int64 `json:"offset"`
	Timestamp *int64 `json:"timestamp"`
}

// parseLastEventID reads an EventStreams id. An entry for Topic with an
// offset of 0 or more gives off (ms is then unused); otherwise the smallest
// "timestamp" of any entry gives ms and off is -1. ok is false when the id
// names neither (e.g. only offsets of -1).
func parseLastEventID(h string) (off, ms int64, ok bool, err error) {
	var ps []position
	if err := json.Unmarshal([]byte(h), &ps); err != nil {
		return 0, 0, false, fmt.Errorf("Last-Event-ID: not an array of topic-partition positions: %v", err)
	}
	off = -1
	for _, p := range ps {
		if p.Topic == Topic && p.Offset != nil && *p.Offset >= 0 {
			if *p.Offset > 1<<53 {
				return 0, 0, false, fmt.Errorf("Last-Event-ID: offset %d out of range", *p.Offset)
			}
			return *p.Offset, 0, true, nil
		}
		if p.Timestamp != nil {
			if *p.Timestamp < minMs || *p.Timestamp > maxMs {
				return 0, 0, false, fmt.Errorf("Last-Event-ID: timestamp %d out of range", *p.Timestamp)
			}
			if !ok || *p.Timestamp < ms {
				ms, ok = *p.Timestamp, true
			}
		}
	}
	return off, ms, ok, nil
}

var sinceLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02T15:04Z07:00",
	"2006-01-02T15:04:05.999999999", // no zone: UTC
	"2006-01-02T15:04",
	"2006-01-02",
}

// parseSince reads unix milliseconds or an ISO 8601 / RFC 3339 time.
func parseSince(v string) (int64, error) {
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n < minMs || n > maxMs {
			return 0, fmt.Errorf("since: %d milliseconds is out of range", n)
		}
		return n, nil
	}
	// An unescaped "+02:00" in a query string arrives as " 02:00".
	v = strings.ReplaceAll(strings.TrimSpace(v), " ", "+")
	for _, l := range sinceLayouts {
		if t, err := time.Parse(l, v); err == nil {
			return t.UnixMilli(), nil
		}
	}
	return 0, fmt.Errorf("since: %q is neither unix milliseconds nor an ISO 8601 time", v)
}
