package stream

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/internal/engine"
)

// TestMarkSurvivesRawMessages: a message published straight into the
// stream (no Sluice-Mark, not JSON) does not make another node's mark
// start again from 0.
func TestMarkSurvivesRawMessages(t *testing.T) {
	s := newService(t)
	create(t, s, "marks")
	ctx := context.Background()
	late := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	if _, err := s.Produce(ctx, "marks", [][]byte{ev("late", late)}); err != nil {
		t.Fatal(err)
	}
	var raw []engine.Msg
	for range 3 {
		raw = append(raw, engine.Msg{Data: []byte("not json")})
	}
	if _, err := engine.Append(ctx, s.eng, "marks", raw); err != nil {
		t.Fatal(err)
	}
	other := New(s.eng, s.cat, nil, nil) // another node: its marks are not loaded yet
	res, err := other.Produce(ctx, "marks", [][]byte{ev("early", late.Add(-24*time.Hour))})
	if err != nil || res.Accepted != 1 {
		t.Fatalf("produce: %+v %v", res, err)
	}
	m, err := s.eng.Get(ctx, "marks", res.Events[0].Seq)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := strconv.ParseInt(m.Header[hdrMark], 10, 64); got != late.UnixNano() {
		t.Fatalf("mark after raw messages = %d, want %d (the mark before them)", got, late.UnixNano())
	}
}
