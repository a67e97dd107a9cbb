package pipeline

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/sluice-dev/sluice/internal/engine"
)

// Operation kinds: the long operations on a pipeline's outputs.
const (
	KindRedrive = "redrive" // the pipeline's dead letters again
	KindRebuild = "rebuild" // a table again from the pipeline's output stream
)

// Operation states.
const (
	OpRunning   = "running"
	OpSucceeded = "succeeded"
	OpFailed    = "failed"
	OpCanceled  = "canceled"
	// OpInterrupted: the node stopped (or crashed) while it ran.
	OpInterrupted = "interrupted"
)

// Operation is a long operation on a pipeline: it runs in a goroutine of
// its own, beside the pipeline, and is followed by its id. A pipeline runs
// at most one at a time; the last one is kept in the engine's KV bucket
// "pipelines" (key "op.<pipeline>"), so it shows after a restart.
type Operation struct {
	ID       string     `json:"id"`
	Kind     string     `json:"kind"`
	Pipeline string     `json:"pipeline"`
	Table    string     `json:"table,omitempty"` // the table a rebuild writes
	State    string     `json:"state"`
	Started  time.Time  `json:"started"`
	Finished *time.Time `json:"finished,omitempty"`
	Progress Progress   `json:"progress"`
	Error    string     `json:"error,omitempty"`
	// Resumes is the id of the interrupted rebuild this one started over
	// (at start-up: a table left half rebuilt would give wrong answers).
	Resumes string `json:"resumes,omitempty"`
}

// OperationPipeline is the pipeline of an operation by its id
// ("<pipeline>.<random>"), so that any node can tell which node runs it.
func OperationPipeline(id string) string {
	p, _, _ := strings.Cut(id, ".")
	return p
}

// Running reports whether the operation has not ended.
func (o Operation) Running() bool { return o.State == OpRunning }

// Progress is how far an operation is.
type Progress struct {
	// Done counts the messages read: dead letters (redrive) or output
	// messages (rebuild), of this pipeline or not.
	Done uint64 `json:"done"`
	// Total is how many messages there were when it started; nil until
	// known. The pipeline may add more meanwhile: a redrive leaves those
	// for the next one, a rebuild reads them too.
	Total *uint64 `json:"total,omitempty"`
	// Succeeded counts dead letters that went through and were removed
	// (redrive), or outputs written into the table (rebuild).
	Succeeded uint64 `json:"succeeded"`
	// Failed counts dead letters that failed again and stay (redrive), or
	// outputs the table refused, as it did the first time (rebuild).
	Failed uint64 `json:"failed"`
}

var (
	// ErrNoOperation is returned for an operation id that is not known:
	// only each pipeline's last operation is kept.
	ErrNoOperation = errors.New("operation not found")
	// ErrOperationEnded is returned when canceling an operation that ended.
	ErrOperationEnded = errors.New("operation already ended")
	// ErrStopping is returned for an operation asked while the node stops.
	ErrStopping = errors.New("the node is stopping")

	errCanceled = errors.New("canceled")
	errStopped  = errors.New("the node stopped while the operation ran")
	errMoved    = errors.New("the pipeline went to another node while the operation ran")
)

// BusyError is returned when an operation is asked of a pipeline that
// runs one already; Running is that one.
type BusyError struct{ Running Operation }

// Unwrap makes a BusyError an ErrBusy.
func (e *BusyError) Unwrap() error { return ErrBusy }

func (e *BusyError) Error() string {
	return fmt.Sprintf("pipeline %q is running %s operation %s (started %s): wait until it ends, or cancel it",
		e.Running.Pipeline, e.Running.Kind, e.Running.ID, e.Running.Started.Format(time.RFC3339))
}

// saveEvery is how often a running operation writes its progress to the KV.
const saveEvery = time.Second

func opKey(pipeline string) string { return "op." + pipeline }

// operations runs a manager's operations and keeps each pipeline's last.
type operations struct {
	kv   engine.KV
	log  *slog.Logger
	ctx  context.Context // ends when the manager stops
	stop context.CancelCauseFunc
	wg   sync.WaitGroup

	mu   sync.Mutex
	last map[string]*op  // by pipeline
	held map[string]bool // pipelines being put anew or removed: no operation starts
}

// op is one operation while it runs, and after.
type op struct {
	mu     sync.Mutex
	v      Operation
	cancel context.CancelCauseFunc
	done   chan struct{}
	saved  time.Time // written by the operation's goroutine only
}

func (o *op) view() Operation {
	o.mu.Lock()
	defer o.mu.Unlock()
	v := o.v
	if v.Progress.Total != nil {
		t := *v.Progress.Total
		v.Progress.Total = &t
	}
	return v
}

// progress changes the progress (from the operation's goroutine).
func (o *op) progress(f func(p *Progress)) {
	o.mu.Lock()
	f(&o.v.Progress)
	o.mu.Unlock()
}

func (o *op) setTotal(n uint64) { o.progress(func(p *Progress) { p.Total = &n }) }

func newOperations(ctx context.Context, kv engine.KV, log *slog.Logger) *operations {
	s := &operations{kv: kv, log: log, last: map[string]*op{}, held: map[string]bool{}}
	s.ctx, s.stop = context.WithCancelCause(context.WithoutCancel(ctx))
	return s
}

// start runs an operation unless its pipeline runs one already.
func (s *operations) start(v Operation, run func(ctx context.Context, o *op) error) (Operation, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ctx.Err() != nil {
		return Operation{}, ErrStopping
	}
	if s.held[v.Pipeline] {
		return Operation{}, fmt.Errorf("%w: pipeline %q is being changed: try again", ErrBusy, v.Pipeline)
	}
	if cur := s.last[v.Pipeline]; cur != nil {
		if cv := cur.view(); cv.Running() {
			return Operation{}, &BusyError{Running: cv}
		}
	}
	v.ID, v.State, v.Started = v.Pipeline+"."+strings.ToLower(rand.Text()), OpRunning, time.Now().UTC()
	o := &op{v: v, done: make(chan struct{})}
	ctx, cancel := context.WithCancelCause(s.ctx)
	o.cancel = cancel
	s.last[v.Pipeline] = o
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		defer close(o.done)
		defer cancel(nil)
		s.save(o)
		s.log.Info("operation started", "pipeline", v.Pipeline, "kind", v.Kind, "table", v.Table, "id", v.ID)
		err := run(ctx, o)
		o.finish(err, context.Cause(ctx))
		s.save(o)
		fv := o.view()
		s.log.Info("operation ended", "pipeline", v.Pipeline, "kind", v.Kind, "table", v.Table, "id", v.ID, "state", fv.State,
			"done", fv.Progress.Done, "succeeded", fv.Progress.Succeeded, "failed", fv.Progress.Failed, "err", fv.Error)
	}()
	return o.view(), nil
}

// hold keeps operations off a pipeline while it is put anew or removed
// (an operation uses its runner, which is about to end), unless one runs:
// then the change is refused with a *BusyError. Release ends it.
func (s *operations) hold(pipeline string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if cur := s.last[pipeline]; cur != nil {
		if cv := cur.view(); cv.Running() {
			return &BusyError{Running: cv}
		}
	}
	s.held[pipeline] = true
	return nil
}

func (s *operations) release(pipeline string) {
	s.mu.Lock()
	delete(s.held, pipeline)
	s.mu.Unlock()
}

// forget drops the last operation of a pipeline that was removed.
func (s *operations) forget(pipeline string) {
	s.mu.Lock()
	delete(s.last, pipeline)
	s.mu.Unlock()
}

// finish records how an operation ended: err is what it returned, cause
// why its context ended (nil if it did not).
func (o *op) finish(err, cause error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	now := time.Now().UTC()
	o.v.Finished = &now
	switch {
	case err == nil:
		o.v.State = OpSucceeded
		if o.v.Progress.Total == nil || *o.v.Progress.Total != o.v.Progress.Done {
			d := o.v.Progress.Done // what there was, in the end
			o.v.Progress.Total = &d
		}
	case errors.Is(cause, errCanceled):
		o.v.State, o.v.Error = OpCanceled, "canceled before it ended"
	case errors.Is(cause, errStopped), errors.Is(cause, errMoved):
		o.v.State, o.v.Error = OpInterrupted, cause.Error()
	default:
		o.v.State, o.v.Error = OpFailed, err.Error()
	}
}

// save writes the operation to the KV; a failure is logged, not returned:
// the operation goes on, its state is in memory.
func (s *operations) save(o *op) {
	v := o.view()
	raw, _ := json.Marshal(v)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := engine.Put(ctx, s.kv, opKey(v.Pipeline), raw); err != nil {
		s.log.Warn("operation state not saved", "pipeline", v.Pipeline, "id", v.ID, "err", err)
	}
	o.saved = time.Now()
}

// saveSoon saves a running operation's progress at most every saveEvery.
func (s *operations) saveSoon(o *op) {
	if time.Since(o.saved) >= saveEvery {
		s.save(o)
	}
}

// load reads a pipeline's last operation from the KV at start-up. One
// that was running when the node stopped or crashed is marked interrupted;
// it is returned so that the caller can start it over.
func (s *operations) load(ctx context.Context, pipeline string) (interrupted *Operation) {
	raw, _, err := s.kv.Get(ctx, opKey(pipeline))
	if err != nil {
		if !errors.Is(err, engine.ErrNotFound) {
			s.log.Warn("last operation not read", "pipeline", pipeline, "err", err)
		}
		return nil
	}
	var v Operation
	if err := json.Unmarshal(raw, &v); err != nil || v.ID == "" {
		s.log.Warn("last operation unreadable", "pipeline", pipeline, "err", err)
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.last[pipeline] != nil {
		return nil // one started meanwhile
	}
	o := &op{v: v, done: make(chan struct{})}
	close(o.done)
	s.last[pipeline] = o
	if v.State == OpRunning { // the process ended without recording it
		now := time.Now().UTC()
		o.v.State, o.v.Error, o.v.Finished = OpInterrupted, "the node stopped while the operation ran", &now
		s.save(o)
	}
	if o.v.State != OpInterrupted {
		return nil
	}
	iv := o.view()
	return &iv
}

func (s *operations) find(id string) (*op, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, o := range s.last {
		if o.view().ID == id {
			return o, nil
		}
	}
	return nil, fmt.Errorf("%w: %q (only each pipeline's last operation is kept)", ErrNoOperation, id)
}

func (s *operations) of(pipeline string) *Operation {
	s.mu.Lock()
	o := s.last[pipeline]
	s.mu.Unlock()
	if o == nil {
		return nil
	}
	v := o.view()
	return &v
}

func (s *operations) list() []Operation {
	s.mu.Lock()
	out := make([]Operation, 0, len(s.last))
	for _, o := range s.last {
		out = append(out, o.view())
	}
	s.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i].Pipeline < out[j].Pipeline })
	return out
}

// wait waits until an operation ends or ctx does, and returns it.
func (s *operations) wait(ctx context.Context, id string) (Operation, error) {
	o, err := s.find(id)
	if err != nil {
		return Operation{}, err
	}
	select {
	case <-o.done:
		return o.view(), nil
	case <-ctx.Done():
		return o.view(), ctx.Err()
	}
}

// cancel ends a running operation and waits for it, at most until ctx ends.
func (s *operations) cancel(ctx context.Context, id string) (Operation, error) {
	o, err := s.find(id)
	if err != nil {
		return Operation{}, err
	}
	if v := o.view(); !v.Running() {
		return v, fmt.Errorf("%w: %s %s is %s", ErrOperationEnded, v.Kind, v.ID, v.State)
	}
	o.cancel(errCanceled)
	select {
	case <-o.done:
	case <-ctx.Done():
	}
	return o.view(), nil
}

// moved ends the running operation of a pipeline that no longer runs on
// this node (its unit went to another node), and waits for it: the node
// that runs the pipeline now must be the only one writing its outputs.
func (s *operations) moved(pipeline string) {
	s.mu.Lock()
	o := s.last[pipeline]
	s.mu.Unlock()
	if o == nil || !o.view().Running() {
		return
	}
	s.log.Warn("the pipeline went to another node: its operation ends", "pipeline", pipeline, "operation", o.view().ID)
	o.cancel(errMoved)
	<-o.done
}

// close ends every running operation (as interrupted) and waits for them.
func (s *operations) close() {
	s.mu.Lock()
	s.stop(errStopped)
	s.mu.Unlock()
	s.wg.Wait()
}

// Operation returns an operation by id: a pipeline's running or last one.
func (m *Manager) Operation(id string) (Operation, error) {
	o, err := m.ops.find(id)
	if err != nil {
		return Operation{}, err
	}
	return o.view(), nil
}

// Operations returns each pipeline's running or last operation.
func (m *Manager) Operations() []Operation { return m.ops.list() }

// Wait waits until an operation ends, or ctx does, and returns it.
func (m *Manager) Wait(ctx context.Context, id string) (Operation, error) { return m.ops.wait(ctx, id) }

// Cancel asks a running operation to end and waits for it until ctx ends;
// what it did stays done (a redrive's dead letters that went through are
// gone; a canceled rebuild leaves the table with part of its versions,
// until the next rebuild). ErrOperationEnded if it had ended.
func (m *Manager) Cancel(ctx context.Context, id string) (Operation, error) {
	return m.ops.cancel(ctx, id)
}
