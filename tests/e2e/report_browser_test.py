#!/usr/bin/env python3
"""End-to-end: `creditctl report` opened in a real browser. The report of the
reference policies against a copy with one threshold of credit_application
changed is rendered in headless Chromium (Debian `chromium`), driven over the
DevTools protocol on a pipe: every page's DOM is read after rendering and
held against the policies and test files it reports on; no page has a script
or loads anything but the site's own files; the print stylesheet applies
under print media; and printing to PDF gives a PDF.

    report_browser_test.py CREDITCTL_BINARY SOURCE_DIR
"""
import base64
import fcntl
import json
import os
import select
import shutil
import subprocess
import sys
import tempfile
import unittest
import urllib.parse

CREDITCTL = os.path.abspath(sys.argv[1])
SOURCE = os.path.abspath(sys.argv[2])
del sys.argv[1:3]

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
TIMEOUT = 60  # seconds for any one answer of the browser

# The threshold changed: grade C's base limit is 250,000 in the old copy and
# 200,000 in policies/.
OLD_ROW = "| C     | any       => 250_000,"
NEW_ROW = "| C     | any       => 200_000,"


def browser_env(tmp):
    env = dict(os.environ)
    env.update(XDG_CONFIG_HOME=os.path.join(tmp, "config"), HOME=tmp,
               DBUS_SESSION_BUS_ADDRESS="disabled:")
    return env


def chromium_flags(tmp, profile):
    return ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--log-level=3",
            "--user-data-dir=" + os.path.join(tmp, profile)]


class Browser:
    """Headless Chromium, spoken to over --remote-debugging-pipe: JSON
    messages ended by NUL, written to its fd 3 and read from its fd 4."""

    def __init__(self, tmp):
        to_browser_r, self.to_browser = os.pipe()
        self.from_browser, from_browser_w = os.pipe()

        def wire():
            # Above 9 first, so that neither lands on the other's number.
            read_end = fcntl.fcntl(to_browser_r, fcntl.F_DUPFD, 10)
            write_end = fcntl.fcntl(from_browser_w, fcntl.F_DUPFD, 10)
            os.dup2(read_end, 3)
            os.dup2(write_end, 4)
            os.set_inheritable(3, True)
            os.set_inheritable(4, True)
            os.close(read_end)
            os.close(write_end)

        self.proc = subprocess.Popen(
            [CHROMIUM] + chromium_flags(tmp, "profile") + ["--remote-debugging-pipe",
                                                           "about:blank"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            env=browser_env(tmp), preexec_fn=wire, pass_fds=(3, 4))
        os.close(to_browser_r)
        os.close(from_browser_w)
        self.buffer = b""
        self.next_id = 0
        self.events = []

    def close(self):
        try:
            self.call("Browser.close")
        except Exception:  # noqa: BLE001  (the browser may be gone already)
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        os.close(self.to_browser)
        os.close(self.from_browser)

    def _read_message(self):
        while b"\0" not in self.buffer:
            ready, _, _ = select.select([self.from_browser], [], [], TIMEOUT)
            if not ready:
                raise TimeoutError("the browser did not answer in %d s" % TIMEOUT)
            chunk = os.read(self.from_browser, 1 << 16)
            if not chunk:
                raise EOFError("the browser closed its pipe")
            self.buffer += chunk
        message, _, self.buffer = self.buffer.partition(b"\0")
        return json.loads(message)

    def call(self, method, session=None, **params):
        self.next_id += 1
        message = {"id": self.next_id, "method": method, "params": params}
        if session:
            message["sessionId"] = session
        os.write(self.to_browser, json.dumps(message).encode() + b"\0")
        while True:
            answer = self._read_message()
            if answer.get("id") == self.next_id:
                if "error" in answer:
                    raise RuntimeError("%s: %s" % (method, answer["error"]))
                return answer["result"]
            self.events.append(answer)

    def wait_for(self, method, session):
        while True:
            for i, event in enumerate(self.events):
                if event.get("method") == method and event.get("sessionId") == session:
                    return self.events.pop(i)
            self.events.append(self._read_message())

    def open(self, url):
        """A new tab showing `url`, loaded, with the network watched from the start."""
        target = self.call("Target.createTarget", url="about:blank")["targetId"]
        session = self.call("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
        self.call("Page.enable", session)
        self.call("Network.enable", session)
        self.call("Page.navigate", session, url=url)
        self.wait_for("Page.loadEventFired", session)
        return Tab(self, session, target)


class Tab:
    def __init__(self, browser, session, target):
        self.browser = browser
        self.session = session
        self.target = target

    def eval(self, expression):
        result = self.browser.call("Runtime.evaluate", self.session, expression=expression,
                                   returnByValue=True)
        if "exceptionDetails" in result:
            raise RuntimeError("%s: %s" % (expression, result["exceptionDetails"]))
        return result["result"].get("value")

    def requests(self):
        """Every URL the page asked for."""
        return [e["params"]["request"]["url"] for e in self.browser.events
                if e.get("method") == "Network.requestWillBeSent" and
                e.get("sessionId") == self.session]

    def close(self):
        self.browser.call("Target.closeTarget", targetId=self.target)


# What every page is asked, in the browser.
PAGE_FACTS = """(() => {
  const attrs = [];
  for (const e of document.querySelectorAll('*')) {
    for (const a of e.attributes) {
      if (['src', 'href', 'action', 'srcset', 'data', 'poster', 'background'].includes(a.name) ||
          a.name.startsWith('on')) attrs.push([e.tagName, a.name, a.value]);
    }
  }
  return {
    title: document.title,
    h1: document.querySelector('h1') ? document.querySelector('h1').textContent : null,
    scripts: document.querySelectorAll('script, noscript, iframe, object, embed').length,
    images: document.querySelectorAll('img, picture, video, audio, svg image').length,
    attrs: attrs,
    sections: Array.from(document.querySelectorAll('section')).map(s => s.id),
    styled: getComputedStyle(document.querySelector('nav.site')).position,
    sheets: Array.from(document.styleSheets).map(s => s.href),
  };
})()"""

ROWS = """((selector) => Array.from(document.querySelectorAll(selector)).map(
    tr => Array.from(tr.cells).map(c => c.textContent)))"""


class ReportBrowserTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="creditd-report-e2e-")
        old = os.path.join(cls.tmp, "old")
        shutil.copytree(os.path.join(SOURCE, "policies"), old)
        path = os.path.join(old, "credit_application.credit")
        with open(path, encoding="utf-8") as f:
            text = f.read()
        assert NEW_ROW in text, "policies/credit_application.credit has no row " + NEW_ROW
        with open(path, "w", encoding="utf-8") as f:
            f.write(text.replace(NEW_ROW, OLD_ROW, 1))
        cls.site = os.path.join(cls.tmp, "site")
        run = subprocess.run([CREDITCTL, "report", "policies", "--out", cls.site, "--against", old],
                             cwd=SOURCE, capture_output=True, text=True, timeout=300)
        if run.returncode != 0:
            raise AssertionError("creditctl report failed (%d): %s" % (run.returncode, run.stderr))
        cls.report_out = run.stdout
        cls.browser = Browser(cls.tmp)

    @classmethod
    def tearDownClass(cls):
        cls.browser.close()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def url(self, name):
        return "file://" + urllib.parse.quote(os.path.join(self.site, name))

    def open(self, name):
        tab = self.browser.open(self.url(name))
        self.addCleanup(tab.close)
        return tab

    def check_self_contained(self, name, tab, facts):
        """No script, nothing but the site's own files."""
        self.assertEqual(facts["scripts"], 0, name)
        self.assertEqual(facts["images"], 0, name)
        for tag, attr, value in facts["attrs"]:
            self.assertFalse(attr.startswith("on"), "%s: %s %s" % (name, tag, attr))
            target = urllib.parse.urlparse(value)
            self.assertEqual(target.scheme, "", "%s: %s %s=%s" % (name, tag, attr, value))
            self.assertEqual(target.netloc, "", "%s: %s %s=%s" % (name, tag, attr, value))
            if target.path:
                self.assertTrue(os.path.isfile(os.path.join(self.site, target.path)),
                                "%s links to %s, which the site does not have" % (name, value))
        site_url = self.url("")
        for request in tab.requests():
            self.assertTrue(request.startswith(site_url), "%s asked for %s" % (name, request))
        # The one stylesheet applied (the page's own Content-Security-Policy
        # lets it in, and nothing else).
        self.assertEqual(facts["sheets"], [self.url("report.css")], name)
        self.assertEqual(facts["styled"], "sticky", name)

    def pages(self):
        tab = self.open("index.html")
        return tab.eval("Array.from(document.querySelectorAll('a.page-link'))"
                        ".map(a => a.getAttribute('href'))")

    def test_every_page_renders_self_contained(self):
        with open(os.path.join(self.site, "report.css"), encoding="utf-8") as f:
            css = f.read()
        self.assertNotIn("url(", css)
        self.assertNotIn("@import", css)
        self.assertIn("@media print", css)
        index = self.open("index.html")
        facts = index.eval(PAGE_FACTS)
        self.check_self_contained("index.html", index, facts)
        self.assertTrue(facts["h1"].startswith("Policy review"), facts["h1"])
        pages = self.pages()
        # One page per decision of policies/ (each file that starts `policy NAME`,
        # not `library`), each loaded in the browser.
        decisions = set()
        for root, _, files in os.walk(os.path.join(SOURCE, "policies")):
            for name in files:
                if not name.endswith(".credit"):
                    continue
                with open(os.path.join(root, name), encoding="utf-8") as f:
                    words = [line.split() for line in f
                             if line.strip() and not line.lstrip().startswith("#")][0]
                if words[0] == "policy":
                    decisions.add(words[1])
        self.assertEqual(len(pages), len(decisions), pages)
        self.assertIn("wrote %s/index.html: %d pages" % (self.site, len(pages) + 1),
                      self.report_out)
        for page in pages:
            tab = self.open(page)
            facts = tab.eval(PAGE_FACTS)
            self.check_self_contained(page, tab, facts)
            self.assertEqual(facts["sections"],
                             ["policy", "approvals", "contract", "reasons", "scorecards", "bands",
                              "tables", "rules", "tests", "changes"], page)
            self.assertIn(facts["h1"].split(" ")[0], decisions)

    def test_credit_application_page(self):
        page = [p for p in self.pages() if p.startswith("credit_application-")]
        self.assertEqual(len(page), 1)
        tab = self.open(page[0])
        # The semantic diff: the changed threshold, and nothing else.
        diff = tab.eval(ROWS + "('section#changes table.diff tbody tr')")
        self.assertEqual(len(diff), 1, diff)
        self.assertEqual(diff[0][:4], ["~ changed", "table base_terms row 7 (C | any) base_limit",
                                       "250000", "200000"])
        self.assertEqual(diff[0][5], "no")
        # The table as a table: its rows, and the changed one among them.
        cells = tab.eval(ROWS + "('section#tables table.decision-table tbody tr')")
        self.assertIn(["7", "C", "any", "200_000", "30"], [row[:5] for row in cells])
        # A rule in words, with its reason's message.
        rules = tab.eval("document.querySelector('section#rules').innerText")
        self.assertIn("requested_limit is above 500000", rules)
        self.assertIn("A new customer above 500,000 must offer collateral", rules)
        # Every case of the test file, passed, by name.
        with open(os.path.join(SOURCE, "policies", "credit_application.tests.json"),
                  encoding="utf-8") as f:
            cases = [c.get("name") for c in json.load(f)["cases"]]
        rows = tab.eval(ROWS + "('section#tests table.cases tbody tr')")
        self.assertEqual([r[0] for r in rows], cases)
        self.assertEqual({r[1] for r in rows}, {"pass"})
        tests = tab.eval("document.querySelector('section#tests').innerText")
        self.assertIn("(100.0%)", tests)
        # The approvals are said to be unverified: no approvers file was given.
        self.assertIn("NOT verified",
                      tab.eval("document.querySelector('section#approvals').innerText"))

    def test_print_media(self):
        page = [p for p in self.pages() if p.startswith("credit_application-")][0]
        tab = self.open(page)
        self.assertEqual(tab.eval("getComputedStyle(document.querySelector('nav.site')).display"),
                         "block")
        self.browser.call("Emulation.setEmulatedMedia", tab.session, media="print")
        self.assertEqual(tab.eval("getComputedStyle(document.querySelector('nav.site')).display"),
                         "none")
        self.assertEqual(tab.eval("getComputedStyle(document.querySelector('table')).breakInside"),
                         "avoid")
        self.assertEqual(
            tab.eval("getComputedStyle(document.querySelector('thead')).display"),
            "table-header-group")
        pdf = base64.b64decode(self.browser.call("Page.printToPDF", tab.session)["data"])
        self.assertTrue(pdf.startswith(b"%PDF-"), pdf[:16])
        self.assertGreater(len(pdf), 10000)
        # Links print as plain text with their target.
        index = self.open("index.html")
        self.browser.call("Emulation.setEmulatedMedia", index.session, media="print")
        after = index.eval("getComputedStyle(document.querySelector('a.page-link'), '::after')"
                           ".content")
        self.assertIn(".html", after)
        self.assertEqual(index.eval("getComputedStyle(document.querySelector('a.page-link'))"
                                    ".textDecorationLine"), "none")

    def test_print_to_pdf_from_the_command_line(self):
        out = os.path.join(self.tmp, "index.pdf")
        run = subprocess.run([CHROMIUM] + chromium_flags(self.tmp, "print-profile") +
                             ["--print-to-pdf=" + out, "--no-pdf-header-footer",
                              self.url("index.html")],
                             env=browser_env(self.tmp), capture_output=True, timeout=120)
        self.assertEqual(run.returncode, 0, run.stderr[-2000:])
        with open(out, "rb") as f:
            pdf = f.read()
        self.assertTrue(pdf.startswith(b"%PDF-"), pdf[:16])
        self.assertGreater(len(pdf), 1000)


if __name__ == "__main__":
    unittest.main(verbosity=2)
