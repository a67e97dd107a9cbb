package httpapi

import "github.com/sluice-dev/sluice/internal/catalog"

// route is one operation: the mux and the OpenAPI document both come from these.
type route struct {
	method, path string
	id, summary  string
	tag          string
	params       []param
	body         *body
	responses    map[int]response
	h            handlerFunc
}

type param struct {
	name, in, desc, typ string
	required            bool
	check               func(string) error // a path parameter's rule (names.go); nil: any
}

type body struct {
	desc    string
	types   []string // media types
	schema  string   // name of a component schema
	example string
}

type response struct {
	desc   string
	types  []string
	schema string
}

var (
	streamName   = param{name: "name", in: "path", desc: "stream name: " + catalog.NameRule, typ: "string", required: true, check: checkStream}
	pipelineName = param{name: "name", in: "path", desc: "pipeline name", typ: "string", required: true, check: checkPipeline}
	sourceName   = param{name: "name", in: "path", desc: "source name", typ: "string", required: true, check: checkSource}
	functionName = param{name: "name", in: "path", desc: "function name", typ: "string", required: true, check: checkPipeline}
	tableName    = param{name: "name", in: "path", desc: "table name", typ: "string", required: true, check: checkTable}
	operationID  = param{name: "id", in: "path", desc: "operation id", typ: "string", required: true}
	atParam      = param{name: "at", in: "query", desc: "RFC 3339 time or unix ms (default: now)", typ: "string"}
	problemResp  = func(desc string) response {
		return response{desc: desc, types: []string{"application/problem+json"}, schema: "Problem"}
	}
	jsonResp = func(desc, schema string) response {
		return response{desc: desc, types: []string{"application/json"}, schema: schema}
	}
)

func (a *API) table() []route {
	return []route{
		{method: "GET", path: "/v1/streams", id: "listStreams", tag: "streams", summary: "List streams with their size and extent",
			responses: map[int]response{200: jsonResp("the streams", "StreamList")}, h: a.listStreams},
		{method: "GET", path: "/v1/streams/{name}", id: "getStream", tag: "streams", summary: "A stream's definition, schema, versions and state",
			params: []param{streamName},
			responses: map[int]response{200: jsonResp("the stream", "StreamInfo"), 404: problemResp("no such stream"),
				503: problemResp("the engine does not answer for the stream now (cause: no_leader or engine_unavailable), with Retry-After")}, h: a.getStream},
		{method: "PUT", path: "/v1/streams/{name}/schema", id: "setSchema", tag: "streams", summary: "Add a schema version (backward compatible, or forced)",
			params: []param{streamName, {name: "force", in: "query", desc: "replace even with breaking changes (recorded in the version)", typ: "boolean"}},
			body:   &body{desc: "the new schema", types: []string{"application/json"}, schema: "SchemaPut", example: `{"schema":{"type":"object"}}`},
			responses: map[int]response{200: jsonResp("the current version; changed tells whether it is new", "SchemaVersionResult"),
				400: problemResp("invalid schema"), 404: problemResp("no such stream"), 409: problemResp("breaking changes, listed in breaking")},
			h: a.setSchema},
		{method: "GET", path: "/v1/streams/{name}/versions/{version}", id: "getSchemaVersion", tag: "streams", summary: "One schema version",
			params:    []param{streamName, {name: "version", in: "path", desc: "version number, from 1", typ: "integer", required: true}},
			responses: map[int]response{200: jsonResp("the version", "SchemaVersion"), 404: problemResp("no such stream or version")},
			h:         a.getVersion},
		{method: "POST", path: "/v1/streams/{name}/events", id: "produce", tag: "events",
			summary: "Produce events: validated against the schema, de-duplicated by id, stored durably before the answer",
			params:  []param{streamName},
			body: &body{desc: "one JSON object, a JSON array of objects, or NDJSON", types: []string{"application/json", "application/x-ndjson"},
				schema: "Event", example: `{"meta":{"id":"e1","dt":"2026-11-27T10:00:00Z"}}`},
			responses: map[int]response{200: jsonResp("every event stored (or a duplicate)", "ProduceResult"),
				207: jsonResp("some events invalid; the valid ones are stored", "ProduceResult"),
				400: problemResp("no valid event, or an unreadable body; names the index, pointer and rule"),
				404: problemResp("no such stream"), 413: problemResp("an event or the request is over its size limit, or the body holds more events than limits.max_events_per_request"),
				503: problemResp("the stream cannot store now, with Retry-After: it has no leader (cause: no_leader: its NATS cluster is electing one, " +
					"or too few of its servers are up) or the engine does not answer (cause: engine_unavailable); events lists the events stored, " +
					"the others may or may not be: send them again, ids de-duplicate"),
				507: problemResp("out of storage space (cause: store_limit, disk_reserve or disk_full, with the figures); " +
					"events lists exactly the events stored, not_stored the first one that was not")},
			h: a.produce},
		{method: "GET", path: "/v1/streams/{name}/events", id: "read", tag: "events",
			summary: "Read a range as NDJSON pages, or subscribe with Server-Sent Events (Accept: text/event-stream)",
			params: []param{streamName,
				{name: "since", in: "query", desc: "earliest | latest | sequence | RFC 3339 event time | unix ms (default: earliest; latest for SSE)", typ: "string"},
				{name: "until", in: "query", desc: "exclusive end, same forms as since", typ: "string"},
				{name: "limit", in: "query", desc: "events per page (NDJSON: default 100, max 10000); SSE: stop after this many", typ: "integer"},
				{name: "envelope", in: "query", desc: "wrap each event as {seq, id, time, key, event}; messages sluice did not write (published straight to NATS) come flagged foreign, with raw (base64) if not JSON; plain reads skip them (NDJSON: counted in Sluice-Skipped)", typ: "boolean"},
				{name: "filter", in: "query", desc: "CEL expression over `event`: only matching events; NDJSON pages scan at most 10000 events each (Sluice-Next continues)", typ: "string"},
				{name: "order", in: "query", desc: "NDJSON only: asc (default) or desc: newest first, from before `until` (default: the end) backwards; Sluice-Next is the `until` of the next (older) page, 0 at the start", typ: "string"},
				{name: "Last-Event-ID", in: "header", desc: "SSE resume: continue strictly after this sequence; wins over since", typ: "string"}},
			responses: map[int]response{200: {desc: "events: NDJSON with a Sluice-Next header, or an SSE stream", types: []string{"application/x-ndjson", "text/event-stream"}},
				204: {desc: "SSE only: the range is already over (e.g. resuming at or past until); EventSource clients stop reconnecting"},
				400: problemResp("bad position or limit"), 404: problemResp("no such stream")},
			h: a.read},
		{method: "GET", path: "/v1/cluster", id: "getCluster", tag: "cluster", summary: "The nodes sharing the engine and what each runs",
			responses: map[int]response{200: jsonResp("the cluster", "Cluster"), 404: problemResp("the node shares no work")}, h: a.getCluster},
		{method: "GET", path: "/v1/sources", id: "listSources", tag: "sources", summary: "Every source: state, position, lag, counts, last error",
			responses: map[int]response{200: jsonResp("the sources", "SourceList")}, h: a.listSources},
		{method: "GET", path: "/v1/sources/{name}", id: "getSource", tag: "sources", summary: "One source's status",
			params:    []param{sourceName},
			responses: map[int]response{200: jsonResp("the source", "Source"), 404: problemResp("no such source")}, h: a.getSource},
		{method: "POST", path: "/v1/sources/{name}/pause", id: "pauseSource", tag: "sources", summary: "Pause a source (kept across restarts)",
			params:    []param{sourceName},
			responses: map[int]response{200: jsonResp("the source", "Source"), 404: problemResp("no such source")}, h: a.pauseSource},
		{method: "POST", path: "/v1/sources/{name}/resume", id: "resumeSource", tag: "sources", summary: "Resume a paused source where it stopped",
			params:    []param{sourceName},
			responses: map[int]response{200: jsonResp("the source", "Source"), 404: problemResp("no such source")}, h: a.resumeSource},
		{method: "GET", path: "/v1/functions", id: "listFunctions", tag: "functions", summary: "Built-in function kinds (config fields, docs) and named functions (kind, settings, state, instances)",
			responses: map[int]response{200: jsonResp("the functions", "FunctionList")}, h: a.listFunctions},
		{method: "GET", path: "/v1/functions/{name}", id: "getFunction", tag: "functions", summary: "A named function: its state here, its spec and version",
			params:    []param{functionName},
			responses: map[int]response{200: jsonResp("the function", "Function"), 404: problemResp("no such named function")}, h: a.getFunction},
		{method: "POST", path: "/v1/functions/{name}/invoke", id: "invokeFunction", tag: "functions",
			summary: "Run a function on events and return its outputs and per-event errors; nothing is written",
			params:  []param{{name: "name", in: "path", desc: "function name, e.g. jq", typ: "string", required: true}},
			body: &body{desc: "the function's config and the events", types: []string{"application/json"}, schema: "Invoke",
				example: `{"config":{"program":"{title, wiki}"},"events":[{"title":"A","wiki":"enwiki"}]}`},
			responses: map[int]response{200: jsonResp("one result per event, in order", "InvokeResult"),
				400: problemResp("bad config (the message names the field), a config for a named function, or bad events"),
				403: problemResp("the config sets an operator field (a network target such as api_base), which only the node's config sets"),
				404: problemResp("no such function"), 409: problemResp("the pipelines using the function disagree on its operator fields"),
				503: problemResp("the function cannot run now: its process does not start or its endpoint does not answer")},
			h: a.invokeFunction},
		{method: "GET", path: "/v1/pipelines", id: "listPipelines", tag: "pipelines", summary: "Every pipeline: position, lag, rate, counts, last error",
			responses: map[int]response{200: jsonResp("the pipelines", "PipelineList")}, h: a.listPipelines},
		{method: "GET", path: "/v1/pipelines/{name}", id: "getPipeline", tag: "pipelines", summary: "One pipeline's status",
			params: []param{pipelineName}, responses: map[int]response{200: jsonResp("the pipeline", "Pipeline"), 404: problemResp("no such pipeline")},
			h: a.getPipeline},
		{method: "POST", path: "/v1/pipelines/{name}/pause", id: "pausePipeline", tag: "pipelines", summary: "Pause a pipeline (kept across restarts)",
			params: []param{pipelineName}, responses: map[int]response{200: jsonResp("the pipeline", "Pipeline"), 404: problemResp("no such pipeline")},
			h: a.pausePipeline},
		{method: "POST", path: "/v1/pipelines/{name}/resume", id: "resumePipeline", tag: "pipelines", summary: "Resume a paused pipeline",
			params: []param{pipelineName}, responses: map[int]response{200: jsonResp("the pipeline", "Pipeline"), 404: problemResp("no such pipeline")},
			h: a.resumePipeline},
		{method: "POST", path: "/v1/pipelines/{name}/reset", id: "resetPipeline", tag: "pipelines",
			summary:   "Process again from a position (backfill); outputs are kept and not written twice",
			params:    []param{pipelineName, {name: "to", in: "query", desc: "earliest | latest | sequence | RFC 3339 time | unix ms", typ: "string", required: true}},
			responses: map[int]response{200: jsonResp("the pipeline", "Pipeline"), 400: problemResp("bad position"), 404: problemResp("no such pipeline")},
			h:         a.resetPipeline},
		{method: "POST", path: "/v1/pipelines/{name}/redrive", id: "redrivePipeline", tag: "pipelines",
			summary: "Start submitting the pipeline's dead letters again; those that succeed leave <pipeline>.errors. Answers at once; follow the operation (Location)",
			params:  []param{pipelineName}, responses: map[int]response{202: jsonResp("started; Location: /v1/operations/{id}", "Operation"),
				404: problemResp("no such pipeline"), 409: problemResp("the pipeline runs an operation already (in `operation`)")},
			h: a.redrivePipeline},
		{method: "POST", path: "/v1/pipelines/{name}/invoke", id: "invokePipeline", tag: "pipelines",
			summary: "Run the pipeline's where and function on events; nothing is written",
			params:  []param{pipelineName},
			body:    &body{desc: "the events", types: []string{"application/json"}, schema: "PipelineInvoke", example: `{"events":[{"title":"A"}]}`},
			responses: map[int]response{200: jsonResp("one result per event, in order", "InvokeResult"), 400: problemResp("bad events"),
				404: problemResp("no such pipeline")},
			h: a.invokePipeline},
		{method: "GET", path: "/v1/tables", id: "listTables", tag: "tables", summary: "The temporal tables",
			responses: map[int]response{200: jsonResp("their names", "TableList")}, h: a.listTables},
		{method: "GET", path: "/v1/tables/{name}", id: "scanTable", tag: "tables", summary: "Every key's value at a time, paged by key",
			params: []param{tableName, atParam,
				{name: "prefix", in: "query", desc: "only keys that start with this", typ: "string"},
				{name: "limit", in: "query", desc: "keys per page (default 100, max 10000)", typ: "integer"},
				{name: "cursor", in: "query", desc: "the next value of the previous page", typ: "string"}},
			responses: map[int]response{200: jsonResp("values at the time; next is empty on the last page", "TablePage"),
				400: problemResp("bad time or limit"), 404: problemResp("no such table")}, h: a.scanTable},
		{method: "GET", path: "/v1/tables/{name}/keys/{key}", id: "getKey", tag: "tables", summary: "The version of a key valid at a time",
			params: []param{tableName, {name: "key", in: "path", desc: "the key", typ: "string", required: true}, atParam},
			responses: map[int]response{200: jsonResp("the version", "TableVersion"), 400: problemResp("bad time"),
				404: problemResp("no such table, or the key had no value at that time")}, h: a.getKey},
		{method: "POST", path: "/v1/tables/{name}/lookup", id: "lookupKeys", tag: "tables",
			summary: "The versions of many keys valid at a time, in one request: one result per key given, in order",
			params:  []param{tableName},
			body: &body{desc: "1 to 1000 keys (each answered where given, also when given twice) and the time (default now)", types: []string{"application/json"},
				schema: "TableLookup", example: `{"keys":["enwiki:1","enwiki:2"],"at":"2026-11-27T12:00:00Z"}`},
			responses: map[int]response{200: jsonResp("one result per key: its version, or missing if it had no value at that time", "TableLookupResult"),
				400: problemResp("no keys, a bad key (named by its index: keys[3]), a bad time or an unreadable body"),
				404: problemResp("no such table"), 413: problemResp("more than 1000 keys (limit gives the figure), or a body over 1 MiB")},
			h: a.lookupKeys},
		{method: "GET", path: "/v1/tables/{name}/keys/{key}/history", id: "keyHistory", tag: "tables", summary: "The versions of a key, in order",
			params: []param{tableName, {name: "key", in: "path", desc: "the key", typ: "string", required: true},
				{name: "from", in: "query", desc: "RFC 3339 or unix ms (default: the beginning)", typ: "string"},
				{name: "to", in: "query", desc: "RFC 3339 or unix ms, exclusive (default: no end)", typ: "string"}},
			responses: map[int]response{200: jsonResp("the versions", "TableHistory"), 400: problemResp("bad time"), 404: problemResp("no such table")},
			h:         a.keyHistory},
		{method: "POST", path: "/v1/tables/{name}/rebuild", id: "rebuildTable", tag: "tables",
			summary: "Start emptying a table and writing it again from the stream output of the pipeline that feeds it (the same versions); the pipeline goes on. Answers at once; follow the operation (Location)",
			params:  []param{tableName},
			responses: map[int]response{202: jsonResp("started; Location: /v1/operations/{id}", "Operation"),
				404: problemResp("no such table, or no pipeline writes it"),
				409: problemResp("no pipeline, or the pipeline that writes the table runs an operation already (in `operation`)")},
			h: a.rebuildTable},
		{method: "GET", path: "/v1/operations", id: "listOperations", tag: "pipelines", summary: "Each pipeline's running or last long operation (redrive, rebuild)",
			responses: map[int]response{200: jsonResp("the operations", "OperationList")}, h: a.listOperations},
		{method: "GET", path: "/v1/operations/{id}", id: "getOperation", tag: "pipelines", summary: "An operation's state and progress",
			params:    []param{operationID},
			responses: map[int]response{200: jsonResp("the operation", "Operation"), 404: problemResp("no such operation (only each pipeline's last is kept)")},
			h:         a.getOperation},
		{method: "DELETE", path: "/v1/operations/{id}", id: "cancelOperation", tag: "pipelines",
			summary: "Cancel a running operation; what it did stays done (a canceled rebuild leaves the table partial until the next)",
			params:  []param{operationID},
			responses: map[int]response{200: jsonResp("canceled", "Operation"), 202: jsonResp("still ending; follow it", "Operation"),
				404: problemResp("no such operation"), 409: problemResp("the operation had ended")},
			h: a.cancelOperation},
		{method: "GET", path: "/healthz", id: "healthz", tag: "operations", summary: "The process is up",
			responses: map[int]response{200: jsonResp("up", "Status")}, h: a.healthz},
		{method: "GET", path: "/readyz", id: "readyz", tag: "operations", summary: "The engine is reachable, the catalog loaded and there is room to store",
			responses: map[int]response{200: jsonResp("ready", "Status"), 503: problemResp("not ready; out of space gives the cause (store_limit, disk_reserve, disk_full) and its figures")}, h: a.readyz},
		{method: "GET", path: "/openapi.json", id: "openapi", tag: "operations", summary: "This document",
			responses: map[int]response{200: {desc: "OpenAPI 3.1", types: []string{"application/json"}}}, h: a.openapi},
	}
}
