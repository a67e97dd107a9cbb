package httpapi

import "encoding/json"

// componentSchemas are the JSON Schemas (2020-12, as OpenAPI 3.1 uses) of
// the bodies. The tests validate real responses against them.
func componentSchemas() map[string]any {
	var out map[string]any
	if err := json.Unmarshal([]byte(components), &out); err != nil {
		panic("httpapi: components: " + err.Error())
	}
	return out
}

const components = `{
"Problem": {"type":"object","required":["type","title","status"],"properties":{
  "type":{"type":"string"},"title":{"type":"string"},"status":{"type":"integer"},
  "detail":{"type":"string"},"instance":{"type":"string"},
  "invalid":{"type":"array","items":{"$ref":"#/components/schemas/Invalid"}},
  "breaking":{"type":"array","items":{"$ref":"#/components/schemas/Change"}},
  "index":{"type":"integer"},"limit":{"type":"integer"}}},
"Status": {"type":"object","required":["status"],"properties":{"status":{"type":"string"}}},
"Grant": {"type":"object","required":["resource","role"],"properties":{
  "resource":{"type":"string","description":"KIND:NAME (stream, pipeline, table, function, source; * in NAME matches any run of characters), or * for everything"},
  "role":{"type":"string","enum":["read","produce","invoke","operate","admin"]}}},
"Token": {"type":"object","required":["id","name","grants","created"],"properties":{
  "id":{"type":"string"},"name":{"type":"string"},"grants":{"type":"array","items":{"$ref":"#/components/schemas/Grant"}},
  "created":{"type":"string","format":"date-time"},"created_by":{"type":"string"},
  "expires":{"type":"string","format":"date-time"},"last_used":{"type":"string","format":"date-time"}}},
"TokenRequest": {"type":"object","required":["name","grants"],"properties":{"name":{"type":"string"},
  "grants":{"type":"array","items":{"$ref":"#/components/schemas/Grant"}},"expires":{"type":"string","description":"from now: 720h, 30d; unset: never"}}},
"NewToken": {"allOf":[{"$ref":"#/components/schemas/Token"}],"type":"object","required":["token"],"properties":{"token":{"type":"string","description":"the token's text, shown this once"}}},
"TokenList": {"type":"object","required":["tokens"],"properties":{"tokens":{"type":"array","items":{"$ref":"#/components/schemas/Token"}}}},
"Session": {"type":"object","required":["enabled"],"properties":{"enabled":{"type":"boolean"},"token":{"$ref":"#/components/schemas/Token"},"csrf":{"type":"string"},
  "may":{"type":"object","description":"the node-wide pages the token may use","properties":{"tokens":{"type":"boolean"},"audit":{"type":"boolean"}}}}},
"SessionRequest": {"type":"object","required":["token"],"properties":{"token":{"type":"string"}}},
"Duration": {"type":"string","description":"a Go duration such as 168h or 90s"},
"Retention": {"type":"object","properties":{"max_age":{"$ref":"#/components/schemas/Duration"},"max_bytes":{"type":"integer"}}},
"Stream": {"type":"object","required":["name","id","time","version","created"],"properties":{
  "name":{"type":"string","pattern":"^[a-z0-9][a-z0-9_-]*(\\.[a-z0-9_-]+)*$","maxLength":128},
  "id":{"type":"string","description":"JSON pointer to the event id"},
  "time":{"type":"string","description":"JSON pointer to the event time"},
  "key":{"type":"array","items":{"type":"string"}},
  "preview":{"type":"array","maxItems":8,"items":{"type":"string"},"description":"JSON pointers whose values sum an event up in one line (the UI's rows, sluice tail --preview); in StreamInfo the ones set, or the default chosen from the schema (preview_default)"},
  "retention":{"$ref":"#/components/schemas/Retention"},
  "duplicate_window":{"$ref":"#/components/schemas/Duration"},
  "replicas":{"type":"integer","minimum":1,"maximum":5,"description":"copies the engine keeps, on as many servers of a NATS cluster: in a definition 1, 3 or 5, unset for the node's default (nats_replicas); in StreamInfo the copies kept now (1 on a single server)"},
  "version":{"type":"integer","minimum":1},
  "created":{"type":"string","format":"date-time"},"updated":{"type":"string","format":"date-time"}}},
"StreamInfo": {"allOf":[{"$ref":"#/components/schemas/Stream"}],"type":"object",
  "required":["versions","messages","bytes","first_seq","last_seq","replicas","preview"],"properties":{
  "schema":{"description":"the current schema document"},
  "preview_default":{"type":"boolean","description":"the definition sets no preview: preview is the default chosen from the schema (top-level scalar fields, common names such as title, wiki, user, type first; at most 4)"},
  "versions":{"type":"array","items":{"type":"object","required":["version","created"],"properties":{
    "version":{"type":"integer"},"created":{"type":"string"},"forced":{"type":"boolean"},
    "breaking":{"type":"array","items":{"$ref":"#/components/schemas/Change"}}}}},
  "messages":{"type":"integer"},"bytes":{"type":"integer"},"first_seq":{"type":"integer"},"last_seq":{"type":"integer"},
  "first_time":{"type":["string","null"]},"last_time":{"type":["string","null"]},
  "rate_per_s":{"type":"number","description":"mean arrival rate over the last minute"},
  "leader":{"type":"string","description":"the NATS server that stores the stream's events first; absent while it has none (the cluster electing, or without quorum: produce answers 503) and on a single server"},
  "followers":{"type":"array","description":"the other copies, as the leader sees them","items":{"type":"object","required":["name","current","lag"],"properties":{
    "name":{"type":"string"},"current":{"type":"boolean","description":"has everything the leader stored"},
    "offline":{"type":"boolean"},"lag":{"type":"integer","description":"operations behind the leader"}}}}}},
"StreamList": {"type":"object","required":["streams"],"properties":{"streams":{"type":"array","items":{"$ref":"#/components/schemas/StreamInfo"}}}},
"Bundle": {"type":"object","required":["root","resources"],"properties":{"root":{"type":"string"},"resources":{"type":"object"}}},
"Definition": {"type":"object","description":"a definition's spec: the same fields as its entry in sluice.yaml (docs/SELF-SERVICE.md); name may be given here or in the path"},
"StoredDefinition": {"type":"object","required":["kind","name","spec","version"],"properties":{
  "kind":{"type":"string","enum":["streams","tables","functions","sources","pipelines"]},"name":{"type":"string"},
  "spec":{"type":"object"},"version":{"type":"integer"},"created":{"type":"string"},"updated":{"type":"string"},"by":{"type":"string"}}},
"PutResult": {"type":"object","required":["name","changed"],"properties":{"changed":{"type":"boolean"},
  "fields":{"type":"array","items":{"type":"string"}},"spec":{"type":"object"},"version":{"type":"integer"}}},
"DefinitionHistory": {"type":"object","required":["versions"],"properties":{"versions":{"type":"array","items":{"type":"object",
  "required":["version","op","at"],"properties":{"version":{"type":"integer"},"op":{"type":"string","enum":["create","update","delete"]},
  "at":{"type":"string"},"by":{"type":"string"},"fields":{"type":"array","items":{"type":"string"}},"spec":{"type":"object"}}}}}},
"DefinitionList": {"type":"object","required":["definitions"],"properties":{"definitions":{"type":"array","items":{"$ref":"#/components/schemas/StoredDefinition"}}}},
"ApplyRequest": {"type":"object","required":["definitions"],"properties":{
  "definitions":{"type":"array","items":{"type":"object","required":["kind","name","spec"],"properties":{"kind":{"type":"string"},"name":{"type":"string"},"spec":{"type":"object"}}}},
  "resets":{"type":"object","additionalProperties":{"type":"string"}}}},
"Plan": {"type":"object","required":["changes","applied"],"properties":{"applied":{"type":"boolean"},"changes":{"type":"array","items":{"type":"object",
  "required":["op","kind","name"],"properties":{"op":{"type":"string","enum":["+","~","-"]},"kind":{"type":"string"},"name":{"type":"string"},
  "fields":{"type":"array","items":{"type":"string"}},"note":{"type":"string"}}}}}},
"DryRun": {"type":"object","required":["pipeline","from","events"],"properties":{"pipeline":{"type":"string"},"from":{"type":"string"},
  "events":{"type":"array","items":{"type":"object","required":["seq","id","input","skipped","outputs","error"],"properties":{
    "seq":{"type":"integer"},"id":{"type":"string"},"input":{},"skipped":{"type":"boolean"},"outputs":{"type":"array"},
    "error":{"oneOf":[{"type":"null"},{"type":"object","required":["message"],"properties":{"message":{"type":"string"},"type":{"type":"string"}}}]}}}}}},
"StreamCreate": {"type":"object","required":["name"],"additionalProperties":false,"properties":{
  "name":{"type":"string"},"schema":{"type":["object","boolean"]},"schema_bundle":{"$ref":"#/components/schemas/Bundle"},
  "id":{"type":"string"},"time":{"type":"string"},"key":{"type":"array","items":{"type":"string"}},
  "preview":{"type":"array","maxItems":8,"items":{"type":"string"},"description":"JSON pointers shown in an event's one-line summary; unset: chosen from the schema"},
  "retention":{"$ref":"#/components/schemas/Retention"},"duplicate_window":{"$ref":"#/components/schemas/Duration"},
  "replicas":{"type":"integer","enum":[1,3,5],"description":"copies the engine keeps; unset: the node's default (nats_replicas); more than 1 needs a NATS cluster"}}},
"SchemaPut": {"type":"object","additionalProperties":false,"properties":{
  "schema":{"type":["object","boolean"]},"schema_bundle":{"$ref":"#/components/schemas/Bundle"}}},
"Change": {"type":"object","required":["pointer","field","kind","detail"],"properties":{
  "pointer":{"type":"string"},"field":{"type":"string"},"kind":{"type":"string"},"detail":{"type":"string"}}},
"SchemaVersion": {"type":"object","required":["version","schema","created"],"properties":{
  "version":{"type":"integer"},"schema":{"$ref":"#/components/schemas/Bundle"},"created":{"type":"string"},
  "forced":{"type":"boolean"},"breaking":{"type":"array","items":{"$ref":"#/components/schemas/Change"}}}},
"SchemaVersionResult": {"allOf":[{"$ref":"#/components/schemas/SchemaVersion"}],"type":"object","required":["changed"],
  "properties":{"changed":{"type":"boolean"}}},
"Source": {"type":"object","required":["name","kind","to","state","events_in","stored","duplicates","dropped","dead_lettered","reconnects","paused"],"properties":{
  "name":{"type":"string"},"kind":{"type":"string","enum":["sse","file"]},"to":{"type":"string"},
  "state":{"type":"string","enum":["starting","connecting","streaming","backing_off","paused","finished","failed","stopped","standby"]},
  "node":{"type":"string","description":"the node that runs it, among nodes sharing the engine (standby: another node runs it; empty while it moves)"},
  "position":{"type":"string","description":"the feed's position after the last event read (for EventStreams, its id)"},
  "last_event_time":{"type":"string","description":"the newest event time stored"},
  "last_stored_time":{"type":"string","description":"when the source last stored an event (a quiet or stalled feed shows here)"},
  "lag_seconds":{"type":"number","description":"how far behind its feed the source was at its last store: then minus the newest event time; it does not grow while the feed is quiet; absent for a file import"},
  "events_in":{"type":"integer"},"stored":{"type":"integer"},"duplicates":{"type":"integer"},"dropped":{"type":"integer"},
  "dead_lettered":{"type":"integer"},"unreadable":{"type":"integer"},"reconnects":{"type":"integer"},
  "last_error":{"type":"string"},"last_error_time":{"type":"string"},"retry_at":{"type":"string"},
  "paused":{"type":"boolean"},"started_at":{"type":"string"},
  "history":{"type":["array","null"],"description":"the last hour on this node, a sample every 30 s","items":{"type":"object","required":["t","rate"],"properties":{"t":{"type":"string"},"lag_events":{"type":"integer"},"lag_seconds":{"type":"number"},"rate":{"type":"number"}}}}}},
"SourceList": {"type":"object","required":["sources"],"properties":{"sources":{"type":"array","items":{"$ref":"#/components/schemas/Source"}}}},
"Function": {"type":"object","required":["name","kind"],"properties":{"name":{"type":"string"},"kind":{"type":"string"},
  "state":{"type":"string"},"spec":{"type":"object"},"version":{"type":"integer"}}},
"FunctionList": {"type":"object","required":["functions"],"properties":{"functions":{"type":"array","items":{
  "type":"object","required":["name","kind","doc"],"properties":{"name":{"type":"string"},"doc":{"type":"string"},
  "kind":{"type":"string","description":"a built-in kind (its name), or process or http for a named function of the operator's code"},
  "builtin":{"type":"boolean","description":"a built-in kind, invoked with a config; otherwise a named function (functions: in the config), invoked without"},
  "fields":{"type":["array","null"],"items":{"type":"object","required":["name","type","doc"],"properties":{
    "name":{"type":"string"},"type":{"type":"string"},"default":{},"required":{"type":"boolean"},"doc":{"type":"string"}}}},
  "settings":{"type":"object","description":"a named function's kind settings as configured; secrets (header and env values, query strings) left out"},
  "config":{"type":"object","description":"a named function's preset config"},"max_batch":{"type":"integer"},"payload":{"type":"string","enum":["sluice","firehose"]},
  "state":{"type":"string","description":"process: ready, starting or failing; http: idle, ok or failing"},
  "status":{"type":"object","description":"process: instances (state, pid, restarts, last exit and error) and counts; http: the endpoint, counts, last status and error"}}}}}},
"Invoke": {"type":"object","required":["events"],"additionalProperties":false,"properties":{
  "config":{"type":"object"},"events":{"type":"array","minItems":1,"maxItems":10000}}},
"InvokeResult": {"type":"object","required":["results"],"properties":{"results":{"type":"array","items":{
  "type":"object","required":["index","outputs"],"properties":{"index":{"type":"integer"},"outputs":{"type":"array"},"error":{"type":"string"},"filtered":{"type":"boolean"},
  "detail":{"type":"object","description":"what a dead letter carries besides the message","properties":{"type":{"type":"string"},"stack":{"type":"array","items":{"type":"string"}},
    "stderr":{"type":"string"},"exit":{"type":"string"},"attempts":{"type":"integer"},"http_status":{"type":"integer"},"http_body":{"type":"string"}}}}}}}},
"Pipeline": {"type":"object","required":["name","from","function","to","state","paused","position","lag_events","rate","processed","filtered","failed","outputs"],
  "properties":{"name":{"type":"string"},"from":{"type":"string"},"function":{"type":"string"},"to":{"type":["array","null"],"items":{"type":"string"}},
  "state":{"type":"string","enum":["starting","running","paused","failing","stopped","standby"]},"paused":{"type":"boolean"},
  "node":{"type":"string","description":"the node that runs it, among nodes sharing the engine (standby: another node runs it; empty while it moves)"},
  "position":{"type":"integer"},"lag_events":{"type":"integer","description":"inputs not yet done"},
  "lag_seconds":{"type":["number","null"],"description":"how long the oldest input not yet done has waited: now minus when it was stored in the input stream; 0 when none waits; null until known"},
  "rate":{"type":"number"},
  "processed":{"type":"integer"},"filtered":{"type":"integer"},"failed":{"type":"integer"},"outputs":{"type":"integer"},
  "counted_since":{"type":"string","format":"date-time","description":"when the totals processed, filtered, failed and outputs began; they are kept in the engine across restarts and nodes"},
  "last_error":{"type":"string"},"last_error_time":{"type":"string"},"last_event_time":{"type":"string"},
  "operation":{"$ref":"#/components/schemas/Operation","description":"the running or last redrive or rebuild"},
  "files":{"type":"array","description":"the pipeline's files outputs: where they write, position, lag, objects, the open object, last error","items":{"type":"object","required":["url","format","state","position","lag_events","objects"],"properties":{
    "lag_events":{"type":"integer","description":"events of the stream not yet in a committed object: unread_events plus those read and not yet written (held_events, mostly)"},
    "unread_events":{"type":"integer","description":"events of the stream the output has not read yet"},
    "held_events":{"type":"integer","description":"events gathered in the open object, waiting for it to roll"},
    "waiting":{"type":"string","description":"while an object is open, why its events wait: \"rolls every 5m0s, at 64MiB or 100000 events; next roll by 12:05:00 UTC\""},
    "next_roll":{"type":"string","format":"date-time","description":"when the open object is written at the latest"},
    "roll":{"type":"string","description":"the rule objects roll by: \"every 5m0s, at 64MiB or 100000 events\""}}}},
  "history":{"type":["array","null"],"description":"the last hour on this node, a sample every 30 s","items":{"type":"object","required":["t","rate"],"properties":{"t":{"type":"string"},"lag_events":{"type":"integer"},"lag_seconds":{"type":"number"},"rate":{"type":"number"}}}}}},
"ClusterRuns": {"type":"object","required":["sources","pipelines","files"],"properties":{"sources":{"type":"array","items":{"type":"string"}},"pipelines":{"type":"array","items":{"type":"string"}},"files":{"type":"array","items":{"type":"string"}}}},
"Cluster": {"type":"object","required":["node","lease_ttl","nodes","waiting"],"properties":{
  "node":{"type":"string","description":"the node that answered"},"lease_ttl":{"type":"string","description":"how long after a node dies another takes over its work"},
  "nodes":{"type":"array","items":{"type":"object","required":["name","instance","addr","started","last_seen","units","runs"],"properties":{
    "name":{"type":"string"},"instance":{"type":"string","description":"one process of the node"},"addr":{"type":"string","description":"its HTTP address"},
    "started":{"type":"string","format":"date-time"},"last_seen":{"type":"string","format":"date-time"},"tables":{"type":"string","enum":["sqlite","postgres"]},
    "units":{"type":"integer","description":"the sources, pipelines and files outputs it runs or waits to run"},"runs":{"$ref":"#/components/schemas/ClusterRuns"}}}},
  "waiting":{"$ref":"#/components/schemas/ClusterRuns"}}},
"PipelineList": {"type":"object","required":["pipelines"],"properties":{"pipelines":{"type":"array","items":{"$ref":"#/components/schemas/Pipeline"}}}},
"Operation": {"type":"object","required":["id","kind","pipeline","state","started","progress"],"properties":{
  "id":{"type":"string"},"kind":{"type":"string","enum":["redrive","rebuild"]},"pipeline":{"type":"string"},
  "table":{"type":"string","description":"the table a rebuild writes"},
  "state":{"type":"string","enum":["running","succeeded","failed","canceled","interrupted"],"description":"interrupted: the node stopped while it ran (an interrupted rebuild starts over when the node starts)"},
  "started":{"type":"string","format":"date-time"},"finished":{"type":"string","format":"date-time"},
  "progress":{"type":"object","required":["done","succeeded","failed"],"properties":{
    "done":{"type":"integer","description":"messages read: dead letters (redrive) or output messages (rebuild)"},
    "total":{"type":"integer","description":"messages there were when it started"},
    "succeeded":{"type":"integer","description":"dead letters through and removed; outputs written into the table"},
    "failed":{"type":"integer","description":"dead letters that failed again and stay; outputs the table refused"}}},
  "error":{"type":"string"},"resumes":{"type":"string","description":"the interrupted rebuild this one started over"}}},
"OperationList": {"type":"object","required":["operations"],"properties":{"operations":{"type":"array","items":{"$ref":"#/components/schemas/Operation"}}}},
"PipelineInvoke": {"type":"object","required":["events"],"additionalProperties":false,"properties":{"events":{"type":"array","minItems":1,"maxItems":10000}}},
"TableList": {"type":"object","required":["tables"],"properties":{"tables":{"type":"array","items":{"type":"string"}}}},
"TableVersion": {"type":"object","required":["key","valid_from","valid_to","value","deleted","source"],"properties":{
  "key":{"type":"string"},"valid_from":{"type":"string","format":"date-time"},"valid_to":{"type":["string","null"]},
  "value":{"description":"the version's value; null for a deletion"},"deleted":{"type":"boolean"},
  "source":{"type":"object","required":["stream","seq"],"properties":{"stream":{"type":"string"},"seq":{"type":"integer"}}}}},
"TablePage": {"type":"object","required":["at","versions","next"],"properties":{"at":{"type":"string"},
  "versions":{"type":"array","items":{"$ref":"#/components/schemas/TableVersion"}},"next":{"type":"string"}}},
"TableLookup": {"type":"object","required":["keys"],"additionalProperties":false,"properties":{
  "keys":{"type":"array","minItems":1,"maxItems":1000,"items":{"type":"string","minLength":1}},
  "at":{"type":["string","integer"],"description":"RFC 3339 time or unix ms (default: now)"}}},
"TableLookupResult": {"type":"object","required":["results"],"additionalProperties":false,"properties":{
  "results":{"type":"array","description":"one per key given, in order","items":{"oneOf":[
    {"type":"object","required":["key","value","valid_from","valid_to"],"additionalProperties":false,"properties":{
      "key":{"type":"string"},"value":{"description":"the version's value"},
      "valid_from":{"type":"string","format":"date-time"},"valid_to":{"type":["string","null"],"format":"date-time","description":"null while still valid"}}},
    {"type":"object","required":["key","missing"],"additionalProperties":false,"properties":{
      "key":{"type":"string"},"missing":{"const":true,"description":"the key had no value at that time"}}}]}}}},
"TableHistory": {"type":"object","required":["versions"],"properties":{"versions":{"type":"array","items":{"$ref":"#/components/schemas/TableVersion"}}}},
"Event": {"type":"object","description":"an event; the stream's schema says more"},
"Violation": {"type":"object","required":["pointer","keyword","message"],"properties":{
  "pointer":{"type":"string","description":"JSON pointer of the offending value"},
  "keyword":{"type":"string","description":"the rule, e.g. type, required, sluice.id"},
  "message":{"type":"string"}}},
"Invalid": {"type":"object","required":["index","errors"],"properties":{
  "index":{"type":"integer"},"errors":{"type":"array","items":{"$ref":"#/components/schemas/Violation"}}}},
"ProduceResult": {"type":"object","required":["accepted","duplicates","events"],"properties":{
  "accepted":{"type":"integer"},"duplicates":{"type":"integer"},
  "events":{"type":"array","items":{"type":"object","required":["index","seq","duplicate"],"properties":{
    "index":{"type":"integer"},"seq":{"type":"integer"},"duplicate":{"type":"boolean"}}}},
  "invalid":{"type":"array","items":{"$ref":"#/components/schemas/Invalid"}}}}
}`
