package invocation

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/lambda/messages"

	"github.com/sluice-dev/sluice/internal/schema"
)

func TestDecodeAnswer(t *testing.T) {
	res, err := decodeAnswer([]byte(`{"results":[{"outputs":[{"a": 1},
	 {"b": [1,
	 2]}]},{"outputs":[]},{"error":{"type":"KeyError","message":"'x'","stack":["f.py:1",{"path":"m.go","line":3,"label":"main.f"},7]}},{"outputs":[1],"extra":true}],"more":1}`), 4)
	if err != nil {
		t.Fatal(err)
	}
	// Outputs keep their bytes, but for line breaks: stored events are one line.
	if len(res[0].outputs) != 2 || string(res[0].outputs[0]) != `{"a": 1}` || string(res[0].outputs[1]) != `{"b":[1,2]}` {
		t.Fatalf("outputs %s", res[0].outputs)
	}
	if res[1].outputs == nil || len(res[1].outputs) != 0 || res[1].err != nil {
		t.Fatalf("filtered %+v", res[1])
	}
	e := res[2].err
	if e == nil || e.Error() != "KeyError: 'x'" || strings.Join(e.Stack, "|") != "f.py:1|main.f (m.go:3)|7" {
		t.Fatalf("error %+v", e)
	}
	for body, want := range map[string]string{
		`not json`:                        `the answer is not the JSON of {"results": [...]}`,
		`{"result":[]}`:                   `the answer has no "results" array`,
		`{"results":[{"outputs":[]}]}`:    "the answer has 1 results for 2 events",
		`{"results":[{"outputs":[]},{}]}`: `results[1]: give exactly one of "outputs"`,
		`{"results":[{"outputs":[]},{"outputs":[],"error":{"message":"x"}}]}`:       `results[1]: give exactly one`,
		`{"results":[{"outputs":null},{"outputs":[]}]}`:                             "results[0].outputs: null",
		`{"results":[{"outputs":{}},{"outputs":[]}]}`:                               "results[0].outputs: an object: want a list",
		`{"results":[{"outputs":[]},{"outputs":[]},{"outputs":[]},{"outputs":[]}]}`: "more than 2 results for 2 events",
		`{"results":[{"outputs":[]},{"outputs":[]}]} x`:                             "not the JSON",
		`{"results":[{"outputs":[]},{"outputs":[]}],"results":[]}`:                  "not the JSON",
		`{"results":[{"outputs":[1,]},{"outputs":[]}]}`:                             "not the JSON",
		"{\"results\":[{\"outputs\":[\"\xff\"]},{\"outputs\":[]}]}":                 "not the JSON",
		`{"results":[{"error":null},{"outputs":[]}]}`:                               "results[0].error: want an object",
		`{"results":[{"error":{"type":"X"}},{"outputs":[]}]}`:                       `results[0].error: "message" is required`,
		`{"results":[{"error":{"message":1}},{"outputs":[]}]}`:                      `results[0].error: "message" is required`,
		`{"Results":[{"outputs":[]},{"outputs":[]}]}`:                               `no "results" array`,
		`{"results":[{"Outputs":[]},{"outputs":[]}]}`:                               `results[0]: give exactly one`,
		`{"results":[null,{"outputs":[]}]}`:                                         `results[0]: null`,
	} {
		if _, err := decodeAnswer([]byte(body), 2); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", body, err, want)
		}
	}
}

func TestBounds(t *testing.T) {
	stack := make([]string, 500)
	for i := range stack {
		stack[i] = strings.Repeat("s", 5000)
	}
	raw, _ := json.Marshal(map[string]any{"results": []any{map[string]any{"error": map[string]any{
		"type": strings.Repeat("t", 1000), "message": strings.Repeat("é", 20000), "stack": stack}}}})
	res, err := decodeAnswer(raw, 1)
	if err != nil {
		t.Fatal(err)
	}
	e := res[0].err
	if len(e.Type) > maxType || len(e.Message) > maxMessage || len(e.Stack) != maxStack+1 || len(e.Stack[0]) > maxStackEntry ||
		e.Stack[maxStack] != "... 300 more" || !strings.HasSuffix(e.Message, "é…") {
		t.Fatalf("not bounded: type %d, message %d, stack %d (%q)", len(e.Type), len(e.Message), len(e.Stack), e.Stack[maxStack])
	}
}

// TestLambdaError reads error bodies as aws-lambda-go writes them (its own
// types, with stack frames) and as Python's awslambdaric does (strings).
func TestLambdaError(t *testing.T) {
	goBody, _ := json.Marshal(messages.InvokeResponse_Error{Message: "boom", Type: "errorString",
		StackTrace: []*messages.InvokeResponse_Error_StackFrame{{Path: "main.go", Line: 12, Label: "main.handle"}}})
	if e := LambdaError(goBody, ""); e.Error() != "errorString: boom" || len(e.Stack) != 1 || e.Stack[0] != "main.handle (main.go:12)" {
		t.Fatalf("go: %+v", e)
	}
	py := `{"errorMessage": "'wiki'", "errorType": "KeyError", "requestId": "r", "stackTrace": ["  File \"f.py\", line 3, in handle\n    event['wiki']\n"]}`
	if e := LambdaError([]byte(py), "Unhandled"); e.Type != "KeyError" || !strings.Contains(e.Stack[0], `File "f.py", line 3`) {
		t.Fatalf("python: %+v", e)
	}
	if e := LambdaError([]byte(`{"errorMessage":"m"}`), "Unhandled"); e.Error() != "Unhandled: m" {
		t.Fatalf("header type: %+v", e)
	}
	if e := LambdaError([]byte("plain text"), ""); e.Message != "plain text" {
		t.Fatalf("text: %+v", e)
	}
}

func TestFirehose(t *testing.T) {
	body := encodeFirehose("f", []json.RawMessage{json.RawMessage(`{"a":1}`), json.RawMessage(`{"b":2}`)})
	var ev struct {
		InvocationID, DeliveryStreamArn, Region string
		Records                                 []struct {
			RecordID string
			Data     []byte
		}
	}
	if err := json.Unmarshal(body, &ev); err != nil || len(ev.Records) != 2 || ev.Records[1].RecordID != "1" || string(ev.Records[1].Data) != `{"b":2}` ||
		ev.DeliveryStreamArn != "arn:aws:firehose:sluice:000000000000:deliverystream/f" {
		t.Fatalf("%s %v", body, err)
	}
	checkSchema(t, FirehoseInvocationSchema, body, true)
	// "eyJhIjoxfQp7ImEiOjJ9Cg==" is {"a":1}\n{"a":2}\n; "eyJ4Ijo=" is {"x":
	res, err := decodeFirehose([]byte(`{"records":[{"recordId":"2","result":"Dropped"},{"recordId":"0","result":"Ok","data":"eyJhIjoxfQp7ImEiOjJ9Cg=="},
		{"recordId":"1","result":"ProcessingFailed","data":"bm9wZQ=="},{"recordId":"3","result":"Ok","data":"eyJ4Ijo="},{"recordId":"4","result":"Ok","metadata":{"partitionKeys":{}}}]}`), 5)
	if err != nil {
		t.Fatal(err)
	}
	if len(res[0].outputs) != 2 || string(res[0].outputs[1]) != `{"a":2}` || len(res[2].outputs) != 0 || res[2].err != nil || len(res[4].outputs) != 0 {
		t.Fatalf("%+v", res)
	}
	if res[1].err.Error() != "ProcessingFailed: the function answered ProcessingFailed: nope" || !strings.Contains(res[3].err.Error(), "data is not JSON") {
		t.Fatalf("errors %v / %v", res[1].err, res[3].err)
	}
	for body, want := range map[string]string{
		`{"records":[{"recordId":"0","result":"Ok"}]}`:                                  "1 records for 2",
		`{"records":[{"recordId":"0","result":"Ok"},{"recordId":"0","result":"Ok"}]}`:   `"0" answered twice`,
		`{"records":[{"recordId":"0","result":"Ok"},{"recordId":"01","result":"Ok"}]}`:  `"01" is not one of`,
		`{"records":[{"recordId":"0","result":"Ok"},{"recordId":"1","result":"Fine"}]}`: `"Fine": want Ok`,
		`{"records":[{"recordId":"0","result":"Ok"},{"result":"Ok"}]}`:                  "recordId is required",
		`[]`: "not the JSON of a Firehose",
	} {
		if _, err := decodeFirehose([]byte(body), 2); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", body, err, want)
		}
	}
}

func TestRequestFitsSchema(t *testing.T) {
	body := encodeRequest(mustJSON("f"), mustJSON(map[string]any{"k": []int{1}}), []json.RawMessage{json.RawMessage(`{"a":1}`), json.RawMessage(`{"b":"x"}`)})
	var r Request
	if err := json.Unmarshal(body, &r); err != nil || r.Function != "f" || len(r.Events) != 2 || string(r.Events[1]) != `{"b":"x"}` {
		t.Fatalf("%s: %v", body, err)
	}
	checkSchema(t, InvocationSchema, body, true)
}

// checkSchema validates doc against one of the contract's schemas.
func checkSchema(t testing.TB, schemaDoc, doc []byte, want bool) {
	t.Helper()
	s := compileSchema(t, schemaDoc)
	v, err := schema.Decode(doc)
	if err != nil {
		if want {
			t.Fatalf("%s: %v", doc, err)
		}
		return
	}
	if got := len(s.Validate(v)) == 0; got != want {
		t.Fatalf("%s: valid %v, want %v: %v", doc, got, want, s.Validate(v))
	}
}

var schemas = map[string]*schema.Schema{}

func compileSchema(t testing.TB, doc []byte) *schema.Schema {
	if s := schemas[string(doc)]; s != nil {
		return s
	}
	b, err := schema.FromDocument("sluice:contract.json", doc)
	if err != nil {
		t.Fatal(err)
	}
	s, err := schema.Compile(b)
	if err != nil {
		t.Fatal(err)
	}
	schemas[string(doc)] = s
	return s
}

// FuzzDecodeAnswer: the decoder never panics, and what it accepts the
// answer schema accepts (results of the right count aside).
func FuzzDecodeAnswer(f *testing.F) {
	for _, s := range []string{`{"results":[{"outputs":[]}]}`, `{"results":[{"error":{"message":"m","stack":["a"]}}]}`,
		`{"results":[{"outputs":[1,{"a":null}]},{"error":{"type":"T","message":""}}]}`, `{"results":null}`, `[]`, `{"results":[{}]}`} {
		f.Add([]byte(s), 1)
	}
	f.Fuzz(func(t *testing.T, body []byte, n int) {
		if n < 0 || n > 100 {
			return
		}
		res, err := decodeAnswer(body, n)
		if err != nil {
			return
		}
		if len(res) != n {
			t.Fatalf("%d results for %d", len(res), n)
		}
		for _, r := range res {
			if (r.outputs == nil) == (r.err == nil) {
				t.Fatalf("a result with both or neither: %+v", r)
			}
			for _, o := range r.outputs {
				if !json.Valid(o) {
					t.Fatalf("output %q is not JSON", o)
				}
			}
		}
		if strings.Contains(string(body), `"stack"`) {
			return // the decoder keeps non-string stack entries as text; the schema asks for strings
		}
		checkSchema(t, AnswerSchema, body, true)
	})
}

func FuzzDecodeFirehose(f *testing.F) {
	f.Add([]byte(`{"records":[{"recordId":"0","result":"Ok","data":"e30="}]}`), 1)
	f.Add([]byte(`{"records":[{"recordId":"1","result":"Dropped"},{"recordId":"0","result":"ProcessingFailed"}]}`), 2)
	f.Fuzz(func(t *testing.T, body []byte, n int) {
		if n < 0 || n > 100 {
			return
		}
		res, err := decodeFirehose(body, n)
		if err == nil && len(res) != n {
			t.Fatalf("%d results for %d", len(res), n)
		}
	})
}

func FuzzLambdaError(f *testing.F) {
	f.Add([]byte(`{"errorMessage":"m","errorType":"T","stackTrace":["a",{"path":"p","line":1,"label":"l"}]}`), "H")
	f.Add([]byte("text"), "")
	f.Fuzz(func(t *testing.T, body []byte, header string) {
		e := LambdaError(body, header)
		if e == nil || len(e.Message) > maxMessage || len(e.Stack) > maxStack+1 {
			t.Fatalf("%+v", e)
		}
	})
}
