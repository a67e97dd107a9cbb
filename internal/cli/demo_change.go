package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"slices"
	"strconv"
	"time"

	"github.com/sluice-dev/sluice/internal/config"
	"github.com/sluice-dev/sluice/internal/httpapi"
	"github.com/sluice-dev/sluice/internal/wikisim/history"
)

// changePoll is how often watchChange looks at the table.
const changePoll = 500 * time.Millisecond

// watchChange waits until the demo pipeline's table holds two versions of
// page p with different image lists, then prints the key, the commands
// that show the difference and the key's page in the UI. It gives up when
// ctx ends, or at once if the pipeline writes no table.
func watchChange(ctx context.Context, w io.Writer, c *client, cfg *config.Config, p history.Page) {
	table := ""
	for _, o := range cfg.Pipelines[demoPipeline].To {
		if kind, _ := o.Kind(); kind == "table" {
			table = o.Table()
			break
		}
	}
	if table == "" {
		return
	}
	key := p.Wiki + ":" + strconv.FormatInt(p.ID, 10)
	t := time.NewTicker(changePoll)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		var h struct {
			Versions []httpapi.TableVersion `json:"versions"`
		}
		if err := c.getJSON(ctx, "/v1/tables/"+url.PathEscape(table)+"/keys/"+url.PathEscape(key)+"/history", &h); err != nil {
			continue // not yet in the table, or the node is stopping
		}
		before, ok := lastChange(h.Versions)
		if !ok {
			continue
		}
		printChange(w, c.base, table, key, p.Title, len(h.Versions), before)
		return
	}
}

// lastChange is the latest version whose image list differs from the
// newest version's: the images before the latest change.
func lastChange(vs []httpapi.TableVersion) (httpapi.TableVersion, bool) {
	images := func(v httpapi.TableVersion) ([]string, bool) {
		var o struct {
			ImageList []string `json:"image_list"`
		}
		return o.ImageList, !v.Deleted && json.Unmarshal(v.Value, &o) == nil
	}
	if len(vs) < 2 {
		return httpapi.TableVersion{}, false
	}
	now, ok := images(vs[len(vs)-1])
	if !ok {
		return httpapi.TableVersion{}, false
	}
	for _, v := range slices.Backward(vs[:len(vs)-1]) {
		if l, ok := images(v); ok && !slices.Equal(l, now) {
			return v, true
		}
	}
	return httpapi.TableVersion{}, false
}

// printChange prints the page, the two commands that show its change
// (before is a version before it) and its page in the UI.
func printChange(w io.Writer, base, table, key, title string, versions int, before httpapi.TableVersion) {
	server := serverFlag(base)
	changed := ""
	if before.ValidTo != nil {
		changed = " at " + before.ValidTo.UTC().Format(time.RFC3339Nano)
	}
	fmt.Fprintf(w, `
A page whose images changed: %s, key %s of table %s (%d versions so far)
  # its images now, and before they changed%s
  sluice table get %s %s%s
  sluice table get %s %s --at %s%s
  # its history in the UI: a slider over its versions, and what changed from one to the next
  %s/ui/tables/%s?key=%s

`, title, key, table, versions, changed, table, key, server, table, key, before.ValidFrom.UTC().Format(time.RFC3339Nano), server,
		base, url.PathEscape(table), url.QueryEscape(key))
}
