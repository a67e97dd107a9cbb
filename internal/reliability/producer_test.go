//go:build reliability

package reliability

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"sort"
	"strings"
	"sync"
	"time"
)

// unacknowledgedAfter is how long the producer tries a batch before it
// gives up on it.
const unacknowledgedAfter = 2 * time.Minute

// produceTimeout is how long the producer waits for an answer before it
// sends the batch again, to the other node.
const produceTimeout = 3 * time.Second

// producer produces batches of events over HTTP at a steady pace, each
// to the next node in turn, and sends a batch again (the same bytes, so
// the same ids) to the next node until one acknowledges all of it (200,
// every event accepted). It remembers what was acknowledged and when.
type producer struct {
	urls   []string
	client *http.Client
	batch  int
	every  time.Duration
	prefix string // of the ids: unique to the run

	mu      sync.Mutex
	acked   map[string]bool // meta.id -> acknowledged
	order   []string        // ids in the order produced
	ackedAt []time.Time     // one per acknowledged batch
	dups    int             // events acknowledged as already stored (a retry of a batch stored before)
	retries map[string]int  // failures by cause
	refused []string        // answers that refused events (the test fails on any)
	gaveUp  []string        // the first id of each batch not acknowledged in time (the test fails on any)

	stop     chan struct{}
	done     chan struct{}
	stopOnce sync.Once
}

func newProducer(urls []string, batch int, every time.Duration) *producer {
	return &producer{urls: urls, batch: batch, every: every, prefix: fmt.Sprintf("ev-%x-", time.Now().UnixNano()),
		client: &http.Client{Timeout: produceTimeout},
		acked:  map[string]bool{}, retries: map[string]int{}, stop: make(chan struct{}), done: make(chan struct{})}
}

// start produces until stop.
func (p *producer) start() {
	go func() {
		defer close(p.done)
		tick := time.NewTicker(p.every)
		defer tick.Stop()
		last := time.Now().UTC().Truncate(time.Microsecond)
		for n, node := 0, 0; ; {
			select {
			case <-p.stop:
				return
			case <-tick.C:
			}
			var body bytes.Buffer
			ids := make([]string, p.batch)
			for i := range ids {
				// event times strictly increase: each is a version of its key of its own
				if last = last.Add(time.Microsecond); last.Before(time.Now()) {
					last = time.Now().UTC().Truncate(time.Microsecond)
				}
				ids[i] = fmt.Sprintf("%s%07d", p.prefix, n)
				fmt.Fprintf(&body, `{"meta":{"id":%q},"event_time":%q,"k":"k%02d","n":%d}`+"\n", ids[i], last.Format(time.RFC3339Nano), n%clKeys, n)
				n++
			}
			p.mu.Lock()
			p.order = append(p.order, ids...)
			p.mu.Unlock()
			for began := time.Now(); ; time.Sleep(50 * time.Millisecond) {
				node = (node + 1) % len(p.urls)
				if p.send(p.urls[node], body.Bytes(), ids) {
					break
				}
				if time.Since(began) > unacknowledgedAfter {
					p.mu.Lock()
					p.gaveUp = append(p.gaveUp, ids[0])
					p.mu.Unlock()
					break
				}
			}
		}
	}()
}

// send posts one batch and reports whether all of it was acknowledged.
func (p *producer) send(url string, body []byte, ids []string) bool {
	req, _ := http.NewRequestWithContext(context.Background(), http.MethodPost, url+"/v1/streams/"+clIn+"/events", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/x-ndjson")
	resp, err := p.client.Do(req)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) || os.IsTimeout(err) {
			p.count("timeouts")
		} else {
			p.count("connection errors")
		}
		return false
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var res struct {
		Accepted   int `json:"accepted"`
		Duplicates int `json:"duplicates"`
	}
	_ = json.Unmarshal(b, &res)
	switch {
	case resp.StatusCode == http.StatusOK && res.Accepted == len(ids):
	case resp.StatusCode == http.StatusMultiStatus || resp.StatusCode == http.StatusBadRequest || resp.StatusCode == http.StatusRequestEntityTooLarge:
		p.mu.Lock()
		p.refused = append(p.refused, fmt.Sprintf("%s: %.300s", resp.Status, b))
		p.mu.Unlock()
		return false
	default:
		p.count(fmt.Sprint("answers ", resp.StatusCode))
		return false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, id := range ids {
		p.acked[id] = true
	}
	p.ackedAt = append(p.ackedAt, time.Now())
	p.dups += res.Duplicates
	return true
}

func (p *producer) count(cause string) {
	p.mu.Lock()
	p.retries[cause]++
	p.mu.Unlock()
}

// finish stops producing once the batch being sent is acknowledged.
func (p *producer) finish() {
	p.stopOnce.Do(func() { close(p.stop) })
	<-p.done
	p.client.CloseIdleConnections()
}

// ackedSince is how many batches were acknowledged since t.
func (p *producer) ackedSince(t time.Time) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	i := sort.Search(len(p.ackedAt), func(i int) bool { return p.ackedAt[i].After(t) })
	return len(p.ackedAt) - i
}

// stall is the longest time without an acknowledgement between from and
// to (counted from from, and up to to if nothing came after the last).
func (p *producer) stall(from, to time.Time) time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	longest, prev := time.Duration(0), from
	for _, at := range p.ackedAt {
		if at.Before(from) {
			continue
		}
		if at.After(to) {
			return max(longest, at.Sub(prev))
		}
		longest, prev = max(longest, at.Sub(prev)), at
	}
	return max(longest, to.Sub(prev))
}

// failures is the failed attempts and their causes, for the log.
func (p *producer) failures() (int, string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []string
	total := 0
	for c, n := range p.retries {
		out = append(out, fmt.Sprintf("%d %s", n, c))
		total += n
	}
	sort.Strings(out)
	return total, strings.Join(out, ", ")
}
