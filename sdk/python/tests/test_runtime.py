"""sluice_function.py as a process, against a stand-in Runtime API."""

import json
import os
import unittest

from tests import runtime


class RuntimeTest(unittest.TestCase):
    def setUp(self):
        self.api = runtime.RuntimeAPI()
        self.addCleanup(self.api.close)
        self.proc = None

    def run_fn(self, *args, **kw):
        self.proc = runtime.start(self.api, *args, **kw)
        self.addCleanup(self.stop)
        return self.proc

    def stop(self):
        if self.proc is not None:
            self.out, self.err = runtime.stop(self.proc)
            self.proc = None

    def test_per_event_handler(self):
        self.run_fn("tests.handlers:spread", cwd=runtime.SDK)
        o = self.api.invoke([{"kind": "many", "count": 2}, {"kind": "none"}, {"kind": "fail", "value": "x"}, {}])
        self.assertEqual(o.kind, "response")
        results = o.json()["results"]
        self.assertEqual(results[0], {"outputs": [{"i": 0}, {"i": 1}]})
        self.assertEqual(results[1], {"outputs": []})
        self.assertEqual(results[2]["error"]["type"], "LookupError")
        self.assertIn("in _fail", "\n".join(results[2]["error"]["stack"]))
        self.assertEqual(results[3], {"outputs": [{"ok": True}]})
        # the process goes on with the next invocation
        o = self.api.invoke([{"kind": "many", "count": 1}])
        self.assertEqual(o.json(), {"results": [{"outputs": [{"i": 0}]}]})

    def test_config_reaches_the_handler(self):
        self.run_fn("tests.handlers:echo", cwd=runtime.SDK)
        o = self.api.invoke([{"n": 7}], config={"tag": "blue"})
        self.assertEqual(o.json(), {"results": [{"outputs": [{"n": 7, "tag": "blue"}]}]})

    def test_handler_by_path(self):
        self.run_fn(os.path.join(runtime.HERE, "handlers.py") + ":echo", cwd="/")
        self.assertEqual(self.api.invoke([{"n": 1}]).json(), {"results": [{"outputs": [{"n": 1, "tag": None}]}]})

    def test_own_main(self):
        self.run_fn(os.path.join(runtime.HERE, "own_main.py"))
        self.assertEqual(self.api.invoke([{"n": 4}]).json(), {"results": [{"outputs": [{"doubled": 8}]}]})

    def test_batch_handlers(self):
        self.run_fn("tests.handlers:batched", cwd=runtime.SDK)
        o = self.api.invoke([{"n": 1}, {"n": 2, "fail": True}])
        r = o.json()["results"]
        self.assertEqual(r[0], {"outputs": [{"n": 1, "batch": 2}]})
        self.assertEqual(r[1]["error"]["message"], "bad event 2")

    def test_batch_flag(self):
        self.run_fn("tests.handlers:plain_batch", "--batch", cwd=runtime.SDK)
        o = self.api.invoke([{"n": 1}, {"n": 2}])
        self.assertEqual(o.json(), {"results": [{"outputs": [{"n": 1, "size": 2}]}, {"outputs": [{"n": 2, "size": 2}]}]})

    def test_invocation_errors(self):
        self.run_fn("tests.handlers:batch_raises", cwd=runtime.SDK)
        o = self.api.invoke([{}])
        self.assertEqual(o.kind, "error")
        body = o.json()
        self.assertEqual(body["errorType"], "RuntimeError")
        self.assertEqual(body["errorMessage"], "the API is down")
        self.assertIn("in batch_raises", "\n".join(body["stackTrace"]))
        self.assertEqual(o.headers["lambda-runtime-function-error-type"], "RuntimeError")
        # a body that is no invocation
        o = self.api.wait(self.api.submit(None, raw=b"{not json"))
        self.assertEqual((o.kind, o.json()["errorType"]), ("error", "Sluice.InvalidInvocation"))
        # still serving
        self.assertEqual(self.api.invoke([{}]).kind, "error")

    def test_deadline(self):
        self.run_fn("tests.handlers:slow", cwd=runtime.SDK)
        o = self.api.invoke([{"n": 1}], timeout=60)
        left = o.json()["results"][0]["outputs"][0]["remaining"]
        self.assertTrue(0 < left <= 60, left)
        o = self.api.invoke([{"n": 1, "sleep": 0.3}, {"n": 2}], timeout=0.1)
        self.assertEqual(o.kind, "error")
        self.assertEqual(o.json()["errorType"], "Sluice.DeadlineExceeded")
        o = self.api.invoke([{"n": 3}], timeout=None)
        self.assertIsNone(o.json()["results"][0]["outputs"][0]["remaining"])

    def test_init_error(self):
        p = self.run_fn("tests.broken_import:handle", cwd=runtime.SDK)
        e = self.api.wait_init_error()
        body = e.json()
        self.assertEqual(body["errorType"], "ImportError")
        self.assertEqual(body["errorMessage"], "no module named requests (pretend)")
        stack = "\n".join(body["stackTrace"])
        self.assertIn("broken_import.py", stack)
        # from the function's own frame: not the runner's, not the import machinery's
        self.assertNotIn("sluice_function.py", stack)
        self.assertNotIn("importlib", stack)
        self.assertEqual(body["stackTrace"][0], "Traceback (most recent call last):")
        self.assertIn("broken_import.py", body["stackTrace"][1])
        self.assertEqual(e.headers["lambda-runtime-function-error-type"], "ImportError")
        self.assertEqual(p.wait(timeout=30), 1)
        self.stop()
        self.assertIn("ImportError: no module named requests (pretend)", self.err)

    def test_missing_handler_is_an_init_error(self):
        p = self.run_fn("tests.handlers:nope", cwd=runtime.SDK)
        self.assertEqual(self.api.wait_init_error().json()["errorType"], "AttributeError")
        self.assertEqual(p.wait(timeout=30), 1)

    def test_print_and_logs_go_to_stderr(self):
        self.run_fn("tests.handlers:spread", cwd=runtime.SDK)
        self.assertEqual(self.api.invoke([{"kind": "print"}]).json(), {"results": [{"outputs": [{"printed": True}]}]})
        self.stop()
        self.assertEqual(self.out, "")
        self.assertIn("a line from print", self.err)
        self.assertIn("WARNING handlers: a line from logging", self.err)

    def test_no_runtime_api(self):
        p = runtime.start(self.api, "tests.handlers:echo", cwd=runtime.SDK, env={"AWS_LAMBDA_RUNTIME_API": ""})
        out, err = p.communicate(timeout=30)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn(b"AWS_LAMBDA_RUNTIME_API is not set", err)

    def test_runtime_gone(self):
        p = self.run_fn("tests.handlers:echo", cwd=runtime.SDK)
        self.assertEqual(self.api.invoke([{"n": 1}]).kind, "response")
        self.api.close()
        self.assertEqual(p.wait(timeout=30), 1)


if __name__ == "__main__":
    unittest.main()
