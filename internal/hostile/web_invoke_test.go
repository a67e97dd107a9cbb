package hostile

import (
	"bytes"
	"net/http"
	"strings"
	"testing"

	"github.com/sluice-dev/sluice/internal/wikisim/mediawiki"
)

// Invoke requests that try to choose where a function connects.

func TestInvokeCannotChooseNetworkTargets(t *testing.T) {
	sim := mediawiki.New(mediawiki.Options{})
	t.Cleanup(sim.Close)
	api, apiCalls := counting(t, sim)
	target, targetCalls := counting(t, sim) // where an attacker wants the node to connect
	n := webNode(t, api.URL)
	targetHost := strings.TrimPrefix(target.URL, "http://")
	invoke := func(config, ev string) answer {
		return do(t, "POST", n.URL+"/v1/functions/mediawiki.page_images/invoke", `{"config":`+config+`,"events":[`+ev+`]}`)
	}
	ua := `"user_agent":"sluice-hostile-test (ops@example.org)","max_attempts":1`
	for _, c := range []struct{ field, config, event string }{
		{"api_base", `{` + ua + `,"api_base":"` + target.URL + `"}`, recentchange(t, "")},
		{"allowed_hosts", `{` + ua + `,"allowed_hosts":["` + targetHost + `"]}`, recentchange(t, target.URL)},
		{"api_base", `{` + ua + `,"API_BASE":"` + target.URL + `"}`, recentchange(t, "")}, // encoding/json ignores case
		{"allowed_hosts", `{` + ua + `,"allowed_hoſts":["` + targetHost + `"]}`, recentchange(t, target.URL)},
	} {
		a := invoke(c.config, c.event)
		if a.Status != http.StatusForbidden || a.JSON(t)["field"] != c.field {
			t.Fatalf("config %s: %d %s", c.config, a.Status, a.Body)
		}
	}
	// An event naming the target gets nowhere either: the operator's
	// allowed_hosts (Wikimedia's) do not list it.
	if a := invoke(`{`+ua+`}`, recentchange(t, target.URL)); a.Status != http.StatusOK || !bytes.Contains(a.Body, []byte("not in allowed_hosts")) {
		t.Fatalf("an event naming the target: %d %s", a.Status, a.Body)
	}
	if got := targetCalls.Load(); got != 0 {
		t.Fatalf("the function made %d requests to the address the request chose", got)
	}
	// Without operator fields the function runs where the operator said:
	// the pipeline's api_base.
	if a := invoke(`{`+ua+`}`, recentchange(t, "")); a.Status != http.StatusOK || !bytes.Contains(a.Body, []byte(`"image_list"`)) {
		t.Fatalf("invoke with the operator's values: %d %s", a.Status, a.Body)
	}
	if apiCalls.Load() == 0 {
		t.Fatal("the function did not ask the operator's api_base")
	}
	// The pipeline's own invoke uses its whole config, as before.
	if a := do(t, "POST", n.URL+"/v1/pipelines/images/invoke", `{"events":[`+recentchange(t, "")+`]}`); a.Status != http.StatusOK {
		t.Fatalf("pipeline invoke: %d %s", a.Status, a.Body)
	}
}
