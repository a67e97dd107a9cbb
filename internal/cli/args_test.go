package cli

import (
	"strings"
	"testing"
)

// A command given the wrong arguments names the ones it wants.
func TestArgsAreNamed(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"table", "get", "page_images"}, "sluice table get wants NAME KEY [KEY...] (got 1 argument(s)); see `sluice table get --help`"},
		{[]string{"stream", "schema", "s"}, "sluice stream schema wants NAME FILE (got 1 argument(s))"},
		{[]string{"produce"}, "sluice produce wants NAME [FILE|-] (got 0 argument(s))"},
		{[]string{"produce", "a", "b", "c"}, "sluice produce wants NAME [FILE|-] (got 3 argument(s))"},
		{[]string{"test", "a", "b"}, "sluice test wants [DIR] (got 2 argument(s))"},
		{[]string{"eventstreams-replay"}, "sluice eventstreams-replay wants FILE... (got 0 argument(s))"},
		{[]string{"pipeline", "pause"}, "sluice pipeline pause wants NAME (got 0 argument(s))"},
		// a wrong flag or command points at the help
		{[]string{"stream", "ls", "--nope"}, "unknown flag: --nope; see `sluice stream ls --help`"},
		{[]string{"tail", "s", "-n", "x"}, "see `sluice tail --help`"},
		{[]string{"strem"}, "unknown command \"strem\" for \"sluice\"\n\nDid you mean this?\n\tstream\n\nsee `sluice --help`"},
	} {
		code, _, errOut := run(t, "http://127.0.0.1:1", c.args...)
		if code != 1 || !strings.Contains(errOut, c.want) {
			t.Errorf("%v: exit %d, stderr %q, want %q", c.args, code, errOut, c.want)
		}
	}
}

func TestServerFlag(t *testing.T) {
	for in, want := range map[string]string{
		"127.0.0.1:8080":           "http://127.0.0.1:8080",
		":9000":                    "http://127.0.0.1:9000",
		"localhost:1":              "http://localhost:1",
		"[::1]:8080":               "http://[::1]:8080",
		"http://127.0.0.1:8080/":   "http://127.0.0.1:8080",
		"https://sluice.example":   "https://sluice.example",
		"https://h.example/sluice": "https://h.example/sluice",
	} {
		if got, err := serverURL(in); err != nil || got != want {
			t.Errorf("serverURL(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"", "ftp://h:21", "http://", "127.0.0.1:port", "h:99999", "http://h:1/?q=1", "http://a b"} {
		if got, err := serverURL(in); err == nil || !strings.Contains(err.Error(), "--server") ||
			!strings.Contains(err.Error(), "want http://HOST:PORT, https://HOST:PORT, HOST:PORT or :PORT") {
			t.Errorf("serverURL(%q) = %q, %v; want an error naming the flag and the forms", in, got, err)
		}
	}
	// host:port reaches the node, and a bad value is the command's error
	_, server := startNode(t)
	if code, out, errOut := run(t, strings.TrimPrefix(server, "http://"), "stream", "ls"); code != 0 {
		t.Errorf("--server HOST:PORT: exit %d, %q %q", code, out, errOut)
	}
	for _, args := range [][]string{{"stream", "ls"}, {"tail", "s", "-f"}} {
		if code, _, errOut := run(t, "ftp://x", args...); code != 1 || !strings.HasPrefix(errOut, `sluice: --server (or SLUICE_SERVER) "ftp://x": scheme ftp;`) {
			t.Errorf("%v with a bad --server: exit %d, %q", args, code, errOut)
		}
	}
}

func TestVersion(t *testing.T) {
	for _, args := range [][]string{{"version"}, {"--version"}} {
		code, out, _ := run(t, "", args...)
		if code != 0 || !strings.HasPrefix(out, "sluice (devel)") && !strings.HasPrefix(out, "sluice v") || !strings.Contains(out, " go1.") {
			t.Errorf("%v: exit %d, %q", args, code, out)
		}
	}
}

// sluice invoke without a node says it needs one, and what to do.
func TestInvokeWithoutANode(t *testing.T) {
	code, _, errOut := run(t, "http://127.0.0.1:1", "invoke", "jq", "--config", `{"program":"."}`, eventsFile)
	if code != 1 || !strings.Contains(errOut, "no node answers at http://127.0.0.1:1; sluice invoke runs the function on a node: start one with `sluice serve` (or `sluice demo`), or run it here with --project DIR") {
		t.Errorf("exit %d, %q", code, errOut)
	}
}
