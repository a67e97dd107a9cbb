package deploy

import (
	"path"
	"strconv"
	"strings"
	"testing"
	"time"
)

// unit is a systemd unit file: each section's directives, in order
// (a directive may repeat: an empty ExecStart= resets the list).
type unit map[string][][2]string

// parseUnit reads a unit file: [Section] lines, Key=Value lines joined
// across a trailing backslash, comments starting with # or ;.
func parseUnit(t *testing.T, where, text string) unit {
	t.Helper()
	u := unit{}
	section := ""
	var pending string
	for n, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if pending != "" {
			line, pending = pending+" "+line, ""
		}
		if strings.HasSuffix(line, `\`) {
			pending = strings.TrimSuffix(line, `\`)
			continue
		}
		switch {
		case line == "" || line[0] == '#' || line[0] == ';':
		case line[0] == '[' && line[len(line)-1] == ']':
			section = line[1 : len(line)-1]
			if _, ok := u[section]; !ok {
				u[section] = nil
			}
		default:
			key, value, ok := strings.Cut(line, "=")
			if !ok || section == "" {
				t.Fatalf("%s:%d: want [Section] or Key=Value, got %q", where, n+1, line)
			}
			u[section] = append(u[section], [2]string{strings.TrimSpace(key), strings.TrimSpace(value)})
		}
	}
	return u
}

// get is the last value of the directive in section, as systemd takes it.
func (u unit) get(section, key string) string {
	v := ""
	for _, d := range u[section] {
		if d[0] == key {
			v = d[1]
		}
	}
	return v
}

func TestSystemd(t *testing.T) {
	const where = "systemd/sluice.service"
	u := parseUnit(t, where, read(t, where))
	for _, s := range []string{"Unit", "Service", "Install"} {
		if _, ok := u[s]; !ok {
			t.Errorf("%s: no [%s] section", where, s)
		}
	}

	exec := strings.Fields(u.get("Service", "ExecStart"))
	if len(exec) < 2 || !path.IsAbs(exec[0]) || exec[1] != "serve" {
		t.Fatalf("%s: ExecStart %q, want /path/to/sluice serve ...", where, exec)
	}
	flags := serve(t, where, exec[2:])
	// The example config of this folder is installed as /etc/sluice/NAME.
	file := flags["config"]
	if path.Dir(file) != "/etc/sluice" {
		t.Fatalf("%s: --config %q, want /etc/sluice/sluice.yaml", where, file)
	}
	cfg := parseConfig(t, "systemd/"+path.Base(file), read(t, "systemd/"+path.Base(file)))
	if cfg.NATS.URL != "" || flags["nats"] != "" {
		t.Errorf("%s: the single node runs the embedded engine, not %q", where, firstSet(flags["nats"], cfg.NATS.URL))
	}
	state := u.get("Service", "StateDirectory")
	if data := firstSet(flags["data"], cfg.Data); state == "" || data != "/var/lib/"+state {
		t.Errorf("%s: --data %q, want the unit's StateDirectory /var/lib/%s: only it is writable", where, data, state)
	}

	want := map[string]string{
		"Restart":         "on-failure",
		"ProtectSystem":   "strict",
		"NoNewPrivileges": "yes",
		"PrivateTmp":      "yes",
	}
	for key, value := range want {
		if got := u.get("Service", key); got != value {
			t.Errorf("%s: %s=%s, want %s", where, key, got, value)
		}
	}
	if u.get("Service", "DynamicUser") != "yes" && u.get("Service", "User") == "" {
		t.Errorf("%s: runs as root: want DynamicUser=yes or User=", where)
	}
	if n, err := strconv.Atoi(u.get("Service", "LimitNOFILE")); err != nil || n < 65536 {
		t.Errorf("%s: LimitNOFILE=%s, want at least 65536: JetStream's stores need more than the usual 1,024", where, u.get("Service", "LimitNOFILE"))
	}
	if s := u.get("Service", "KillSignal"); s != "" && s != "SIGTERM" {
		t.Errorf("%s: KillSignal=%s: sluice stops cleanly on SIGTERM", where, s)
	}
	if d, err := time.ParseDuration(u.get("Service", "TimeoutStopSec")); err != nil || d <= shutdownTimeout {
		t.Errorf("%s: TimeoutStopSec=%s, want more than serve's %v to stop", where, u.get("Service", "TimeoutStopSec"), shutdownTimeout)
	}
	if u.get("Install", "WantedBy") == "" {
		t.Errorf("%s: no WantedBy: systemctl enable would do nothing", where)
	}
}
