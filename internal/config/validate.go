package config

import (
	"fmt"

	"github.com/sluice-dev/sluice/internal/catalog"
	"github.com/sluice-dev/sluice/internal/event"
	"github.com/sluice-dev/sluice/internal/filter"
	"github.com/sluice-dev/sluice/internal/schema"
	"github.com/sluice-dev/sluice/internal/table"
)

// namePath is where a bad name is reported: the entry itself in a file
// (streams.NAME), the name field in an API body.
func namePath(p string) string {
	if p == "" {
		return "name"
	}
	return p
}

// adder records a problem at a field's path.
type adder func(path, format string, args ...any)

// sub joins a field to a definition's path ("" for the definition itself).
func sub(p, field string) string {
	if p == "" {
		return field
	}
	if field == "" || field[0] == '[' {
		return p + field
	}
	return p + "." + field
}

func (s Stream) validate(name, p string, add adder) {
	if !catalog.ValidName(name) {
		add(namePath(p), "stream names are %s", catalog.NameRule)
	}
	if s.Schema.empty() && s.SchemaBundle == nil {
		add(sub(p, "schema"), "required: no schema, no stream (in a file: the path of a JSON Schema relative to it, or the schema itself)")
	}
	if !s.Schema.empty() && s.SchemaBundle != nil {
		add(sub(p, "schema_bundle"), "give schema or schema_bundle, not both")
	}
	for field, ptr := range map[string]string{"id": s.ID, "time": s.Time} {
		if ptr != "" && !schema.ValidPointer(ptr) {
			add(sub(p, field), "%q is not a JSON pointer (e.g. /meta/id)", ptr)
		}
	}
	for i, ptr := range s.Key {
		if ptr == "" || !schema.ValidPointer(ptr) {
			add(sub(p, fmt.Sprintf("key[%d]", i)), "%q is not a JSON pointer (e.g. /wiki)", ptr)
		}
	}
	if s.Retention.MaxAge < 0 {
		add(sub(p, "retention.max_age"), "cannot be negative")
	}
}

// validate checks a pipeline; hasTable says whether a table is defined
// (nil: tables are not checked).
func (pl Pipeline) validate(name, p string, add adder, hasTable func(string) bool) {
	if !pipelineName.MatchString(name) {
		add(namePath(p), "pipeline names are [a-z0-9][a-z0-9_-]{0,63}")
	}
	if pl.From == "" {
		add(sub(p, "from"), "required: the stream to read")
	}
	if pl.Start != "" {
		if _, err := event.ParsePosition(pl.Start); err != nil {
			add(sub(p, "start"), "%v", err)
		}
	}
	if pl.Where != "" {
		if _, err := filter.Compile(pl.Where); err != nil {
			add(sub(p, "where"), "%v", err)
		}
	}
	if pl.Function.Name == "" {
		add(sub(p, "function.name"), "required (e.g. jq, identity, mediawiki.page_images)")
	}
	if len(pl.To) == 0 {
		add(sub(p, "to"), "at least one output")
	}
	for i, o := range pl.To {
		op := sub(p, fmt.Sprintf("to[%d]", i))
		switch {
		case kinds(o) != 1:
			add(op, "give exactly one kind: stream, table, sql or files")
		case o.Files != nil:
			o.Files.validate(pl, op+".files", add)
		case o.SQL != nil:
			o.SQL.validate(op+".sql", add)
		case o.Table != "":
			if hasTable != nil && !hasTable(o.Table) {
				add(op+".table", "unknown table %q (not declared under tables)", o.Table)
			}
		}
	}
	if pl.MaxInFlight < 0 {
		add(sub(p, "max_in_flight"), "cannot be negative")
	}
}

func (tb Table) validate(name, p string, add adder) {
	if err := table.ValidName(name); err != nil {
		add(namePath(p), "%v", err)
	}
	if tb.Key == "" {
		add(sub(p, "key"), `required: a CEL expression over event, e.g. 'event.wiki + ":" + event.page_id'`)
	} else if _, err := filter.CompileExpr(tb.Key, "event"); err != nil {
		add(sub(p, "key"), "%v", err)
	}
	if tb.Time == "" || !schema.ValidPointer(tb.Time) {
		add(sub(p, "time"), "required: the JSON pointer of the version's time, e.g. /event_time")
	}
	if tb.DeleteWhen != "" {
		if _, err := filter.Compile(tb.DeleteWhen); err != nil {
			add(sub(p, "delete_when"), "%v", err)
		}
	}
}
