package files

import (
	"fmt"
	"strings"
	"text/template"
	"time"

	"github.com/sluice-dev/sluice/internal/event"
	"github.com/sluice-dev/sluice/internal/schema"
)

// Fields is what a partition template sees of an event.
type Fields struct {
	Stream    string    // the stream's name
	Seq       uint64    // the event's sequence in the stream
	ID        string    // the event's id
	Key       string    // the event's key ("" if the stream has none)
	EventTime time.Time // the event's time, UTC

	data []byte
	doc  any
	err  error
}

// Get returns the value at a JSON pointer into the event as text (a
// string as it is, a number or boolean in its JSON form); "" when missing,
// null, an object or an array: `{{.Get "/wiki"}}`.
func (f *Fields) Get(ptr string) string {
	if f.doc == nil && f.err == nil {
		f.doc, f.err = schema.Decode(f.data)
	}
	if f.err != nil {
		return ""
	}
	v, ok := schema.Lookup(f.doc, ptr)
	if !ok {
		return ""
	}
	s, _ := schema.Scalar(v)
	return s
}

// Partition names the folder an event's object goes to.
type Partition struct {
	tmpl *template.Template // nil: no folder
}

// Invalid is the folder of events whose partition template fails.
const Invalid = "_invalid"

// maxPartition bounds a partition's length in bytes (object keys are at
// most 1,024 bytes on S3).
const maxPartition = 512

// ParsePartition compiles a partition template and tries it on an example
// event, so a misspelt field is found at start-up.
func ParsePartition(text string) (*Partition, error) {
	if strings.TrimSpace(text) == "" {
		return &Partition{}, nil
	}
	t, err := template.New("partition").Parse(text)
	if err != nil {
		return nil, err
	}
	p := &Partition{tmpl: t}
	f := &Fields{Stream: "s", Seq: 1, ID: "id", EventTime: time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC), data: []byte(`{}`)}
	var b strings.Builder
	if err := t.Execute(&b, f); err != nil {
		return nil, fmt.Errorf("on an example event: %w", err)
	}
	return p, nil
}

// Render gives the folder of an event ("" without a template): the
// template's text with every character outside [A-Za-z0-9._=-] replaced
// by "_" in each "/"-separated segment, empty segments dropped, and "." or
// ".." turned into "_". The same event always gives the same folder.
func (p *Partition) Render(stream string, e event.Event) string {
	if p == nil || p.tmpl == nil {
		return ""
	}
	f := &Fields{Stream: stream, Seq: e.Seq, ID: e.ID, Key: e.Key, EventTime: e.Time.UTC(), data: e.Data}
	var b strings.Builder
	if err := p.tmpl.Execute(&b, f); err != nil {
		return Invalid
	}
	return Clean(b.String())
}

// Clean makes text a safe folder name (see Render).
func Clean(text string) string {
	if len(text) > maxPartition {
		text = text[:maxPartition]
	}
	var out []string
	for seg := range strings.SplitSeq(text, "/") {
		if seg == "" {
			continue
		}
		if seg == "." || seg == ".." {
			seg = "_"
		}
		b := []byte(seg)
		for i, c := range b {
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '=' || c == '-') {
				b[i] = '_'
			}
		}
		out = append(out, string(b))
	}
	return strings.Join(out, "/")
}
