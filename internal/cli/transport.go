package cli

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/http"

	"github.com/sluice-dev/sluice/internal/config"
)

// transport carries every request the CLI makes to a sluice server: the
// one place to change how it connects (roots, headers to add). Without
// --ca it is http.DefaultTransport (https with the system's roots); with
// it, the system's roots and the file's. Built once per command.
func (g *globals) transport() http.RoundTripper {
	if g.rt != nil {
		return g.rt
	}
	g.rt = http.DefaultTransport
	if g.ca != "" {
		roots, err := caRoots(g.ca)
		if err != nil {
			g.rt = failing{fmt.Errorf("--ca %s (env SLUICE_CA): %w", g.ca, err)}
			return g.rt
		}
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.TLSClientConfig = &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}
		g.rt = tr
	}
	return g.rt
}

// closeIdle closes the connections the command kept open.
func (g *globals) closeIdle() {
	if tr, ok := g.rt.(*http.Transport); ok && tr != http.DefaultTransport {
		tr.CloseIdleConnections()
	}
}

func caRoots(path string) (*x509.CertPool, error) {
	certs, err := config.LoadRoots(path)
	if err != nil {
		return nil, err
	}
	roots, err := x509.SystemCertPool()
	if err != nil {
		roots = x509.NewCertPool()
	}
	for _, c := range certs {
		roots.AddCert(c)
	}
	return roots, nil
}

// failing answers every request with the error of building the transport,
// so that a bad --ca is reported by the command that needs it (sluice
// serve does not).
type failing struct{ err error }

func (f failing) RoundTrip(*http.Request) (*http.Response, error) { return nil, f.err }
