//go:build unix

package process

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"sync"
	"syscall"

	"golang.org/x/time/rate"
)

// Bounds of what sluice keeps of a process's output.
const (
	tailBytes = 8 << 10 // the end of stderr that goes into dead letters
	lineBytes = 8 << 10 // a longer line is cut in the log
	// A process that prints faster than this does not flood the node's
	// log: the lines over it are counted, not logged (the tail keeps them).
	logRate  = 200 // lines per second, per stream
	logBurst = 2000
)

// output reads one of a process's streams (stdout or stderr) from a pipe:
// each line to the log, and the last tailBytes kept. Reads happen under
// mu, in the reading goroutine and in snapshot, so that snapshot can take
// everything the process wrote up to now: a process that wrote its
// traceback to stderr and then posted its error over the Runtime API has
// its traceback in the snapshot taken when the error arrives.
type output struct {
	r    *os.File // the read end
	raw  syscall.RawConn
	log  func(line string)
	done chan struct{} // closed at the end of the stream

	logMu   sync.Mutex // held while logging, so lines keep their order
	limit   *rate.Limiter
	dropped int // lines not logged since the last one logged

	mu      sync.Mutex
	tail    []byte
	line    []byte // the current line, up to lineBytes
	cutLine bool   // the current line went past lineBytes
	lines   []string
}

// newOutput makes a pipe; w goes to the process, and is closed by the
// caller once the process started.
func newOutput(log func(string)) (o *output, w *os.File, err error) {
	r, w, err := os.Pipe()
	if err != nil {
		return nil, nil, err
	}
	raw, err := r.SyscallConn()
	if err != nil {
		r.Close()
		w.Close()
		return nil, nil, err
	}
	return &output{r: r, raw: raw, log: log, done: make(chan struct{}), limit: rate.NewLimiter(logRate, logBurst)}, w, nil
}

// run reads until the stream ends (every copy of the write end closed) or
// close.
func (o *output) run() {
	defer close(o.done)
	buf := make([]byte, 32<<10)
	for {
		var n int
		var rerr error
		err := o.raw.Read(func(fd uintptr) bool {
			o.mu.Lock()
			defer o.mu.Unlock()
			n, rerr = syscall.Read(int(fd), buf)
			if errors.Is(rerr, syscall.EAGAIN) {
				return false // wait until readable
			}
			if n > 0 {
				o.consume(buf[:n])
			}
			return true
		})
		o.flushLog()
		if err != nil || rerr != nil || n <= 0 {
			o.mu.Lock()
			if len(o.line) > 0 {
				o.endLine()
			}
			o.mu.Unlock()
			o.flushLog()
			return
		}
	}
}

// snapshot reads what is in the pipe now and returns the tail.
func (o *output) snapshot() string {
	buf := make([]byte, 32<<10)
	_ = o.raw.Control(func(fd uintptr) {
		o.mu.Lock()
		defer o.mu.Unlock()
		for {
			n, err := syscall.Read(int(fd), buf)
			if n <= 0 || err != nil {
				return
			}
			o.consume(buf[:n])
		}
	})
	o.flushLog()
	return o.tailText()
}

// close ends the reading (a process's child may keep the write end open).
func (o *output) close() {
	_ = o.r.Close()
	<-o.done
}

func (o *output) consume(p []byte) {
	o.tail = append(o.tail, p...)
	if len(o.tail) > 2*tailBytes {
		o.tail = append(o.tail[:0], o.tail[len(o.tail)-tailBytes:]...)
	}
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		chunk := p
		if i >= 0 {
			chunk = p[:i]
		}
		if room := lineBytes - len(o.line); len(chunk) > room {
			o.line = append(o.line, chunk[:room]...)
			o.cutLine = true
		} else {
			o.line = append(o.line, chunk...)
		}
		if i < 0 {
			return
		}
		o.endLine()
		p = p[i+1:]
	}
}

func (o *output) endLine() {
	l := string(bytes.TrimRight(o.line, "\r"))
	if o.cutLine {
		l += " …(line cut at 8 KiB)"
	}
	o.lines = append(o.lines, l)
	o.line, o.cutLine = o.line[:0], false
}

// flushLog logs the complete lines read, outside mu.
func (o *output) flushLog() {
	o.logMu.Lock()
	defer o.logMu.Unlock()
	o.mu.Lock()
	lines := o.lines
	o.lines = nil
	o.mu.Unlock()
	for _, l := range lines {
		if !o.limit.Allow() {
			o.dropped++
			continue
		}
		if o.dropped > 0 {
			o.log(fmt.Sprintf("(%d lines not logged: more than %d a second)", o.dropped, logRate))
			o.dropped = 0
		}
		o.log(l)
	}
}

// tailText is the kept end of the stream, cut to tailBytes.
func (o *output) tailText() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	t := o.tail
	if len(t) > tailBytes {
		t = t[len(t)-tailBytes:]
	}
	return string(t)
}
