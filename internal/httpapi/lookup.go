package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/sluice-dev/sluice/internal/table"
)

// Limits of POST /v1/tables/{name}/lookup.
const (
	maxLookupKeys  = 1000
	maxLookupBytes = 1 << 20
)

// TableLookup is the body of POST /v1/tables/{name}/lookup.
type TableLookup struct {
	Keys []string `json:"keys"`
	// At is an RFC 3339 time (a string) or unix milliseconds (a string or
	// a number), as getKey's at; now if missing.
	At json.RawMessage `json:"at,omitempty"`
}

// TableLookupResult answers a lookup: one result per key asked, in order.
type TableLookupResult struct {
	Results []TableKeyResult `json:"results"`
}

// TableKeyResult is one key's answer: its version at the time asked, or
// Missing.
type TableKeyResult struct {
	Key       string          `json:"key"`
	Value     json.RawMessage `json:"value,omitempty"`
	ValidFrom *time.Time      `json:"valid_from,omitempty"`
	ValidTo   *time.Time      `json:"valid_to,omitempty"`
	Missing   bool            `json:"missing,omitempty"`
}

func (a *API) lookupKeys(w http.ResponseWriter, r *http.Request) error {
	name, err := a.tableOf(r)
	if err != nil {
		return err
	}
	if _, err := bodyType(r, false); err != nil {
		return err
	}
	var req TableLookup
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxLookupBytes))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		var maxBytes *http.MaxBytesError
		if errors.As(err, &maxBytes) {
			return err
		}
		return badRequest("request body: %v", err)
	}
	switch {
	case len(req.Keys) == 0:
		return badRequest("keys: want 1 to %d keys", maxLookupKeys)
	case len(req.Keys) > maxLookupKeys:
		p := problem(http.StatusRequestEntityTooLarge, "Too many keys",
			fmt.Sprintf("keys: %d keys, over the limit of %d; split them into several requests", len(req.Keys), maxLookupKeys))
		p.Ext = map[string]any{"limit": maxLookupKeys}
		return p
	}
	for i, key := range req.Keys {
		if err := table.ValidKey(key); err != nil {
			return badRequest("keys[%d]: %v", i, err)
		}
	}
	at, err := lookupTime(req.At)
	if err != nil {
		return err
	}
	vs, err := a.opts.Tables.GetMany(r.Context(), name, req.Keys, at)
	if err != nil {
		return err
	}
	return writeAppended(w, func(b []byte) []byte { return appendLookup(b, vs) })
}

// lookupTime reads at: missing is now, a string is read as getKey's at, a
// number is unix milliseconds.
func lookupTime(raw json.RawMessage) (time.Time, error) {
	s := string(bytes.TrimSpace(raw))
	if s == "" || s == "null" {
		return time.Now(), nil
	}
	if strings.HasPrefix(s, `"`) {
		if err := json.Unmarshal(raw, &s); err != nil {
			return time.Time{}, badRequest("at: %v", err)
		}
	}
	return parseTime("at", s, time.Now())
}

// answerBufs are the buffers answers written by hand go into, reused: an
// answer of 100 keys is some 25 KB, one key's some 300 bytes.
var answerBufs = sync.Pool{New: func() any { return new([]byte) }}

// writeAppended answers 200 with the JSON that appendTo appends to a
// pooled buffer.
func writeAppended(w http.ResponseWriter, appendTo func([]byte) []byte) error {
	buf := answerBufs.Get().(*[]byte)
	b := appendTo((*buf)[:0])
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_, err := w.Write(b)
	if cap(b) <= maxLookupBytes { // keep a buffer of a common size, not a rare huge one
		*buf = b
		answerBufs.Put(buf)
	}
	return err
}

// appendLookup appends the answer {"results": [...]} of vs to b. It is
// written by hand rather than with encoding/json, which would spend more
// on an answer of many keys than the lookup itself (reflection per field,
// and compacting every value, which the store holds as valid JSON already).
// The schema test (TableLookupResult) checks the output.
func appendLookup(b []byte, vs []table.Version) []byte {
	b = append(b, `{"results":[`...)
	for i, v := range vs {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"key":`...)
		b = appendString(b, v.Key)
		if !v.Found() {
			b = append(b, `,"missing":true}`...)
			continue
		}
		b = append(b, `,"value":`...)
		b = append(b, v.Value...)
		b = appendValidity(b, v)
		b = append(b, '}')
	}
	return append(b, "]}\n"...)
}

// appendValidity appends the members "valid_from" and "valid_to" of v,
// each after a comma.
func appendValidity(b []byte, v table.Version) []byte {
	b = append(b, `,"valid_from":"`...)
	b = v.ValidFrom.UTC().AppendFormat(b, time.RFC3339Nano)
	if v.ValidTo == nil {
		return append(b, `","valid_to":null`...)
	}
	b = append(b, `","valid_to":"`...)
	b = v.ValidTo.UTC().AppendFormat(b, time.RFC3339Nano)
	return append(b, '"')
}

// appendString appends s, valid UTF-8 (as every key is), as a JSON string.
func appendString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' {
			continue
		}
		b = append(b, s[start:i]...)
		switch c {
		case '"', '\\':
			b = append(b, '\\', c)
		case '\n':
			b = append(b, '\\', 'n')
		case '\r':
			b = append(b, '\\', 'r')
		case '\t':
			b = append(b, '\\', 't')
		case '\b':
			b = append(b, '\\', 'b')
		case '\f':
			b = append(b, '\\', 'f')
		default:
			b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		}
		start = i + 1
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
