"""A function for the process kind's tests: a minimal Lambda Runtime API
client in the standard library (until sdk/python/sluice_function.py is
there), doing what each event's "do" says, as lambdago does."""
import http.client
import json
import os
import sys
import time
import traceback

API = os.environ["AWS_LAMBDA_RUNTIME_API"]
PREFIX = "/2018-06-01/runtime"


def call(conn, method, path, body=None, headers=None):
    conn.request(method, PREFIX + path, body=body, headers=headers or {})
    resp = conn.getresponse()
    return resp, resp.read()


def handle(event, config, request_id):
    do = event.get("do") or "ok"
    n = event.get("n")
    if do == "ok":
        return {"outputs": [{"n": n, "by": "python", "config": config}]}
    if do == "fail":
        try:
            event["missing"]
        except KeyError as e:
            print("event %s is bad" % n, file=sys.stderr)
            return {"error": {"type": type(e).__name__, "message": str(e),
                              "stack": traceback.format_exception(type(e), e, e.__traceback__)}}
    if do == "exit":
        print("event %s: exiting with 3" % n, file=sys.stderr)
        sys.stderr.flush()
        os._exit(3)
    if do == "hang":
        time.sleep(3600)
    if do == "print":
        print("a print on stdout, as Lambda functions do", n)
        return {"outputs": [{"n": n, "by": "python"}]}
    raise RuntimeError("unknown do %r" % do)


def main():
    if os.environ.get("FIXTURE_START_DELAY"):
        time.sleep(float(os.environ["FIXTURE_START_DELAY"]))
    conn = http.client.HTTPConnection(API)
    while True:
        resp, body = call(conn, "GET", "/invocation/next")
        rid = resp.getheader("Lambda-Runtime-Aws-Request-Id")
        req = json.loads(body)
        try:
            results = [handle(e, req["config"], rid) for e in req["events"]]
        except Exception as e:
            err = {"errorMessage": str(e), "errorType": type(e).__name__,
                   "stackTrace": traceback.format_exception(type(e), e, e.__traceback__)}
            call(conn, "POST", "/invocation/%s/error" % rid, json.dumps(err),
                 {"Lambda-Runtime-Function-Error-Type": "Unhandled"})
            continue
        call(conn, "POST", "/invocation/%s/response" % rid, json.dumps({"results": results}))


main()
