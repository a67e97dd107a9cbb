package stream

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/sluice-dev/sluice/internal/catalog"
	"github.com/sluice-dev/sluice/internal/engine"
	"github.com/sluice-dev/sluice/internal/schema"
)

// Rules are what a stream checks of every event written to it: its size,
// UTF-8, one JSON object, the schema, an id and an RFC 3339 event time at
// the stream's pointers. Checking needs nothing but the rules, so a
// pipeline checks its outputs before it writes them, and `sluice test`
// checks a test's inputs and outputs with no engine, by the same code as
// Produce.
type Rules struct {
	Def    catalog.Stream // its ID, Time and Key pointers (after Defaults)
	Schema *schema.Schema
	Limits Limits
}

// Check reports why the stream would refuse raw, as Produce lists it
// (Invalid.Errors: the first violations, their texts bounded); nil if it
// would store it.
func (r Rules) Check(raw []byte) []schema.Violation {
	_, _, vs := r.prepare(raw)
	if vs == nil {
		return nil
	}
	return newInvalid(0, vs).Errors
}

// Rules returns a stream's rules as they stand: its current schema and
// the service's limits.
func (s *Service) Rules(ctx context.Context, name string) (Rules, error) {
	c, err := s.schema(ctx, name)
	if err != nil {
		return Rules{}, err
	}
	return c.rules(s.Limits), nil
}

func (c cachedSchema) rules(lim Limits) Rules { return Rules{Def: c.def, Schema: c.sch, Limits: lim} }

// prepare decodes and checks one event and builds its message.
func (r Rules) prepare(raw []byte) (engine.Msg, int64, []schema.Violation) {
	lim := r.Limits
	if maxBytes := lim.MaxEventBytes; maxBytes > 0 && len(raw) > maxBytes {
		return engine.Msg{}, 0, []schema.Violation{{Keyword: RuleSize,
			Message: fmt.Sprintf("the event is %d bytes, over the limit of %d bytes per event", len(raw), maxBytes)}}
	}
	if !utf8.Valid(raw) { // the decoder would replace the bytes; the stored event would keep them
		return engine.Msg{}, 0, []schema.Violation{{Keyword: RuleJSON,
			Message: fmt.Sprintf("not valid JSON: invalid UTF-8 at byte %d", invalidUTF8At(raw))}}
	}
	doc, err := schema.DecodeEvent(raw, schema.DecodeLimits{MaxNumberLength: lim.MaxNumberLength})
	if err != nil {
		var de *schema.DecodeError
		if errors.As(err, &de) {
			return engine.Msg{}, 0, []schema.Violation{de.Violation()}
		}
		return engine.Msg{}, 0, []schema.Violation{{Keyword: RuleJSON, Message: "not valid JSON: " + err.Error()}}
	}
	if _, ok := doc.(map[string]any); !ok {
		return engine.Msg{}, 0, []schema.Violation{{Keyword: RuleObject, Message: "an event is a JSON object"}}
	}
	if vs := r.Schema.Validate(doc); vs != nil {
		return engine.Msg{}, 0, vs
	}
	var vs []schema.Violation
	id, ok := lookupScalar(doc, r.Def.ID)
	if !ok || id == "" {
		vs = append(vs, schema.Violation{Pointer: r.Def.ID, Keyword: RuleID,
			Message: "the stream's id field is missing or not a string or number; every event needs a unique id"})
	}
	var t time.Time
	if ts, ok := lookupScalar(doc, r.Def.Time); !ok {
		vs = append(vs, schema.Violation{Pointer: r.Def.Time, Keyword: RuleTime, Message: "the stream's event time field is missing"})
	} else if t, err = time.Parse(time.RFC3339Nano, ts); err != nil {
		vs = append(vs, schema.Violation{Pointer: r.Def.Time, Keyword: RuleTime, Message: fmt.Sprintf("event time %q is not an RFC 3339 time", ts)})
	}
	if vs != nil {
		return engine.Msg{}, 0, vs
	}
	h := map[string]string{hdrID: id, hdrTime: strconv.FormatInt(t.UnixNano(), 10)}
	if len(r.Def.Key) > 0 {
		parts := make([]string, len(r.Def.Key))
		for i, p := range r.Def.Key {
			parts[i], _ = lookupScalar(doc, p)
		}
		h[hdrKey] = strings.Join(parts, "/")
	}
	// Stored events are one line, so SSE and NDJSON can carry them as they are.
	if bytes.ContainsAny(raw, "\r\n") {
		var buf bytes.Buffer
		_ = json.Compact(&buf, raw) // valid: it decoded above
		raw = buf.Bytes()
	}
	return engine.Msg{ID: id, Header: h, Data: raw}, t.UnixNano(), nil
}

func lookupScalar(doc any, ptr string) (string, bool) {
	v, ok := schema.Lookup(doc, ptr)
	if !ok {
		return "", false
	}
	return schema.Scalar(v)
}
