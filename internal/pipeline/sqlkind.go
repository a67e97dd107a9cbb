package pipeline

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/sluice-dev/sluice/internal/field"
	"github.com/sluice-dev/sluice/internal/schema"
)

// SQLKind is the sql output: rows of a PostgreSQL or SQLite table.
var SQLKind = OutputKind{
	Name: "sql",
	Doc:  "write the outputs as rows of a PostgreSQL or SQLite table, created if missing (append, or upsert by key)",
	Check: func(settings any, _ Definition, _ CheckEnv) field.Errors {
		var c SQLOutputConfig
		if err := field.Decode(settings, &c); err != nil {
			return field.Errors{{Message: err.Error()}}
		}
		return c.Check()
	},
	New: func(settings any, env OutputEnv) (Output, error) {
		var c SQLOutputConfig
		if err := field.Decode(settings, &c); err != nil {
			return nil, err
		}
		c.Dir = env.Dir
		return NewSQLOutput(context.Background(), c)
	},
}

// Check lists the config's problems, at their paths.
func (s SQLOutputConfig) Check() field.Errors {
	var errs field.Errors
	switch {
	case s.URL == "":
		errs.Add("url", "required: postgres://... or sqlite:PATH")
	case strings.HasPrefix(s.URL, "postgres://"), strings.HasPrefix(s.URL, "postgresql://"):
	case strings.HasPrefix(s.URL, "sqlite:"):
		if strings.TrimPrefix(strings.TrimPrefix(s.URL, "sqlite:"), "//") == "" {
			errs.Add("url", "sqlite: needs a file path, e.g. sqlite:///var/lib/out.db")
		}
	default:
		errs.Add("url", "want postgres://... or sqlite:PATH")
	}
	if !sqlIdentRE.MatchString(s.Table) {
		errs.Add("table", "%q: want [a-z_][a-z0-9_]{0,62}", s.Table)
	}
	switch s.Mode {
	case "", SQLAppend:
		if len(s.Key) > 0 {
			errs.Add("key", "only for mode upsert")
		}
	case SQLUpsert:
		if len(s.Key) == 0 {
			errs.Add("key", "required for mode upsert: the columns of the unique key")
		}
		seen := map[string]bool{}
		for i, k := range s.Key {
			if _, ok := s.Columns[k]; !ok {
				errs.Add(fmt.Sprintf("key[%d]", i), "%q is not one of the columns", k)
			}
			if seen[k] {
				errs.Add(fmt.Sprintf("key[%d]", i), "%q given twice", k)
			}
			seen[k] = true
		}
	default:
		errs.Add("mode", "%q: want append or upsert", s.Mode)
	}
	if len(s.Columns) == 0 {
		errs.Add("columns", "at least one column: name -> JSON pointer")
	}
	names := make([]string, 0, len(s.Columns))
	for n := range s.Columns {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		cp := "columns." + name
		switch {
		case !sqlIdentRE.MatchString(name):
			errs.Add(cp, "column names are [a-z_][a-z0-9_]{0,62}")
		case strings.HasPrefix(name, "sluice_"):
			errs.Add(cp, "names starting with sluice_ are reserved")
		}
		if ptr := s.Columns[name]; ptr == "" || !schema.ValidPointer(ptr) {
			errs.Add(cp, "%q: want a JSON pointer, e.g. /page_id", ptr)
		}
	}
	return errs
}
