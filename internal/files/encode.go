package files

import (
	"bufio"
	"fmt"
	"io"

	"github.com/klauspost/compress/gzip"

	"github.com/sluice-dev/sluice/internal/event"
)

// encoder writes events to an object in one format. finish completes the
// format (a gzip trailer, a Parquet footer) without closing the object.
type encoder interface {
	add(e event.Event) error
	finish() error
}

const writeBuffer = 256 << 10

// newEncoder makes the encoder of a format; cols is needed for Parquet.
func newEncoder(format string, w io.Writer, cols *columns) (encoder, error) {
	switch format {
	case NDJSON:
		return &ndjson{w: bufio.NewWriterSize(w, writeBuffer)}, nil
	case NDJSONGzip:
		bw := bufio.NewWriterSize(w, writeBuffer)
		gz := gzip.NewWriter(bw)
		return &ndjsonGzip{ndjson: ndjson{w: bufio.NewWriterSize(gz, writeBuffer)}, gz: gz, bw: bw}, nil
	case Parquet:
		return newParquet(w, cols), nil
	}
	return nil, fmt.Errorf("format %q: want ndjson, ndjson.gz or parquet", format)
}

// ndjson writes each event's JSON on one line, as stored.
type ndjson struct{ w *bufio.Writer }

func (n *ndjson) add(e event.Event) error {
	if _, err := n.w.Write(e.Data); err != nil {
		return err
	}
	return n.w.WriteByte('\n')
}

func (n *ndjson) finish() error { return n.w.Flush() }

// ndjsonGzip is ndjson through gzip: events -> buffer -> gzip -> buffer -> object.
type ndjsonGzip struct {
	ndjson
	gz *gzip.Writer
	bw *bufio.Writer
}

func (g *ndjsonGzip) finish() error {
	if err := g.ndjson.finish(); err != nil {
		return err
	}
	if err := g.gz.Close(); err != nil {
		return err
	}
	return g.bw.Flush()
}
