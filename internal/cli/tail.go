package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/sluice-dev/sluice/internal/schema"
	"github.com/sluice-dev/sluice/internal/sse"
	"github.com/sluice-dev/sluice/internal/stream"
)

type tailFlags struct {
	since, until string
	n            int
	follow       bool
	preview      bool
	fields       []string // with preview: the stream's preview pointers
}

// line prints one event: its JSON, or with --preview its preview fields.
func (f *tailFlags) line(out *bufio.Writer, data []byte) {
	if f.preview {
		out.WriteString(previewLine(data, f.fields))
	} else {
		out.Write(data)
	}
	out.WriteByte('\n')
}

// previewLine sums an event up as the UI's rows do: "title=Foo · wiki=enwiki",
// each value clipped; the first bytes of the JSON when none is present.
func previewLine(data []byte, fields []string) string {
	const clip, head = 60, 140
	var parts []string
	if doc, err := schema.Decode(data); err == nil {
		for _, p := range fields {
			v, ok := schema.Lookup(doc, p)
			if !ok {
				continue
			}
			s, ok := schema.Scalar(v)
			if !ok {
				raw, _ := json.Marshal(v)
				s = string(raw)
			}
			parts = append(parts, strings.TrimPrefix(unescapePointer(p), "/")+"="+clipText(s, clip))
		}
	}
	if len(parts) == 0 {
		return clipText(string(data), head)
	}
	return strings.Join(parts, " · ")
}

func unescapePointer(p string) string {
	return strings.ReplaceAll(strings.ReplaceAll(p, "~1", "/"), "~0", "~")
}

// clipText cuts s to n characters, marking the cut.
func clipText(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n]) + "…"
	}
	return s
}

func newTail(g *globals) *cobra.Command {
	f := &tailFlags{}
	cmd := &cobra.Command{
		Use:   "tail NAME",
		Short: "Print events as NDJSON, one per line: a range, the last N, or follow live with -f (--preview: their preview fields)",
		Long: "Positions (--since, --until) are earliest, latest, a sequence number, an RFC 3339 event time\n" +
			"or unix milliseconds. Without --since: the last -n events, or all of them; with -f, new ones.\n" +
			"-f follows over Server-Sent Events and resumes after the last event it printed if the\n" +
			"connection drops.",
		Args: exactArgs("NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			if ctx == nil {
				ctx = context.Background()
			}
			c := g.client()
			since := f.since
			var info stream.Info
			if since == "" || f.preview {
				if err := c.getJSON(ctx, "/v1/streams/"+url.PathEscape(args[0]), &info); err != nil {
					return err
				}
				f.fields = info.Preview
			}
			if since == "" {
				// Pin the start to a sequence now, so a reconnect before the
				// first event still resumes where the command began.
				switch {
				case f.follow:
					since = strconv.FormatUint(info.LastSeq+1, 10)
				case f.n > 0:
					since = strconv.FormatUint(max(info.FirstSeq, info.LastSeq+1-min(uint64(f.n), info.LastSeq)), 10)
				default:
					since = "earliest"
				}
			}
			out := bufio.NewWriter(g.out)
			defer out.Flush()
			if f.follow {
				return follow(ctx, c, args[0], since, f, out, g.errOut)
			}
			return pages(ctx, c, args[0], since, f, out)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.since, "since", "", "start position (inclusive)")
	fl.StringVar(&f.until, "until", "", "end position (exclusive)")
	fl.IntVarP(&f.n, "n", "n", 0, "print at most this many events (without --since: the last N)")
	fl.BoolVarP(&f.follow, "follow", "f", false, "keep printing new events as they arrive")
	fl.BoolVar(&f.preview, "preview", false, "print each event's preview fields (title=… · wiki=…; the stream's preview, or the default from its schema) instead of its JSON")
	return cmd
}

// pages reads NDJSON pages until the range ends.
func pages(ctx context.Context, c *client, name, since string, f *tailFlags, out *bufio.Writer) error {
	printed := 0
	for {
		q := url.Values{"since": {since}, "limit": {"1000"}}
		if f.until != "" {
			q.Set("until", f.until)
		}
		if f.n > 0 {
			q.Set("limit", strconv.Itoa(min(1000, f.n-printed)))
		}
		if c.err != nil {
			return c.err
		}
		req, err := http.NewRequestWithContext(ctx, "GET", c.base+"/v1/streams/"+url.PathEscape(name)+"/events?"+q.Encode(), nil)
		if err != nil {
			return err
		}
		resp, err := c.http.Do(req)
		if err != nil {
			return unreachable(c, err)
		}
		if resp.StatusCode != http.StatusOK {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			return decodeProblem(resp.StatusCode, body)
		}
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(nil, 64<<20)
		n := 0
		for sc.Scan() {
			f.line(out, sc.Bytes())
			n++
		}
		err = sc.Err()
		resp.Body.Close()
		if err != nil {
			return err
		}
		printed += n
		next := resp.Header.Get("Sluice-Next")
		if n == 0 || next == since || (f.n > 0 && printed >= f.n) {
			return nil
		}
		since = next
	}
}

// follow subscribes over SSE and reconnects with Last-Event-ID.
func follow(ctx context.Context, c *client, name, since string, f *tailFlags, out *bufio.Writer, errOut io.Writer) error {
	lastID := ""
	printed := 0
	connected := false
	backoff := 500 * time.Millisecond
	for {
		q := url.Values{}
		if since != "" {
			q.Set("since", since)
		}
		if f.until != "" {
			q.Set("until", f.until)
		}
		if c.err != nil {
			return c.err
		}
		req, err := http.NewRequestWithContext(ctx, "GET", c.base+"/v1/streams/"+url.PathEscape(name)+"/events?"+q.Encode(), nil)
		if err != nil {
			return err
		}
		req.Header.Set("Accept", "text/event-stream")
		if lastID != "" {
			req.Header.Set("Last-Event-ID", lastID)
		}
		resp, err := c.http.Do(req)
		if err != nil && lastID == "" && printed == 0 && !connected {
			return unreachable(c, err) // never connected: fail instead of retrying silently
		}
		if err == nil && resp.StatusCode != http.StatusOK {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			return decodeProblem(resp.StatusCode, body)
		}
		if err == nil {
			connected = true
			backoff = 500 * time.Millisecond
			r := sse.NewReader(resp.Body, 64<<20)
			for {
				e, rerr := r.Next()
				if rerr != nil {
					err = rerr
					break
				}
				if e.Type == "error" || e.Type == "dropped" { // dropped: too far behind; resume from lastID
					err = fmt.Errorf("server: %s", e.Data)
					break
				}
				if e.Type != "message" {
					continue
				}
				f.line(out, e.Data)
				out.Flush()
				lastID = e.ID
				printed++
				if f.n > 0 && printed >= f.n {
					resp.Body.Close()
					return nil
				}
			}
			resp.Body.Close()
			if errors.Is(err, io.EOF) && f.until != "" {
				return nil // the range ended
			}
		}
		if ctx.Err() != nil {
			return nil
		}
		fmt.Fprintf(errOut, "sluice: subscription interrupted (%v); reconnecting in %s\n", err, backoff)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 30*time.Second)
	}
}
