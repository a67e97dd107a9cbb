"""A stand-in for the AWS Lambda Runtime API that sluice serves, for the
SDK's tests: the subset a runtime client uses (GET invocation/next, POST
invocation/{id}/response, invocation/{id}/error, init/error), with the
status codes and headers AWS documents."""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PREFIX = "/2018-06-01/runtime"


class Outcome:
    def __init__(self, kind: str, body: bytes, headers: dict):
        self.kind = kind  # "response" or "error"
        self.body = body
        self.headers = headers

    def json(self):
        return json.loads(self.body)


class RuntimeAPI:
    """Runs on 127.0.0.1 on a free port; invoke() queues an invocation and
    waits for its outcome."""

    def __init__(self):
        self.pending: queue.Queue = queue.Queue()
        self.outcomes: dict[str, Outcome] = {}
        self.init_error: Outcome | None = None
        self.cond = threading.Condition()
        self.next_calls = 0
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def reply(self, status, doc=None, headers=None):
                body = json.dumps(doc or {}).encode()
                self.send_response(status)
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):
                if self.path != PREFIX + "/invocation/next":
                    return self.reply(404, {"errorType": "NotFound"})
                with api.cond:
                    api.next_calls += 1
                    api.cond.notify_all()
                while True:
                    try:
                        rid, body, deadline_ms = api.pending.get(timeout=0.5)
                        break
                    except queue.Empty:
                        if api.closed:
                            self.close_connection = True
                            return
                self.send_response(200)
                self.send_header("Lambda-Runtime-Aws-Request-Id", rid)
                if deadline_ms is not None:
                    self.send_header("Lambda-Runtime-Deadline-Ms", str(deadline_ms))
                self.send_header("Lambda-Runtime-Invoked-Function-Arn", "arn:aws:lambda:local:0:function:test")
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self):
                n = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(n)
                headers = {k.lower(): v for k, v in self.headers.items()}
                if self.path == PREFIX + "/init/error":
                    with api.cond:
                        api.init_error = Outcome("init_error", body, headers)
                        api.cond.notify_all()
                    return self.reply(202, {"status": "OK"})
                parts = self.path[len(PREFIX):].split("/")  # ["", "invocation", id, kind]
                if len(parts) != 4 or parts[1] != "invocation" or parts[3] not in ("response", "error"):
                    return self.reply(404, {"errorType": "NotFound"})
                with api.cond:
                    if parts[2] not in api.issued or parts[2] in api.outcomes:
                        return self.reply(400, {"errorType": "InvalidRequestID"})
                    api.outcomes[parts[2]] = Outcome(parts[3], body, headers)
                    api.cond.notify_all()
                self.reply(202, {"status": "OK"})

        self.closed = False
        self.issued: set[str] = set()
        class Server(ThreadingHTTPServer):
            def handle_error(self, request, client_address):
                pass  # a client that went away (a killed process) is part of the tests

        self.server = Server(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def address(self) -> str:
        return "127.0.0.1:%d" % self.server.server_address[1]

    def submit(self, doc, timeout: float | None = 30.0, raw: bytes | None = None) -> str:
        rid = str(uuid.uuid4())
        body = raw if raw is not None else json.dumps(doc).encode()
        deadline = None if timeout is None else int((time.time() + timeout) * 1000)
        with self.cond:
            self.issued.add(rid)
        self.pending.put((rid, body, deadline))
        return rid

    def wait(self, rid: str, within: float = 30.0) -> Outcome:
        end = time.time() + within
        with self.cond:
            while rid not in self.outcomes:
                left = end - time.time()
                if left <= 0:
                    raise AssertionError(f"no outcome for invocation {rid} within {within}s")
                self.cond.wait(left)
            return self.outcomes[rid]

    def invoke(self, events, config=None, timeout: float | None = 30.0) -> Outcome:
        return self.wait(self.submit({"function": "f", "config": config or {}, "events": events}, timeout))

    def wait_init_error(self, within: float = 30.0) -> Outcome:
        end = time.time() + within
        with self.cond:
            while self.init_error is None:
                left = end - time.time()
                if left <= 0:
                    raise AssertionError("no init error reported")
                self.cond.wait(left)
            return self.init_error

    def close(self):
        self.closed = True
        self.server.shutdown()
        self.server.server_close()


HERE = os.path.dirname(os.path.abspath(__file__))
SDK = os.path.dirname(HERE)


def start(api: RuntimeAPI, *args: str, cwd: str | None = None, env: dict | None = None) -> subprocess.Popen:
    """Starts `python3 sluice_function.py ARGS` (or, if args[0] ends in .py,
    `python3 ARGS`) against api."""
    e = dict(os.environ, AWS_LAMBDA_RUNTIME_API=api.address, PYTHONPATH=SDK + os.pathsep + HERE)
    e.update(env or {})
    argv = [sys.executable] + (list(args) if args and args[0].endswith(".py") and os.sep in args[0]
                               else [os.path.join(SDK, "sluice_function.py"), *args])
    return subprocess.Popen(argv, cwd=cwd or HERE, env=e, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def stop(p: subprocess.Popen) -> tuple[str, str]:
    if p.poll() is None:
        p.kill()
    out, err = p.communicate(timeout=30)
    return out.decode(), err.decode()
