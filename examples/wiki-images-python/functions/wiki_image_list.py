"""wiki_image_list: for each Wikimedia recentchange event, the images
("File:..." titles) its page shows now, asked of the event's own wiki.

The trial's AWS Lambda function, done again as a sluice process function in
plain Python (standard library only), with the same outputs as sluice's
built-in mediawiki.page_images in mode "current": one output per event
with page_id, image_list (sorted), create_date_time, wiki, domain, title,
rev_id, event_time, missing and meta (id derived from the input's id,
dt, stream "wiki.page_images").

It asks action=query&prop=images of each wiki for up to batch_size titles at
once (the titles of one invocation, per wiki), following continuation,
normalization and redirects (formatversion=2). Page deletions (log/delete)
give missing, with the id the page had from its deletion log entry
(list=logevents). Only hosts in allowed_hosts are called; requests carry the
configured User-Agent and maxlag, wait out maxlag and 429 answers
(Retry-After) and back off on 5xx and network errors.

Run by sluice as ``python3 functions/wiki_image_list.py`` (see ../sluice.yaml);
tested with ``python3 -m unittest`` in this folder.
"""

from __future__ import annotations

import concurrent.futures
import datetime
import hashlib
import json
import re
import threading
import time
import urllib.parse
import uuid

import sluice_function
from mediawiki_api import DEFAULT_ALLOWED_HOSTS, APIError, CallError, Client, HostRules, q, rebase, unexpected

NAME = "mediawiki.page_images"  # output ids are derived as the built-in's, so either can replace the other
OUTPUT_STREAM = "wiki.page_images"
MAX_ROUNDS = 10000  # continuation requests of one batch at most
DELETION_WINDOW = 60  # seconds around a deletion's time searched in the log
DELETIONS_ASKED = 50

DEFAULTS = {
    "mode": "current", "user_agent": "", "allowed_hosts": DEFAULT_ALLOWED_HOSTS,
    "max_concurrency_per_wiki": 2, "rate_per_wiki": 0, "batch_size": 50, "linger": "200ms",
    "max_attempts": 6, "timeout": "30s", "maxlag": 5, "api_base": "",
}


# -- config ---------------------------------------------------------------------

_DURATION = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)")
_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_duration(field: str, v, zero_ok: bool) -> float:
    """A Go duration ("200ms", "1m30s") in seconds."""
    bad = ValueError(f'{field}: want a duration like "200ms" or "30s", got {q(v)}')
    if not isinstance(v, str):
        raise bad
    s, sign = v, 1.0
    if s[:1] in "+-" and s:
        sign, s = (-1.0 if s[0] == "-" else 1.0), s[1:]
    if s == "0":
        total = 0.0
    else:
        pos, total = 0, 0.0
        for m in _DURATION.finditer(s):
            if m.start() != pos:
                raise bad
            total += float(m.group(1)) * _UNITS[m.group(2)]
            pos = m.end()
        if pos != len(s) or not s:
            raise bad
    total *= sign
    if total < 0 and zero_ok:
        raise ValueError(f"{field}: must not be negative, got {q(v)}")
    if total <= 0 and not zero_ok:
        raise ValueError(f"{field}: must be positive, got {q(v)}")
    return total


def _int(c: dict, field: str) -> int:
    v = c[field]
    if isinstance(v, bool) or not isinstance(v, int):
        if isinstance(v, float) and v.is_integer():
            return int(v)
        raise ValueError(f"{field}: want int, got {json.dumps(v)}")
    return v


class Settings:
    """A validated config; errors name the field."""

    def __init__(self, config: dict):
        unknown = sorted(set(config) - set(DEFAULTS))
        if unknown:
            raise ValueError(f"unknown field {q(unknown[0])} (known: {', '.join(sorted(DEFAULTS))})")
        c = dict(DEFAULTS, **config)
        if c["mode"] != "current":
            raise ValueError(f'mode: only "current" is done by this function, got {q(c["mode"])} '
                             "(the built-in mediawiki.page_images also has \"revision\")")
        ua = c["user_agent"].strip() if isinstance(c["user_agent"], str) else ""
        if not ua:
            raise ValueError('user_agent: required: Wikimedia blocks generic agents; give a name, version and contact, '
                             'e.g. "sluice-wiki-images/1.0 (https://example.org/contact; ops@example.org)"')
        if any(ord(ch) < 32 or ord(ch) == 127 for ch in ua):
            raise ValueError("user_agent: must not contain control characters")
        self.user_agent = ua
        self.concurrency = _int(c, "max_concurrency_per_wiki")
        if self.concurrency < 1:
            raise ValueError(f"max_concurrency_per_wiki: must be at least 1, got {self.concurrency}")
        self.rate = c["rate_per_wiki"]
        if isinstance(self.rate, bool) or not isinstance(self.rate, (int, float)) or self.rate < 0:
            raise ValueError(f"rate_per_wiki: must be 0 (unlimited) or more, got {json.dumps(self.rate)}")
        self.batch_size = _int(c, "batch_size")
        if not 1 <= self.batch_size <= 50:
            raise ValueError(f"batch_size: must be 1 to 50, got {self.batch_size}")
        self.max_attempts = _int(c, "max_attempts")
        if self.max_attempts < 1:
            raise ValueError(f"max_attempts: must be at least 1, got {self.max_attempts}")
        self.maxlag = _int(c, "maxlag")
        if self.maxlag < 1:
            raise ValueError(f"maxlag: must be at least 1 (second), got {self.maxlag}")
        # One process takes one invocation at a time, so no other call's
        # titles could join a batch: linger is accepted for the built-in's
        # configs' sake and not used.
        parse_duration("linger", c["linger"], True)
        self.timeout = parse_duration("timeout", c["timeout"], False)
        self.hosts = HostRules(c["allowed_hosts"])
        if not isinstance(c["api_base"], str):
            raise ValueError("api_base: want a string")
        self.api_base = self.hosts.api_base(c["api_base"])


# -- events ---------------------------------------------------------------------

_TYPES = {str: "string", int: "int64", dict: "object"}


def _field(doc: dict, path: str, want: type):
    """The value at path (dotted) if present and not null, checked against want."""
    v = doc
    for part in path.split("."):
        if not isinstance(v, dict):
            return None
        v = v.get(part)
        if v is None:
            return None
    if not isinstance(v, want) or (want is int and isinstance(v, bool)):
        got = "number" if isinstance(v, (int, float)) and not isinstance(v, bool) else type(v).__name__
        got = {"str": "string", "bool": "bool", "list": "array", "dict": "object"}.get(got, got)
        raise ValueError(f"event: {path}: want {_TYPES[want]}, got {got}")
    return v


class Job:
    """One input event, ready to look up."""

    def __init__(self, ev, settings: Settings):
        if not isinstance(ev, dict):
            raise ValueError("event is not a JSON object")
        for path, want in [("meta", dict), ("meta.id", str), ("meta.dt", str), ("type", str), ("title", str),
                           ("wiki", str), ("server_url", str), ("server_script_path", str), ("log_id", int),
                           ("log_type", str), ("log_action", str), ("revision", dict), ("revision.new", int)]:
            _field(ev, path, want)
        self.ev = ev
        meta = ev.get("meta") or {}
        self.dt = meta.get("dt") or ""
        if not self.dt:
            raise ValueError("meta.dt: required")
        self.id_from = meta.get("id") or ""
        if not self.id_from:
            # still deterministic for the same event (the built-in hashes the event's bytes as sent)
            raw = json.dumps(ev, separators=(",", ":"), ensure_ascii=False).encode()
            self.id_from = "sha1:" + hashlib.sha1(raw).hexdigest()
        self.title = ev.get("title") or ""
        self.deleted = (ev.get("type") == "log" and ev.get("log_type") == "delete"
                        and ev.get("log_action") in ("delete", "delete_redir"))
        self.domain = ""
        self.api = None
        server_url = ev.get("server_url") or ""
        log_id = ev.get("log_id")
        if self.deleted:
            try:
                self.domain = (urllib.parse.urlsplit(server_url).hostname or "")
            except ValueError:
                pass
            if log_id is None or log_id <= 0 or not self.title or not server_url:
                return  # nothing to ask the log: missing, without an id
        if not self.title:
            raise ValueError("title: required: the event names no page")
        if not server_url:
            raise ValueError("server_url: required: the event names no wiki to ask")
        try:
            api = settings.hosts.endpoint(server_url, ev.get("server_script_path") or "")
        except ValueError:
            if self.deleted:
                return  # the log cannot be asked: missing, without an id
            raise
        self.api, self.domain = api, api.hostname or ""
        if settings.api_base is not None:
            self.api = rebase(settings.api_base, api)

    def output(self, page_id: int, images: list[str], missing: bool, at: float) -> dict:
        rev = self.ev.get("revision")
        return {
            "page_id": str(page_id) if page_id > 0 else "",
            "image_list": [] if missing else images,
            "create_date_time": datetime.datetime.fromtimestamp(at, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            "wiki": self.ev.get("wiki") or "",
            "domain": self.domain,
            "title": self.title,
            "rev_id": rev.get("new") if isinstance(rev, dict) else None,
            "event_time": self.dt,
            "missing": missing,
            "meta": {"id": output_id(self.id_from), "dt": self.dt, "stream": OUTPUT_STREAM},
        }


def output_id(input_id: str) -> str:
    """A UUID (version 5) of the input event's id and the function's name, so
    the same input always gives the same output id."""
    return str(uuid.uuid5(uuid.NAMESPACE_OID, input_id + "\x00" + NAME))


# -- the API ------------------------------------------------------------------------


def join_titles(titles: list[str]) -> str:
    """Titles joined with "|", or with U+001F if one contains "|"."""
    if any("|" in t for t in titles):
        return "\x1f" + "\x1f".join(titles)
    return "|".join(titles)


class PageSet:
    """The answers of one batch, gathered across continuation."""

    def __init__(self):
        self.normalized, self.redirects, self.interwiki, self.pages = {}, {}, {}, {}

    def merge(self, body: bytes) -> dict | None:
        try:
            a = json.loads(body)
        except ValueError as e:
            raise unexpected(str(e), body) from None
        q, cont = a.get("query"), a.get("continue")
        if q is None and cont is None:
            raise unexpected('no "query"', body)
        if q is not None:
            for n in q.get("normalized") or []:
                self.normalized[n["from"]] = n["to"]
            for r in q.get("redirects") or []:
                self.redirects[r["from"]] = r["to"]
            for iw in q.get("interwiki") or []:
                self.interwiki[iw["title"]] = iw.get("iw", "")
            for p in q.get("pages") or []:
                title = p.get("title") or ""
                if not title:
                    raise unexpected("a page without title", body)
                have = self.pages.setdefault(title, {"pageid": 0, "missing": False, "invalid": False,
                                                     "special": False, "invalidreason": "", "images": []})
                have["pageid"] = max(have["pageid"], int(p.get("pageid") or 0))
                for k in ("missing", "invalid", "special"):
                    have[k] = have[k] or bool(p.get(k))
                if p.get("invalidreason"):
                    have["invalidreason"] = p["invalidreason"]
                for im in p.get("images") or []:
                    if not im.get("title"):
                        raise unexpected(f"an image of {q(title)} without title", body)
                    have["images"].append(im["title"])
        if cont is None:
            return None
        out = {}
        for k, v in cont.items():
            if isinstance(v, bool) or not isinstance(v, (str, int, float)):
                raise unexpected(f"continue.{k} is neither string nor number", body)
            out[k] = v if isinstance(v, str) else json.dumps(v)
        return out

    def resolve(self, titles: list[str], at: float) -> dict:
        """title -> (page_id, images, missing, at) or an exception."""
        out = {}
        for t in titles:
            name = self.normalized.get(t, t)
            name = self.redirects.get(name, name)
            p = self.pages.get(name)
            if p is None and (self.interwiki.get(t) or self.interwiki.get(name)):
                out[t] = ValueError(f"title {q(t)} is an interwiki link, not a page of this wiki")
            elif p is None:
                out[t] = ValueError(f"unexpected answer: title {q(t)} (as {q(name)}) is not in it")
            elif p["invalid"]:
                out[t] = ValueError(f"invalid title {q(t)}: {p['invalidreason']}")
            elif p["missing"] or p["special"]:
                out[t] = (0, [], True, at)
            elif p["pageid"] <= 0:
                out[t] = ValueError(f"unexpected answer: page {q(name)} has no pageid")
            else:
                out[t] = (p["pageid"], sorted(set(p["images"])), False, at)
        return out


def query_titles(client: Client, api, titles: list[str], maxlag: int) -> dict:
    """prop=images for titles (at most 50, unique), to the end of continuation."""
    base = {"action": "query", "prop": "images", "titles": join_titles(titles), "imlimit": "max",
            "redirects": "1", "formatversion": "2", "format": "json", "maxlag": str(maxlag)}
    acc, params, at = PageSet(), base, 0.0
    for rnd in range(1, MAX_ROUNDS + 1):
        body, at, attempts = client.get(api, params)
        try:
            cont = acc.merge(body)
        except (ValueError, KeyError, TypeError, AttributeError) as e:
            raise CallError(e if isinstance(e, ValueError) else unexpected(repr(e), body), attempts, 200, body) from None
        if cont is None:
            return acc.resolve(titles, at)
        nxt = dict(base, **cont)
        if nxt == params:
            raise CallError(ValueError("unexpected answer: continue does not advance"), attempts, 200, body)
        params = nxt
    raise CallError(ValueError(f"unexpected answer: still continuing after {MAX_ROUNDS} requests"), 1)


def deleted_page(client: Client, job: Job, maxlag: int):
    """The deletion's log entry: the page missing, with the id it had (0 if
    the log cannot say)."""
    params = {"action": "query", "list": "logevents", "letype": "delete", "letitle": job.title,
              "leprop": "ids", "lelimit": str(DELETIONS_ASKED), "formatversion": "2", "format": "json",
              "maxlag": str(maxlag)}
    ts = job.ev.get("timestamp")
    if isinstance(ts, int) and not isinstance(ts, bool):  # newest first: lestart is the later bound
        fmt = "%Y-%m-%dT%H:%M:%SZ"
        params["lestart"] = time.strftime(fmt, time.gmtime(ts + DELETION_WINDOW))
        params["leend"] = time.strftime(fmt, time.gmtime(ts - DELETION_WINDOW))
    try:
        body, at, attempts = client.get(job.api, params)
    except CallError as e:
        if isinstance(e.err, APIError) and e.err.code not in ("maxlag", "ratelimited"):
            return (0, [], True, time.time())  # the log cannot say: no id
        raise
    try:
        q = json.loads(body)["query"]
        entries = q.get("logevents") or []
        for entry in entries:
            if entry.get("logid") == job.ev["log_id"]:
                return (max(int(entry.get("logpage") or 0), 0), [], True, at)
    except (ValueError, KeyError, TypeError, AttributeError):
        raise CallError(unexpected('no "query"', body), attempts, 200, body) from None
    return (0, [], True, at)


# -- the handler ----------------------------------------------------------------------

_state_lock = threading.Lock()
_state: dict = {}  # config (as JSON) -> (Settings, Client), kept across invocations for their connections


def _setup(config: dict) -> tuple[Settings, Client]:
    key = json.dumps(config, sort_keys=True)
    with _state_lock:
        got = _state.get(key)
        if got is None:
            s = Settings(config)
            c = Client(s.user_agent, s.hosts, s.concurrency, s.rate, s.max_attempts, s.timeout)
            if s.api_base is not None:
                c.allowed_bases.add((s.api_base.scheme, s.api_base.netloc))
            _reset()  # one config at a time: the function's
            got = _state[key] = (s, c)
        return got


def _reset() -> None:
    for _, c in _state.values():
        c.close()
    _state.clear()


def reset() -> None:
    """Forget the settings and close the connections kept (for tests)."""
    with _state_lock:
        _reset()


@sluice_function.batch
def handle(events: list, config: dict) -> list:
    try:
        settings, client = _setup(config)
    except ValueError as e:
        err = ValueError(f"config: {e}")
        return [err] * len(events)  # every event's error: the config is the operator's to fix
    results: list = [None] * len(events)
    jobs: dict[int, Job] = {}
    titles: dict[str, dict[str, list[int]]] = {}  # wiki api -> title -> events
    apis: dict[str, object] = {}
    deletions: list[int] = []
    for i, ev in enumerate(events):
        try:
            j = Job(ev, settings)
        except ValueError as e:
            results[i] = e
            continue
        jobs[i] = j
        if j.deleted and j.api is None:
            results[i] = j.output(0, [], True, time.time())
        elif j.deleted:
            deletions.append(i)
        else:
            key = j.api.geturl()
            apis[key] = j.api
            titles.setdefault(key, {}).setdefault(j.title, []).append(i)
    tasks = []
    for key, by_title in titles.items():
        names = sorted(by_title)
        for k in range(0, len(names), settings.batch_size):
            tasks.append(("query", key, names[k:k + settings.batch_size]))
    tasks += [("deletion", i, None) for i in deletions]
    if not tasks:
        return results
    workers = min(len(tasks), 16 * settings.concurrency)  # each wiki's semaphore bounds its own share
    with concurrent.futures.ThreadPoolExecutor(max_workers=workers) as pool:
        futures = {}
        for t in tasks:
            if t[0] == "query":
                futures[pool.submit(query_titles, client, apis[t[1]], t[2], settings.maxlag)] = t
            else:
                futures[pool.submit(deleted_page, client, jobs[t[1]], settings.maxlag)] = t
        for f in concurrent.futures.as_completed(futures):
            kind, key, names = futures[f]
            err = f.exception()
            if isinstance(err, TimeoutError):
                raise err  # the deadline: the whole invocation, for sluice to retry in smaller batches
            if kind == "deletion":
                results[key] = err if err else jobs[key].output(*f.result())
                continue
            pages = None if err else f.result()
            for t in names:
                for i in titles[key][t]:
                    p = err or pages[t]
                    results[i] = p if isinstance(p, BaseException) else jobs[i].output(*p)
    return results


if __name__ == "__main__":
    sluice_function.main(handle)
