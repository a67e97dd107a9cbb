"""Run a Python function in sluice (https://github.com/sluice-dev/sluice).

One file, standard library only (Python 3.11+). Copy it next to your
function, or point at it, and give sluice the command:

    python3 sluice_function.py mymodule:handle       # a module on sys.path
    python3 sluice_function.py path/to/file.py:handle

or end your own file with ``sluice_function.main(handle)`` and run that file.

A handler is a plain function::

    def handle(event: dict, config: dict) -> dict | list[dict] | None:
        ...

A dict is one output event, a list is several (an empty list or None: the
event is filtered out), and an exception is that event's error, reported
with its type, message and whole stack; the other events of the batch go
on. A batch handler sees every event of an invocation at once (to batch
calls to an API) and returns one entry per event, in order, each as a
handler's return value or an Exception instance for that event's error::

    @sluice_function.batch
    def handle(events: list[dict], config: dict) -> list:
        ...

An exception raised by a batch handler fails the whole invocation: sluice
splits the batch and retries the halves until the failing event is alone.

The process speaks the AWS Lambda Runtime API at $AWS_LAMBDA_RUNTIME_API,
which sluice serves on loopback: GET .../invocation/next, POST
.../invocation/{id}/response or .../error, and .../init/error when the
module cannot be loaded. An invocation is sluice's contract (see
docs/FUNCTIONS.md): {"function", "config", "events"} in, {"results": [...]}
out, one result per event. ``time_remaining()`` tells a handler how long it
has before the invocation's deadline (Lambda-Runtime-Deadline-Ms); once the
deadline has passed the events not yet run fail the invocation instead of
being run, so sluice can retry them in smaller batches.

Logs go to stderr, which sluice puts in its own log under the function's
name: use ``logging`` (level from $LOG_LEVEL, default INFO) or print(),
which is sent to stderr too.

For unit tests, call the handler directly, or ``invoke(handle, events,
config)`` to get the exact answer sluice would get.
"""

from __future__ import annotations

import argparse
import http.client
import importlib
import importlib.util
import json
import logging
import os
import sys
import time
import traceback
from typing import Any, Callable

__all__ = ["batch", "invoke", "main", "time_remaining", "Error", "RUNTIME_API_VERSION"]

RUNTIME_API_VERSION = "2018-06-01"

# Bounds on what one error report carries, so a runaway message or a deep
# recursion cannot make an answer huge: the start of the message and the
# first and last lines of the stack (where the call began and where it
# failed) are kept.
MAX_MESSAGE = 8192
MAX_STACK_HEAD = 40
MAX_STACK_TAIL = 160

log = logging.getLogger("sluice_function")

_BATCH_ATTR = "__sluice_batch__"
_THIS_FILE = os.path.abspath(__file__)
_IMPORTLIB_INIT = os.path.abspath(importlib.__file__)
_deadline: float | None = None  # seconds since the epoch, during an invocation


def batch(handler: Callable) -> Callable:
    """Mark handler as a batch handler: handler(events, config) -> list."""
    setattr(handler, _BATCH_ATTR, True)
    return handler


def is_batch(handler: Callable) -> bool:
    return bool(getattr(handler, _BATCH_ATTR, False))


def time_remaining() -> float | None:
    """Seconds until the current invocation's deadline (negative once past),
    or None outside an invocation or when sluice gave no deadline."""
    if _deadline is None:
        return None
    return _deadline - time.time()


class Error(Exception):
    """An event's error with a type of your choosing:
    ``raise sluice_function.Error("NotFound", "no page 42")``."""

    def __init__(self, type: str, message: str):
        super().__init__(message)
        self.type = type


class InvocationError(Exception):
    """The whole invocation failed (not one event): reported to
    .../invocation/{id}/error so that sluice retries or splits the batch."""

    def __init__(self, type: str, message: str, stack: list[str] | None = None):
        super().__init__(message)
        self.type = type
        self.stack = stack or []


# -- results ----------------------------------------------------------------


def error_type(e: BaseException) -> str:
    if isinstance(e, Error):
        return e.type
    t = type(e)
    if t.__module__ in ("builtins", "__main__"):
        return t.__qualname__
    return t.__module__ + "." + t.__qualname__


def _bound_lines(lines: list[str]) -> list[str]:
    if len(lines) <= MAX_STACK_HEAD + MAX_STACK_TAIL:
        return lines
    cut = len(lines) - MAX_STACK_HEAD - MAX_STACK_TAIL
    return lines[:MAX_STACK_HEAD] + [f"... {cut} lines left out ..."] + lines[-MAX_STACK_TAIL:]


def _bound_message(msg: str) -> str:
    if len(msg) <= MAX_MESSAGE:
        return msg
    return msg[:MAX_MESSAGE] + f"... ({len(msg) - MAX_MESSAGE} characters left out)"


def _runner_frame(filename: str) -> bool:
    """Frames of this file's runner and of the import machinery, which
    start every stack and say nothing about the function."""
    if filename.startswith("<frozen importlib"):
        return True
    return os.path.abspath(filename) in (_THIS_FILE, _IMPORTLIB_INIT)


def _trim(te: traceback.TracebackException) -> None:
    while te is not None:
        frames = list(te.stack)
        start = 0
        while start < len(frames) and _runner_frame(frames[start].filename):
            start += 1
        kept = [f for f in frames[start:] if not f.filename.startswith("<frozen importlib")]
        if kept or not frames:  # an error of this file's own keeps its frames
            te.stack = traceback.StackSummary.from_list(kept)
        te = te.__cause__ or te.__context__


def describe(e: BaseException) -> dict:
    """The contract's error object for e: type, message and the stack as a
    list of lines, as Python prints it (chained causes included), from the
    function's first frame (this file's and the import machinery's left
    out)."""
    te = traceback.TracebackException(type(e), e, e.__traceback__)
    _trim(te)
    text = "".join(te.format())
    msg = str(e) or type(e).__name__
    return {"type": error_type(e), "message": _bound_message(msg), "stack": _bound_lines(text.splitlines())}


def _outputs(value: Any, where: str) -> list:
    """The outputs of one handler return value, checked to be JSON objects."""
    if value is None:
        return []
    if isinstance(value, dict):
        value = [value]
    elif not isinstance(value, (list, tuple)):
        raise TypeError(f"{where} returned {type(value).__name__}; want a dict (one output), a list of dicts, or None")
    for i, o in enumerate(value):
        if not isinstance(o, dict):
            raise TypeError(f"{where} returned a list whose item {i} is {type(o).__name__}; want dicts (JSON objects)")
    # Checked here so that a value JSON cannot carry (a datetime, NaN) is
    # this event's error, not a broken answer for the whole batch.
    return json.loads(json.dumps(list(value), allow_nan=False, ensure_ascii=False))


def _result(value: Any, where: str) -> dict:
    try:
        return {"outputs": _outputs(value, where)}
    except (TypeError, ValueError) as e:
        return {"error": describe(e)}


def _deadline_passed(done: int, total: int) -> InvocationError:
    return InvocationError(
        "Sluice.DeadlineExceeded",
        f"the invocation's deadline passed after {done} of {total} events; the rest were not run")


def run_batch(handler: Callable, events: list, config: dict) -> list[dict]:
    """One result per event, in order, as sluice's contract has them.
    Raises InvocationError when the whole invocation fails."""
    name = getattr(handler, "__name__", "handler")
    if is_batch(handler):
        try:
            values = handler(events, config)
        except Exception as e:
            d = describe(e)
            raise InvocationError(d["type"], d["message"], d["stack"]) from e
        if not isinstance(values, (list, tuple)):
            raise InvocationError("Sluice.WrongResults",
                                  f"batch handler {name} returned {type(values).__name__}; want a list with one entry per event")
        if len(values) != len(events):
            raise InvocationError("Sluice.WrongResultCount",
                                  f"batch handler {name} returned {len(values)} results for {len(events)} events")
        out = []
        for i, v in enumerate(values):
            if isinstance(v, BaseException):
                out.append({"error": describe(v)})
            else:
                out.append(_result(v, f"batch handler {name} for event {i}"))
        return out
    out = []
    for i, ev in enumerate(events):
        left = time_remaining()
        if left is not None and left <= 0:
            raise _deadline_passed(i, len(events))
        try:
            v = handler(ev, config)
        except Exception as e:
            out.append({"error": describe(e)})
            continue
        out.append(_result(v, f"handler {name}"))
    return out


def parse_invocation(body: bytes) -> tuple[list, dict]:
    """The events and config of an invocation body; InvocationError if it is
    not one."""
    try:
        inv = json.loads(body)
    except (ValueError, UnicodeDecodeError) as e:
        raise InvocationError("Sluice.InvalidInvocation", f"the invocation body is not JSON: {e}") from None
    if not isinstance(inv, dict):
        raise InvocationError("Sluice.InvalidInvocation",
                              f"the invocation body is {type(inv).__name__}; want an object with events")
    events = inv.get("events")
    if not isinstance(events, list):
        raise InvocationError("Sluice.InvalidInvocation", "/events: want an array of events")
    config = inv.get("config")
    if config is None:
        config = {}
    if not isinstance(config, dict):
        raise InvocationError("Sluice.InvalidInvocation", "/config: want an object")
    return events, config


def invoke(handler: Callable, events: list, config: dict | None = None, timeout: float | None = None) -> dict:
    """Call handler on events as sluice would, and return the answer
    ({"results": [...]}, one per event) after a JSON round trip; for unit
    tests. An invocation error is raised as InvocationError."""
    global _deadline
    body = json.dumps({"function": getattr(handler, "__name__", "handler"), "config": config or {}, "events": events})
    evs, cfg = parse_invocation(body.encode())
    _deadline = None if timeout is None else time.time() + timeout
    try:
        return json.loads(json.dumps({"results": run_batch(handler, evs, cfg)}))
    finally:
        _deadline = None


# -- the Runtime API client -------------------------------------------------


class RuntimeAPI:
    """A client of the Lambda Runtime API at host:port, on one kept-alive
    connection."""

    def __init__(self, address: str):
        host, sep, port = address.rpartition(":")
        if not sep or not port.isdigit():
            raise ValueError(f"AWS_LAMBDA_RUNTIME_API: want host:port, got {address!r}")
        self.host, self.port = host.strip("[]"), int(port)
        self.conn: http.client.HTTPConnection | None = None
        self.prefix = f"/{RUNTIME_API_VERSION}/runtime"

    def _request(self, method: str, path: str, body: bytes | None = None,
                 headers: dict | None = None) -> tuple[int, dict, bytes]:
        hdrs = {"User-Agent": "sluice-function-python/1"}
        hdrs.update(headers or {})
        # A kept-alive connection may have been closed by the server while
        # idle: the request fails at once, and is sent once more on a new
        # connection. A runtime that is gone refuses the new one.
        for attempt in (1, 2):
            if self.conn is None:
                self.conn = http.client.HTTPConnection(self.host, self.port)  # no timeout: next blocks until work comes
            try:
                self.conn.request(method, self.prefix + path, body=body, headers=hdrs)
                resp = self.conn.getresponse()
                data = resp.read()
                return resp.status, {k.lower(): v for k, v in resp.getheaders()}, data
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                self.conn.close()
                self.conn = None
                if attempt == 2:
                    raise
            except OSError:
                self.conn.close()
                self.conn = None
                raise
        raise AssertionError("unreachable")

    def next(self) -> tuple[str, float | None, bytes]:
        status, headers, body = self._request("GET", "/invocation/next")
        if status != 200:
            raise RuntimeError(f"GET invocation/next: HTTP {status}: {body[:200]!r}")
        rid = headers.get("lambda-runtime-aws-request-id", "")
        if not rid:
            raise RuntimeError("GET invocation/next: no Lambda-Runtime-Aws-Request-Id")
        deadline = None
        raw = headers.get("lambda-runtime-deadline-ms", "")
        try:
            deadline = int(raw) / 1000.0
        except ValueError:
            if raw:
                log.warning("ignoring Lambda-Runtime-Deadline-Ms %r: not an integer", raw)
        return rid, deadline, body

    def post(self, path: str, doc: dict, error_type: str | None = None) -> int:
        headers = {"Content-Type": "application/json"}
        if error_type:
            headers["Lambda-Runtime-Function-Error-Type"] = error_type
        body = json.dumps(doc, ensure_ascii=False, allow_nan=False).encode()
        status, _, data = self._request("POST", path, body, headers)
        if status != 202:
            log.warning("POST %s: HTTP %d: %s", path, status, data[:200].decode("utf-8", "replace"))
        return status


def lambda_error(e_type: str, message: str, stack: list[str]) -> dict:
    return {"errorType": e_type, "errorMessage": message, "stackTrace": stack}


def serve(handler: Callable, api: RuntimeAPI) -> None:
    """Answer invocations forever."""
    global _deadline
    while True:
        rid, deadline, body = api.next()
        _deadline = deadline
        try:
            try:
                events, config = parse_invocation(body)
                answer = {"results": run_batch(handler, events, config)}
            except InvocationError as e:
                log.error("invocation %s failed: %s: %s", rid, e.type, e)
                api.post(f"/invocation/{rid}/error", lambda_error(e.type, str(e), e.stack), e.type)
                continue
            status = api.post(f"/invocation/{rid}/response", answer)
            if status == 413:
                msg = "the answer is larger than the runtime accepts"
                api.post(f"/invocation/{rid}/error", lambda_error("Sluice.ResponseTooLarge", msg, []),
                         "Sluice.ResponseTooLarge")
        finally:
            _deadline = None


def report_init_error(api: RuntimeAPI | None, e: BaseException) -> None:
    d = describe(e)
    log.error("cannot load the function: %s: %s\n%s", d["type"], d["message"], "\n".join(d["stack"]))
    if api is not None:
        try:
            api.post("/init/error", lambda_error(d["type"], d["message"], d["stack"]), d["type"])
        except OSError as oe:
            log.error("POST init/error: %s", oe)


def load(spec: str) -> Callable:
    """The handler named by "module:function" or "path/file.py:function"."""
    mod_name, sep, attr = spec.rpartition(":")
    if not sep or not mod_name or not attr:
        raise ValueError(f"handler {spec!r}: want module:function or path/to/file.py:function")
    if mod_name.endswith(".py") or os.sep in mod_name or "/" in mod_name:
        path = os.path.abspath(mod_name)
        if not os.path.isfile(path):
            raise FileNotFoundError(f"handler {spec!r}: no file {path}")
        sys.path.insert(0, os.path.dirname(path))  # so it can import its neighbours
        name = os.path.splitext(os.path.basename(path))[0]
        ms = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(ms)
        sys.modules[name] = module
        ms.loader.exec_module(module)
    else:
        sys.path.insert(0, os.getcwd())
        module = importlib.import_module(mod_name)
    fn = module
    for part in attr.split("."):
        if not hasattr(fn, part):
            raise AttributeError(f"handler {spec!r}: module {mod_name} has no {attr!r}")
        fn = getattr(fn, part)
    if not callable(fn):
        raise TypeError(f"handler {spec!r}: {attr} is {type(fn).__name__}, not a function")
    return fn


def _setup_logging() -> None:
    level = os.environ.get("LOG_LEVEL", "INFO").upper()
    logging.basicConfig(stream=sys.stderr, level=getattr(logging, level, logging.INFO),
                        format="%(levelname)s %(name)s: %(message)s")
    # print() in a handler is a log line, never part of the protocol.
    sys.stdout = sys.stderr


def _connect() -> RuntimeAPI:
    address = os.environ.get("AWS_LAMBDA_RUNTIME_API", "")
    if not address:
        raise SystemExit("sluice_function: AWS_LAMBDA_RUNTIME_API is not set: this runs inside sluice "
                         "(functions: NAME: process: command: [...]); to try a handler, use sluice_function.invoke")
    return RuntimeAPI(address)


def main(handler: Callable | None = None, argv: list[str] | None = None) -> None:
    """Serve handler, or the handler named on the command line."""
    _setup_logging()
    if handler is None:
        p = argparse.ArgumentParser(prog="sluice_function.py", description="Run a Python handler in sluice over the Lambda Runtime API.")
        p.add_argument("handler", help="module:function or path/to/file.py:function")
        p.add_argument("--batch", action="store_true", help="the handler takes (events, config) and returns a list")
        args = p.parse_args(argv)
        api = _connect()
        try:
            handler = load(args.handler)
        except Exception as e:
            report_init_error(api, e)
            sys.exit(1)
        if args.batch:
            batch(handler)
    else:
        api = _connect()
    log.info("serving %s%s", getattr(handler, "__name__", "handler"), " (batch)" if is_batch(handler) else "")
    try:
        serve(handler, api)
    except (OSError, RuntimeError, http.client.HTTPException) as e:
        log.error("runtime API at %s:%d: %s", api.host, api.port, e)
        sys.exit(1)


if __name__ == "__main__":
    # Run as a script, this file is __main__; a handler that does
    # "import sluice_function" must get the same module (for batch, Error
    # and time_remaining), not a second copy.
    sys.modules.setdefault("sluice_function", sys.modules[__name__])
    main()
