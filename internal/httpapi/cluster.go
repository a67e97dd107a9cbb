package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httputil"
	"net/url"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/sluice-dev/sluice/internal/lease"
)

// forwardedBy marks a request one node passed to the node that runs what
// it is about; such a request is never passed on again.
const forwardedBy = "X-Sluice-Forwarded-By"

// forwardTimeout bounds a list's wait for the other nodes.
const forwardTimeout = 3 * time.Second

// clusterView is GET /v1/cluster.
type clusterView struct {
	Node  string        `json:"node"` // the node that answered
	TTL   string        `json:"lease_ttl"`
	Nodes []clusterNode `json:"nodes"`
	// Waiting are the units no node runs at the moment (between nodes, or
	// that no node can run).
	Waiting clusterRuns `json:"waiting"`
}

type clusterNode struct {
	lease.Member
	Runs clusterRuns `json:"runs"`
}

type clusterRuns struct {
	Sources   []string `json:"sources"`
	Pipelines []string `json:"pipelines"`
	Files     []string `json:"files"`
}

func (r *clusterRuns) add(unit string) {
	kind, name, _ := strings.Cut(unit, ".")
	switch kind {
	case "sources":
		r.Sources = append(r.Sources, name)
	case "pipelines":
		r.Pipelines = append(r.Pipelines, name)
	case "files":
		r.Files = append(r.Files, name)
	}
}

func (r *clusterRuns) sort() {
	for _, l := range []*[]string{&r.Sources, &r.Pipelines, &r.Files} {
		if *l == nil {
			*l = []string{}
		}
		sort.Strings(*l)
	}
}

func (a *API) getCluster(w http.ResponseWriter, r *http.Request) error {
	c := a.opts.Cluster
	if c == nil {
		return problem(http.StatusNotFound, "Not found", "this node shares no work with others")
	}
	v := clusterView{Node: c.Node(), TTL: c.TTL().String()}
	byNode := map[string]*clusterNode{}
	for _, m := range c.Members() {
		v.Nodes = append(v.Nodes, clusterNode{Member: m})
	}
	for i := range v.Nodes {
		byNode[v.Nodes[i].Name] = &v.Nodes[i]
	}
	for unit, cl := range c.Claims() {
		if n, ok := byNode[cl.Node]; ok {
			n.Runs.add(unit)
		}
	}
	for _, unit := range a.definedUnits(r.Context()) {
		if _, ok := c.Holder(unit); !ok {
			v.Waiting.add(unit)
		}
	}
	for i := range v.Nodes {
		v.Nodes[i].Runs.sort()
	}
	if v.Nodes == nil {
		v.Nodes = []clusterNode{}
	}
	v.Waiting.sort()
	return writeJSON(w, http.StatusOK, v)
}

// definedUnits are the units this node knows of: its sources, pipelines
// and files outputs, running here or not.
func (a *API) definedUnits(context.Context) []string {
	var out []string
	if a.opts.Sources != nil {
		for _, s := range a.opts.Sources.List() {
			out = append(out, "sources."+s.Name)
		}
	}
	if a.opts.Pipelines != nil {
		for _, s := range a.opts.Pipelines.List() {
			out = append(out, "pipelines."+s.Name)
		}
	}
	if a.opts.Files != nil {
		for _, n := range a.opts.Files.Units() {
			out = append(out, "files."+n)
		}
	}
	return out
}

// Peers is how a node reaches the others at the addresses they advertise.
type Peers struct {
	// Scheme is "https" when the nodes serve TLS (http.tls); "" is "http".
	// The nodes of one deployment serve the same scheme.
	Scheme string
	// Transport carries the requests (nil: http.DefaultTransport); with
	// https, it trusts the other nodes' certificates.
	Transport http.RoundTripper
}

func (p Peers) url(addr string) *url.URL {
	scheme := p.Scheme
	if scheme == "" {
		scheme = "http"
	}
	return &url.URL{Scheme: scheme, Host: addr}
}

func (p Peers) transport() http.RoundTripper {
	if p.Transport == nil {
		return http.DefaultTransport
	}
	return p.Transport
}

// forward passes r to the node that runs unit, if that is another node,
// and reports whether it did. A request forwarded to this node is served
// here whatever the claims say (no loops).
func (a *API) forward(w http.ResponseWriter, r *http.Request, unit string) bool {
	c := a.opts.Cluster
	if c == nil || r.Header.Get(forwardedBy) != "" {
		return false
	}
	h, ok := c.Holder(unit)
	if !ok || h.Node == c.Node() || h.Addr == "" {
		return false
	}
	target := a.opts.Peers.url(h.Addr)
	proxy := &httputil.ReverseProxy{
		Transport: a.opts.Peers.transport(),
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			pr.Out.Header.Set(forwardedBy, c.Node())
		},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			p := problem(http.StatusBadGateway, "Node not answering",
				fmt.Sprintf("%s runs on node %s (%s), which did not answer: %v; if it died, another node takes over within %s",
					unit, h.Node, h.Addr, err, c.TTL()))
			p.header = http.Header{"Retry-After": {"5"}}
			writeProblem(w, r, a.log, p)
		},
	}
	proxy.ServeHTTP(w, r)
	return true
}

// fromOwners replaces the entries of a list that run on other nodes
// (standby here) by what those nodes say of them, asking each node once
// (GET path, forwarded). An entry whose node does not answer stays as it
// is here.
func fromOwners[T any](a *API, r *http.Request, path, field string, list []T, owner func(T) (name, node string)) {
	c := a.opts.Cluster
	if c == nil || r.Header.Get(forwardedBy) != "" {
		return
	}
	addrs := map[string]string{}
	for _, m := range c.Members() {
		addrs[m.Name] = m.Addr
	}
	want := map[string]bool{}
	for _, e := range list {
		if _, node := owner(e); node != "" && node != c.Node() && addrs[node] != "" {
			want[node] = true
		}
	}
	var mu sync.Mutex
	got := map[string]T{} // name -> the owner's entry
	var wg sync.WaitGroup
	for node := range want {
		wg.Go(func() {
			entries, err := a.askNode(r, addrs[node], path, field)
			if err != nil {
				a.log.Warn("cluster: a node did not answer for what it runs", "node", node, "err", err)
				return
			}
			for _, raw := range entries {
				var e T
				if json.Unmarshal(raw, &e) != nil {
					continue
				}
				if name, n := owner(e); n == node {
					mu.Lock()
					got[name] = e
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	for i, e := range list {
		if name, _ := owner(e); name != "" {
			if o, ok := got[name]; ok {
				list[i] = o
			}
		}
	}
}

// askNode GETs path on another node, with the credentials of the request
// in, and returns the list under field.
func (a *API) askNode(in *http.Request, addr, path, field string) ([]json.RawMessage, error) {
	ctx, cancel := context.WithTimeout(in.Context(), forwardTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, a.opts.Peers.url(addr).String()+path, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set(forwardedBy, a.opts.Cluster.Node())
	for _, h := range []string{"Authorization", "Cookie"} { // the other node shows what the caller may see
		if v := in.Header.Get(h); v != "" {
			req.Header.Set(h, v)
		}
	}
	resp, err := (&http.Client{Transport: a.opts.Peers.transport()}).Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", path, resp.Status)
	}
	var body map[string][]json.RawMessage
	if err := json.NewDecoder(io.LimitReader(resp.Body, 64<<20)).Decode(&body); err != nil {
		return nil, fmt.Errorf("GET %s: %w", path, err)
	}
	return body[field], nil
}

// elsewhereProblem is the answer for a request only the node running a
// unit can serve, when it could not be passed to it.
func elsewhereProblem(err error) (*Problem, bool) {
	var e *lease.ElsewhereError
	if !errors.As(err, &e) {
		return nil, false
	}
	p := problem(http.StatusServiceUnavailable, "Runs on another node", e.Error())
	p.Ext = map[string]any{"unit": e.Unit}
	if e.Node != "" {
		p.Ext["node"], p.Ext["node_addr"] = e.Node, e.Addr
	}
	p.header = http.Header{"Retry-After": {"5"}}
	return p, true
}
