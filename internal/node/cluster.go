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
		if h, err := os.Hostname(); err == nil && h != "" {
			host = h
		}
	}
	return net.JoinHostPort(host, port)
}
