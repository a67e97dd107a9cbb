package invocation

import (
	"fmt"
	"os"
	"regexp"
	"sort"
	"strings"

	"github.com/sluice-dev/sluice/internal/function"
)

// Declaration is one entry of functions: in the config, decoded and not
// yet checked: exactly one kind (a key of Kinds, or Kind for a built-in).
type Declaration struct {
	Name string
	// Kinds holds the entry's other keys: process: {...} or http: {...}.
	Kinds    map[string]any
	Kind     string // a built-in kind, with Config as its preset config
	Config   map[string]any
	MaxBatch int
	Payload  string
	Doc      string
}

var nameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,63}$`)

// Declare checks a declaration, builds its function and adds it to reg.
// Errors name the field: "functions.NAME.process.timeout: ...".
func Declare(reg *function.Registry, kinds []Kind, d Declaration, env Env) error {
	p := "functions." + d.Name
	if !nameRE.MatchString(d.Name) {
		return fmt.Errorf("%s: function names are [a-z0-9][a-z0-9_-]{0,63}", p)
	}
	byName := map[string]Kind{}
	var names []string
	for _, k := range kinds {
		byName[k.Name] = k
		names = append(names, k.Name)
	}
	sort.Strings(names)
	want := "give exactly one of " + strings.Join(names, ", ") + " or kind (a built-in kind, e.g. jq)"
	var given []string
	for key := range d.Kinds {
		if _, ok := byName[key]; !ok {
			return fmt.Errorf("%s.%s: unknown field (%s)", p, key, want)
		}
		given = append(given, key)
	}
	if d.Kind != "" {
		given = append(given, "kind")
	}
	if len(given) != 1 {
		return fmt.Errorf("%s: %s", p, want)
	}
	n := function.Named{Name: d.Name, Doc: d.Doc, Config: d.Config}
	if d.Kind != "" {
		if d.MaxBatch != 0 || d.Payload != "" {
			return fmt.Errorf("%s: max_batch and payload are for %s functions, not built-in kinds", p, strings.Join(names, " and "))
		}
		if _, named := reg.Lookup(d.Kind); named {
			return fmt.Errorf("%s.kind: %q is a named function; kind names a built-in kind", p, d.Kind)
		}
		f, err := reg.New(d.Kind, d.Config)
		if err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		n.Kind, n.Function = d.Kind, f
		return declare(reg, n, p)
	}
	k := byName[given[0]]
	settings, ok := d.Kinds[k.Name].(map[string]any)
	if !ok {
		return fmt.Errorf("%s.%s: want a mapping of settings", p, k.Name)
	}
	if env.Getenv == nil {
		env.Getenv = os.Getenv
	}
	env.Path = p + "." + k.Name
	o := Options{Name: d.Name, Config: d.Config, MaxBatch: d.MaxBatch, Payload: d.Payload, Log: env.Log}
	if _, err := New(nopInvoker{}, o); err != nil { // the common fields, before a process starts
		return fmt.Errorf("%s.%w", p, err)
	}
	inv, shown, err := k.New(d.Name, settings, env)
	if err != nil {
		return err
	}
	f, _ := New(inv, o)
	n.Kind, n.Settings, n.Function, n.State = k.Name, shown, f, inv.State
	n.MaxBatch, n.Payload = f.opts.MaxBatch, f.opts.Payload
	if err := declare(reg, n, p); err != nil {
		_ = inv.Close()
		return err
	}
	return nil
}

func declare(reg *function.Registry, n function.Named, p string) error {
	if err := reg.Declare(n); err != nil {
		return fmt.Errorf("%s: %w", p, err)
	}
	return nil
}

// nopInvoker checks Options without an invoker.
type nopInvoker struct{ Invoker }

func (nopInvoker) Concurrency() int { return 1 }

var varRE = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)\}`)

// Expand replaces ${VAR} in s from getenv; an unset or empty variable is
// an error (a header or an environment value silently empty would be a
// puzzle). A $ not followed by {NAME} stays as it is.
func Expand(s string, getenv func(string) string) (string, error) {
	var missing []string
	out := varRE.ReplaceAllStringFunc(s, func(m string) string {
		name := m[2 : len(m)-1]
		v := getenv(name)
		if v == "" {
			missing = append(missing, name)
		}
		return v
	})
	if len(missing) > 0 {
		return "", fmt.Errorf("${%s} is not set in sluice's environment", strings.Join(missing, "}, ${"))
	}
	return out, nil
}

// HasVars reports whether s uses ${VAR}.
func HasVars(s string) bool { return varRE.MatchString(s) }
