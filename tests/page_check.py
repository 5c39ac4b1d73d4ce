#!/usr/bin/python3
"""Drives a headless chromium over the DevTools protocol (tests/t_page.sh).

  page_check.py DEVTOOLS_PORT POWERD_URL OUT_DIR

At 1280 px and at 390 px (a phone): loads POWERD_URL/, waits until its
script has updated the page from the API, then checks against
/api/status and /api/history fetched right after (the data are frozen: a
finished replay, JSON files read once): every plot has as many points as
the history's series, each meter's headline numbers (power, today's
energy, total) are the API's, the document is no wider than the screen,
and the browser reported no error (a Content-Security-Policy violation, a
script error).  Screenshots of the whole page go to OUT_DIR/page-*.png.
Also checks the page as served, without running its script.
"""
import base64
import json
import re
import sys
import time
import urllib.request

import websocket  # python3-websocket

TIMEOUT_S = 60


def fail(msg):
    print("FAIL: " + msg, file=sys.stderr)
    sys.exit(1)


def get_json(url):
    with urllib.request.urlopen(url, timeout=10) as r:
        return json.load(r)


class Tab:
    def __init__(self, port):
        targets = get_json("http://127.0.0.1:%d/json/list" % port)
        pages = [t for t in targets if t.get("type") == "page"]
        if not pages:
            fail("chromium has no page target")
        self.ws = websocket.create_connection(pages[0]["webSocketDebuggerUrl"], timeout=TIMEOUT_S)
        self.next_id = 0
        self.events = []

    def call(self, method, **params):
        self.next_id += 1
        self.ws.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            msg = json.loads(self.ws.recv())
            if msg.get("id") == self.next_id:
                if "error" in msg:
                    fail("%s: %s" % (method, msg["error"]))
                return msg.get("result", {})
            self.events.append(msg)

    def eval(self, expr):
        r = self.call("Runtime.evaluate", expression=expr, returnByValue=True)
        if "exceptionDetails" in r:
            fail("evaluating %s: %s" % (expr, r["exceptionDetails"]))
        return r["result"].get("value")

    def errors(self):
        out = []
        for e in self.events:
            if e.get("method") == "Log.entryAdded":
                entry = e["params"]["entry"]
                if entry.get("level") == "error" and "favicon" not in entry.get("url", ""):
                    out.append(entry.get("text", ""))
            elif e.get("method") == "Runtime.exceptionThrown":
                out.append(str(e["params"]["exceptionDetails"]))
        return out


# What the page shows, read in the page.
READ = """JSON.stringify({
  scrollWidth: document.documentElement.scrollWidth,
  innerWidth: window.innerWidth,
  updates: +(document.body.getAttribute("data-updates") || 0),
  plots: Array.from(document.querySelectorAll("svg.plot")).map(function (s) {
    return {name: s.getAttribute("data-n"), circles: s.querySelectorAll("circle").length,
            polylines: s.querySelectorAll("polyline").length,
            labels: Array.from(s.querySelectorAll("text")).map(function (t) { return t.textContent; })};
  }),
  nums: Array.from(document.querySelectorAll("[data-k]")).map(function (e) {
    return {k: e.getAttribute("data-k"), n: e.getAttribute("data-n"), text: e.textContent,
            v: e.getAttribute("data-v")};
  })
})"""


def expected_nums(status):
    out = {}
    for s in status["sources"]:
        if "energy_wh" not in s:
            continue
        p, t = s["power_w"], s["energy_today_wh"]
        out[("power", s["name"])] = ("\u2013" if p is None else "%.1f W" % p, p)
        out[("today", s["name"])] = ("\u2013" if t is None else "%.3f kWh" % (t / 1000), t)
        out[("total", s["name"])] = ("%.3f kWh" % (s["energy_wh"] / 1000), s["energy_wh"])
    return out


def check_nums(nums, status, where):
    want = expected_nums(status)
    if not want:
        fail("%s: no meter in /api/status" % where)
    seen = 0
    for n in nums:
        key = (n["k"], n["n"])
        if key not in want:
            continue
        text, v = want[key]
        if n["text"] != text:
            fail("%s: %s of %s reads %r, /api/status gives %r" % (where, key[0], key[1], n["text"], text))
        if v is not None and n["v"] is not None and float(n["v"]) != v:
            fail("%s: %s of %s is %s, /api/status %r" % (where, key[0], key[1], n["v"], v))
        seen += 1
    if seen != len(want):
        fail("%s: %d of the %d headline numbers found" % (where, seen, len(want)))


def check_plots(plots, hist, where):
    series = {s["source"]: s for s in hist["series"]}
    total = 0
    for p in plots:
        s = series.get(p["name"])
        n = len(s["points"]) if s else 0
        if p["circles"] != n:
            fail("%s: plot %s has %d points, /api/history %d" % (where, p["name"], p["circles"], n))
        if n and not p["polylines"]:
            fail("%s: plot %s has no line" % (where, p["name"]))
        if n and not any(re.fullmatch(r"\d\d:\d\d", t) for t in p["labels"]):
            fail("%s: plot %s has no time labels: %s" % (where, p["name"], p["labels"]))
        if n and s["unit"] and s["unit"] not in p["labels"]:
            fail("%s: plot %s does not show its unit %s" % (where, p["name"], s["unit"]))
        total += n
    if len(plots) != len(series):
        fail("%s: %d plots for %d series" % (where, len(plots), len(series)))
    return total


def view(tab, url, width, out_png):
    tab.call("Emulation.setDeviceMetricsOverride", width=width, height=900, deviceScaleFactor=1,
             mobile=width < 500)
    tab.call("Page.navigate", url=url + "/")
    deadline = time.monotonic() + TIMEOUT_S
    while True:
        ready = tab.eval("document.readyState === 'complete' && document.body && "
                         "+(document.body.getAttribute('data-updates') || 0)")
        if ready and ready >= 1:
            break
        if time.monotonic() > deadline:
            fail("%d px: the page's script did not update it within %d s (%s)"
                 % (width, TIMEOUT_S, tab.eval("document.getElementById('updated').textContent")))
        time.sleep(0.2)
    page = json.loads(tab.eval(READ))
    status = get_json(url + "/api/status")
    hist = get_json(url + "/api/history")
    where = "%d px" % width
    if page["innerWidth"] != width:
        fail("%s: the window is %d px wide" % (where, page["innerWidth"]))
    if page["scrollWidth"] > width:
        fail("%s: the document is %d px wide (sideways scrolling)" % (where, page["scrollWidth"]))
    check_nums(page["nums"], status, where)
    points = check_plots(page["plots"], hist, where)
    # The whole page, at its full height.
    height = tab.eval("document.documentElement.scrollHeight")
    tab.call("Emulation.setDeviceMetricsOverride", width=width, height=height, deviceScaleFactor=1,
             mobile=width < 500)
    time.sleep(0.3)
    shot = tab.call("Page.captureScreenshot", format="png")
    with open(out_png, "wb") as f:
        f.write(base64.b64decode(shot["data"]))
    print("%s: %d plots, %d points, scrollWidth %d, %d x %d screenshot %s"
          % (where, len(page["plots"]), points, page["scrollWidth"], width, height, out_png))
    return points


def check_served(url):
    """The page as served: the numbers are there without any script."""
    with urllib.request.urlopen(url + "/", timeout=10) as r:
        html = r.read().decode()
        csp = r.headers.get("Content-Security-Policy", "")
    status = get_json(url + "/api/status")
    if "<script>" in html or "script-src 'self'" not in csp:
        fail("inline script, or a policy that does not allow /page.js only: %r" % csp)
    nums = [{"k": m.group(1), "n": m.group(2), "text": m.group(3).replace("&ndash;", "\u2013"),
             "v": None}
            for m in re.finditer(r'<span data-k="(\w+)" data-n="([^"]*)">([^<]*)</span>', html)]
    check_nums(nums, status, "served page")
    print("served page: headline numbers match /api/status without JavaScript")


def main():
    port, url, out = int(sys.argv[1]), sys.argv[2].rstrip("/"), sys.argv[3]
    check_served(url)
    tab = Tab(port)
    tab.call("Log.enable")
    tab.call("Runtime.enable")
    tab.call("Page.enable")
    n1 = view(tab, url, 1280, out + "/page-desktop.png")
    n2 = view(tab, url, 390, out + "/page-phone.png")
    if n1 == 0 or n1 != n2:
        fail("plot points: %d at 1280 px, %d at 390 px" % (n1, n2))
    errs = tab.errors()
    if errs:
        fail("the browser reported: %s" % errs)
    print("page ok")


if __name__ == "__main__":
    main()
