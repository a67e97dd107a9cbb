package sse

import (
	"errors"
	"io"
	"os"
	"strings"
	"testing"
)

func all(t *testing.T, s string, max int) ([]Event, error) {
	t.Helper()
	r := NewReader(strings.NewReader(s), max)
	var out []Event
	for {
		e, err := r.Next()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return out, nil
			}
			return out, err
		}
		out = append(out, e)
	}
}

func TestReader(t *testing.T) {
	var comments []string
	r := NewReader(strings.NewReader("\ufeff:ok\n\nevent: message\nid: [1]\ndata: {\"a\":\ndata: 1}\n\n: keep-alive\r\n\r\ndata:x\rid: 7\r\rretry: 1500\ndata\n\ndata\ndata\n\nevent: error\ndata: {\"e\":1}\n\n"), 0)
	r.Comments = func(c string) { comments = append(comments, c) }
	var got []Event
	for {
		e, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, e)
	}
	want := []Event{
		{Type: "message", ID: "[1]", Data: []byte("{\"a\":\n1}")},
		{Type: "message", ID: "7", Data: []byte("x")},
		{Type: "message", ID: "7", Data: []byte("\n"), Retry: 1500e6}, // an empty one is not dispatched; two empty lines are
		{Type: "error", ID: "7", Data: []byte(`{"e":1}`), Retry: 1500e6},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d events: %+v", len(got), got)
	}
	for i := range want {
		if got[i].Type != want[i].Type || got[i].ID != want[i].ID || string(got[i].Data) != string(want[i].Data) || got[i].Retry != want[i].Retry {
			t.Errorf("event %d = %+v, want %+v", i, got[i], want[i])
		}
	}
	if len(comments) != 2 || comments[0] != "ok" || comments[1] != "keep-alive" {
		t.Errorf("comments = %q", comments)
	}
}

func TestRecordedCapture(t *testing.T) {
	f, err := os.ReadFile("../../testdata/recentchange/capture-2022-12-11.sse")
	if err != nil {
		t.Fatal(err)
	}
	// The capture ends inside its third event, without the closing blank line.
	if got, err := all(t, string(f), 0); !errors.Is(err, io.ErrUnexpectedEOF) || len(got) != 2 {
		t.Fatalf("strict: %d events, %v", len(got), err)
	}
	r := NewReader(strings.NewReader(string(f)), 0)
	r.DispatchAtEOF = true
	var got []Event
	for {
		e, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, e)
	}
	if len(got) != 3 {
		t.Fatalf("got %d events, want 3", len(got))
	}
	for _, e := range got {
		if e.Type != "message" || !strings.HasPrefix(e.ID, `[{"topic":`) || !strings.HasPrefix(string(e.Data), `{"$schema"`) {
			t.Fatalf("event %+v", e)
		}
	}
}

func TestLimits(t *testing.T) {
	big := strings.Repeat("x", 100<<10)
	got, err := all(t, "data: "+big+"\n\n", 200<<10)
	if err != nil || len(got) != 1 || len(got[0].Data) != len(big) {
		t.Fatalf("100 KiB event: %v", err)
	}
	// An event over the limit is skipped; the reader goes on with the next one.
	r := NewReader(strings.NewReader("data: "+big+"\ndata: more\n\nid: 2\ndata: ok\n\n"), 10<<10)
	if _, err := r.Next(); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("over the limit: %v", err)
	}
	if e, err := r.Next(); err != nil || string(e.Data) != "ok" || e.ID != "2" {
		t.Fatalf("after a skipped event: %+v %v", e, err)
	}
	r = NewReader(strings.NewReader("data: a\ndata: "+big[:6<<10]+"\ndata: "+big[:6<<10]+"\n\ndata: next\n\n"), 10<<10)
	if _, err := r.Next(); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("lines adding up over the limit: %v", err)
	}
	if e, err := r.Next(); err != nil || string(e.Data) != "next" {
		t.Fatalf("after: %+v %v", e, err)
	}
	if _, err := all(t, "data: a\ndata: b", 0); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("cut inside an event: %v", err)
	}
}

func FuzzReader(f *testing.F) {
	f.Add([]byte(":ok\n\nevent: message\nid: 1\ndata: {}\n\n"))
	f.Add([]byte("data: a\r\ndata: b\r\n\r\n"))
	f.Add([]byte("retry: 10\rdata\r\r"))
	f.Fuzz(func(t *testing.T, in []byte) {
		r := NewReader(strings.NewReader(string(in)), 1024)
		for range 10000 {
			e, err := r.Next()
			if errors.Is(err, ErrTooLarge) {
				continue
			}
			if err != nil {
				return
			}
			if len(e.Data) > 1024 {
				t.Fatalf("event of %d bytes passed a 1024 limit", len(e.Data))
			}
			if e.Type == "" {
				t.Fatal("event without a type")
			}
		}
	})
}
