package mediawiki

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/internal/function"
)

func TestConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		config map[string]any
		want   string
	}{
		{map[string]any{"user_agent": nil}, "user_agent: required: Wikimedia blocks generic agents"},
		{map[string]any{"user_agent": "  "}, "user_agent: required"},
		{map[string]any{"user_agent": "a\nb"}, "user_agent: must not contain control characters"},
		{map[string]any{"mode": "latest"}, `mode: must be "current" or "revision"`},
		{map[string]any{"batch_size": 0}, "batch_size: must be 1 to 50"},
		{map[string]any{"batch_size": 51}, "batch_size: must be 1 to 50"},
		{map[string]any{"batch_size": "ten"}, "batch_size: want int"},
		{map[string]any{"max_concurrency_per_wiki": 0}, "max_concurrency_per_wiki: must be at least 1"},
		{map[string]any{"rate_per_wiki": -1}, "rate_per_wiki: must be 0 (unlimited) or more"},
		{map[string]any{"max_attempts": 0}, "max_attempts: must be at least 1"},
		{map[string]any{"maxlag": 0}, "maxlag: must be at least 1"},
		{map[string]any{"linger": "soon"}, "linger: want a duration"},
		{map[string]any{"linger": "-1s"}, "linger: must not be negative"},
		{map[string]any{"timeout": "0s"}, "timeout: must be positive"},
		{map[string]any{"timeout": 30}, "timeout: want string"},
		{map[string]any{"allowed_hosts": []string{}}, "allowed_hosts: must name at least one host"},
		{map[string]any{"allowed_hosts": []string{"en.wikipedia.org", ""}}, "allowed_hosts[1]"},
		{map[string]any{"allowed_hosts": []string{"https://en.wikipedia.org"}}, "allowed_hosts[0]"},
		{map[string]any{"allowed_hosts": []string{"en.*.org"}}, "allowed_hosts[0]"},
		{map[string]any{"allowed_hosts": []string{"*.wikipedia.org:443"}}, "allowed_hosts[0]"},
		{map[string]any{"allowed_hosts": []string{"en.wikipedia.org/w"}}, "allowed_hosts[0]"},
		{map[string]any{"batchsize": 10}, `unknown field "batchsize"`},
	} {
		c := map[string]any{"user_agent": userAgent}
		for k, v := range tc.config {
			c[k] = v
		}
		if v, ok := c["user_agent"]; ok && v == nil {
			delete(c, "user_agent")
		}
		_, err := function.NewRegistry(Spec).New(Name, c)
		if !errors.Is(err, function.ErrConfig) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: got %v, want %q", tc.config, err, tc.want)
		}
	}
}

func TestConfigDefaults(t *testing.T) {
	fn, err := Spec.New(map[string]any{"user_agent": userAgent})
	if err != nil {
		t.Fatal(err)
	}
	f := fn.(*pageImages)
	defer f.Close()
	if f.mode != ModeCurrent || f.concurrency != 2 || f.rate != 0 || f.batchSize != 50 || f.linger != 200*time.Millisecond ||
		f.maxAttempts != 6 || f.timeout != 30*time.Second || f.maxlag != 5 || len(f.hosts) != len(DefaultAllowedHosts) {
		t.Fatalf("%+v", f.settings)
	}
	fn, err = Spec.New(map[string]any{"user_agent": userAgent, "mode": "revision", "allowed_hosts": []string{"127.0.0.1:8093"},
		"max_concurrency_per_wiki": 4, "rate_per_wiki": 2.5, "batch_size": 10, "linger": "0s", "max_attempts": 1,
		"timeout": "5s", "maxlag": 10})
	if err != nil {
		t.Fatal(err)
	}
	f = fn.(*pageImages)
	defer f.Close()
	if f.mode != ModeRevision || f.concurrency != 4 || f.rate != 2.5 || f.batchSize != 10 || f.linger != 0 ||
		f.maxAttempts != 1 || f.timeout != 5*time.Second || f.maxlag != 10 || len(f.hosts) != 1 {
		t.Fatalf("%+v", f.settings)
	}
}

// Every config field is documented in the Spec, with its default.
func TestSpecDocumentsEveryField(t *testing.T) {
	def := reflect.ValueOf(DefaultConfig())
	var names []string
	for i := range def.NumField() {
		name := strings.Split(def.Type().Field(i).Tag.Get("json"), ",")[0]
		names = append(names, name)
		j := slices.IndexFunc(Spec.Fields, func(f function.Field) bool { return f.Name == name })
		if j < 0 {
			t.Errorf("field %s is not in Spec.Fields", name)
			continue
		}
		f := Spec.Fields[j]
		if f.Doc == "" {
			t.Errorf("field %s has no doc", name)
		}
		if name == "user_agent" {
			if !f.Required {
				t.Errorf("user_agent is not marked required")
			}
			continue
		}
		if want := def.Field(i).Interface(); f.Default == nil || fmt.Sprint(f.Default) != fmt.Sprint(want) {
			t.Errorf("field %s: default %v, want %v", name, f.Default, want)
		}
	}
	if len(names) != len(Spec.Fields) {
		t.Errorf("%d fields, %d documented", len(names), len(Spec.Fields))
	}
}
