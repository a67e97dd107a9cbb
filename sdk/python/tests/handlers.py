"""Handlers the tests run, as a user would write them."""

import datetime
import logging
import os
import time

import sluice_function

log = logging.getLogger("handlers")


def echo(event, config):
    """One output per event, with the config's tag."""
    return {"n": event["n"], "tag": config.get("tag")}


def spread(event, config):
    """Several outputs, none, or a failure, depending on the event."""
    kind = event.get("kind")
    if kind == "many":
        return [{"i": i} for i in range(event["count"])]
    if kind == "none":
        return None
    if kind == "empty":
        return []
    if kind == "fail":
        return _fail(event)
    if kind == "typed":
        raise sluice_function.Error("NotFound", "no page %d" % event["page"])
    if kind == "string":
        return "not an event"
    if kind == "date":
        return {"at": datetime.datetime(2026, 1, 1)}
    if kind == "nan":
        return {"x": float("nan")}
    if kind == "exit":
        os._exit(3)  # a crash: the runtime sees the process end while it holds the invocation
    if kind == "print":
        print("a line from print")
        log.warning("a line from logging")
        return {"printed": True}
    return {"ok": True}


def _fail(event):
    try:
        return {"v": int(event["value"])}
    except ValueError as e:
        raise LookupError("cannot read value %r" % event["value"]) from e


def slow(event, config):
    time.sleep(event.get("sleep", 0))
    return {"n": event["n"], "remaining": sluice_function.time_remaining()}


@sluice_function.batch
def batched(events, config):
    """Sees the whole batch: outputs carry the batch size."""
    out = []
    for e in events:
        if e.get("fail"):
            out.append(ValueError("bad event %d" % e["n"]))
        elif e.get("skip"):
            out.append(None)
        else:
            out.append({"n": e["n"], "batch": len(events)})
    return out


@sluice_function.batch
def batch_raises(events, config):
    raise RuntimeError("the API is down")


@sluice_function.batch
def batch_short(events, config):
    return [{"n": 1}]


@sluice_function.batch
def batch_poison(events, config):
    """Fails any batch that holds a poisoned event: sluice bisects until it is alone."""
    if any(e.get("poison") for e in events):
        raise RuntimeError("poisoned batch")
    return [{"n": e["n"]} for e in events]


def plain_batch(events, config):
    """A batch handler marked with --batch on the command line."""
    return [{"n": e["n"], "size": len(events)} for e in events]
