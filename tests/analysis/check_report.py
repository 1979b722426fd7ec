"""Loads an HTML report in headless Chromium and reports what a reader would see.

usage: check_report.py CHROMIUM REPORT.html SCREENSHOT.png [COLUMN]

Drives Chromium over the DevTools protocol on a pipe (--remote-debugging-pipe:
JSON messages ending in NUL on file descriptors 3 and 4), with no network
access: collects console messages and uncaught exceptions while the page loads,
takes a screenshot, reads the comparison table's column COLUMN (default 1,
the first value after one axis), clicks its header twice and reads it after
each click. Prints a JSON report.
"""
import base64
import json
import os
import subprocess
import sys
import tempfile
import time


class DevTools:
    def __init__(self, chromium, profile):
        to_chrome_r, self.to_chrome = os.pipe()
        self.from_chrome, from_chrome_w = os.pipe()
        # Above 4, so placing them on 3 and 4 never closes one of them.
        to_chrome_r, from_chrome_w = [self._high(fd) for fd in (to_chrome_r, from_chrome_w)]
        # Chromium reads fd 3 and writes fd 4; the shell puts the pipes there.
        self.process = subprocess.Popen(
            ["bash", "-c", 'exec "$0" "$@" 3<&%d 4>&%d %d<&- %d>&-' % (to_chrome_r, from_chrome_w, to_chrome_r, from_chrome_w),
             chromium, "--headless", "--no-sandbox", "--disable-gpu", "--remote-debugging-pipe",
             "--user-data-dir=" + profile, "--no-first-run", "--disable-extensions", "--disable-background-networking",
             "--proxy-server=127.0.0.1:9", "--window-size=1280,1600", "about:blank"],
            pass_fds=(to_chrome_r, from_chrome_w), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=open(os.environ.get("CHROMIUM_LOG", os.devnull), "w"))
        os.close(to_chrome_r)
        os.close(from_chrome_w)
        self.buffer = b""
        self.next_id = 0
        self.events = []

    @staticmethod
    def _high(fd):
        import fcntl
        high = fcntl.fcntl(fd, fcntl.F_DUPFD, 10)
        os.close(fd)
        return high

    def send(self, method, params=None, session=None):
        self.next_id += 1
        message = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self.to_chrome, json.dumps(message).encode() + b"\0")
        wanted = self.next_id
        deadline = time.time() + 60
        while time.time() < deadline:
            reply = self.read()
            if reply.get("id") == wanted:
                if "error" in reply:
                    raise RuntimeError(method + ": " + json.dumps(reply["error"]))
                return reply.get("result", {})
        raise TimeoutError(method)

    def read(self):
        while b"\0" not in self.buffer:
            chunk = os.read(self.from_chrome, 1 << 20)
            if not chunk:
                raise RuntimeError("chromium closed the pipe")
            self.buffer += chunk
        message, self.buffer = self.buffer.split(b"\0", 1)
        parsed = json.loads(message)
        if "method" in parsed:
            self.events.append(parsed)
        return parsed

    def wait_for(self, method, timeout=60):
        deadline = time.time() + timeout
        while time.time() < deadline:
            for e in self.events:
                if e["method"] == method:
                    return e
            self.read()
        raise TimeoutError(method)

    def close(self):
        try:
            self.send("Browser.close")
        except Exception:
            pass
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()


def main():
    chromium, report, screenshot = sys.argv[1], os.path.abspath(sys.argv[2]), sys.argv[3]
    with tempfile.TemporaryDirectory() as profile:
        dt = DevTools(chromium, profile)
        try:
            target = dt.send("Target.createTarget", {"url": "about:blank"})["targetId"]
            session = dt.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
            for domain in ("Runtime", "Log", "Page", "Network"):
                dt.send(domain + ".enable", session=session)
            dt.send("Page.navigate", {"url": "file://" + report}, session=session)
            dt.wait_for("Page.loadEventFired")
            time.sleep(0.5)

            def evaluate(expression):
                result = dt.send("Runtime.evaluate", {"expression": expression, "returnByValue": True}, session=session)
                if "exceptionDetails" in result:
                    raise RuntimeError(json.dumps(result["exceptionDetails"]))
                return result["result"].get("value")

            column = "Array.from(document.querySelectorAll('#comparison tbody tr')).map(r => r.cells[%d].getAttribute('data-sort') ?? r.cells[%d].textContent)"
            sort_column = int(sys.argv[4]) if len(sys.argv) > 4 else 1
            first = sort_column
            before = evaluate(column % (first, first))
            evaluate("document.querySelectorAll('#comparison thead th')[%d].click()" % sort_column)
            after = evaluate(column % (first, first))
            evaluate("document.querySelectorAll('#comparison thead th')[%d].click()" % sort_column)
            after_again = evaluate(column % (first, first))
            counts = evaluate("({svg: document.querySelectorAll('svg').length, details: document.querySelectorAll('details').length,"
                              " cells: document.querySelectorAll('#cells tbody tr').length, title: document.title})")
            shot = dt.send("Page.captureScreenshot", {"format": "png"}, session=session)
            with open(screenshot, "wb") as f:
                f.write(base64.b64decode(shot["data"]))
            requests = [e["params"]["request"]["url"] for e in dt.events if e["method"] == "Network.requestWillBeSent"]
            console = [e["params"] for e in dt.events if e["method"] in ("Runtime.consoleAPICalled", "Runtime.exceptionThrown")
                       or (e["method"] == "Log.entryAdded" and e["params"]["entry"]["level"] in ("error", "warning"))]
        finally:
            dt.close()
    print(json.dumps({"console": console, "before": before, "after": after, "after_again": after_again,
                      "sorted_column": sort_column, "counts": counts, "requests": requests}))


if __name__ == "__main__":
    main()
