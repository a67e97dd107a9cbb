package audit

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestRedact(t *testing.T) {
	var v any
	_ = json.Unmarshal([]byte(`{"name":"p","to":[{"sql":{"url":"postgres://app:s3cret@db:5432/x","table":"t"}}],
		"http":{"url":"http://127.0.0.1:9000/f","headers":{"Authorization":"Bearer abc","X-Api-Token":"t0k"}},
		"password":"hunter2","tokens":3,"grants":[{"resource":"stream:x","role":"read"}]}`), &v)
	b, _ := json.Marshal(Redact(v))
	got := string(b)
	for _, secret := range []string{"s3cret", "Bearer abc", "t0k", "hunter2"} {
		if strings.Contains(got, secret) {
			t.Errorf("%s kept: %s", secret, got)
		}
	}
	for _, kept := range []string{"postgres://app:%5Bredacted%5D@db:5432/x", `"tokens":3`, `"role":"read"`, "http://127.0.0.1:9000/f"} {
		if !strings.Contains(got, kept) {
			t.Errorf("%s lost: %s", kept, got)
		}
	}
}
