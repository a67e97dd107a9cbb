package httpapi_test

import (
	"bytes"
	"encoding/json"
	"io"
	"mime"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/sluice-dev/sluice/internal/node"
)

// openapi checks responses against the served OpenAPI document.
type openapi struct {
	doc      map[string]any
	compiler *jsonschema.Compiler
	schemas  map[string]*jsonschema.Schema
}

func loadOpenAPI(t *testing.T, n *node.Node) *openapi {
	t.Helper()
	resp, err := http.Get("http://" + n.Addr() + "/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	if err := c.AddResource("urn:openapi", doc); err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	_ = json.Unmarshal(raw, &m)
	return &openapi{doc: m, compiler: c, schemas: map[string]*jsonschema.Schema{}}
}

func (o *openapi) operation(method, path string) (map[string]any, bool) {
	path, _, _ = strings.Cut(path, "?")
	for tmpl, item := range o.doc["paths"].(map[string]any) {
		if matchTemplate(tmpl, path) {
			op, ok := item.(map[string]any)[strings.ToLower(method)].(map[string]any)
			return op, ok
		}
	}
	return nil, false
}

func matchTemplate(tmpl, path string) bool {
	ts, ps := strings.Split(tmpl, "/"), strings.Split(path, "/")
	if len(ts) != len(ps) {
		return false
	}
	for i := range ts {
		if !strings.HasPrefix(ts[i], "{") && ts[i] != ps[i] {
			return false
		}
	}
	return true
}

func (o *openapi) check(t *testing.T, method, path string, resp *http.Response, body []byte) {
	t.Helper()
	op, ok := o.operation(method, path)
	if !ok {
		t.Fatalf("%s %s is not in the OpenAPI document", method, path)
	}
	r, ok := op["responses"].(map[string]any)[strconv.Itoa(resp.StatusCode)].(map[string]any)
	if !ok {
		t.Fatalf("%s %s answered %d, which the OpenAPI document does not list: %s", method, path, resp.StatusCode, body)
	}
	mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	content, _ := r["content"].(map[string]any)
	if len(body) == 0 || content == nil {
		return
	}
	media, ok := content[mt].(map[string]any)
	if !ok {
		t.Fatalf("%s %s %d: content type %q is not documented", method, path, resp.StatusCode, mt)
	}
	schemaRef, _ := media["schema"].(map[string]any)
	ref, _ := schemaRef["$ref"].(string)
	if ref == "" || !strings.Contains(mt, "json") || mt == "application/x-ndjson" {
		return
	}
	sch, ok := o.schemas[ref]
	if !ok {
		var err error
		if sch, err = o.compiler.Compile("urn:openapi" + ref); err != nil {
			t.Fatal(err)
		}
		o.schemas[ref] = sch
	}
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(body))
	if err != nil {
		t.Fatalf("%s %s: body is not JSON: %v", method, path, err)
	}
	if err := sch.Validate(v); err != nil {
		t.Fatalf("%s %s %d: body does not match %s: %v\n%s", method, path, resp.StatusCode, ref, err, body)
	}
}

// TestOpenAPIMatchesRoutes checks that the document lists exactly the
// routes the server answers.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	n := start(t, t.TempDir())
	defer stop(t, n)
	o := loadOpenAPI(t, n)
	if o.doc["openapi"] != "3.1.0" {
		t.Fatalf("openapi version %v", o.doc["openapi"])
	}
	var documented []string
	for p, item := range o.doc["paths"].(map[string]any) {
		for m := range item.(map[string]any) {
			if p != "/metrics" {
				documented = append(documented, strings.ToUpper(m)+" "+p)
			}
		}
	}
	sort.Strings(documented)
	if got, want := strings.Join(documented, "\n"), strings.Join(n.API.Routes(), "\n"); got != want {
		t.Fatalf("documented:\n%s\nserved:\n%s", got, want)
	}
	// Every documented operation is answered by a handler (not the mux's 404/405).
	for _, r := range documented {
		method, path, _ := strings.Cut(r, " ")
		path = strings.NewReplacer("{name}", "wikimedia.recentchange", "{version}", "1").Replace(path)
		req, _ := http.NewRequest(method, "http://"+n.Addr()+path, strings.NewReader("{}"))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode == http.StatusMethodNotAllowed || resp.Header.Get("Content-Type") == "text/plain; charset=utf-8" && resp.StatusCode == 404 {
			t.Errorf("%s %s is documented but not served (%d)", method, path, resp.StatusCode)
		}
	}
}
