//go:build unix

// Package process is the function kind "process": sluice starts the
// operator's command, `instances` times, and serves each process the AWS
// Lambda Runtime API on a loopback port of its own (AWS_LAMBDA_RUNTIME_API),
// so that any Lambda runtime interface client (aws-lambda-go, awslambdaric,
// ...) runs unchanged: the process polls for an invocation, gets a batch
// (docs/FUNCTIONS.md), and posts the answer or the invocation's error.
//
// A process that exits or passes its timeout while it holds an invocation
// is killed with its process group and started again with backoff; the
// invocation fails and package invocation bisects it. A process that
// cannot start makes the function unavailable (not the events' fault).
// stdout and stderr go to the node's log line by line; the end of stderr
// goes into the failures.
package process

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/sluice-dev/sluice/internal/function"
	"github.com/sluice-dev/sluice/internal/function/invocation"
)

// Settings are the process: settings of a named function.
type Settings struct {
	// Command is the argv; a relative first element with a / is taken
	// from the config file's folder, a bare name from PATH.
	Command []string `json:"command"`
	// Dir is the working directory (default: the config file's folder).
	Dir string `json:"dir,omitempty"`
	// Env adds environment variables; values may use ${VAR}.
	Env map[string]string `json:"env,omitempty"`
	// Instances is how many processes run at once (1 to 64).
	Instances int `json:"instances,omitempty"`
	// Timeout bounds one invocation.
	Timeout string `json:"timeout,omitempty"`
	// StartTimeout bounds the time from the start to the first /next.
	StartTimeout string `json:"start_timeout,omitempty"`
	// Handler is passed as _HANDLER.
	Handler string `json:"handler,omitempty"`
	// MemorySize is passed as AWS_LAMBDA_FUNCTION_MEMORY_SIZE (MB); not enforced.
	MemorySize int `json:"memory_size,omitempty"`
}

// Defaults.
const (
	DefaultTimeout      = 30 * time.Second
	DefaultStartTimeout = 60 * time.Second
	DefaultMemorySize   = 1024
	maxInstances        = 64
)

// Kind registers the kind as "process".
var Kind = invocation.Kind{
	Name: "process",
	Doc: "Runs the operator's command and serves it the AWS Lambda Runtime API on a loopback port " +
		"(AWS_LAMBDA_RUNTIME_API): any Lambda runtime interface client works unchanged.",
	Fields: []function.Field{
		{Name: "command", Type: "[]string", Required: true, Doc: "argv, e.g. [python3, functions/f.py]; a relative first element with a / is taken from the config file's folder, a bare name from PATH"},
		{Name: "dir", Type: "string", Doc: "working directory (default: the config file's folder); also LAMBDA_TASK_ROOT"},
		{Name: "env", Type: "map[string]string", Doc: "extra environment variables; values may use ${VAR} from sluice's environment"},
		{Name: "instances", Type: "int", Default: 1, Doc: "processes running at once (1 to 64), one invocation each at a time"},
		{Name: "timeout", Type: "duration", Default: "30s", Doc: "per invocation; past it the process is killed and started again, and the batch bisected"},
		{Name: "start_timeout", Type: "duration", Default: "60s", Doc: "from the start to the first /next"},
		{Name: "handler", Type: "string", Doc: "passed as _HANDLER"},
		{Name: "memory_size", Type: "int", Default: DefaultMemorySize, Doc: "MB, passed as AWS_LAMBDA_FUNCTION_MEMORY_SIZE; not enforced"},
	},
	New: func(name string, raw map[string]any, env invocation.Env) (invocation.Invoker, any, error) {
		var s Settings
		if err := function.DecodeConfig(raw, &s); err != nil {
			return nil, nil, fmt.Errorf("%s.%w", env.Path, err)
		}
		c, err := s.check(env)
		if err != nil {
			return nil, nil, err
		}
		c.name, c.log = name, env.Log
		p, err := Start(c)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", env.Path, err)
		}
		return p, s.shown(c), nil
	},
}

// Config is a checked process function, ready to start.
type Config struct {
	name         string
	path         string   // the executable, absolute or as found in PATH
	args         []string // argv[1:]
	dir          string
	env          []string // the whole environment but the Runtime API's address
	instances    int
	timeout      time.Duration
	startTimeout time.Duration
	log          *slog.Logger
}

// check validates the settings; errors name the setting under env.Path.
func (s Settings) check(env invocation.Env) (Config, error) {
	var errs []string
	add := func(field, format string, args ...any) {
		errs = append(errs, env.Path+"."+field+": "+fmt.Sprintf(format, args...))
	}
	c := Config{instances: s.Instances, timeout: DefaultTimeout, startTimeout: DefaultStartTimeout}
	c.dir = env.Dir
	if s.Dir != "" {
		c.dir = s.Dir
		if !filepath.IsAbs(c.dir) {
			c.dir = filepath.Join(env.Dir, c.dir)
		}
	}
	if st, err := os.Stat(c.dir); err != nil || !st.IsDir() {
		add("dir", "%q is not a folder", c.dir)
	}
	switch {
	case len(s.Command) == 0 || s.Command[0] == "":
		add("command", "required: the argv, e.g. [python3, functions/f.py]")
	case strings.ContainsRune(s.Command[0], os.PathSeparator):
		c.path = s.Command[0]
		if !filepath.IsAbs(c.path) {
			c.path = filepath.Join(env.Dir, c.path)
		}
		if st, err := os.Stat(c.path); err != nil || st.IsDir() || st.Mode()&0o111 == 0 {
			add("command[0]", "%q is not an executable file", c.path)
		}
	default:
		path, err := exec.LookPath(s.Command[0])
		if err != nil {
			add("command[0]", "%q is not in PATH", s.Command[0])
		}
		c.path = path
	}
	if len(s.Command) > 0 {
		c.args = s.Command[1:]
	}
	if s.Instances == 0 {
		c.instances = 1
	} else if s.Instances < 1 || s.Instances > maxInstances {
		add("instances", "want 1 to %d, got %d", maxInstances, s.Instances)
	}
	for field, d := range map[string]struct {
		s   string
		out *time.Duration
		max time.Duration
	}{"timeout": {s.Timeout, &c.timeout, 15 * time.Minute}, "start_timeout": {s.StartTimeout, &c.startTimeout, 15 * time.Minute}} {
		if d.s == "" {
			continue
		}
		v, err := time.ParseDuration(d.s)
		if err != nil || v <= 0 || v > d.max {
			add(field, "%q: want a duration from 1ms to %s, such as 30s", d.s, d.max)
			continue
		}
		*d.out = v
	}
	memory := s.MemorySize
	if memory == 0 {
		memory = DefaultMemorySize
	} else if memory < 0 {
		add("memory_size", "cannot be negative")
	}
	extra := map[string]string{}
	for _, k := range sortedKeys(s.Env) {
		if k == "" || strings.ContainsAny(k, "=\x00") {
			add("env", "%q is not a variable name", k)
			continue
		}
		if k == runtimeAPIVar {
			add("env."+k, "is sluice's to set")
			continue
		}
		v, err := invocation.Expand(s.Env[k], env.Getenv)
		if err != nil {
			add("env."+k, "%v", err)
			continue
		}
		extra[k] = v
	}
	if len(errs) > 0 {
		return Config{}, errors.New(strings.Join(errs, "; "))
	}
	c.env = environment(env.Getenv, c.dir, s.Handler, memory, extra)
	return c, nil
}

// shown is what GET /v1/functions shows: the settings in effect (the
// defaults filled in), env values only as ${VAR} references, never as
// values (they may be secrets).
func (s Settings) shown(c Config) Settings {
	out := s
	out.Dir, out.Instances, out.Timeout, out.StartTimeout = c.dir, c.instances, c.timeout.String(), c.startTimeout.String()
	if out.MemorySize == 0 {
		out.MemorySize = DefaultMemorySize
	}
	if len(s.Env) > 0 {
		out.Env = map[string]string{}
		for k, v := range s.Env {
			if invocation.HasVars(v) && strings.TrimSpace(varsOnly(v)) == "" {
				out.Env[k] = v
			} else {
				out.Env[k] = "(set)"
			}
		}
	}
	return out
}

// varsOnly is s without its ${VAR} references.
func varsOnly(s string) string {
	out, _ := invocation.Expand(s, func(string) string { return " " })
	return out
}

func sortedKeys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
