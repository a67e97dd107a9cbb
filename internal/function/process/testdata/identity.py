"""The identity function as a process function, in the standard library
only (a minimal Lambda Runtime API client): for the benchmark."""
import http.client
import json
import os

conn = http.client.HTTPConnection(os.environ["AWS_LAMBDA_RUNTIME_API"])
while True:
    conn.request("GET", "/2018-06-01/runtime/invocation/next")
    resp = conn.getresponse()
    req = json.loads(resp.read())
    rid = resp.getheader("Lambda-Runtime-Aws-Request-Id")
    body = json.dumps({"results": [{"outputs": [e]} for e in req["events"]]})
    conn.request("POST", "/2018-06-01/runtime/invocation/%s/response" % rid, body)
    conn.getresponse().read()
