package node

import (
	"context"
	"fmt"
	"net"
	"os"
	"strings"
	"time"

	"github.com/sluice-dev/sluice/internal/config"
	"github.com/sluice-dev/sluice/internal/lease"
)

// joinCluster registers the node among the nodes sharing its engine
// (package lease): each source, pipeline and files output then runs on
// one of them. Tables in SQLite are each node's own file, so a node with
// SQLite does not join another node, nor one with SQLite it.
func joinCluster(ctx context.Context, n *Node, cfg *config.Config, listen net.Addr) (*lease.Cluster, error) {
	tables := "sqlite"
	if cfg.TableStore != "" {
		tables = "postgres"
	}
	c, err := lease.Open(ctx, n.Engine, lease.Options{Node: cfg.NodeName(), Addr: advertise(cfg, listen),
		TTL: time.Duration(cfg.Cluster.LeaseTTL), Tables: tables, Log: n.log})
	if err != nil {
		return nil, fmt.Errorf("cluster: %w", err)
	}
	for _, m := range c.Members() {
		if m.Name == c.Node() {
			continue
		}
		if tables == "sqlite" || m.Tables == "sqlite" {
			c.Close()
			return nil, fmt.Errorf("cluster: node %s (%s, tables in %s) shares this engine, and with more than one node "+
				"tables must be in PostgreSQL (each node's SQLite file would hold different rows): set table_store: postgres://... "+
				"on every node, or give this node an engine of its own", m.Name, m.Addr, m.Tables)
		}
	}
	return c, nil
}

// advertise is the address other nodes reach this node's API at.
func advertise(cfg *config.Config, listen net.Addr) string {
	if cfg.Cluster.Advertise != "" {
		return cfg.Cluster.Advertise
	}
	host, port, err := net.SplitHostPort(listen.String())
	if err != nil {
		return listen.String()
	}
	if ip := net.ParseIP(strings.Trim(host, "[]")); ip == nil || ip.IsUnspecified() {
		host = ownIP()
	}
	return net.JoinHostPort(host, port)
}

// ownIP is the machine's first address that is not loopback (a pod's IP):
// other nodes reach it, and the API answers an IP address whatever
// http.hosts says (a host name would need to be listed there). Without
// one, the host name.
func ownIP() string {
	if addrs, err := net.InterfaceAddrs(); err == nil {
		for _, a := range addrs {
			if n, ok := a.(*net.IPNet); ok && n.IP.IsGlobalUnicast() && n.IP.To4() != nil {
				return n.IP.String()
			}
		}
	}
	if h, err := os.Hostname(); err == nil && h != "" {
		return h
	}
	return "127.0.0.1"
}
