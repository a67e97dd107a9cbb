package cli

import (
	"strings"
	"testing"
)

// TestTestFailsAsTheNodeWould runs `sluice test` on a project whose
// outputs a node would dead-letter, every one (issue #17: it said
// "passed"): outputs without the output stream's id, with a time that
// does not parse, to a table whose key does not evaluate, an input the
// input stream refuses, and a failure where none is expected. Each fails its case in the node's words (the pointer
// and the rule) and the command exits non-zero.
func TestTestFailsAsTheNodeWould(t *testing.T) {
	code, out, errOut := run(t, "", "test", "testdata/noid")
	if code == 0 {
		t.Fatalf("exit 0:\n%s", out)
	}
	want(t, "stderr", errOut, "sluice: 5 of 5 case(s) failed\n")
	want(t, "stdout", out, `FAIL badtime: an output whose time does not parse
     expect[0] (input[0]): the input failed: output stream:out refused the function's output 0: /meta/dt: sluice.time: event time "soon" is not an RFC 3339 time
FAIL noid: outputs without the id
     expect[0] (input[0]): the input failed: output stream:out refused the function's output 0: /meta/id: sluice.id: the stream's id field is missing or not a string or number; every event needs a unique id
FAIL noid: an input the input stream refuses
     input[1]: stream in refuses it: /n: type: got string, want integer
FAIL noid: a failure where none is expected
     got 1 result(s), want 0:
       0: input[0] failed: the mock fails
FAIL nokey: an output whose table key does not evaluate
     expect[0] (input[0]): the input failed: output table:titles refused the function's output 0: /: sluice.key: the table's key: "event.page.id": no such key: page
checked against the schemas in this project's files (streams in, out); a node holding a later version of a stream's schema checks against that one
0 passed, 5 failed
`)
	if strings.Contains(out, "0x") {
		t.Errorf("a Go pointer in the report:\n%s", out)
	}
}
