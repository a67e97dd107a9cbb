package pipetest

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/sluice-dev/sluice/internal/filter"
	"github.com/sluice-dev/sluice/internal/schema"
)

// check compares one result with its expectation; "" when it matches.
func check(e Expect, out json.RawMessage, err error) string {
	switch {
	case e.Error != "":
		if err == nil {
			return fmt.Sprintf("want an error containing %q, got the output %s", e.Error, out)
		}
		if !strings.Contains(err.Error(), e.Error) {
			return fmt.Sprintf("want an error containing %q, got %q", e.Error, err.Error())
		}
		return ""
	case err != nil:
		return fmt.Sprintf("the input failed: %v", err)
	case e.CEL != "":
		f, cerr := filter.CompileVar(e.CEL, "output")
		if cerr != nil {
			return cerr.Error()
		}
		doc, _ := schema.Decode(out)
		ok, merr := f.Match(doc)
		if merr != nil {
			return fmt.Sprintf("cel %q: %v on %s", e.CEL, merr, out)
		}
		if !ok {
			return fmt.Sprintf("cel %q is false for %s", e.CEL, out)
		}
		return ""
	}
	want, err1 := canonical(e.JSON, e.Ignore)
	got, err2 := canonical(out, e.Ignore)
	if err1 != nil || err2 != nil {
		return fmt.Sprintf("cannot compare: %v %v", err1, err2)
	}
	if want == got {
		return ""
	}
	return "differs (- want, + got):\n" + diff(want, got)
}

// canonical writes a value as indented JSON with sorted keys, without the ignored pointers.
func canonical(v any, ignore []string) (string, error) {
	raw, ok := v.(json.RawMessage)
	if !ok {
		var err error
		if raw, err = json.Marshal(v); err != nil {
			return "", err
		}
	}
	var doc any
	if err := json.Unmarshal(raw, &doc); err != nil {
		return "", err
	}
	for _, p := range ignore {
		remove(doc, p)
	}
	b, err := json.MarshalIndent(doc, "", "  ")
	return string(b), err
}

func remove(doc any, ptr string) {
	i := strings.LastIndex(ptr, "/")
	if i < 0 {
		return
	}
	parent, ok := schema.Lookup(doc, ptr[:i])
	if m, isMap := parent.(map[string]any); ok && isMap {
		delete(m, strings.ReplaceAll(strings.ReplaceAll(ptr[i+1:], "~1", "/"), "~0", "~"))
	}
}

// diff marks the lines that differ between two texts, aligned by line number
// after the common start and end.
func diff(want, got string) string {
	a, b := strings.Split(want, "\n"), strings.Split(got, "\n")
	pre := 0
	for pre < len(a) && pre < len(b) && a[pre] == b[pre] {
		pre++
	}
	suf := 0
	for suf < len(a)-pre && suf < len(b)-pre && a[len(a)-1-suf] == b[len(b)-1-suf] {
		suf++
	}
	var out strings.Builder
	for _, l := range a[max(0, pre-2):pre] {
		out.WriteString("  " + l + "\n")
	}
	for _, l := range a[pre : len(a)-suf] {
		out.WriteString("- " + l + "\n")
	}
	for _, l := range b[pre : len(b)-suf] {
		out.WriteString("+ " + l + "\n")
	}
	for _, l := range a[len(a)-suf : min(len(a), len(a)-suf+2)] {
		out.WriteString("  " + l + "\n")
	}
	return strings.TrimRight(out.String(), "\n")
}
