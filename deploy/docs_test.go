package deploy

import (
	"os"
	"path"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/sluice-dev/sluice/internal/config"
)

const guide = "../docs/DEPLOY.md"

// pending are what DEPLOY.md names ahead of the code (none now). Each must
// be dropped from here once it exists (the test says when).
var pending = map[string]bool{}

var (
	inlineCode = regexp.MustCompile("`([^`]+)`")
	link       = regexp.MustCompile(`\]\(([^)\s]+)\)`)
	// a config key as DEPLOY.md writes one: nats.max_store, streams.<name>.replicas
	keyPattern = regexp.MustCompile(`^[a-z][a-z0-9_]*(\.([a-z][a-z0-9_]*|<[a-z_]+>))*$`)
)

// TestGuide checks DEPLOY.md against the code: every flag it names (in
// backticks, or on a `sluice ...` line of its examples) is a flag of its
// command, every sluice command it names exists, every config key it names
// is one of sluice.yaml's or of the nats-server.conf files', every
// `# sluice.yaml` example parses, and every link leads somewhere.
func TestGuide(t *testing.T) {
	text := read(t, guide)
	prose, blocks := splitMarkdown(text)
	nats := natsKeys(
		parseNATS(t, "systemd/nats-server.conf", read(t, "systemd/nats-server.conf"), nil),
		parseNATS(t, "kubernetes/nats.yaml", natsConfigMap(t), map[string]string{"POD_NAME": "nats-0"}),
	)

	for _, m := range inlineCode.FindAllStringSubmatch(prose, -1) {
		span := strings.Join(strings.Fields(m[1]), " ")
		switch {
		case strings.HasPrefix(span, "--"):
			checkCommandLine(t, append([]string{"serve"}, strings.Fields(span)...))
		case strings.HasPrefix(span, "sluice "):
			checkCommandLine(t, strings.Fields(span)[1:])
		default:
			checkKey(t, span, nats)
		}
	}

	for _, b := range blocks {
		lines := strings.Split(b.text, "\n")
		if b.info == "yaml" && strings.TrimSpace(lines[0]) == "# sluice.yaml" {
			parseConfig(t, guide+": the example sluice.yaml", b.text)
		}
		for _, line := range lines {
			line, _, _ = strings.Cut(strings.TrimPrefix(strings.TrimSpace(line), "$ "), " #")
			words := strings.Fields(line)
			if len(words) > 0 && (words[0] == "sluice" || strings.HasSuffix(words[0], "/sluice")) {
				checkCommandLine(t, words[1:])
			}
		}
	}

	for _, m := range link.FindAllStringSubmatch(prose, -1) {
		checkLink(t, m[1], text)
	}
}

// block is a fenced code block: its info string (yaml, sh) and its text.
type block struct{ info, text string }

// splitMarkdown separates the prose of a Markdown document, its lines
// joined (an inline span may break across lines), from its code blocks.
func splitMarkdown(text string) (string, []block) {
	var prose []string
	var blocks []block
	var cur *block
	for _, line := range strings.Split(text, "\n") {
		fence := strings.TrimSpace(line)
		switch {
		case cur == nil && strings.HasPrefix(fence, "```"):
			cur = &block{info: strings.TrimPrefix(fence, "```")}
		case cur != nil && fence == "```":
			cur.text = strings.TrimPrefix(cur.text, "\n")
			blocks, cur = append(blocks, *cur), nil
		case cur != nil:
			cur.text += "\n" + line
		default:
			prose = append(prose, line)
		}
	}
	return strings.Join(prose, " "), blocks
}

// checkCommandLine checks the words after `sluice`: the command they name
// exists, and each --flag is one of it.
func checkCommandLine(t *testing.T, words []string) {
	t.Helper()
	var names []string
	for _, w := range words {
		if strings.HasPrefix(w, "-") {
			break
		}
		names = append(names, w)
	}
	if len(names) > 0 && pending["sluice "+names[0]] {
		if c, _, err := command(names[:1]); err == nil && c.Name() == names[0] {
			t.Errorf("%s: sluice %s exists now: drop it from pending", guide, names[0])
		}
		return
	}
	cmd, _, err := command(names)
	if err != nil {
		t.Errorf("%s: sluice %s: %v", guide, strings.Join(words, " "), err)
		return
	}
	for _, w := range words {
		name, _, _ := strings.Cut(strings.TrimPrefix(w, "--"), "=")
		if strings.HasPrefix(w, "--") && cmd.LocalFlags().Lookup(name) == nil && cmd.InheritedFlags().Lookup(name) == nil {
			t.Errorf("%s: %s has no flag --%s", guide, cmd.CommandPath(), name)
		}
	}
}

// checkKey checks span if it reads as a config key: a dotted name whose
// first part is a key of sluice.yaml (nats.max_store), or any name written
// key: value (max_payload: 8MB), which may also be nats-server.conf's.
func checkKey(t *testing.T, span string, nats map[string]bool) {
	t.Helper()
	key, _, explicit := strings.Cut(span, ": ")
	first, _, _ := strings.Cut(key, ".")
	switch ext := path.Ext(key); {
	case !keyPattern.MatchString(key), ext == ".yaml" || ext == ".conf" || ext == ".db" || ext == ".md":
		return
	case !explicit && !configKey(first):
		return
	}
	switch {
	case pending[key] && configKey(key):
		t.Errorf("%s: %s exists now: drop it from pending", guide, key)
	case pending[key], configKey(key), explicit && nats[key]:
	default:
		t.Errorf("%s: `%s` names no key of sluice.yaml (internal/config) nor of the nats-server.conf files", guide, span)
	}
}

// configKey reports whether the dotted name is a key of sluice.yaml, by
// the yaml tags of config.Config; <name> stands for a map's key.
func configKey(name string) bool {
	t := reflect.TypeFor[config.Config]()
	for _, part := range strings.Split(name, ".") {
		for t.Kind() == reflect.Pointer {
			t = t.Elem()
		}
		switch t.Kind() {
		case reflect.Map:
			if !strings.HasPrefix(part, "<") {
				return false
			}
			t = t.Elem()
		case reflect.Struct:
			f, ok := yamlField(t, part)
			if !ok {
				return false
			}
			t = f.Type
		default:
			return false
		}
	}
	return true
}

// yamlField is the field of struct type t that yaml decodes name into,
// inline structs included.
func yamlField(t reflect.Type, name string) (reflect.StructField, bool) {
	for i := range t.NumField() {
		f := t.Field(i)
		tag, opts, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		switch {
		case tag == "-" || !f.IsExported():
		case strings.Contains(opts, "inline"):
			if f.Type.Kind() == reflect.Struct {
				if g, ok := yamlField(f.Type, name); ok {
					return g, true
				}
			}
		case tag == name || tag == "" && strings.ToLower(f.Name) == name:
			return f, true
		}
	}
	return reflect.StructField{}, false
}

// checkLink checks a relative link of DEPLOY.md: its file exists, and its
// #anchor is a heading of that file.
func checkLink(t *testing.T, target, self string) {
	t.Helper()
	if strings.Contains(target, "://") || strings.HasPrefix(target, "mailto:") {
		return
	}
	file, anchor, _ := strings.Cut(target, "#")
	text := self
	if file != "" {
		p := path.Join(path.Dir(guide), file)
		if _, err := os.Stat(p); err != nil {
			t.Errorf("%s: link %s: %v", guide, target, err)
			return
		}
		if anchor == "" || path.Ext(p) != ".md" {
			return
		}
		text = read(t, p)
	}
	for _, line := range strings.Split(text, "\n") {
		if h, ok := strings.CutPrefix(line, "#"); ok && slug(strings.TrimLeft(h, "#")) == anchor {
			return
		}
	}
	t.Errorf("%s: link %s: no such heading", guide, target)
}

// slug is GitHub's anchor of a heading: lower case, spaces as hyphens,
// punctuation but - and _ dropped.
func slug(heading string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(strings.TrimSpace(heading)) {
		switch {
		case r == ' ':
			b.WriteRune('-')
		case r == '-' || r == '_' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r > 127:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// natsConfigMap is the nats-server.conf of kubernetes/nats.yaml.
func natsConfigMap(t *testing.T) string {
	t.Helper()
	m := loadManifests(t, "kubernetes", []string{"nats.yaml"})
	for _, o := range m.objects {
		if text, ok := o.Data["nats-server.conf"]; ok && o.Kind == "ConfigMap" {
			return text
		}
	}
	t.Fatal("kubernetes/nats.yaml: no ConfigMap with a nats-server.conf")
	return ""
}
