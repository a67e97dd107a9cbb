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
	if sum.Passed != 5 || sum.Failed != 3 {
		t.Fatalf("summary %+v\n%s", sum, got)
	}
	for _, want := range []string{
		"PASS titles: keeps and reshapes", "PASS titles: conditions", "PASS titles: errors", "PASS titles: a mock",
		"PASS titles: an output the output stream refuses is the input's error",
		"FAIL titles: wrong on purpose",
		`-   "n": 20,`, `+   "n": 21,`,
		"FAIL titles: refused on purpose by the output stream",
		"expect[0] (input[0]): the input failed: output stream:titles refused the function's output 0: /n: maximum: got 301, want 100",
		"FAIL titles: an input the input stream refuses, on purpose",
		"input[1]: stream in refuses it: /meta/id: sluice.id: ",
		"checked against the schemas in this project's files (streams in, titles); ",
		"5 passed, 3 failed",
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
