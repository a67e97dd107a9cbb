package httpapi

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/sluice-dev/sluice/internal/stream"
)

// subscribe streams events as Server-Sent Events: "id: <seq>", "event:
// message", "data: <event JSON>". A comment line keeps idle connections
// open; the stream ends when the client leaves, at until, or after limit.
func (a *API) subscribe(w http.ResponseWriter, r *http.Request, cur *stream.Cursor, p readParams) error {
	rc := http.NewResponseController(w)
	_ = rc.SetWriteDeadline(time.Time{}) // a subscription outlives the server's write timeout
	h := w.Header()
	h.Set("Content-Type", "text/event-stream; charset=utf-8")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	bw := bufio.NewWriterSize(w, 32<<10)
	flush := func() error {
		if err := bw.Flush(); err != nil {
			return err
		}
		return rc.Flush()
	}
	if _, err := bw.WriteString(":ok\n\n"); err != nil {
		return nil
	}
	if err := flush(); err != nil {
		return nil
	}
	for sent := 0; p.limit == 0 || sent < p.limit; sent++ {
		ctx, cancel := context.WithTimeout(r.Context(), a.opts.KeepAlive)
		e, err := cur.Next(ctx)
		cancel()
		switch {
		case errors.Is(err, io.EOF):
			return flush()
		case r.Context().Err() != nil:
			return nil // the client left
		case errors.Is(err, context.DeadlineExceeded):
			sent--
			if _, err := bw.WriteString(": keep-alive\n\n"); err != nil {
				return nil
			}
			if err := flush(); err != nil {
				return nil
			}
			continue
		case err != nil:
			// The status line is sent: report in the stream and end it.
			fmt.Fprintf(bw, "event: error\ndata: {\"detail\":%q}\n\n", err.Error())
			_ = flush()
			a.log.Warn("subscription ended by an error", "path", r.URL.Path, "err", err)
			return nil
		}
		if !p.matches(e) {
			sent--
			continue
		}
		fmt.Fprintf(bw, "id: %d\nevent: message\ndata: ", e.Seq)
		bw.Write(encode(e, p.envelope))
		bw.WriteString("\n\n")
		if err := flush(); err != nil {
			return nil
		}
	}
	return flush()
}
