package node_test

import (
	"context"
	"errors"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/sluice-dev/sluice/internal/config"
	"github.com/sluice-dev/sluice/internal/engine"
	"github.com/sluice-dev/sluice/internal/node"
)

// readOnlyExample is docs/ACCESS.md's example, verbatim but for the
// port: a plain NATS client that may read stream wiki.edits and nothing
// else. It reads by direct gets and through one consumer of its own, named
// wiki-reader: a wildcard for the consumer's name would let it also pull
// from (and so hold back) the durable consumers of sluice's pipelines.
const readOnlyExample = `
nats:
  listen: 127.0.0.1:4223
  user: sluice
  password_env: SLUICE_NATS_PASSWORD
  users:
    - user: wiki-reader
      password_env: WIKI_READER_PASSWORD
      publish:
        - $JS.API.STREAM.INFO.sluice_wiki~edits
        - $JS.API.CONSUMER.CREATE.sluice_wiki~edits.wiki-reader.>
        - $JS.API.CONSUMER.MSG.NEXT.sluice_wiki~edits.wiki-reader
        - $JS.API.DIRECT.GET.sluice_wiki~edits
        - $JS.API.DIRECT.GET.sluice_wiki~edits.>
      subscribe:
        - _INBOX.>
streams:
  wiki.edits:
    schema: {type: object}
`

// A node whose NATS port takes credentials: anonymous clients are turned
// away, sluice itself works, and the read-only user reads wiki.edits with
// a plain JetStream client (its consumer, direct gets) but cannot write
// to it nor use another consumer.
func TestNATSPortReadOnlyUser(t *testing.T) {
	t.Setenv("SLUICE_NATS_PASSWORD", "sluice-secret")
	t.Setenv("WIKI_READER_PASSWORD", "reader-secret")
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	if doc, err := os.ReadFile("../../docs/ACCESS.md"); err != nil || !strings.Contains(string(doc), strings.TrimSpace(strings.Split(readOnlyExample, "streams:")[0])) {
		t.Fatalf("docs/ACCESS.md does not hold the example this test runs (%v)", err)
	}
	cfg, err := config.Parse([]byte(strings.Replace(readOnlyExample, "127.0.0.1:4223", addr, 1)))
	if err != nil {
		t.Fatal(err)
	}
	cfg.Data, cfg.Addr = t.TempDir(), "127.0.0.1:0"
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	n, err := node.Start(ctx, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer n.Shutdown(context.Background())
	<-n.Up()
	msgs := []engine.Msg{{ID: "a", Data: []byte(`{"n":1}`)}, {ID: "b", Data: []byte(`{"n":2}`)}, {ID: "c", Data: []byte(`{"n":3}`)}}
	if _, err := engine.Append(ctx, n.Engine, "wiki.edits", msgs); err != nil {
		t.Fatalf("sluice's own connection: %v", err)
	}
	url := "nats://" + addr
	if nc, err := nats.Connect(url); !errors.Is(err, nats.ErrAuthorization) {
		if nc != nil {
			nc.Close()
		}
		t.Fatalf("anonymous client: %v, want authorization violation", err)
	}

	violations := make(chan error, 10)
	nc, err := nats.Connect(url, nats.UserInfo("wiki-reader", "reader-secret"),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) { violations <- err }))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	s, err := js.Stream(ctx, "sluice_wiki~edits")
	if err != nil {
		t.Fatalf("stream info: %v", err)
	}
	c, err := s.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{Name: "wiki-reader", AckPolicy: jetstream.AckNonePolicy,
		FilterSubject: "sluice.s.wiki.edits.>", InactiveThreshold: time.Hour})
	if err != nil {
		t.Fatalf("consumer: %v", err)
	}
	batch, err := c.Fetch(3, jetstream.FetchMaxWait(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for m := range batch.Messages() {
		got = append(got, string(m.Data()))
	}
	if batch.Error() != nil || strings.Join(got, " ") != `{"n":1} {"n":2} {"n":3}` {
		t.Fatalf("read %q, %v", got, batch.Error())
	}
	if m, err := s.GetMsg(ctx, 2); err != nil || string(m.Data) != `{"n":2}` {
		t.Fatalf("direct get of 2: %v %v", m, err)
	}
	if m, err := s.GetLastMsgForSubject(ctx, "sluice.s.wiki.edits.E"); err != nil || string(m.Data) != `{"n":3}` {
		t.Fatalf("direct get of the last: %v %v", m, err)
	}

	// Writing, by the stream's subject or the JetStream API, is refused,
	// and so is pulling from another consumer (a pipeline's).
	refused := []string{"sluice.s.wiki.edits.E", "sluice.s.wiki.edits.O.src",
		"$JS.API.STREAM.PURGE.sluice_wiki~edits", "$JS.API.STREAM.DELETE.sluice_wiki~edits",
		"$JS.API.CONSUMER.MSG.NEXT.sluice_wiki~edits.pipeline_p", "$JS.API.CONSUMER.DELETE.sluice_wiki~edits.pipeline_p",
		"$JS.API.CONSUMER.CREATE.sluice_wiki~edits.pipeline_p.sluice.s.wiki.edits.>"}
	for _, subject := range refused {
		if err := nc.Publish(subject, []byte(`{"n":4}`)); err != nil {
			t.Fatal(err)
		}
		select {
		case err := <-violations:
			if !errors.Is(err, nats.ErrPermissionViolation) || !strings.Contains(err.Error(), subject) {
				t.Fatalf("publish to %s: %v, want a permissions violation", subject, err)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("publish to %s: no permissions violation", subject)
		}
	}
	if st, err := n.Engine.State(ctx, "wiki.edits"); err != nil || st.Messages != 3 {
		t.Fatalf("after the reader's publishes: %+v %v", st, err)
	}
}
