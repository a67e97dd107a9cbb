"""The handler contract without any runtime: sluice_function.invoke."""

import unittest

import sluice_function
from tests import handlers


class InvokeTest(unittest.TestCase):
    def results(self, handler, events, config=None):
        return sluice_function.invoke(handler, events, config)["results"]

    def test_one_output_per_dict(self):
        got = self.results(handlers.echo, [{"n": 1}, {"n": 2}], {"tag": "t"})
        self.assertEqual(got, [{"outputs": [{"n": 1, "tag": "t"}]}, {"outputs": [{"n": 2, "tag": "t"}]}])

    def test_lists_none_and_empty(self):
        got = self.results(handlers.spread, [{"kind": "many", "count": 3}, {"kind": "none"}, {"kind": "empty"}])
        self.assertEqual(got, [{"outputs": [{"i": 0}, {"i": 1}, {"i": 2}]}, {"outputs": []}, {"outputs": []}])

    def test_exception_is_that_events_error_with_whole_stack(self):
        got = self.results(handlers.spread, [{"kind": "fail", "value": "x"}, {}])
        self.assertEqual(got[1], {"outputs": [{"ok": True}]})
        err = got[0]["error"]
        self.assertEqual(err["type"], "LookupError")
        self.assertEqual(err["message"], "cannot read value 'x'")
        stack = err["stack"]
        self.assertIsInstance(stack, list)
        self.assertTrue(all(isinstance(line, str) and "\n" not in line for line in stack))
        text = "\n".join(stack)
        # the cause, the handler's frames and the final line, as Python prints them
        self.assertIn("ValueError: invalid literal for int() with base 10: 'x'", text)
        self.assertIn("The above exception was the direct cause of the following exception:", text)
        self.assertIn("in spread", text)
        self.assertIn("in _fail", text)
        self.assertEqual(stack[-1], "LookupError: cannot read value 'x'")
        # this file's runner is not in the stack: it starts at the handler
        self.assertNotIn("sluice_function.py", text)

    def test_typed_error(self):
        err = self.results(handlers.spread, [{"kind": "typed", "page": 42}])[0]["error"]
        self.assertEqual((err["type"], err["message"]), ("NotFound", "no page 42"))

    def test_outputs_json_cannot_carry_are_the_events_error(self):
        got = self.results(handlers.spread, [{"kind": "string"}, {"kind": "date"}, {"kind": "nan"}, {}])
        self.assertEqual(got[0]["error"]["type"], "TypeError")
        self.assertIn("returned str; want a dict", got[0]["error"]["message"])
        self.assertEqual(got[1]["error"]["type"], "TypeError")
        self.assertIn("datetime", got[1]["error"]["message"])
        self.assertEqual(got[2]["error"]["type"], "ValueError")
        self.assertEqual(got[3], {"outputs": [{"ok": True}]})

    def test_batch_handler(self):
        got = self.results(handlers.batched, [{"n": 1}, {"n": 2, "fail": True}, {"n": 3, "skip": True}])
        self.assertEqual(got[0], {"outputs": [{"n": 1, "batch": 3}]})
        self.assertEqual(got[1]["error"]["type"], "ValueError")
        self.assertEqual(got[1]["error"]["message"], "bad event 2")
        self.assertEqual(got[2], {"outputs": []})

    def test_batch_handler_failure_fails_the_invocation(self):
        with self.assertRaises(sluice_function.InvocationError) as cm:
            sluice_function.invoke(handlers.batch_raises, [{}])
        self.assertEqual(cm.exception.type, "RuntimeError")
        self.assertIn("in batch_raises", "\n".join(cm.exception.stack))

    def test_batch_wrong_count_fails_the_invocation(self):
        with self.assertRaises(sluice_function.InvocationError) as cm:
            sluice_function.invoke(handlers.batch_short, [{}, {}])
        self.assertEqual(cm.exception.type, "Sluice.WrongResultCount")
        self.assertEqual(str(cm.exception), "batch handler batch_short returned 1 results for 2 events")

    def test_deadline(self):
        got = self.results(handlers.slow, [{"n": 1}])
        self.assertIsNone(got[0]["outputs"][0]["remaining"])
        r = sluice_function.invoke(handlers.slow, [{"n": 1}], timeout=60)["results"][0]["outputs"][0]
        self.assertTrue(0 < r["remaining"] <= 60)
        with self.assertRaises(sluice_function.InvocationError) as cm:
            sluice_function.invoke(handlers.slow, [{"n": 1, "sleep": 0.05}, {"n": 2}], timeout=0.01)
        self.assertEqual(cm.exception.type, "Sluice.DeadlineExceeded")
        self.assertIn("after 1 of 2 events", str(cm.exception))
        self.assertIsNone(sluice_function.time_remaining())

    def test_bounded_error(self):
        def deep(event, config):
            def down(n):
                return down(n + 1)
            return down(0)

        def long(event, config):
            raise ValueError("x" * 100000)

        got = self.results(deep, [{}])[0]["error"]
        self.assertEqual(got["type"], "RecursionError")
        self.assertLessEqual(len(got["stack"]), sluice_function.MAX_STACK_HEAD + sluice_function.MAX_STACK_TAIL + 1)
        self.assertTrue(got["stack"][-1].startswith("RecursionError"))
        got = self.results(long, [{}])[0]["error"]
        self.assertLess(len(got["message"]), sluice_function.MAX_MESSAGE + 100)

    def test_parse_invocation(self):
        for body, want in [
            (b"nope", "not JSON"),
            (b"[]", "want an object"),
            (b'{"events": {}}', "/events: want an array"),
            (b'{"events": [], "config": []}', "/config: want an object"),
        ]:
            with self.subTest(body=body):
                with self.assertRaises(sluice_function.InvocationError) as cm:
                    sluice_function.parse_invocation(body)
                self.assertIn(want, str(cm.exception))
        self.assertEqual(sluice_function.parse_invocation(b'{"events": [1], "config": null}'), ([1], {}))

    def test_load(self):
        self.assertIs(sluice_function.load("tests.handlers:echo"), handlers.echo)
        for spec, want in [("nocolon", "want module:function"), ("tests.handlers:nope", "has no 'nope'"),
                           ("tests/nofile.py:f", "no file"), ("tests.handlers:log", "not a function")]:
            with self.subTest(spec=spec):
                with self.assertRaisesRegex(Exception, want):
                    sluice_function.load(spec)


if __name__ == "__main__":
    unittest.main()
