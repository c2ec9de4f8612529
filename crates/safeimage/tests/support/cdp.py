#!/usr/bin/env python3
"""Drives headless Chromium over the DevTools protocol on a pipe
(--remote-debugging-pipe: commands on fd 3, replies on fd 4, each JSON
message ending in a NUL byte), for the dashboard's browser tests.

usage: cdp.py CHROMIUM URL STEPS_JSON

STEPS_JSON is a list of steps, run in order on one page:
  {"fill": {"SELECTOR": "value", ...}}   set form fields
  {"submit": "SELECTOR"}                 submit that form and wait for the next page
  {"dom": true}                          print the page's HTML (one JSON string per line)
  {"status": true}                       print the last navigation's HTTP status
Exit 0 when every step ran; anything else is printed to stderr.
"""
import json, os, subprocess, sys, tempfile, time


def main():
    chromium, url, steps = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
    profile = tempfile.mkdtemp(prefix="cdp-")
    to_chrome_r, to_chrome_w = os.pipe()
    from_chrome_r, from_chrome_w = os.pipe()
    # the pipe ends land on fds 3 and 4 in the child, wherever they are here
    hi_r, hi_w = os.dup(to_chrome_r), os.dup(from_chrome_w)
    hi_r2, hi_w2 = os.dup2(hi_r, 100), os.dup2(hi_w, 101)

    def fds():
        os.dup2(100, 3)
        os.dup2(101, 4)

    p = subprocess.Popen(
        [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
         "--no-first-run", "--remote-debugging-pipe", f"--user-data-dir={profile}", "about:blank"],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        preexec_fn=fds, pass_fds=(3, 4, 100, 101), close_fds=True)
    for fd in (to_chrome_r, from_chrome_w, hi_r, hi_w, 100, 101):
        os.close(fd)
    out = os.fdopen(to_chrome_w, "wb", buffering=0)
    inp = os.fdopen(from_chrome_r, "rb", buffering=0)
    buf = b""
    next_id = [0]
    events = []

    def read_msg(deadline):
        nonlocal buf
        while b"\0" not in buf:
            if time.time() > deadline:
                raise TimeoutError("no answer from Chromium")
            chunk = os.read(inp.fileno(), 65536)
            if not chunk:
                raise EOFError("Chromium closed the pipe")
            buf += chunk
        msg, _, buf = buf.partition(b"\0")
        return json.loads(msg)

    def call(method, params=None, session=None, timeout=30):
        next_id[0] += 1
        m = {"id": next_id[0], "method": method, "params": params or {}}
        if session:
            m["sessionId"] = session
        out.write(json.dumps(m).encode() + b"\0")
        deadline = time.time() + timeout
        while True:
            r = read_msg(deadline)
            if r.get("id") == next_id[0]:
                if "error" in r:
                    raise RuntimeError(f"{method}: {r['error']}")
                return r.get("result", {})
            events.append(r)

    def wait_event(name, session, timeout=30):
        deadline = time.time() + timeout
        while True:
            for i, e in enumerate(events):
                if e.get("method") == name and e.get("sessionId") == session:
                    return events.pop(i)
            events.append(read_msg(deadline))

    try:
        target = call("Target.createTarget", {"url": "about:blank"})["targetId"]
        s = call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        call("Page.enable", session=s)
        call("Network.enable", session=s)
        status = [None]

        def navigated(timeout=30):
            wait_event("Page.loadEventFired", s, timeout)
            # the document's response: its status
            for e in reversed(events):
                if e.get("method") == "Network.responseReceived" and e.get("params", {}).get("type") == "Document":
                    status[0] = e["params"]["response"]["status"]
                    break
            events[:] = [e for e in events if e.get("method") != "Network.responseReceived"]

        call("Page.navigate", {"url": url}, session=s)
        navigated()
        for step in steps:
            if "fill" in step:
                for sel, value in step["fill"].items():
                    expr = f"(() => {{ const e = document.querySelector({json.dumps(sel)}); if (!e) throw new Error('no ' + {json.dumps(sel)}); e.value = {json.dumps(value)}; return true; }})()"
                    r = call("Runtime.evaluate", {"expression": expr, "returnByValue": True}, session=s)
                    if "exceptionDetails" in r:
                        raise RuntimeError(json.dumps(r["exceptionDetails"]))
            elif "submit" in step:
                expr = f"document.querySelector({json.dumps(step['submit'])}).requestSubmit()"
                r = call("Runtime.evaluate", {"expression": expr}, session=s)
                if "exceptionDetails" in r:
                    raise RuntimeError(json.dumps(r["exceptionDetails"]))
                navigated()
            elif "dom" in step:
                r = call("Runtime.evaluate", {"expression": "document.documentElement.outerHTML", "returnByValue": True}, session=s)
                print(json.dumps(r["result"]["value"]), flush=True)
            elif "status" in step:
                print(json.dumps(status[0]), flush=True)
    finally:
        try:
            call("Browser.close", timeout=5)
        except Exception:
            pass
        p.kill()
        p.wait()


if __name__ == "__main__":
    main()
