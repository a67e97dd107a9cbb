package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"time"

	"github.com/google/uuid"

	"github.com/sluice-dev/sluice/internal/audit"
	"github.com/sluice-dev/sluice/internal/token"
)

// audited records the routes that change definitions, tokens or what
// runs (roles operate and admin) in sluice.audit once answered: allowed
// or refused. A request refused for want of a token is not recorded
// (anyone can send those). Each node records what it serves: a request
// passed to the node that runs its pipeline is recorded by both, the
// second with forwarded_by (what the first node says of itself; a client
// may claim it too, which keeps nothing out of the audit).
func (a *API) audited(rt route, rl rule, h http.Handler) http.Handler {
	if !rl.audit && rl.role != token.Operate && rl.role != token.Admin {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body bytes.Buffer
		read := &tee{to: &body}
		if r.Body != nil && r.Body != http.NoBody {
			read.ReadCloser = r.Body
			r.Body = read
		}
		rec := &statusRecorder{ResponseWriter: w}
		h.ServeHTTP(rec, r)
		e := audit.Entry{Action: rt.id, Method: r.Method, Path: r.URL.RequestURI(), By: by(r), Status: rec.code(), Error: rec.detail(),
			ForwardedBy: clip(r.Header.Get(forwardedBy))}
		e.Meta.ID, e.Meta.DT = uuid.NewString(), time.Now().UTC()
		if rl.resource != nil {
			e.Resource = rl.resource(r)
		}
		if t := caller(r); t != nil {
			e.Token = &audit.Who{ID: t.ID, Name: t.Name}
		}
		if a.opts.Cluster != nil {
			e.Node = a.opts.Cluster.Node()
		}
		if body.Len() > 0 && e.Status != http.StatusForbidden { // a refusal's body is anyone's: its size is enough
			var change any
			if body.Len() <= audit.MaxChange && json.Unmarshal(body.Bytes(), &change) == nil {
				e.Change = audit.Redact(change)
			} else {
				e.ChangeLen = read.n
			}
		}
		ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), 10*time.Second)
		defer cancel()
		if err := audit.Record(ctx, a.svc, e); err != nil {
			a.log.Error("audit: an action could not be recorded", "action", rt.id, "path", e.Path, "status", e.Status, "err", err)
		}
	})
}

// tee keeps what a handler reads of a body, up to audit.MaxChange+1 bytes.
type tee struct {
	io.ReadCloser
	to *bytes.Buffer
	n  int // bytes read in all
}

func (t *tee) Read(p []byte) (int, error) {
	n, err := t.ReadCloser.Read(p)
	t.n += n
	if room := audit.MaxChange + 1 - t.to.Len(); room > 0 {
		t.to.Write(p[:min(n, room)])
	}
	return n, err
}

// statusRecorder notes the status a handler answers, and the start of
// a refusal's problem document.
type statusRecorder struct {
	http.ResponseWriter
	status  int
	problem []byte
}

func (s *statusRecorder) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	if s.status >= 400 && len(s.problem) < 4096 {
		s.problem = append(s.problem, b[:min(len(b), 4096-len(s.problem))]...)
	}
	return s.ResponseWriter.Write(b)
}

// detail is the refusal's detail, if it answered a problem document.
func (s *statusRecorder) detail() string {
	var p struct {
		Detail string `json:"detail"`
	}
	if s.status < 400 || json.Unmarshal(s.problem, &p) != nil {
		return ""
	}
	return clip(p.Detail)
}

func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

func (s *statusRecorder) code() int {
	if s.status == 0 {
		return http.StatusOK
	}
	return s.status
}
