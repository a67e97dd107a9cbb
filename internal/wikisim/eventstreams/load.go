package eventstreams

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"

	"github.com/sluice-dev/sluice/internal/sse"
)

// Load reads recorded events from files. The format of each file is decided
// by its content: a first non-space byte '[' is a JSON array of events, '{'
// is NDJSON (one event a line, blank lines skipped), anything else is a raw
// Server-Sent Events capture (the data of each "message" event; the last
// event may lack its closing blank line). Every event must be a JSON object;
// it keeps its bytes, compacted to one line if it spans several.
func Load(paths ...string) ([][]byte, error) {
	return load(os.ReadFile, paths)
}

// LoadFS is Load reading from fsys (e.g. files embedded in the binary).
func LoadFS(fsys fs.FS, paths ...string) ([][]byte, error) {
	return load(func(name string) ([]byte, error) { return fs.ReadFile(fsys, name) }, paths)
}

func load(read func(string) ([]byte, error), paths []string) ([][]byte, error) {
	var all [][]byte
	for _, p := range paths {
		b, err := read(p)
		if err != nil {
			return nil, fmt.Errorf("eventstreams: %w", err)
		}
		evs, err := parse(b)
		if err != nil {
			return nil, fmt.Errorf("eventstreams: %s: %w", p, err)
		}
		all = append(all, evs...)
	}
	return all, nil
}

func parse(b []byte) ([][]byte, error) {
	b = bytes.TrimPrefix(b, []byte("\xef\xbb\xbf")) // a UTF-8 byte order mark
	t := bytes.TrimLeft(b, " \t\r\n")
	switch {
	case len(t) == 0:
		return nil, nil
	case t[0] == '[':
		return parseArray(t)
	case t[0] == '{':
		return parseNDJSON(b)
	default:
		return parseSSE(b)
	}
}

func parseArray(b []byte) ([][]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	if _, err := dec.Token(); err != nil {
		return nil, err
	}
	var out [][]byte
	for i := 0; dec.More(); i++ {
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, fmt.Errorf("array element %d: %w", i, err)
		}
		ev, err := oneEvent(raw)
		if err != nil {
			return nil, fmt.Errorf("array element %d: %w", i, err)
		}
		out = append(out, ev)
	}
	if _, err := dec.Token(); err != nil {
		return nil, fmt.Errorf("end of array: %w", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("content after the array")
	}
	return out, nil
}

func parseNDJSON(b []byte) ([][]byte, error) {
	var out [][]byte
	for n := 1; len(b) > 0; n++ {
		line := b
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			line, b = b[:i], b[i+1:]
		} else {
			b = nil
		}
		line = bytes.TrimSpace(line)
		if len(line) == 0 {
			continue
		}
		ev, err := oneEvent(line)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", n, err)
		}
		out = append(out, ev)
	}
	return out, nil
}

func parseSSE(b []byte) ([][]byte, error) {
	r := sse.NewReader(bytes.NewReader(b), 0)
	r.DispatchAtEOF = true
	var out [][]byte
	for i := 0; ; i++ {
		e, err := r.Next()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("event %d: %w", i, err)
		}
		if e.Type != "message" {
			continue
		}
		ev, err := oneEvent(e.Data)
		if err != nil {
			return nil, fmt.Errorf("event %d: %w", i, err)
		}
		out = append(out, ev)
	}
}

// oneEvent checks that b is one JSON object and returns a copy of it on one
// line.
func oneEvent(b []byte) ([]byte, error) {
	b = bytes.TrimSpace(b)
	if !json.Valid(b) {
		return nil, errors.New("not valid JSON")
	}
	if len(b) == 0 || b[0] != '{' {
		return nil, errors.New("not a JSON object")
	}
	return oneLine(b), nil
}

// oneLine returns a copy of a JSON event without line ends.
func oneLine(b []byte) []byte {
	if bytes.IndexAny(b, "\r\n") < 0 {
		return bytes.Clone(b)
	}
	var c bytes.Buffer
	if err := json.Compact(&c, b); err == nil {
		return c.Bytes()
	}
	out := bytes.ReplaceAll(b, []byte("\r"), []byte(" "))
	return bytes.ReplaceAll(out, []byte("\n"), []byte(" "))
}
