package config

import (
	"net"
	"os"
	"time"
)

// Cluster says how the nodes that share one engine share their work.
type Cluster struct {
	// LeaseTTL is how long a node's claim on a piece of work (a source, a
	// pipeline, a files output) lasts without being renewed: another node
	// takes the work over about this long after its node died. Default 10s.
	LeaseTTL Duration `yaml:"lease_ttl,omitempty"`
	// Advertise is the host:port other nodes reach this node's API at
	// (they pass it requests about what it runs). Default: addr, with the
	// machine's first address that is not loopback in place of an
	// unspecified host (0.0.0.0, [::]). A host name must be listed in
	// http.hosts too.
	Advertise string `yaml:"advertise,omitempty"`
}

// DefaultLeaseTTL is the lease of a piece of work when cluster.lease_ttl is unset.
const DefaultLeaseTTL = 10 * time.Second

func (c *Cluster) defaults() {
	if c.LeaseTTL == 0 {
		c.LeaseTTL = Duration(DefaultLeaseTTL)
	}
}

func (c Cluster) validate(add func(path, format string, args ...any)) {
	if d := time.Duration(c.LeaseTTL); d < time.Second || d > 10*time.Minute {
		add("cluster.lease_ttl", "want 1s to 10m, got %s", d)
	}
	if c.Advertise != "" {
		if h, p, err := net.SplitHostPort(c.Advertise); err != nil || h == "" || p == "" || p == "0" {
			add("cluster.advertise", "want host:port with a host and a port, got %q", c.Advertise)
		}
	}
}

// NodeName is the node's name: node in the file (or --node), else the
// host name.
func (c *Config) NodeName() string {
	if c.Node != "" {
		return c.Node
	}
	if h, err := os.Hostname(); err == nil && h != "" {
		return h
	}
	return "sluice"
}

// KVReplicas is the replicas of sluice's own buckets and of streams that
// set none: nats_replicas (or its older spelling nats.replicas), default 1.
func (c *Config) KVReplicas() int {
	return max(c.NATSReplicas, c.NATS.Replicas, 1)
}
