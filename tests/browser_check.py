#!/usr/bin/env python3
"""Loads HTML pages in a real browser (headless Chromium, Debian's `chromium`) and says what a
person opening them would meet: console errors, script exceptions, requests for anything other
than the page itself (the report must fetch nothing), and, for every <figure>, whether its SVG
holds data elements (class "data") that the browser laid out with a size. Optionally writes a
screenshot of the first page.

    browser_check.py PAGE.html... [--screenshot OUT.png [--width 1000] [--height H]]

Prints one JSON object per page: {"page", "console", "exceptions", "requests", "figures":
[{"caption", "svg", "data", "drawn", "width"}]}. Exit 0 when the browser ran (the caller judges
the findings), 2 when it could not be started or did not answer in time.

The browser is driven over the DevTools protocol on a pipe (--remote-debugging-pipe: JSON
messages ending in a NUL byte, the browser reading fd 3 and writing fd 4), so nothing beyond the
standard library and the chromium binary is needed, and no port is opened."""
import base64
import json
import os
import select
import shutil
import subprocess
import sys
import tempfile
import time

TIMEOUT_S = 90  # a loaded 2-core machine starts chromium in ~2-10 s; this is the give-up point

FIGURE_CHECK = r"""
(() => [...document.querySelectorAll('figure')].map(f => {
  const svg = f.querySelector('svg');
  const data = f.querySelectorAll('svg .data');
  let drawn = 0;
  for (const e of data) {
    const b = e.getBBox(), r = e.getBoundingClientRect();
    if ((b.width > 0 || b.height > 0) && (r.width > 0 || r.height > 0)) drawn++;
  }
  const cap = f.querySelector('figcaption');
  return {caption: cap ? cap.textContent.slice(0, 80) : '', svg: !!svg, data: data.length, drawn,
          width: svg ? svg.getBoundingClientRect().width : 0};
}))()
"""


class Browser:
    def __init__(self):
        exe = shutil.which("chromium") or shutil.which("chromium-browser")
        if not exe:
            raise RuntimeError("no chromium on PATH (Debian: apt-get install chromium)")
        self.profile = tempfile.mkdtemp(prefix="scalerl-chromium-")
        to_browser_r, self.to_browser = os.pipe()
        self.from_browser, from_browser_w = os.pipe()
        # fd 3 and 4 of the child are the protocol's pipe ends (set after the fork; close_fds would
        # close them again, so the child closes what else it inherited itself).
        def child_fds():
            r, w = os.dup(to_browser_r), os.dup(from_browser_w)  # above 4: safe from the dup2s below
            r, w = os.dup2(r, 1000), os.dup2(w, 1001)
            os.dup2(r, 3)
            os.dup2(w, 4)
            os.closerange(5, 1024)
        args = [exe, "--headless", "--remote-debugging-pipe", "--disable-gpu", "--no-first-run",
                "--no-default-browser-check", "--disable-extensions", "--hide-scrollbars",
                "--user-data-dir=" + self.profile, "about:blank"]
        if os.geteuid() == 0:
            args.insert(1, "--no-sandbox")  # chromium refuses to run as root with its sandbox
        self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=open(os.environ.get("BROWSER_LOG", os.devnull), "w"), preexec_fn=child_fds, close_fds=False)
        os.close(to_browser_r)
        os.close(from_browser_w)
        self.buf = b""
        self.next_id = 0
        self.events = []
        self.deadline = time.monotonic() + TIMEOUT_S

    def send(self, method, params=None, session=None):
        self.next_id += 1
        msg = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        os.write(self.to_browser, json.dumps(msg).encode() + b"\0")
        return self.next_id

    def read_message(self):
        while b"\0" not in self.buf:
            left = self.deadline - time.monotonic()
            if left <= 0:
                raise RuntimeError("chromium did not answer within %d s" % TIMEOUT_S)
            ready, _, _ = select.select([self.from_browser], [], [], left)
            if not ready:
                continue
            chunk = os.read(self.from_browser, 1 << 20)
            if not chunk:
                raise RuntimeError("chromium closed the protocol pipe (exit %s)" % self.proc.poll())
            self.buf += chunk
        raw, self.buf = self.buf.split(b"\0", 1)
        return json.loads(raw)

    def call(self, method, params=None, session=None):
        want = self.send(method, params, session)
        while True:
            msg = self.read_message()
            if msg.get("id") == want:
                if "error" in msg:
                    raise RuntimeError("%s: %s" % (method, msg["error"]))
                return msg.get("result", {})
            self.events.append(msg)

    def wait_event(self, method, session):
        for i, e in enumerate(self.events):
            if e.get("method") == method and e.get("sessionId") == session:
                return self.events.pop(i)
        while True:
            msg = self.read_message()
            if msg.get("method") == method and msg.get("sessionId") == session:
                return msg
            self.events.append(msg)

    def close(self):
        try:
            self.send("Browser.close")
            self.proc.wait(timeout=10)
        except Exception:
            self.proc.kill()
            self.proc.wait()
        shutil.rmtree(self.profile, ignore_errors=True)


def check_page(b, path, screenshot=None, width=1000, height=None):
    url = "file://" + os.path.abspath(path)
    target = b.call("Target.createTarget", {"url": "about:blank"})["targetId"]
    s = b.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
    for domain in ("Page", "Runtime", "Log", "Network"):
        b.call(domain + ".enable", session=s)
    b.call("Emulation.setDeviceMetricsOverride",
           {"width": width, "height": 900, "deviceScaleFactor": 1, "mobile": False}, session=s)
    b.events = [e for e in b.events if e.get("sessionId") != s]  # only what the page itself does
    b.call("Page.navigate", {"url": url}, session=s)
    b.wait_event("Page.loadEventFired", s)
    figures = b.call("Runtime.evaluate", {"expression": FIGURE_CHECK, "returnByValue": True}, session=s)
    figures = figures["result"].get("value", [])
    if screenshot:
        full = b.call("Runtime.evaluate", {"expression": "document.documentElement.scrollHeight",
                                           "returnByValue": True}, session=s)["result"]["value"]
        h = min(full, height) if height else full
        b.call("Emulation.setDeviceMetricsOverride",
               {"width": width, "height": h, "deviceScaleFactor": 1, "mobile": False}, session=s)
        png = b.call("Page.captureScreenshot", {"format": "png"}, session=s)["data"]
        with open(screenshot, "wb") as f:
            f.write(base64.b64decode(png))
    console, exceptions, requests = [], [], []
    for e in b.events:
        if e.get("sessionId") != s:
            continue
        m, p = e.get("method"), e.get("params", {})
        if m == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert", "warning"):
            console.append(p.get("type") + ": " + " ".join(str(a.get("value", a.get("description", ""))) for a in p.get("args", [])))
        elif m == "Log.entryAdded" and p["entry"].get("level") in ("error", "warning"):
            console.append(p["entry"]["level"] + ": " + p["entry"].get("text", "") + " " + p["entry"].get("url", ""))
        elif m == "Runtime.exceptionThrown":
            exceptions.append(p["exceptionDetails"].get("text", ""))
        elif m == "Network.requestWillBeSent" and p["request"]["url"] != url:
            requests.append(p["request"]["url"])
    b.call("Target.closeTarget", {"targetId": target})
    return {"page": path, "console": console, "exceptions": exceptions, "requests": requests, "figures": figures}


def main(argv):
    pages, shot, width, height = [], None, 1000, None
    it = iter(argv)
    for a in it:
        if a == "--screenshot":
            shot = next(it)
        elif a == "--width":
            width = int(next(it))
        elif a == "--height":
            height = int(next(it))
        else:
            pages.append(a)
    if not pages:
        print(__doc__, file=sys.stderr)
        return 2
    try:
        b = Browser()
    except (RuntimeError, OSError) as e:
        print("browser_check: cannot start chromium: %s" % e, file=sys.stderr)
        return 2
    try:
        for i, p in enumerate(pages):
            print(json.dumps(check_page(b, p, shot if i == 0 else None, width, height)))
    except (RuntimeError, OSError, KeyError, ValueError) as e:
        print("browser_check: %s" % e, file=sys.stderr)
        return 2
    finally:
        b.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
