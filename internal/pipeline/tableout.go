package pipeline

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sluice-dev/sluice/internal/filter"
	"github.com/sluice-dev/sluice/internal/schema"
	"github.com/sluice-dev/sluice/internal/table"
)

// TableOutput writes outputs as versions of a temporal table: the key from
// a CEL expression (an empty key skips the output), the version's time
// from a JSON pointer, a tombstone when delete_when holds. A version is identified by its source (the
// pipeline's input stream and sequence), so writing it again changes
// nothing, and a late older version slots in before the newer ones.
type TableOutput struct {
	store      table.Store
	name       string
	from       string // the pipeline's input stream
	key        *filter.Expr
	timePtr    string
	deleteWhen *filter.Filter // nil: never
	// gate is held shared by writes and exclusively by a rebuild while it
	// drops and creates the table again.
	gate sync.RWMutex
	// rebuilding counts rebuilds running (0 or 1): meanwhile, outputs the
	// stream output had stored before are left to the rebuild.
	rebuilding atomic.Int32
}

// NewTableOutput makes an output to a table.
func NewTableOutput(store table.Store, name, from, key, timePtr, deleteWhen string) (*TableOutput, error) {
	k, err := filter.CompileExpr(key, "event")
	if err != nil {
		return nil, fmt.Errorf("key: %w", err)
	}
	o := &TableOutput{store: store, name: name, from: from, key: k, timePtr: timePtr}
	if deleteWhen != "" {
		if o.deleteWhen, err = filter.Compile(deleteWhen); err != nil {
			return nil, fmt.Errorf("delete_when: %w", err)
		}
	}
	return o, nil
}

func (o *TableOutput) Name() string { return "table:" + o.name }

func (o *TableOutput) Write(ctx context.Context, outs []Out) (map[int][]schema.Violation, error) {
	o.gate.RLock()
	defer o.gate.RUnlock()
	rebuilding := o.rebuilding.Load() > 0
	var ws []table.Write
	var invalid map[int][]schema.Violation
	refuse := func(i int, v schema.Violation) {
		if invalid == nil {
			invalid = map[int][]schema.Violation{}
		}
		invalid[i] = append(invalid[i], v)
	}
	for i, out := range outs {
		seq, k, ok := splitOutPosition(out.Position)
		if !ok || k > 0 {
			continue // one version per input: its first output
		}
		if rebuilding && out.Stored {
			continue // the rebuild writes it, as the stream holds it
		}
		key, at, deleted, v := o.version(out.Data)
		if v != nil {
			refuse(i, *v)
			continue
		}
		if key == "" {
			continue // an empty key means: nothing to keep for this output
		}
		w := table.Write{Key: key, ValidFrom: at, Deleted: deleted, Stream: o.from, Seq: seq}
		if !deleted {
			w.Value = out.Data
		}
		ws = append(ws, w)
	}
	if len(ws) == 0 {
		return invalid, nil
	}
	if err := o.store.Put(ctx, o.name, ws); err != nil {
		return nil, fmt.Errorf("output %s: %w", o.Name(), err)
	}
	return invalid, nil
}

// version reads the version an output makes: its key ("": nothing to
// keep), its time, whether it is a tombstone; v is why the table refuses it.
func (o *TableOutput) version(data json.RawMessage) (key string, at time.Time, deleted bool, v *schema.Violation) {
	doc, err := schema.Decode(data)
	if err != nil {
		return "", at, false, &schema.Violation{Keyword: "json", Message: err.Error()}
	}
	ts, _ := lookupString(doc, o.timePtr)
	if at, err = time.Parse(time.RFC3339Nano, ts); err != nil {
		return "", at, false, &schema.Violation{Pointer: o.timePtr, Keyword: "sluice.time", Message: fmt.Sprintf("the table's time %q is not an RFC 3339 time", ts)}
	}
	if o.deleteWhen != nil {
		deleted, _ = o.deleteWhen.Match(doc)
	}
	doc, _ = schema.Decode(data) // Match converts numbers in place: decode again for the key
	if key, err = o.key.String(doc); err != nil {
		return "", at, false, &schema.Violation{Keyword: "sluice.key", Message: "the table's key: " + err.Error()}
	}
	return key, at, deleted, nil
}

// Check is what the table refuses: an input's first output (the one it
// keeps) whose time is not an RFC 3339 time or whose key cannot be
// evaluated.
func (o *TableOutput) Check(context.Context) (Check, error) {
	return Check{Output: o.Name(), Refuse: func(k int, data json.RawMessage) []schema.Violation {
		if k > 0 {
			return nil // one version per input: its first output
		}
		if _, _, _, v := o.version(data); v != nil {
			return []schema.Violation{*v}
		}
		return nil
	}}, nil
}

// TableCheck is the check of an output to a table, with no store: the
// table's key, time and delete_when as NewTableOutput takes them.
func TableCheck(name, key, timePtr, deleteWhen string) (Check, error) {
	o, err := NewTableOutput(nil, name, "", key, timePtr, deleteWhen)
	if err != nil {
		return Check{}, err
	}
	return o.Check(context.Background())
}

// recreate drops the table and creates it again, holding the gate, so that
// no write meets the table missing. between, if set, runs in between. Once
// dropped, the table is created even if ctx ends: a missing table would
// fail every write of the pipeline.
func (o *TableOutput) recreate(ctx context.Context, between func()) error {
	o.gate.Lock()
	defer o.gate.Unlock()
	if err := o.store.Drop(ctx, o.name); err != nil {
		return fmt.Errorf("output %s: %w", o.Name(), err)
	}
	if between != nil {
		between()
	}
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
	defer cancel()
	if err := o.store.Create(cctx, o.name); err != nil {
		return fmt.Errorf("output %s: %w", o.Name(), err)
	}
	return nil
}

func lookupString(doc any, ptr string) (string, bool) {
	v, ok := schema.Lookup(doc, ptr)
	if !ok {
		return "", false
	}
	return schema.Scalar(v)
}

// splitOutPosition reads "<input seq>:<output index>".
func splitOutPosition(p string) (seq uint64, k int, ok bool) {
	a, b, found := strings.Cut(p, ":")
	if !found {
		return 0, 0, false
	}
	s, err1 := strconv.ParseUint(a, 10, 64)
	i, err2 := strconv.Atoi(b)
	return s, i, err1 == nil && err2 == nil
}
