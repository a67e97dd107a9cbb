package natstest

import (
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
)

// host is the only address the servers bind or dial.
const host = "127.0.0.1"

// reservation holds free loopback ports until the servers take them.
//
// The ports come from below the kernel's ephemeral range when there is
// room there: a port handed out by the kernel for "port 0" could be taken
// again by any outgoing connection of the machine while a server is
// stopped, and a restart must bind the same port. Each port is held by a
// listener until just before its server starts, so two clusters started
// at once (tests of several packages run in parallel) cannot pick the same.
type reservation struct {
	ls []net.Listener
}

// reserve finds n free loopback ports.
func reserve(n int) (*reservation, error) {
	r := &reservation{}
	lo, hi := portRange()
	for tries := 0; len(r.ls) < n; tries++ {
		if tries > 50*n {
			r.release()
			return nil, fmt.Errorf("no %d free ports on %s in %d-%d after %d tries", n, host, lo, hi, tries)
		}
		port := 0
		if hi > lo {
			port = lo + rand.IntN(hi-lo)
		}
		l, err := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(port)))
		if err != nil {
			continue
		}
		r.ls = append(r.ls, l)
	}
	return r, nil
}

// port is the i-th port reserved.
func (r *reservation) port(i int) int { return r.ls[i].Addr().(*net.TCPAddr).Port }

// release lets the servers bind the ports; nothing else is listening on
// them now, and nothing picks them by chance in the moment before a
// server does.
func (r *reservation) release() {
	for _, l := range r.ls {
		_ = l.Close()
	}
}

// portRange is where ports are picked: [lo, hi), below the ephemeral range
// (Linux: /proc/sys/net/ipv4/ip_local_port_range); lo == hi means "let the
// kernel choose" when there is no room below it.
func portRange() (lo, hi int) {
	ephemeral := 32768 // Linux's default start
	if b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range"); err == nil {
		if f := strings.Fields(string(b)); len(f) == 2 {
			if n, err := strconv.Atoi(f[0]); err == nil {
				ephemeral = n
			}
		}
	}
	if ephemeral-1024 < 4096 {
		return 0, 0
	}
	return max(ephemeral-16384, 1024), ephemeral
}
