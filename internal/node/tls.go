package node

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/sluice-dev/sluice/internal/config"
	"github.com/sluice-dev/sluice/internal/httpapi"
)

// certCheck is how often, at most, a handshake looks whether the
// certificate's files changed on disk: a renewed certificate (cert-manager,
// certbot) is served within seconds, without a restart. A variable for
// the tests.
var certCheck = 5 * time.Second

// useTLS makes the server serve HTTPS when http.tls is set, and returns
// how this node reaches the others: over https, trusting the system's
// roots, http.tls.ca and the certificates of http.tls.cert (the nodes of
// one deployment share a certificate or its issuer).
func (n *Node) useTLS(cfg *config.Config) (httpapi.Peers, error) {
	files := cfg.TLS()
	if !files.Enabled() {
		return httpapi.Peers{}, nil
	}
	c := &certs{files: files, log: n.log, every: certCheck}
	if err := c.load(c.stat()); err != nil {
		return httpapi.Peers{}, err
	}
	c.checked = time.Now()
	n.srv.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: c.get}
	dialer := &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	// A dial of its own, so that each connection trusts the roots of the
	// files as they are now.
	tr.DialTLSContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		host, _, err := net.SplitHostPort(addr)
		if err != nil {
			return nil, err
		}
		d := tls.Dialer{NetDialer: dialer, Config: &tls.Config{MinVersion: tls.VersionTLS12, ServerName: host, RootCAs: c.current().roots}}
		return d.DialContext(ctx, network, addr)
	}
	n.srv.RegisterOnShutdown(tr.CloseIdleConnections)
	return httpapi.Peers{Scheme: "https", Transport: tr}, nil
}

// serve serves HTTP on the node's listener, HTTPS with http.tls.
func (n *Node) serve() error {
	if n.https() {
		return n.srv.ServeTLS(n.ln, "", "") // the certificate comes from GetCertificate
	}
	return n.srv.Serve(n.ln)
}

// URL is the node's base URL: http:// or https:// and Addr.
func (n *Node) URL() string {
	if n.https() {
		return "https://" + n.Addr()
	}
	return "http://" + n.Addr()
}

// https reports whether the node serves TLS. Not from srv.TLSConfig:
// Serve sets it (for HTTP/2) even without TLS, while others read.
func (n *Node) https() bool { return n.peers.Scheme == "https" }

// certs is the node's certificate, read again when its files change.
type certs struct {
	files config.TLS // absolute paths
	log   *slog.Logger
	every time.Duration // certCheck

	mu      sync.Mutex
	cur     *loaded
	checked time.Time  // the last look at the files
	tried   [3]fileMod // what the last load read, good or bad: a bad pair is logged once
}

// loaded is one good read of the files.
type loaded struct {
	cert  *tls.Certificate
	roots *x509.CertPool // for the other nodes
}

// fileMod tells a file's versions apart.
type fileMod struct {
	mod  time.Time
	size int64
}

func (c *certs) get(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	return c.current().cert, nil
}

// current is the certificate to use, read again if its files changed
// since the last look (at most every certCheck). A new pair that does not
// load is logged and the one before kept: a half-written renewal (the
// cert updated, not yet the key) must not take the node off the air.
func (c *certs) current() *loaded {
	c.mu.Lock()
	defer c.mu.Unlock()
	if time.Since(c.checked) < c.every {
		return c.cur
	}
	c.checked = time.Now()
	if m := c.stat(); m != c.tried {
		if err := c.load(m); err != nil {
			c.log.Error("http.tls: the changed certificate files do not load; serving the previous certificate", "err", err)
		} else {
			c.log.Info("http.tls: certificate reloaded", "cert", c.files.Cert, "not_after", c.cur.cert.Leaf.NotAfter)
		}
	}
	return c.cur
}

func (c *certs) stat() [3]fileMod {
	var m [3]fileMod
	for i, p := range []string{c.files.Cert, c.files.Key, c.files.CA} {
		if fi, err := os.Stat(p); p != "" && err == nil {
			m[i] = fileMod{fi.ModTime(), fi.Size()}
		}
	}
	return m
}

// load reads the files (as of m) and makes them current.
func (c *certs) load(m [3]fileMod) error {
	c.tried = m
	cert, err := tls.LoadX509KeyPair(c.files.Cert, c.files.Key)
	if err != nil {
		return fmt.Errorf("http.tls: %s and %s: %w", c.files.Cert, c.files.Key, err)
	}
	roots, err := x509.SystemCertPool()
	if err != nil {
		roots = x509.NewCertPool()
	}
	for _, der := range cert.Certificate {
		if x, err := x509.ParseCertificate(der); err == nil {
			roots.AddCert(x)
		}
	}
	if c.files.CA != "" {
		ca, err := config.LoadRoots(c.files.CA)
		if err != nil {
			return fmt.Errorf("http.tls.ca: %w", err)
		}
		for _, x := range ca {
			roots.AddCert(x)
		}
	}
	c.cur = &loaded{cert: &cert, roots: roots}
	return nil
}
