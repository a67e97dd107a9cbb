"""Unit tests of wiki_image_list against a stand-in MediaWiki API (stdlib
http.server on loopback) answering recorded real answers (testdata/) or
scripted ones. Run: python3 -m unittest (in this folder)."""

import copy
import json
import os
import threading
import unittest
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import sluice_function
import wiki_image_list as w

HERE = os.path.dirname(os.path.abspath(__file__))
TESTDATA = os.path.join(HERE, "..", "..", "..", "testdata")
UA = "wiki-image-list-test/1.0 (https://example.org; test@example.org)"


def recorded(name):
    with open(os.path.join(TESTDATA, "mediawiki-api", name + ".json")) as f:
        return json.load(f)["response"]


class FakeAPI:
    """Answers each request with script(params) -> (status, headers, doc),
    and records the requests."""

    def __init__(self, script):
        self.script, self.requests = script, []
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def answer(self, params):
                api.requests.append({"path": self.path.split("?")[0], "params": params,
                                     "user_agent": self.headers.get("User-Agent"), "method": self.command})
                status, headers, doc = api.script(params)
                body = doc if isinstance(doc, bytes) else json.dumps(doc).encode()
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):
                q = urllib.parse.urlsplit(self.path).query
                self.answer(dict(urllib.parse.parse_qsl(q, keep_blank_values=True)))

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", "0"))).decode()
                self.answer(dict(urllib.parse.parse_qsl(body, keep_blank_values=True)))

        class Server(ThreadingHTTPServer):
            def handle_error(self, request, client_address):
                pass  # a client that gave up (the deadline test) is expected

        self.server = Server(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.host = "127.0.0.1:%d" % self.server.server_address[1]

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def pages_answer(params, known=None):
    """A prop=images answer for the titles asked: each title is a page with
    id len(title) and one image named after it, unless known says more."""
    known = known or {}
    pages = []
    for t in params["titles"].split("|"):
        if t.startswith("Missing"):
            pages.append({"ns": 0, "title": t, "missing": True})
        else:
            pages.append(known.get(t, {"pageid": 1000 + len(t), "ns": 0, "title": t,
                                       "images": [{"ns": 6, "title": "File:" + t + ".jpg"}]}))
    return 200, {}, {"batchcomplete": True, "query": {"pages": pages}}


def edit(title, n=1, server_url="https://en.wikipedia.org", **extra):
    ev = {"$schema": "/mediawiki/recentchange/1.0.0",
          "meta": {"id": "00000000-0000-0000-0000-%012d" % n, "dt": "2023-07-29T07:51:39Z", "domain": "en.wikipedia.org"},
          "type": "edit", "namespace": 0, "title": title, "timestamp": 1690617099, "wiki": "enwiki",
          "revision": {"old": 1, "new": 100 + n}, "server_url": server_url, "server_script_path": "/w"}
    ev.update(extra)
    return ev


class FunctionTest(unittest.TestCase):
    def setUp(self):
        w.reset()  # each test its own client and settings
        self.fake = None

    def tearDown(self):
        w.reset()
        if self.fake:
            self.fake.close()

    def start(self, script):
        self.fake = FakeAPI(script)
        return self.fake

    def config(self, **kw):
        c = {"user_agent": UA, "api_base": "http://" + self.fake.host}
        c.update(kw)
        return c

    def results(self, events, **config):
        return sluice_function.invoke(w.handle, events, self.config(**config))["results"]

    def outputs(self, events, **config):
        res = self.results(events, **config)
        for i, r in enumerate(res):
            self.assertIn("outputs", r, f"event {i}: {r}")
        return [r["outputs"][0] for r in res]

    def test_output_shape_and_id(self):
        self.start(pages_answer)
        ev = edit("EFL Championship")
        ev["meta"]["id"] = "0416300b-980c-45bb-b0a2-c9d7a9e2b7eb"
        o = self.outputs([ev])[0]
        self.assertEqual(list(o), ["page_id", "image_list", "create_date_time", "wiki", "domain", "title",
                                   "rev_id", "event_time", "missing", "meta"])
        self.assertEqual(o["page_id"], str(1000 + len("EFL Championship")))
        self.assertEqual(o["image_list"], ["File:EFL Championship.jpg"])
        self.assertRegex(o["create_date_time"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")
        self.assertEqual((o["wiki"], o["domain"], o["title"], o["rev_id"], o["event_time"], o["missing"]),
                         ("enwiki", "en.wikipedia.org", "EFL Championship", 101, "2023-07-29T07:51:39Z", False))
        # the same id the built-in mediawiki.page_images derives from this input id
        self.assertEqual(o["meta"], {"id": "4bbd0b33-3a28-5a0f-8852-fe9e72e5a405", "dt": "2023-07-29T07:51:39Z",
                                     "stream": "wiki.page_images"})
        r = self.fake.requests[0]
        self.assertEqual(r["path"], "/en.wikipedia.org/w/api.php")
        self.assertEqual(r["user_agent"], UA)
        self.assertEqual({k: r["params"][k] for k in ("action", "prop", "imlimit", "redirects", "formatversion", "format", "maxlag")},
                         {"action": "query", "prop": "images", "imlimit": "max", "redirects": "1",
                          "formatversion": "2", "format": "json", "maxlag": "5"})

    def test_titles_are_batched_per_wiki(self):
        self.start(pages_answer)
        events = [edit("Page %03d" % (i % 120), i) for i in range(130)]  # 120 titles, 10 twice
        events.append(edit("Seite", 999, server_url="https://de.wikipedia.org"))
        outs = self.outputs(events)
        self.assertEqual([o["title"] for o in outs], [e["title"] for e in events])
        self.assertEqual(outs[129]["image_list"], ["File:Page 009.jpg"])
        self.assertEqual(outs[130]["domain"], "de.wikipedia.org")
        en = [r for r in self.fake.requests if r["path"].startswith("/en.")]
        de = [r for r in self.fake.requests if r["path"].startswith("/de.")]
        self.assertEqual(sorted(len(r["params"]["titles"].split("|")) for r in en), [20, 50, 50])
        self.assertEqual(len(de), 1)
        asked = [t for r in en for t in r["params"]["titles"].split("|")]
        self.assertEqual(sorted(asked), sorted(set(asked)))
        # a smaller batch_size
        self.fake.requests.clear()
        w.reset()
        self.outputs(events[:10], batch_size=3)
        self.assertEqual(len(self.fake.requests), 4)

    def test_normalization_and_redirects_from_recorded_answers(self):
        norm, redir = recorded("query_fv2_prop_images_douglas_adams"), recorded("redirect_fv2_redirects_normalized")
        adams = norm["query"]["pages"][0]

        def script(params):
            q = {"normalized": norm["query"]["normalized"], "redirects": redir["query"]["redirects"],
                 "pages": [adams]}
            return 200, {}, {"batchcomplete": True, "query": q}

        self.start(script)
        outs = self.outputs([edit("Douglas_Adams"), edit("Adams, Douglas", 2)])
        want = sorted({im["title"] for im in adams["images"]})
        for o in outs:
            self.assertEqual((o["page_id"], o["image_list"], o["missing"]), ("8091", want, False))
        self.assertEqual([o["title"] for o in outs], ["Douglas_Adams", "Adams, Douglas"])
        self.assertEqual(self.fake.requests[0]["params"]["titles"], "Adams, Douglas|Douglas_Adams")

    def test_continuation(self):
        first = copy.deepcopy(recorded("query_fv2_prop_images_douglas_adams"))
        first["continue"] = {"imcontinue": first["continue"]["imcontinue"], "continue": "||"}
        more = [{"ns": 6, "title": "File:Towelday-Innsbruck.jpg"}, {"ns": 6, "title": "File:Blue pencil.svg"}]

        def script(params):
            if "imcontinue" not in params:
                return 200, {}, first
            return 200, {}, {"batchcomplete": True, "query": {"pages": [{"pageid": 8091, "ns": 0, "title": "Douglas Adams", "images": more}]}}

        self.start(script)
        o = self.outputs([edit("Douglas_Adams")])[0]
        self.assertEqual(len(self.fake.requests), 2)
        self.assertEqual(self.fake.requests[1]["params"]["imcontinue"], "8091|Towelday-Innsbruck.jpg")
        self.assertEqual(self.fake.requests[1]["params"]["titles"], "Douglas_Adams")
        names = [im["title"] for im in first["query"]["pages"][0]["images"]] + [m["title"] for m in more]
        self.assertEqual(o["image_list"], sorted(set(names)))

    def test_continue_that_does_not_advance(self):
        self.start(lambda p: (200, {}, {"continue": {"imcontinue": "1|x", "continue": "||"}, "query": {"pages": []}}))
        err = self.results([edit("A")])[0]["error"]
        self.assertIn("continue does not advance", err["message"])
        self.assertEqual(len(self.fake.requests), 2)

    def test_missing_page(self):
        self.start(pages_answer)
        o = self.outputs([edit("Missing article")])[0]
        self.assertEqual((o["missing"], o["page_id"], o["image_list"]), (True, "", []))

    def test_deletions(self):
        def script(params):
            self.assertEqual(params["list"], "logevents")
            return 200, {}, {"query": {"logevents": [{"logid": 7, "ns": 0, "title": "Old", "pageid": 0, "logpage": 4242},
                                                     {"logid": 8, "logpage": 1}]}}

        self.start(script)
        dele = dict(edit("Old"), type="log", log_type="delete", log_action="delete", log_id=7, timestamp=1690617300)
        del dele["revision"]
        unlisted = dict(dele, log_id=9)
        no_id = {k: v for k, v in dele.items() if k != "log_id"}
        outs = self.outputs([dele, unlisted, no_id])
        self.assertEqual([(o["missing"], o["page_id"], o["image_list"], o["rev_id"]) for o in outs],
                         [(True, "4242", [], None), (True, "", [], None), (True, "", [], None)])
        self.assertEqual(len(self.fake.requests), 2)  # none for the event without log_id
        p = self.fake.requests[0]["params"]
        self.assertEqual((p["letype"], p["letitle"], p["leprop"], p["lestart"], p["leend"]),
                         ("delete", "Old", "ids", "2023-07-29T07:56:00Z", "2023-07-29T07:54:00Z"))

    def test_maxlag_waits_as_asked(self):
        calls = []

        def script(params):
            calls.append(1)
            if len(calls) == 1:
                return 200, {"Retry-After": "1", "MediaWiki-API-Error": "maxlag"}, {
                    "error": {"code": "maxlag", "info": "Waiting for 10.64.0.1: 7 seconds lagged.", "lag": 7}}
            return pages_answer(params)

        self.start(script)
        o = self.outputs([edit("A")])[0]
        self.assertEqual(o["image_list"], ["File:A.jpg"])
        self.assertEqual(len(self.fake.requests), 2)

    def test_429_then_success(self):
        calls = []

        def script(params):
            calls.append(1)
            return (429, {"Retry-After": "1"}, b"slow down") if len(calls) == 1 else pages_answer(params)

        self.start(script)
        self.assertEqual(self.outputs([edit("A")])[0]["title"], "A")

    def test_server_errors_until_max_attempts(self):
        self.start(lambda p: (503, {}, b"Service Temporarily Unavailable"))
        err = self.results([edit("A"), edit("B", 2)], max_attempts=2)
        for r in err:
            self.assertEqual(r["error"]["type"], "mediawiki_api.CallError")
            self.assertRegex(r["error"]["message"], r"^server error from http://127\.0\.0\.1:\d+/en\.wikipedia\.org/w/api\.php \(HTTP 503\) after 2 attempts$")
        self.assertEqual(len(self.fake.requests), 2)  # one batch, two attempts

    def test_api_error(self):
        self.start(lambda p: (200, {}, {"error": {"code": "badvalue", "info": "Unrecognized value"}}))
        err = self.results([edit("A")])[0]["error"]
        self.assertEqual(err["message"], "mediawiki API error badvalue: Unrecognized value (HTTP 200)")
        self.assertEqual(len(self.fake.requests), 1)

    def test_host_allow_list(self):
        self.start(pages_answer)
        evil = [edit("A", server_url=u) for u in ("https://evil.example.com", "http://en.wikipedia.org",
                                                   "https://en.wikipedia.org:8443", "ftp://en.wikipedia.org")]
        for r in self.results(evil):
            self.assertIn("host not allowed", r["error"]["message"])
        self.assertEqual(self.fake.requests, [])
        # without api_base the event's own server_url, if listed exactly (http only then)
        direct = edit("A", server_url="http://" + self.fake.host + "/en.wikipedia.org")
        r = sluice_function.invoke(w.handle, [direct], {"user_agent": UA, "allowed_hosts": [self.fake.host]})
        self.assertEqual(r["results"][0]["outputs"][0]["domain"], "127.0.0.1")
        r = sluice_function.invoke(w.handle, [direct], {"user_agent": UA})
        self.assertIn("is not in allowed_hosts", r["results"][0]["error"]["message"])

    def test_config_errors_fail_every_event(self):
        self.start(pages_answer)
        for config, want in [
            ({}, "config: user_agent: required"),
            ({"user_agent": UA, "batch_size": 51}, "config: batch_size: must be 1 to 50, got 51"),
            ({"user_agent": UA, "allowed_hosts": ["*.x.org:80"]}, "leave out the port"),
            ({"user_agent": UA, "allowed_hosts": ["a*.org"]}, "wildcard"),
            ({"user_agent": UA, "api_base": "http://10.0.0.1:8093"}, "the host must be a loopback address"),
            ({"user_agent": UA, "timeout": "soon"}, 'timeout: want a duration like "200ms"'),
            ({"user_agent": UA, "mode": "revision"}, 'mode: only "current"'),
            ({"user_agent": UA, "colour": "blue"}, 'unknown field "colour"'),
        ]:
            with self.subTest(config=config):
                w.reset()
                res = sluice_function.invoke(w.handle, [edit("A"), edit("B", 2)], config)["results"]
                for r in res:
                    self.assertIn(want, r["error"]["message"])
        self.assertEqual(self.fake.requests, [])

    def test_bad_events(self):
        self.start(pages_answer)
        ok = edit("A")
        cases = [
            ([1], "event is not a JSON object"),
            ({**ok, "revision": {"new": "x"}}, "event: revision.new: want int64, got string"),
            ({**ok, "meta": {"id": "x"}}, "meta.dt: required"),
            ({**ok, "title": ""}, "title: required"),
            ({**ok, "server_url": ""}, "server_url: required"),
            ({**ok, "server_script_path": "/../x"}, "server_script_path"),
        ]
        res = self.results([c[0] for c in cases] + [ok])
        for (ev, want), r in zip(cases, res):
            self.assertIn(want, r["error"]["message"])
        self.assertIn("outputs", res[-1])

    def test_deadline_fails_the_invocation(self):
        import time as t

        def script(params):
            t.sleep(1)
            return pages_answer(params)

        self.start(script)
        with self.assertRaises(sluice_function.InvocationError) as cm:
            sluice_function.invoke(w.handle, [edit("A")], self.config(), timeout=0.3)
        self.assertEqual(cm.exception.type, "TimeoutError")

    def test_durations(self):
        for v, want in [("200ms", 0.2), ("30s", 30), ("1m30s", 90), ("1.5h", 5400), ("0", 0)]:
            self.assertAlmostEqual(w.parse_duration("d", v, True), want)
        for v in ["", "5", "1x", "s", "-1s", 3]:
            with self.assertRaises(ValueError):
                w.parse_duration("d", v, True)


if __name__ == "__main__":
    unittest.main()
