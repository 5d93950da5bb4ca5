#!/usr/bin/env python3
"""End-to-end: `creditctl lsp`, the language server editors use, driven by a
scripted JSON-RPC client over its stdin and stdout. A copy of the reference
policies is opened; every answer is held against what `creditctl check` and
`creditctl fmt` say of the same text.

    lsp_test.py CREDITCTL_BINARY SOURCE_DIR
"""
import json
import os
import queue
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import unittest

CREDITCTL = os.path.abspath(sys.argv[1])
SOURCE = os.path.abspath(sys.argv[2])
del sys.argv[1:3]

TIMEOUT = 60  # seconds for any one answer (the dev build runs under ASan)


def file_uri(path):
    return "file://" + "".join(
        c if (c.isascii() and (c.isalnum() or c in "-._~/")) else
        "".join("%%%02X" % b for b in c.encode()) for c in path)


def units(text, encoding):
    """The length of `text` in the code units of an LSP position encoding."""
    if encoding == "utf-8":
        return len(text.encode("utf-8"))
    return len(text.encode("utf-16-le")) // 2


def position_of(text, needle, encoding="utf-16", occurrence=0, delta=0):
    """The LSP position of the start of `needle` (plus `delta` characters)."""
    at = -1
    for _ in range(occurrence + 1):
        at = text.index(needle, at + 1)
    at += delta
    line = text.count("\n", 0, at)
    start = text.rfind("\n", 0, at) + 1
    return {"line": line, "character": units(text[start:at], encoding)}


class Server:
    """One `creditctl lsp` process and a reader of its framed messages."""

    def __init__(self):
        self.proc = subprocess.Popen([CREDITCTL, "lsp"], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.messages = queue.Queue()
        self.next_id = 0
        self.pending = []
        self.stderr = b""
        threading.Thread(target=self._read, daemon=True).start()
        threading.Thread(target=self._read_stderr, daemon=True).start()

    def _read(self):
        out = self.proc.stdout
        while True:
            headers = {}
            while True:
                line = out.readline()
                if not line:
                    self.messages.put(None)
                    return
                line = line.rstrip(b"\r\n")
                if not line:
                    break
                name, _, value = line.partition(b":")
                headers[name.strip().lower()] = value.strip()
            body = out.read(int(headers[b"content-length"]))
            self.messages.put(json.loads(body))

    def _read_stderr(self):
        self.stderr = self.proc.stderr.read()

    def send_raw(self, data):
        self.proc.stdin.write(data)
        self.proc.stdin.flush()

    def send(self, message):
        body = json.dumps(message).encode()
        self.send_raw(b"Content-Length: %d\r\n\r\n" % len(body) + body)

    def notify(self, method, params=None):
        message = {"jsonrpc": "2.0", "method": method}
        if params is not None:
            message["params"] = params
        self.send(message)

    def next_message(self):
        message = self.messages.get(timeout=TIMEOUT)
        if message is None:
            raise AssertionError("the server closed its output")
        return message

    def response(self, id_):
        """The response to request `id_`; notifications before it are kept."""
        while True:
            message = self.next_message()
            if message.get("id") == id_ and "method" not in message:
                return message
            self.pending.append(message)

    def request(self, method, params=None):
        self.next_id += 1
        message = {"jsonrpc": "2.0", "id": self.next_id, "method": method}
        if params is not None:
            message["params"] = params
        self.send(message)
        return self.response(self.next_id)

    def diagnostics(self, uri):
        """The next diagnostics published for `uri`."""
        for i, message in enumerate(self.pending):
            if (message.get("method") == "textDocument/publishDiagnostics"
                    and message["params"]["uri"] == uri):
                del self.pending[i]
                return message["params"]
        while True:
            message = self.next_message()
            if (message.get("method") == "textDocument/publishDiagnostics"
                    and message["params"]["uri"] == uri):
                return message["params"]
            self.pending.append(message)

    def initialize(self, encodings=None, hierarchical=True, formats=("markdown", "plaintext")):
        self.pending = []
        capabilities = {"textDocument": {
            "hover": {"contentFormat": list(formats)},
            "documentSymbol": {"hierarchicalDocumentSymbolSupport": hierarchical}}}
        if encodings is not None:
            capabilities["general"] = {"positionEncodings": encodings}
        answer = self.request("initialize", {"processId": os.getpid(), "rootUri": None,
                                             "capabilities": capabilities})
        self.notify("initialized", {})
        return answer

    def open(self, uri, text, version=1):
        self.notify("textDocument/didOpen", {"textDocument": {
            "uri": uri, "languageId": "credit", "version": version, "text": text}})
        return self.diagnostics(uri)

    def change(self, uri, text, version):
        self.notify("textDocument/didChange", {
            "textDocument": {"uri": uri, "version": version},
            "contentChanges": [{"text": text}]})
        return self.diagnostics(uri)

    def finish(self):
        """shutdown, exit; the exit code."""
        answer = self.request("shutdown")
        assert "error" not in answer, answer
        assert answer["result"] is None, answer
        self.notify("exit")
        return self.wait()

    def wait(self):
        code = self.proc.wait(timeout=TIMEOUT)
        self.close()
        return code

    def close(self):
        for pipe in [self.proc.stdin, self.proc.stdout, self.proc.stderr]:
            try:
                pipe.close()
            except (BrokenPipeError, ValueError):
                pass

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.close()


class LspTest(unittest.TestCase):
    def setUp(self):
        self.root = tempfile.mkdtemp(prefix="creditd-lsp-")
        self.policies = os.path.join(self.root, "policies")
        shutil.copytree(os.path.join(SOURCE, "policies"), self.policies)
        self.path = os.path.join(self.policies, "credit_application.credit")
        self.uri = file_uri(self.path)
        with open(self.path, encoding="utf-8") as f:
            self.text = f.read()
        self.common = os.path.join(self.policies, "shared", "common.credit")
        self.scorecard = os.path.join(self.policies, "shared", "scorecard.credit")
        self.servers = []

    def tearDown(self):
        for server in self.servers:
            server.kill()
        shutil.rmtree(self.root)

    def server(self, encodings=None, hierarchical=True, **kw):
        server = Server()
        self.servers.append(server)
        answer = server.initialize(encodings, hierarchical, **kw)
        self.assertNotIn("error", answer)
        return server, answer["result"]

    def check_json(self, path):
        run = subprocess.run([CREDITCTL, "check", "--format", "json", path],
                             capture_output=True, text=True, timeout=TIMEOUT)
        return json.loads(run.stdout)

    # -- initialize ---------------------------------------------------------

    def test_initialize_negotiates_the_position_encoding(self):
        for offered, chosen in [(None, "utf-16"), (["utf-16"], "utf-16"),
                                (["utf-32", "utf-16"], "utf-16"), (["utf-16", "utf-8"], "utf-8"),
                                (["utf-8"], "utf-8")]:
            with self.subTest(offered=offered):
                server, result = self.server(offered)
                caps = result["capabilities"]
                self.assertEqual(caps["positionEncoding"], chosen)
                self.assertEqual(caps["textDocumentSync"], {"openClose": True, "change": 1})
                for provider in ["hoverProvider", "definitionProvider", "documentSymbolProvider",
                                 "documentFormattingProvider"]:
                    self.assertTrue(caps[provider], provider)
                self.assertIn("completionProvider", caps)
                self.assertEqual(result["serverInfo"]["name"], "creditctl")
                self.assertEqual(server.finish(), 0)

    def test_lifecycle_errors_and_exit_codes(self):
        server = Server()
        self.servers.append(server)
        # Before initialize: requests are refused, notifications dropped.
        server.send({"jsonrpc": "2.0", "id": 1, "method": "textDocument/hover",
                     "params": {"textDocument": {"uri": self.uri},
                                "position": {"line": 0, "character": 0}}})
        self.assertEqual(server.response(1)["error"]["code"], -32002)
        server.initialize()
        again = server.request("initialize", {"capabilities": {}})
        self.assertEqual(again["error"]["code"], -32600)
        self.assertEqual(server.request("workspace/symbol", {"query": ""})["error"]["code"],
                         -32601)
        server.request("shutdown")
        # After shutdown only exit is left.
        after = server.request("textDocument/hover", {
            "textDocument": {"uri": self.uri}, "position": {"line": 0, "character": 0}})
        self.assertEqual(after["error"]["code"], -32600)
        server.notify("exit")
        self.assertEqual(server.wait(), 0)

        # exit without shutdown: 1.
        server = Server()
        self.servers.append(server)
        server.initialize()
        server.notify("exit")
        self.assertEqual(server.wait(), 1)

    # -- diagnostics --------------------------------------------------------

    def test_reference_policy_opens_without_errors(self):
        for encodings in [None, ["utf-8"]]:
            with self.subTest(encodings=encodings):
                server, _ = self.server(encodings)
                published = server.open(self.uri, self.text)
                self.assertEqual(published["version"], 1)
                errors = [d for d in published["diagnostics"] if d["severity"] == 1]
                self.assertEqual(errors, [])
                # As `creditctl check` says of the file.
                expected = [d for d in self.check_json(self.path) if d["file"] == self.path]
                self.assertEqual(len(published["diagnostics"]), len(expected))
                self.assertEqual(server.finish(), 0)

    def diagnostics_after_edit(self, encoding):
        # A line whose errors come after non-ASCII text: an "é" (2 UTF-8
        # bytes, 1 UTF-16 unit) and an emoji (4 bytes, 2 units) in a
        # reason's message.
        line = ('reason UNICODE_NOTE "Prüfung é 😀 nötig" let mixed = requested_limit '
                '+ equity_pledge_ratio let ghost = no_such_input')
        text = self.text + line + "\n"
        server, result = self.server(["utf-8", "utf-16"] if encoding == "utf-8" else None)
        self.assertEqual(result["capabilities"]["positionEncoding"], encoding)
        self.assertEqual([d for d in server.open(self.uri, self.text)["diagnostics"]
                          if d["severity"] == 1], [])
        published = server.change(self.uri, text, 2)
        self.assertEqual(published["version"], 2)
        errors = {d["code"]: d for d in published["diagnostics"] if d["severity"] == 1}
        self.assertEqual(sorted(errors), ["E0201", "E0301"], published)

        line_no = text.count("\n") - 1

        def expect(needle):
            start = line.index(needle)
            return {"start": {"line": line_no, "character": units(line[:start], encoding)},
                    "end": {"line": line_no,
                            "character": units(line[:start + len(needle)], encoding)}}

        self.assertEqual(errors["E0201"]["range"], expect("no_such_input"))
        self.assertEqual(errors["E0301"]["range"], expect("requested_limit + equity_pledge_ratio"))
        self.assertEqual(errors["E0201"]["source"], "creditctl")

        # The same codes, places and messages as `creditctl check`, whose
        # columns count characters; the help on a line of its own.
        with open(self.path, "w", encoding="utf-8") as f:
            f.write(text)
        checked = [d for d in self.check_json(self.path) if d["file"] == self.path]
        self.assertEqual(len(checked), len(published["diagnostics"]))
        for want in checked:
            got = [d for d in published["diagnostics"]
                   if d["code"] == want["code"] and d["range"]["start"]["line"] == want["line"] - 1]
            self.assertEqual(len(got), 1, (want, published))
            lsp_line = text.split("\n")[want["line"] - 1]
            self.assertEqual(got[0]["range"]["start"]["character"],
                             units(lsp_line[:want["column"] - 1], encoding))
            message = want["message"] + ("\nhelp: " + want["help"] if want["help"] else "")
            self.assertEqual(got[0]["message"], message)
            self.assertEqual(got[0]["severity"], 1 if want["severity"] == "error" else 2)
        self.assertIn("unknown name `no_such_input`", errors["E0201"]["message"])

        # Fixed: the errors go.
        fixed = server.change(self.uri, self.text, 3)
        self.assertEqual([d for d in fixed["diagnostics"] if d["severity"] == 1], [])
        self.assertEqual(server.finish(), 0)

    def test_diagnostics_as_you_type_in_utf16(self):
        self.diagnostics_after_edit("utf-16")

    def test_diagnostics_as_you_type_in_utf8(self):
        self.diagnostics_after_edit("utf-8")

    def test_open_libraries_take_precedence_over_the_disk(self):
        server, _ = self.server()
        server.open(self.uri, self.text)
        common_uri = file_uri(self.common)
        with open(self.common, encoding="utf-8") as f:
            common = f.read()
        self.assertEqual([d for d in server.open(common_uri, common)["diagnostics"]
                          if d["severity"] == 1], [])
        # Opening a library the policy imports checks the policy again.
        self.assertEqual(server.diagnostics(self.uri)["diagnostics"], [])
        # The policy is checked again when a library it imports changes.
        server.notify("textDocument/didChange", {
            "textDocument": {"uri": common_uri, "version": 2},
            "contentChanges": [{"text": common.replace(
                "enum Segment { new, existing, strategic }\n", "")}]})
        policy = server.diagnostics(self.uri)
        codes = [d["code"] for d in policy["diagnostics"] if d["severity"] == 1]
        self.assertIn("E0203", codes, policy)  # unknown type `Segment`
        # Closed, the library is read from disk again.
        server.notify("textDocument/didClose", {"textDocument": {"uri": common_uri}})
        self.assertEqual(server.diagnostics(common_uri)["diagnostics"], [])
        policy = server.diagnostics(self.uri)
        self.assertEqual([d for d in policy["diagnostics"] if d["severity"] == 1], [])
        # An error inside an imported library is told at the import.
        with open(self.common, "w", encoding="utf-8") as f:
            f.write(common.replace("enum Grade { A, B, C, D }", "enum Grade { A, B, C, D"))
        published = server.change(self.uri, self.text, 2)
        at_import = [d for d in published["diagnostics"] if d["severity"] == 1]
        self.assertEqual(len(at_import), 1, published)
        self.assertEqual(at_import[0]["code"], "E0001")
        import_line = self.text.split("\n").index('import "shared/common.credit"')
        self.assertEqual(at_import[0]["range"]["start"], {"line": import_line, "character": 0})
        self.assertIn("shared/common.credit", at_import[0]["message"])
        self.assertEqual(server.finish(), 0)

    # -- hover and definition -----------------------------------------------

    def hover(self, server, needle, occurrence=0, delta=1, text=None):
        answer = server.request("textDocument/hover", {
            "textDocument": {"uri": self.uri},
            "position": position_of(text or self.text, needle, occurrence=occurrence,
                                    delta=delta)})
        self.assertNotIn("error", answer)
        return answer["result"]

    def test_hover(self):
        server, _ = self.server()
        server.open(self.uri, self.text)
        # An input: its type, range and default.
        hover = self.hover(server, "requested_limit", occurrence=1)
        self.assertEqual(hover["contents"]["kind"], "markdown")
        value = hover["contents"]["value"]
        self.assertIn("input requested_limit: money", value)
        self.assertIn("range: `>= 0`", value)
        self.assertIn("no default", value)
        self.assertEqual(hover["range"], {
            "start": position_of(self.text, "requested_limit", occurrence=1),
            "end": position_of(self.text, "requested_limit", occurrence=1,
                               delta=len("requested_limit"))})
        value = self.hover(server, "equity_pledge_ratio: percent")["contents"]["value"]
        self.assertIn("range: `[0%, 100%]`", value)
        # An enum from an imported library says where it is declared.
        value = self.hover(server, "Grade = grade", delta=0)["contents"]["value"]
        self.assertIn("enum Grade { A, B, C, D }", value)
        self.assertIn("shared/common.credit", value)
        # An enum of the policy, and one of its symbols.
        value = self.hover(server, "outcome Decision", delta=9)["contents"]["value"]
        self.assertIn("enum Decision { approve, refer, decline }", value)
        value = self.hover(server, "then decline GRADE_D", delta=6)["contents"]["value"]
        self.assertIn("`decline`: symbol 3 of 3", value)
        # A reason code: its message.
        value = self.hover(server, "GRADE_D", occurrence=1)["contents"]["value"]
        self.assertIn('reason GRADE_D "Grade D: no credit is extended"', value)
        # Outputs, lets, tables and members: their types.
        value = self.hover(server, "proposed_limit", occurrence=1)["contents"]["value"]
        self.assertIn("let proposed_limit: money = min(requested_limit, base_terms.base_limit)",
                      value)
        value = self.hover(server, "base_limit", occurrence=1)["contents"]["value"]
        self.assertIn("base_terms.base_limit: money", value)
        value = self.hover(server, "cap credit_limit", delta=5)["contents"]["value"]
        self.assertIn("output credit_limit: money = proposed_limit", value)
        value = self.hover(server, "table base_terms", delta=7)["contents"]["value"]
        self.assertIn("table base_terms hit first", value)
        self.assertIn("`payment_terms_days: int`", value)
        # Nothing under a keyword, past the end, or in an unknown document.
        self.assertIsNone(self.hover(server, "rule grade_d", delta=1))
        far = server.request("textDocument/hover", {
            "textDocument": {"uri": self.uri},
            "position": {"line": 10 ** 9, "character": 10 ** 9}})
        self.assertIsNone(far["result"])
        unknown = server.request("textDocument/hover", {
            "textDocument": {"uri": "file:///nowhere.credit"},
            "position": {"line": 0, "character": 0}})
        self.assertIsNone(unknown["result"])
        self.assertEqual(server.finish(), 0)
        # A client that takes plain text only gets it.
        plain, _ = self.server(formats=["plaintext"])
        plain.open(self.uri, self.text)
        contents = self.hover(plain, "requested_limit", occurrence=1)["contents"]
        self.assertEqual(contents, {"kind": "plaintext",
                                    "value": "input requested_limit: money\nrange: >= 0\n"
                                             "no default"})
        self.assertEqual(plain.finish(), 0)

    def test_definition_across_imports(self):
        server, _ = self.server()
        server.open(self.uri, self.text)

        def definition(needle, delta=1, occurrence=0):
            answer = server.request("textDocument/definition", {
                "textDocument": {"uri": self.uri},
                "position": position_of(self.text, needle, occurrence=occurrence,
                                        delta=delta)})
            self.assertNotIn("error", answer)
            return answer["result"]

        with open(self.common, encoding="utf-8") as f:
            common = f.read()
        with open(self.scorecard, encoding="utf-8") as f:
            scorecard = f.read()
        # An enum declared in shared/common.credit.
        where = definition("Segment")
        self.assertEqual(where["uri"], file_uri(self.common))
        self.assertEqual(where["range"]["start"], position_of(common, "Segment {"))
        # A scorecard declared in shared/scorecard.credit, from `credit_score.total`.
        where = definition("credit_score.total")
        self.assertEqual(where["uri"], file_uri(self.scorecard))
        self.assertEqual(where["range"]["start"],
                         position_of(scorecard, "credit_score", occurrence=0))
        # An enum symbol there (`strategic` in the table).
        where = definition("strategic =>")
        self.assertEqual(where["uri"], file_uri(self.common))
        self.assertEqual(where["range"]["start"], position_of(common, "strategic"))
        # A band of the library, read as `grade` in a rule.
        where = definition("when grade", delta=6)
        self.assertEqual(where["uri"], file_uri(self.scorecard))
        self.assertEqual(where["range"]["start"], position_of(scorecard, "grade: Grade"))
        # A reason code and an output of the policy itself.
        where = definition("GRADE_D", occurrence=1)
        self.assertEqual(where, {"uri": self.uri, "range": {
            "start": position_of(self.text, "GRADE_D"),
            "end": position_of(self.text, "GRADE_D", delta=7)}})
        where = definition("cap credit_limit", delta=5)
        self.assertEqual(where["range"]["start"], position_of(self.text, "credit_limit: money"))
        # A table's column.
        where = definition("base_terms.base_limit", delta=12)
        self.assertEqual(where["range"]["start"], position_of(self.text, "base_limit: money"))
        self.assertIsNone(definition("policy", delta=0))
        self.assertEqual(server.finish(), 0)

    # -- document symbols, formatting, completion ---------------------------

    def test_document_symbols(self):
        server, _ = self.server()
        server.open(self.uri, self.text)
        answer = server.request("textDocument/documentSymbol",
                                {"textDocument": {"uri": self.uri}})
        symbols = {s["name"]: s for s in answer["result"]}
        expected_kinds = {"Decision": 10, "GRADE_D": 14, "segment": 13, "base_terms": 23,
                          "proposed_limit": 13, "credit_limit": 8, "grade_d": 24}
        for name, kind in expected_kinds.items():
            self.assertEqual(symbols[name]["kind"], kind, name)
        self.assertEqual([c["name"] for c in symbols["Decision"]["children"]],
                         ["approve", "refer", "decline"])
        self.assertEqual([c["name"] for c in symbols["base_terms"]["children"]],
                         ["base_limit", "payment_terms_days"])
        self.assertEqual(symbols["segment"]["detail"], "input: Segment")
        self.assertEqual(symbols["grade_d"]["selectionRange"]["start"],
                         position_of(self.text, "grade_d"))
        rule = symbols["grade_d"]["range"]
        self.assertEqual(rule["start"], position_of(self.text, "rule grade_d"))
        self.assertEqual(rule["end"], position_of(self.text, "cap credit_limit at 0", delta=21))
        # Only the policy's own declarations, none of its imports.
        self.assertNotIn("Segment", symbols)
        self.assertEqual(len(answer["result"]), 1 + 6 + 6 + 1 + 1 + 7 + 7)
        # Without hierarchy support: flat SymbolInformation.
        flat_server, _ = self.server(hierarchical=False)
        flat_server.open(self.uri, self.text)
        flat = flat_server.request("textDocument/documentSymbol",
                                   {"textDocument": {"uri": self.uri}})["result"]
        approve = [s for s in flat if s["name"] == "approve"][0]
        self.assertEqual(approve["containerName"], "Decision")
        self.assertEqual(approve["location"]["uri"], self.uri)
        self.assertEqual(server.finish(), 0)
        self.assertEqual(flat_server.finish(), 0)

    def test_formatting(self):
        server, _ = self.server()
        untidy = ("policy untidy\n version 1.0.0\n      effective 2026-01-01\n"
                  "# a note\ninput   x:money>=0\ninput y: percent in [0%,100%]\n"
                  "output z : money=x*y+1   # the sum\n\n\n\nrule r when x>100 then set z=0\n")
        path = os.path.join(self.policies, "untidy.credit")
        with open(path, "w", encoding="utf-8") as f:
            f.write(untidy)
        canonical = subprocess.run([CREDITCTL, "fmt", path], capture_output=True, text=True,
                                   check=True, timeout=TIMEOUT).stdout
        self.assertNotEqual(canonical, untidy)
        uri = file_uri(path)
        server.open(uri, untidy)
        edits = server.request("textDocument/formatting", {
            "textDocument": {"uri": uri},
            "options": {"tabSize": 4, "insertSpaces": True}})["result"]
        self.assertEqual(edits, [{"range": {
            "start": {"line": 0, "character": 0},
            "end": {"line": untidy.count("\n"), "character": 0}}, "newText": canonical}])
        # Canonical already: no edits. Not parsing: no edits, no error.
        server.change(uri, canonical, 2)
        again = server.request("textDocument/formatting",
                               {"textDocument": {"uri": uri}, "options": {}})
        self.assertEqual(again["result"], [])
        server.change(uri, "policy broken\ninput x money\n", 3)
        broken = server.request("textDocument/formatting",
                                {"textDocument": {"uri": uri}, "options": {}})
        self.assertEqual(broken, {"jsonrpc": "2.0", "id": broken["id"], "result": []})
        self.assertEqual(server.finish(), 0)

    def test_completion(self):
        server, _ = self.server()
        server.open(self.uri, self.text)

        def complete(needle, delta, text=None):
            answer = server.request("textDocument/completion", {
                "textDocument": {"uri": self.uri},
                "position": position_of(text or self.text, needle, delta=delta)})
            self.assertNotIn("error", answer)
            return {item["label"]: item for item in answer["result"]}

        # After an outcome symbol in a rule: reason codes, with their messages,
        # from the policy and its libraries.
        items = complete("then decline GRADE_D", len("then decline "))
        self.assertIn("GRADE_D", items)
        self.assertIn("HIGH_LEVERAGE", items)
        self.assertEqual(items["GRADE_D"]["kind"], 21)
        self.assertEqual(items["GRADE_D"]["detail"], "Grade D: no credit is extended")
        self.assertNotIn("requested_limit", items)
        # After `reason` as an effect: reason codes.
        items = complete("then reason GRADE_BELOW", len("then reason "))
        self.assertIn("GRADE_BELOW_B_SPECIAL_APPROVAL", items)
        # Comparing with an enum value: its symbols first, then names in scope.
        items = complete("when grade = D", len("when grade = "))
        for symbol in ["A", "B", "C", "D"]:
            self.assertEqual(items[symbol]["kind"], 20)
            self.assertEqual(items[symbol]["detail"], "Grade")
            self.assertTrue(items[symbol]["sortText"].startswith("0"), items[symbol])
        self.assertTrue(items["strategic"]["sortText"] > items["A"]["sortText"])
        for name in ["requested_limit", "proposed_limit", "base_terms", "credit_score",
                     "grade"]:
            self.assertIn(name, items)
        self.assertIn("min", items)
        self.assertIn("and", items)
        # Members of a table and a scorecard.
        items = complete("base_terms.base_limit)", len("base_terms."))
        self.assertEqual(sorted(items), ["base_limit", "payment_terms_days"])
        items = complete("credit_score.total", len("credit_score."))
        self.assertIn("total", items)
        self.assertIn("financial", items)
        # Effects after `then`; outputs after `raise`.
        items = complete("then decline GRADE_D", len("then "))
        self.assertIn("decline", items)
        self.assertIn("raise", items)
        items = complete("raise warning", len("raise "))
        self.assertIn("warning", items)
        self.assertIn("approval_level", items)
        # A line that does not parse still completes from the last check.
        broken = self.text.replace("  when grade = D\n", "  when grade = \n")
        server.change(self.uri, broken, 2)
        items = complete("when grade = \n", len("when grade = "), text=broken)
        self.assertIn("A", items)
        # Nothing inside a comment or a string.
        self.assertEqual(complete('"Credit Risk"', 3), {})
        self.assertEqual(server.finish(), 0)

    # -- hostile input ------------------------------------------------------

    def test_malformed_frames_and_bad_json_do_not_stop_the_server(self):
        server, _ = self.server()
        server.open(self.uri, self.text)
        # A header block without Content-Length is skipped.
        server.send_raw(b"this is no header\r\n\r\n")
        server.send_raw(b"Content-Length: twelve\r\n\r\n")
        # Not JSON, not UTF-8, not an object, a wrong id: errors with id null.
        for body in [b"{bad json", b'{"jsonrpc": "2.0", "id": 1, "method": "\xff"}', b"[]",
                     b'{"jsonrpc": "2.0", "id": {"a": 1}, "method": "shutdown"}',
                     b"[" * 100000 + b"]" * 100000, b'"text"', b"{}"]:
            server.send_raw(b"Content-Length: %d\r\n\r\n" % len(body) + body)
            answer = server.next_message()
            self.assertIsNone(answer["id"])
            self.assertIn(answer["error"]["code"], [-32700, -32600], answer)
        # Unknown notifications are ignored; bad parameters are errors.
        server.notify("$/unknownNotification", {"x": 1})
        server.notify("textDocument/didChange", {"textDocument": {"uri": 5}})
        server.notify("textDocument/didOpen", {"textDocument": {"uri": self.uri}})
        for position in [{"line": -1, "character": 0}, {"line": 1.5, "character": 0},
                         {"line": 1e30, "character": 0}, "nowhere"]:
            answer = server.request("textDocument/hover", {
                "textDocument": {"uri": self.uri}, "position": position})
            self.assertEqual(answer["error"]["code"], -32602, answer)
        self.assertEqual(server.request("textDocument/completion", None)["error"]["code"],
                         -32602)
        # Positions past a line's end, inside a character, far away: clamped.
        for position in [{"line": 0, "character": 10 ** 12},
                         {"line": 2 ** 62, "character": 3}]:
            for method in ["textDocument/hover", "textDocument/definition",
                           "textDocument/completion"]:
                answer = server.request(method, {"textDocument": {"uri": self.uri},
                                                 "position": position})
                self.assertNotIn("error", answer, (method, answer))
        # Still serving.
        hover = self.hover(server, "requested_limit", occurrence=1)
        self.assertIn("input requested_limit", hover["contents"]["value"])
        self.assertEqual(server.finish(), 0)

    def test_a_message_too_large_stops_the_server(self):
        server, _ = self.server()
        server.send_raw(b"Content-Length: %d\r\n\r\n" % (64 << 20))
        message = server.next_message()
        self.assertEqual(message["method"], "window/showMessage")
        self.assertEqual(server.wait(), 1)
        self.assertIn(b"longer than", server.stderr)

    # -- editor support -----------------------------------------------------

    def test_the_textmate_grammar_colours_every_keyword(self):
        with open(os.path.join(SOURCE, "dsl", "CreditPolicy.g4"), encoding="utf-8") as f:
            grammar = f.read()
        keywords = re.findall(r"^[A-Z]+ : '([a-z]+)' ;", grammar, re.M)
        self.assertGreater(len(keywords), 30)
        with open(os.path.join(SOURCE, "editors", "credit.tmLanguage.json"),
                  encoding="utf-8") as f:
            tm = json.load(f)
        patterns = []

        def collect(node):
            if isinstance(node, dict):
                for key, value in node.items():
                    if key == "match" and isinstance(value, str):
                        patterns.append(value)
                    else:
                        collect(value)
            elif isinstance(node, list):
                for value in node:
                    collect(value)

        collect(tm["repository"])
        words = set()
        for pattern in patterns:
            for group in re.findall(r"\(([a-z|]+)\)", pattern):
                words.update(group.split("|"))
        self.assertEqual(sorted(set(keywords) - words), [])
        self.assertEqual(tm["scopeName"], "source.credit")


if __name__ == "__main__":
    unittest.main(verbosity=2)
