package history

import (
	"bytes"
	"encoding/json"
	"regexp"
	"strconv"
)

// revisionObject is the revision member of a recorded event.
var revisionObject = regexp.MustCompile(`"revision"\s*:\s*\{[^{}]*\}`)

// Rewrite is for eventstreams.Options.Rewrite: it records that offset n
// was sent and gives loop k > 0's events their loop's revision ids
// (revision.old is the page's previous edit), its deletions and
// recreations. Loop 0 goes out as recorded.
func (h *History) Rewrite(n int64, ev []byte) []byte {
	for {
		s := h.sent.Load()
		if s > n || h.sent.CompareAndSwap(s, n+1) {
			break
		}
	}
	if h.l == 0 || n < h.l {
		return ev
	}
	k := n / h.l
	e := h.evs[n%h.l]
	if e.p == nil {
		return ev
	}
	pos := position{k, e.rank}
	if e.p.deleted(pos) {
		if out, err := deletion(ev, logIDBase+n); err == nil {
			return out
		}
		return ev
	}
	w := h.wikis[e.p.ref.host]
	rev := []byte(`"revision":{`)
	if old := h.previous(e.p, pos); old > 0 {
		rev = append(strconv.AppendInt(append(rev, `"old":`...), old, 10), ',')
	}
	rev = append(strconv.AppendInt(append(rev, `"new":`...), w.rev(e.new, k), 10), '}')
	out := revisionObject.ReplaceAllLiteral(ev, rev)
	if e.p.recreated(pos) {
		out = bytes.Replace(out, []byte(`"type":"edit"`), []byte(`"type":"new"`), 1)
	}
	return out
}

// deletion turns an edit event into the deletion of its page, as log entry
// logID.
func deletion(ev []byte, logID int64) ([]byte, error) {
	var m map[string]any
	dec := json.NewDecoder(bytes.NewReader(ev))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil {
		return nil, err
	}
	for _, k := range []string{"revision", "length", "minor", "patrolled", "notify_url"} {
		delete(m, k)
	}
	title, _ := m["title"].(string)
	comment := "Deleted by the simulated wiki of sluice demo"
	m["type"], m["log_id"], m["log_type"], m["log_action"], m["log_params"] = "log", logID, "delete", "delete", []any{}
	m["log_action_comment"] = `deleted "[[` + title + `]]": ` + comment
	m["comment"], m["parsedcomment"], m["user"], m["bot"] = comment, comment, "Simulated admin", false
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(m); err != nil {
		return nil, err
	}
	return bytes.TrimRight(b.Bytes(), "\n"), nil
}
