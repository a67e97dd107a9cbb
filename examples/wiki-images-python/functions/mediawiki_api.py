"""A small client of the MediaWiki Action API, standard library only: the
host allow-list, kept-alive connections, and the retries the API asks for
(maxlag and 429 with Retry-After, 5xx and network errors with backoff)."""

from __future__ import annotations

import email.utils
import http.client
import ipaddress
import json
import queue
import random
import threading
import time
import urllib.parse

import sluice_function

# Limits on what one request may take or send (as the built-in's).
MAX_BODY = 16 << 20  # bytes of one answer
MAX_RETRY_AFTER = 60.0
MIN_RETRY_AFTER = 1.0
MAX_GET = 4096  # longer parameters go in a POST body
BODY_EXCERPT = 2048  # bytes of the last body kept in an error
MAX_REDIRECTS = 3

DEFAULT_ALLOWED_HOSTS = [
    "*.wikipedia.org", "*.wikimedia.org", "*.wikidata.org", "*.wiktionary.org",
    "*.wikibooks.org", "*.wikinews.org", "*.wikiquote.org", "*.wikisource.org",
    "*.wikiversity.org", "*.wikivoyage.org", "*.mediawiki.org",
]


class HostNotAllowed(ValueError):
    """An event names a wiki outside allowed_hosts: it must not make the
    function call arbitrary addresses."""


class APIError(Exception):
    """An error the Action API answered ({"error": {...}})."""

    def __init__(self, code: str, info: str):
        super().__init__(f"mediawiki API error {code}: {info}")
        self.code, self.info = code, info


class CallError(Exception):
    """A request that failed for good: the last attempt's error, the attempts
    made, and the HTTP status and start of the body of the last answer."""

    def __init__(self, err: BaseException, attempts: int, status: int = 0, body: bytes = b""):
        msg = str(err)
        if status:
            msg += f" (HTTP {status})"
        if attempts > 1:
            msg += f" after {attempts} attempts"
        super().__init__(msg)
        self.err, self.attempts, self.status = err, attempts, status
        self.body = excerpt(body, BODY_EXCERPT)


def q(s) -> str:
    """s quoted as Go's %q quotes it, so messages read as the built-in's."""
    return json.dumps(s, ensure_ascii=False)


def excerpt(b: bytes, n: int) -> str:
    return b[:n].decode("utf-8", "ignore")


def unexpected(msg: str, body: bytes) -> ValueError:
    return ValueError(f"unexpected answer: {msg}: {excerpt(body, 200)}")


# -- allowed hosts ------------------------------------------------------------


class HostRules:
    """allowed_hosts: exact hosts ("en.wikipedia.org", "127.0.0.1:8093") or
    "*.suffix" for a domain and its subdomains. https is allowed for any
    allowed host, http only for one listed exactly."""

    def __init__(self, entries):
        if not isinstance(entries, list) or not entries:
            raise ValueError("allowed_hosts: must name at least one host (leave it out for Wikimedia's domains)")
        self.rules: list[tuple[str, bool]] = []
        for i, e in enumerate(entries):
            if not isinstance(e, str):
                raise ValueError(f"allowed_hosts[{i}]: want a string, got {type(e).__name__}")
            h = e.strip().lower()
            suffix = h.startswith("*.")
            if suffix:
                h = h[2:]
            problem = self._check_entry(h, suffix)
            if problem:
                raise ValueError(f"allowed_hosts[{i}]: {q(e)}: {problem}")
            self.rules.append((h, suffix))

    @staticmethod
    def _check_entry(h: str, suffix: bool) -> str:
        if not h:
            return "empty host"
        if "*" in h:
            return 'a wildcard is allowed only as a leading "*." (e.g. "*.wikipedia.org")'
        try:
            u = urllib.parse.urlsplit("//" + h)
            u.port
        except ValueError:
            u = None
        if u is None or u.netloc != h or "@" in h or not u.hostname or any(c in h for c in "/?#\\ "):
            return 'want a host ("en.wikipedia.org", "127.0.0.1:8093") or "*.domain", without scheme or path'
        if suffix and u.port is not None:
            return 'a "*." rule matches host names: leave out the port'
        return ""

    def check(self, u: urllib.parse.SplitResult) -> None:
        if u.scheme not in ("https", "http"):
            raise HostNotAllowed(f"host not allowed: scheme {q(u.scheme)} (want https)")
        if "@" in u.netloc:
            raise HostNotAllowed("host not allowed: user information in the URL")
        host, name = u.netloc.lower(), (u.hostname or "").lower()
        try:
            has_port = u.port is not None
        except ValueError:
            raise HostNotAllowed(f"host not allowed: {q(host)} has an invalid port") from None
        suffixed = False
        for h, suffix in self.rules:
            if not suffix and h == host:
                return
            if suffix and not has_port and (name == h or name.endswith("." + h)):
                if u.scheme == "https":
                    return
                suffixed = True
        if suffixed:
            raise HostNotAllowed(f"host not allowed: http://{host}: http is allowed only for hosts listed exactly in allowed_hosts; use https")
        raise HostNotAllowed(f"host not allowed: {q(host)} is not in allowed_hosts")

    def endpoint(self, server_url: str, script_path: str) -> urllib.parse.SplitResult:
        """The API URL of the wiki an event names: server_url +
        server_script_path + "/api.php", if its host is allowed."""
        base = urllib.parse.urlsplit(server_url)
        if not base.netloc or base.query or base.fragment or server_url.endswith("?") or "#" in server_url:
            raise ValueError(f"server_url: {q(server_url)} is not an absolute http(s) URL without query")
        try:
            self.check(base)
        except HostNotAllowed as e:
            raise HostNotAllowed(f"server_url: {e}") from None
        if script_path and (not script_path.startswith("/") or any(c in script_path for c in "?#@\\%")
                            or "//" in script_path or "/../" in "/" + script_path + "/"):
            raise ValueError(f'server_script_path: {q(script_path)} is not a plain path like "/w"')
        u = urllib.parse.urlsplit(server_url.rstrip("/") + script_path + "/api.php")
        if u.netloc.lower() != base.netloc.lower():
            raise ValueError(f"server_url and server_script_path: {q(server_url)} + {q(script_path)} is no URL on {base.netloc}")
        return u._replace(netloc=u.netloc.lower())

    def exact(self, host: str) -> bool:
        host = host.lower()
        return any(not s and h == host for h, s in self.rules)

    def api_base(self, v: str) -> urllib.parse.SplitResult | None:
        """api_base: empty, or an http(s) URL without query on a loopback
        address or on a host listed exactly in allowed_hosts."""
        if v == "":
            return None
        want = f'api_base: {q(v)}: want an http(s) URL without query, e.g. "http://127.0.0.1:8093"'
        try:
            u = urllib.parse.urlsplit(v)
            u.port
        except ValueError:
            raise ValueError(want) from None
        if u.scheme not in ("http", "https") or not u.netloc or "@" in u.netloc or u.query or u.fragment or v.endswith("?"):
            raise ValueError(want)
        if not loopback(u.hostname or "") and not self.exact(u.netloc):
            raise ValueError(f"api_base: {q(v)}: the host must be a loopback address or listed exactly in allowed_hosts")
        return u._replace(netloc=u.netloc.lower(), path=u.path.rstrip("/"))


def loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def rebase(base: urllib.parse.SplitResult, api: urllib.parse.SplitResult) -> urllib.parse.SplitResult:
    """The API URL of a wiki under base: <base>/<host><path>."""
    return base._replace(path=base.path + "/" + api.netloc + api.path)


# -- requests -----------------------------------------------------------------


class _Retry(Exception):
    def __init__(self, err: BaseException, wait: float = 0.0, status: int = 0, body: bytes = b""):
        super().__init__(str(err))
        self.err, self.wait, self.status, self.body = err, wait, status, body


class _Permanent(_Retry):
    pass


class Client:
    """Requests to wikis, each within its wiki's concurrency and rate
    limits, over connections kept alive between invocations."""

    def __init__(self, user_agent: str, hosts: HostRules, concurrency: int, rate: float,
                 max_attempts: int, timeout: float, backoff_initial: float = 0.5):
        self.user_agent, self.hosts = user_agent, hosts
        self.concurrency, self.rate = concurrency, rate
        self.max_attempts, self.timeout = max_attempts, timeout
        self.backoff_initial = backoff_initial
        self.allowed_bases: set[tuple[str, str]] = set()  # api_base: scheme, host
        self._lock = threading.Lock()
        self._sems: dict[str, threading.Semaphore] = {}
        self._next_at: dict[str, float] = {}
        self._idle: dict[tuple[str, str], queue.LifoQueue] = {}

    def _wiki(self, key: str) -> threading.Semaphore:
        with self._lock:
            s = self._sems.get(key)
            if s is None:
                s = self._sems[key] = threading.Semaphore(self.concurrency)
            return s

    def _pace(self, key: str) -> None:
        if self.rate <= 0:
            return
        with self._lock:
            now = time.monotonic()
            at = max(now, self._next_at.get(key, now))
            self._next_at[key] = at + 1.0 / self.rate
        if at > now:
            time.sleep(at - now)

    def get(self, api: urllib.parse.SplitResult, params: dict) -> tuple[bytes, float, int]:
        """The body of a successful answer, when it arrived (time.time()) and
        the attempts it took; CallError (wrapping APIError for the API's own
        errors) when it failed for good; TimeoutError when the invocation's
        deadline passes first."""
        interval = self.backoff_initial
        last: _Retry | None = None
        for attempt in range(1, self.max_attempts + 1):
            try:
                return self._attempt(api, params) + (attempt,)
            except _Permanent as p:
                raise CallError(p.err, attempt, p.status, p.body) from p.err
            except _Retry as r:
                last = r
            if attempt == self.max_attempts:
                break
            wait = last.wait or interval * random.uniform(0.5, 1.5)
            interval = min(interval * 1.5, 30.0)
            left = sluice_function.time_remaining()
            if left is not None and left <= wait:
                raise TimeoutError(f"the invocation's deadline comes before the next attempt at {api.geturl()}: {last.err}")
            time.sleep(wait)
        raise CallError(last.err, self.max_attempts, last.status, last.body) from last.err

    def _attempt(self, api: urllib.parse.SplitResult, params: dict) -> tuple[bytes, float]:
        key = api.geturl()
        with self._wiki(key):
            self._pace(key)
            status, headers, body = self._send(api, params)
        retry_after = parse_retry_after(headers.get("retry-after", ""))
        if status == 429:
            raise _Retry(RuntimeError("too many requests"), retry_after, status, body)
        if status >= 500:
            raise _Retry(RuntimeError(f"server error from {key}"), retry_after, status, body)
        if status != 200:
            raise _Permanent(RuntimeError(f"unexpected HTTP status {status} from {key}"), 0, status, body)
        try:
            doc = json.loads(body)
        except ValueError as e:
            raise _Permanent(unexpected(str(e), body), 0, status, body) from None
        err = doc.get("error") if isinstance(doc, dict) else None
        if not isinstance(doc, dict):
            raise _Permanent(unexpected("not a JSON object", body), 0, status, body)
        if err is None:
            return body, time.time()
        code = str(err.get("code", "")) if isinstance(err, dict) else ""
        info = str(err.get("info", "")) if isinstance(err, dict) else str(err)
        if code in ("maxlag", "ratelimited"):  # wait as asked (or back off), then retry
            raise _Retry(APIError(code, info), retry_after, status, body)
        raise _Permanent(APIError(code, info), 0, status, body)

    def _send(self, api: urllib.parse.SplitResult, params: dict) -> tuple[int, dict, bytes]:
        q = urllib.parse.urlencode(params)
        method, path, body = "GET", (api.path or "/") + "?" + q, None
        headers = {"User-Agent": self.user_agent, "Accept": "application/json", "Accept-Encoding": "identity"}
        if len(q) > MAX_GET:
            method, path, body = "POST", api.path or "/", q.encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        u = api
        for _ in range(MAX_REDIRECTS + 1):
            status, hdrs, data = self._roundtrip(u, method, path, body, headers)
            if status not in (301, 302, 303, 307, 308) or "location" not in hdrs:
                return status, hdrs, data
            u = urllib.parse.urlsplit(urllib.parse.urljoin(u.geturl(), hdrs["location"]))
            if (u.scheme, u.netloc.lower()) not in self.allowed_bases:
                try:
                    self.hosts.check(u)
                except HostNotAllowed as e:
                    raise _Permanent(HostNotAllowed(f"{method} {api.geturl()}: redirected: {e}")) from None
            path = (u.path or "/") + ("?" + u.query if u.query else "")
            if status == 303 or (status in (301, 302) and method == "POST"):
                method, body = "GET", None
        raise _Retry(RuntimeError(f"{method} {api.geturl()}: more than {MAX_REDIRECTS} redirects"))

    def _roundtrip(self, u, method, path, body, headers) -> tuple[int, dict, bytes]:
        key = (u.scheme, u.netloc.lower())
        timeout = self.timeout
        left = sluice_function.time_remaining()
        if left is not None:
            if left <= 0:
                raise TimeoutError(f"the invocation's deadline passed before a request to {u.geturl()}")
            timeout = min(timeout, left)
        for reuse in (True, False):
            conn = self._take(key) if reuse else None
            fresh = conn is None
            if fresh:
                cls = http.client.HTTPSConnection if u.scheme == "https" else http.client.HTTPConnection
                conn = cls(u.hostname, u.port, timeout=timeout)
            else:
                conn.timeout = timeout
                if conn.sock is not None:
                    conn.sock.settimeout(timeout)
            try:
                conn.request(method, path, body=body, headers=headers)
                resp = conn.getresponse()
                data = resp.read(MAX_BODY + 1)
                if len(data) > MAX_BODY:
                    conn.close()
                    raise _Permanent(RuntimeError(f"answer of {u.geturl()} is larger than {MAX_BODY} bytes"))
                hdrs = {k.lower(): v for k, v in resp.getheaders()}
                if resp.will_close:
                    conn.close()
                else:
                    self._put(key, conn)
                return resp.status, hdrs, data
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError) as e:
                conn.close()
                if fresh:  # a kept-alive connection closed while idle is tried again once, on a new one
                    raise _Retry(RuntimeError(f"{method} {u.geturl()}: {e}")) from None
            except (OSError, http.client.HTTPException) as e:
                conn.close()
                raise _Retry(RuntimeError(f"{method} {u.geturl()}: {e}")) from None
        raise AssertionError("unreachable")

    def close(self) -> None:
        """Close the connections kept for later requests."""
        with self._lock:
            idle, self._idle = self._idle, {}
        for q in idle.values():
            while not q.empty():
                q.get_nowait().close()

    def _take(self, key):
        with self._lock:
            q = self._idle.get(key)
        try:
            return q.get_nowait() if q else None
        except queue.Empty:
            return None

    def _put(self, key, conn):
        with self._lock:
            q = self._idle.setdefault(key, queue.LifoQueue())
        if q.qsize() < 4 * self.concurrency:
            q.put(conn)
        else:
            conn.close()


def parse_retry_after(v: str) -> float:
    """Retry-After (seconds or an HTTP date), at least a second and at most a
    minute; 0 if absent or invalid."""
    v = v.strip()
    if not v:
        return 0.0
    if v.isdigit():
        d = float(int(v))
    else:
        try:
            d = email.utils.parsedate_to_datetime(v).timestamp() - time.time()
        except (TypeError, ValueError):
            return 0.0
    return min(max(d, MIN_RETRY_AFTER), MAX_RETRY_AFTER)
