package jetstream

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/sluice-dev/sluice/internal/engine"
)

// Options say which JetStream to use.
type Options struct {
	// URL of an external NATS server or cluster ("nats://a:4222,nats://b:4222").
	// Empty: run an embedded server storing under DataDir.
	URL string
	// DataDir holds the embedded server's file storage.
	DataDir string
	// Listen (host:port) makes the embedded server accept NATS clients; empty: no port.
	Listen string
	// Replicas is the number of copies of each bucket, and of each stream
	// whose config sets none (external clusters); 0 means 1.
	Replicas int
	// MaxStore caps the embedded server's file store; 0: the default (limits.go).
	MaxStore int64
	// MinFreeDisk is the free space kept on the embedded server's disk:
	// appends that would go below it are refused (engine.ErrNoSpace).
	// 0: the default (limits.go); negative: no reserve.
	MinFreeDisk int64
	// Patience is how long an append to an external NATS waits when its
	// stream answers none of its messages (no leader, NATS out of reach)
	// before it fails with engine.ErrNoLeader or engine.ErrUnavailable;
	// 0: DefaultPatience.
	Patience time.Duration
	// Credentials are sluice's NATS identity and, for the embedded server,
	// the other users of its port (auth.go); none: no authentication.
	Credentials Credentials
	Logger      *slog.Logger
}

// Engine is the JetStream implementation of engine.Engine.
type Engine struct {
	srv    *server.Server // nil for an external server
	guard  *guard         // of the embedded server's disk; nil for an external server
	link   *link          // the connection to an external server; nil for the embedded one
	nc     *nats.Conn
	js     jetstream.JetStream
	direct directGets // batch and single direct gets (*direct; a test's stands for a replica behind its leader)
	log    *slog.Logger

	replicas int
	patience time.Duration  // see Options.Patience
	failures createFailures // why the embedded server could not create a stream
	mu       sync.Mutex
	streams  map[string]jetstream.Stream // handles, so reads skip an info round trip
	kvWrites kvWrites                    // see readYourWrites
}

var _ engine.Engine = (*Engine)(nil)

// Open starts or connects to JetStream. An external NATS that cannot be
// reached does not fail it: the engine connects in the background, Ready
// says why it is not ready, and operations fail at once with
// engine.ErrUnavailable until it is reached (see link).
func Open(ctx context.Context, o Options) (*Engine, error) {
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	e := &Engine{log: log, replicas: max(o.Replicas, 1), patience: o.Patience, streams: map[string]jetstream.Stream{}}
	if e.patience <= 0 {
		e.patience = DefaultPatience
	}
	opts := []nats.Option{nats.Name("sluice"), nats.MaxReconnects(-1), nats.ReconnectWait(500 * time.Millisecond),
		nats.ErrorHandler(func(_ *nats.Conn, sub *nats.Subscription, err error) {
			if errors.Is(err, nats.ErrBadHeaderMsg) {
				// A message stored with a header block the client cannot
				// read (published straight to a stream): readers get it
				// without headers and skip it, so it is no error of ours.
				log.Debug("nats: a message's headers could not be decoded", "err", err)
				return
			}
			subject := ""
			if sub != nil {
				subject = sub.Subject
			}
			log.Warn("nats: asynchronous error", "subject", subject, "err", err)
		})}
	url := o.URL
	if url == "" {
		if o.DataDir == "" {
			return nil, errors.New("jetstream: a data directory or a NATS URL is needed")
		}
		dir := filepath.Join(o.DataDir, "jetstream")
		lim, err := resolveLimits(dir, o.MaxStore, o.MinFreeDisk)
		if err != nil {
			return nil, err
		}
		lim.log(log, dir)
		e.guard = newGuard(dir, lim, log)
		if len(o.Credentials.Users) > 0 && o.Listen == "" {
			log.Warn("nats users configured, but the embedded server opens no port for them (nats.listen)")
		}
		srv, sopts, err := embedded(dir, o.Listen, o.Credentials, lim, log, func(line string) {
			e.failures.notice(line)
			e.guard.noticeLog(line)
		})
		if err != nil {
			return nil, err
		}
		e.srv = srv
		e.guard.start(srv, sopts)
		opts = append(opts, nats.InProcessServer(srv))
	} else {
		e.link = newLink(url, o.Credentials, log)
		opts = append(opts, e.link.options()...)
	}
	auth, err := o.Credentials.connect()
	if err != nil {
		e.guard.close()
		e.stopServer()
		return nil, err
	}
	opts = append(opts, auth...)
	nc, err := nats.Connect(url, opts...)
	if err != nil { // a bad URL or option: reaching the server is not tried yet
		e.guard.close()
		e.stopServer()
		return nil, fmt.Errorf("connect to nats at %s: %w", redactURL(url), err)
	}
	e.nc = nc
	if e.link != nil {
		e.link.set(nc)
		if !nc.IsConnected() { // the first attempt failed; the client goes on in the background
			if err := nc.LastError(); refused(err) {
				// A configuration error, not an outage: say so now rather
				// than wait for NATS like for one that is down. (Should
				// the client clear the error first, the link tells once
				// the server said no again.)
				e.link.refuse(err)
				e.Close()
				return nil, e.link.check()
			}
			e.link.down(errors.New("no server of the URL accepted a connection (retrying every 0.5s)"))
		}
	}
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(4096),
		jetstream.WithPublishAsyncTimeout(10*time.Second)) // a lost ack fails, and is retried, instead of hanging
	if err != nil {
		e.Close()
		return nil, fmt.Errorf("jetstream: %w", err)
	}
	e.js = js
	d, err := newDirect(nc)
	if err != nil {
		e.Close()
		return nil, err
	}
	e.direct = d
	if e.srv == nil {
		return e, nil // reached or not: Ready tells
	}
	// Reachable is enough to start: a node whose disk is full starts, reads,
	// reports not ready, and takes appends again once space returns.
	if err := e.reachable(ctx); err != nil {
		e.Close()
		return nil, err
	}
	return e, nil
}

// WaitReachable waits until NATS is connected (at once for the embedded
// server) or ctx ends, and then says why it is not. Open does not wait:
// this is for a caller that cannot start without NATS (a node opening its
// catalog), as an alternative to failing at once with ErrUnavailable.
func (e *Engine) WaitReachable(ctx context.Context) error { return e.link.wait(ctx) }

// Embedded reports whether the engine runs its own server.
func (e *Engine) Embedded() bool { return e.srv != nil }

// ClientURL is the address NATS clients can use, "" when the embedded server listens on no port.
func (e *Engine) ClientURL() string {
	if e.srv == nil {
		return e.nc.ConnectedUrl()
	}
	if e.srv.Addr() == nil {
		return ""
	}
	return e.srv.ClientURL()
}

// Ready checks that NATS is reached, JetStream answers and has room to
// store (see space.go).
func (e *Engine) Ready(ctx context.Context) error {
	if err := e.link.check(); err != nil {
		return err
	}
	if err := e.guard.check(); err != nil {
		return err
	}
	info, err := e.accountInfo(ctx)
	if err != nil {
		return err
	}
	return e.storeFull(info)
}

func (e *Engine) reachable(ctx context.Context) error {
	_, err := e.accountInfo(ctx)
	return err
}

func (e *Engine) accountInfo(ctx context.Context) (*jetstream.AccountInfo, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	info, err := e.js.AccountInfo(ctx)
	if err != nil {
		return nil, fmt.Errorf("jetstream not ready: %w", err)
	}
	return info, nil
}

// Close drains the connection and stops an embedded server after it has
// flushed its stores.
func (e *Engine) Close() error {
	e.guard.close() // it restarts JetStream: stop it before the server
	var err error
	if e.nc != nil {
		if e.nc.IsConnected() { // draining a connection that is not up only fails
			err = e.nc.Drain()
			for e.nc.IsDraining() {
				time.Sleep(5 * time.Millisecond)
			}
		}
		e.nc.Close()
	}
	e.stopServer()
	return err
}

func (e *Engine) stopServer() {
	if e.srv != nil {
		e.srv.Shutdown()
		e.srv.WaitForShutdown()
	}
}

// streamName maps a sluice stream name to a JetStream one; "." is not
// allowed there and "~" is not allowed in sluice names, so the map is one to one.
func streamName(name string) string { return "sluice_" + strings.ReplaceAll(name, ".", "~") }

// Subjects: plain events go to sluice.s.<name>.E, those of an origin to
// sluice.s.<name>.O.<origin>. Names are lower case, so the upper-case tokens
// keep the subjects of streams "a" and "a.b" from overlapping.
func subject(name string) string { return "sluice.s." + name + ".E" }

func originSubject(name, origin string) string {
	if origin == "" {
		return subject(name)
	}
	return "sluice.s." + name + ".O." + origin
}

func allSubjects(name string) string { return "sluice.s." + name + ".>" }

func (e *Engine) EnsureStream(ctx context.Context, c engine.StreamConfig) error {
	if err := e.link.check(); err != nil {
		return fmt.Errorf("ensure stream %q: %w", c.Name, err)
	}
	replicas := c.Replicas
	if replicas <= 0 {
		replicas = e.replicas
	}
	cfg := jetstream.StreamConfig{
		Name:        streamName(c.Name),
		Description: "sluice stream " + c.Name,
		Subjects:    []string{subject(c.Name), "sluice.s." + c.Name + ".O.*"},
		Storage:     jetstream.FileStorage,
		Retention:   jetstream.LimitsPolicy,
		Discard:     jetstream.DiscardOld,
		MaxAge:      c.MaxAge,
		MaxBytes:    orUnlimited(c.MaxBytes),
		MaxMsgs:     -1,
		Duplicates:  c.DuplicateWindow,
		Replicas:    replicas,
		AllowDirect: true,
	}
	var s jetstream.Stream
	err := e.create(ctx, cfg.Name, func(ctx context.Context) (err error) {
		s, err = e.js.CreateOrUpdateStream(ctx, cfg)
		return err
	})
	var apiErr *jetstream.APIError
	if errors.As(err, &apiErr) && apiErr.ErrorCode == errCodeStorageResources && c.MaxBytes > 0 {
		// JetStream reserves each stream's max_bytes out of the store limit.
		se := &engine.SpaceError{Cause: engine.StoreLimit}
		if e.guard != nil {
			se.Limit = e.guard.lim.MaxStore
		}
		return fmt.Errorf("ensure stream %q: its retention max_bytes (%d bytes) does not fit: JetStream reserves every "+
			"stream's max_bytes out of the store limit: %w", c.Name, c.MaxBytes, se)
	}
	if errors.As(err, &apiErr) && apiErr.ErrorCode == errCodeReplicasUnsupported {
		return fmt.Errorf("ensure stream %q: %w: %d replicas need a JetStream cluster, and this server is not in one "+
			"(a single server keeps 1 copy)", c.Name, engine.ErrUnsupported, replicas)
	}
	if err != nil {
		return fmt.Errorf("ensure stream %q: %w", c.Name, mapErr(err))
	}
	e.mu.Lock()
	e.streams[c.Name] = s
	e.mu.Unlock()
	return nil
}

func orUnlimited(n int64) int64 {
	if n <= 0 {
		return -1
	}
	return n
}

func (e *Engine) DeleteStream(ctx context.Context, name string) error {
	if err := e.link.check(); err != nil {
		return fmt.Errorf("delete stream %q: %w", name, err)
	}
	e.mu.Lock()
	delete(e.streams, name)
	e.mu.Unlock()
	if err := e.js.DeleteStream(ctx, streamName(name)); err != nil {
		return fmt.Errorf("delete stream %q: %w", name, mapErr(err))
	}
	return nil
}

func (e *Engine) stream(ctx context.Context, name string) (jetstream.Stream, error) {
	if err := e.link.check(); err != nil {
		return nil, fmt.Errorf("stream %q: %w", name, err)
	}
	e.mu.Lock()
	s, ok := e.streams[name]
	e.mu.Unlock()
	if ok {
		return s, nil
	}
	s, err := e.js.Stream(ctx, streamName(name))
	if err != nil {
		return nil, fmt.Errorf("stream %q: %w", name, e.unavailable(ctx, mapErr(err)))
	}
	e.mu.Lock()
	e.streams[name] = s
	e.mu.Unlock()
	return s, nil
}

func (e *Engine) State(ctx context.Context, name string) (engine.StreamState, error) {
	s, err := e.stream(ctx, name)
	if err != nil {
		return engine.StreamState{}, err
	}
	info, err := s.Info(ctx)
	if err != nil {
		e.forget(name, err)
		return engine.StreamState{}, fmt.Errorf("stream %q: %w", name, e.unavailable(ctx, mapErr(err)))
	}
	st := info.State
	out := engine.StreamState{Messages: st.Msgs, Bytes: st.Bytes, LastSeq: st.LastSeq, Replicas: max(info.Config.Replicas, 1)}
	if st.Msgs > 0 {
		out.FirstSeq = st.FirstSeq
	}
	// A server that is not in a cluster names itself leader of every
	// stream, under no cluster name: not worth telling.
	if ci := info.Cluster; ci != nil && ci.Name != "" {
		out.Leader = ci.Leader
		for _, r := range ci.Replicas {
			out.Followers = append(out.Followers, engine.Follower{Name: r.Name, Current: r.Current, Offline: r.Offline, Lag: r.Lag, Active: r.Active})
		}
	}
	return out, nil
}

// forget drops a cached handle when the stream is gone (deleted by another node).
func (e *Engine) forget(name string, err error) {
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		e.mu.Lock()
		delete(e.streams, name)
		e.mu.Unlock()
	}
}

// unanswered tells a stream that is not there from one that does not
// answer now: nobody answers a direct get in either case, and only the
// first is "not found" (a source would resume from its start on it).
func (e *Engine) unanswered(ctx context.Context, name string, err error) error {
	if !errors.Is(err, engine.ErrUnavailable) {
		return err
	}
	// A JetStream that is down does not answer this either: bound the wait.
	ictx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	if _, serr := e.js.Stream(ictx, streamName(name)); errors.Is(serr, jetstream.ErrStreamNotFound) {
		e.forget(name, serr)
		return fmt.Errorf("stream %q: %w", name, engine.ErrNotFound)
	}
	return e.unavailable(ctx, err)
}

// unavailable marks an error that is no answer (nobody answers, or nobody
// in time while ctx still runs) as engine.ErrUnavailable; on a NATS
// cluster, as engine.ErrNoLeader: the stream or bucket asked has no
// leader (or, for a request to the JetStream API, the cluster has none).
// Other errors are returned as they are.
func (e *Engine) unavailable(ctx context.Context, err error) error {
	if err == nil || errors.Is(err, engine.ErrNoLeader) {
		return err
	}
	if !errors.Is(err, engine.ErrUnavailable) && !errors.Is(err, nats.ErrNoResponders) && !errors.Is(err, nats.ErrTimeout) &&
		(!errors.Is(err, context.DeadlineExceeded) || ctx.Err() != nil) {
		return err
	}
	if lerr := e.link.check(); lerr != nil {
		return lerr
	}
	if cluster := e.nc.ConnectedClusterName(); cluster != "" {
		return fmt.Errorf("%w (NATS cluster %s electing, or too few of its servers up for a quorum): %w", engine.ErrNoLeader, cluster, err)
	}
	if errors.Is(err, engine.ErrUnavailable) {
		return err
	}
	return fmt.Errorf("%w: no answer: %w", engine.ErrUnavailable, err)
}

// Get is a batch direct get of one message, for its "at or after" reading
// of the sequence (and headers read as the server wrote them).
func (e *Engine) Get(ctx context.Context, name string, seq uint64) (engine.Stored, error) {
	if err := e.link.check(); err != nil {
		return engine.Stored{}, fmt.Errorf("get %s@%d: %w", name, seq, err)
	}
	b, err := e.direct.batch(ctx, streamName(name), seq, 1, 1)
	if err == nil && len(b.Msgs) == 0 {
		b, err = e.confirmEnd(ctx, streamName(name), seq, 1, 1, b)
	}
	if err = e.unanswered(ctx, name, err); err != nil {
		return engine.Stored{}, fmt.Errorf("get %s@%d: %w", name, seq, err)
	}
	if len(b.Msgs) == 0 {
		return engine.Stored{}, fmt.Errorf("get %s@%d: %w", name, seq, engine.ErrNotFound)
	}
	return b.Msgs[0], nil
}

func (e *Engine) LastOf(ctx context.Context, name, origin string) (engine.Stored, error) {
	if err := e.link.check(); err != nil {
		return engine.Stored{}, fmt.Errorf("last of %s in %s: %w", origin, name, err)
	}
	var m engine.Stored
	var err error
	if e.clustered() {
		m, err = e.leaderLast(ctx, streamName(name), originSubject(name, origin))
	} else {
		m, err = e.direct.last(ctx, streamName(name), originSubject(name, origin))
	}
	if err = e.unanswered(ctx, name, err); err != nil {
		return engine.Stored{}, fmt.Errorf("last of %s in %s: %w", origin, name, err)
	}
	return m, nil
}

func flatten(h nats.Header) map[string]string {
	out := make(map[string]string, len(h))
	for k, v := range h {
		if len(v) > 0 && !strings.HasPrefix(k, "Nats-") {
			out[k] = unescapeHeader(v[0])
		}
	}
	return out
}

func mapErr(err error) error {
	switch {
	case errors.Is(err, jetstream.ErrStreamNotFound), errors.Is(err, jetstream.ErrMsgNotFound),
		errors.Is(err, jetstream.ErrKeyNotFound), errors.Is(err, jetstream.ErrKeyDeleted):
		return fmt.Errorf("%w: %v", engine.ErrNotFound, err)
	case errors.Is(err, nats.ErrConnectionClosed):
		return fmt.Errorf("%w: %v", engine.ErrClosed, err)
	}
	var apiErr *jetstream.APIError
	if errors.As(err, &apiErr) {
		switch apiErr.ErrorCode {
		case errCodeAccountResources, errCodeInsufficient, errCodeStorageResources:
			return fmt.Errorf("%w (%v)", &engine.SpaceError{Cause: engine.StoreLimit}, err)
		}
	}
	return err
}
