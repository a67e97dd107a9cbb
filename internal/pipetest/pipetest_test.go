package pipetest

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/sluice-dev/sluice/internal/config"
	"github.com/sluice-dev/sluice/internal/function"
	"github.com/sluice-dev/sluice/internal/function/identity"
	"github.com/sluice-dev/sluice/internal/function/jq"
	"github.com/sluice-dev/sluice/internal/node"
)

func TestRun(t *testing.T) {
	cfg, err := config.Load("testdata/project/sluice.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	sum, err := Run(context.Background(), "testdata/project", cfg, function.NewRegistry(identity.Spec, jq.Spec), &out)
	if err != nil {
		t.Fatal(err)
	}
	got := out.String()
	if sum.Passed != 4 || sum.Failed != 1 {
		t.Fatalf("summary %+v\n%s", sum, got)
	}
	for _, want := range []string{
		"PASS titles: keeps and reshapes", "PASS titles: conditions", "PASS titles: errors", "PASS titles: a mock",
		"FAIL titles: wrong on purpose",
		"output 0 does not fit stream titles: /n: maximum",
		`-   "n": 200,`, `+   "n": 201,`,
		"4 passed, 1 failed",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("report lacks %q:\n%s", want, got)
		}
	}
}

// TestExampleProject runs the flagship project's own pipeline tests, as
// `sluice test examples/wiki-images` does.
func TestExampleProject(t *testing.T) {
	cfg, err := config.Load("../../examples/wiki-images/sluice.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	sum, err := Run(context.Background(), "../../examples/wiki-images", cfg, node.Functions(), &out)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Failed != 0 || sum.Passed < 8 {
		t.Fatalf("%+v\n%s", sum, out.String())
	}
}
