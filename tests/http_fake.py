#!/usr/bin/env python3
"""A device that serves JSON over HTTP, for the [http.NAME] source's tests.

  /status   the PowMr dongle's /api/status (seed 003), values that change per
            request (ac.output_watts = 300 + n), inverter.valid_info 0 on
            every third request (n % 3 == 2); ?delay=S answers after S s
  /good     the same document, always valid, output_watts = 10000 + n
  /slow     ?d=S: /good after S seconds (counts concurrent requests)
  /hang     never answers
  /500      an HTTP 500
  /cut      promises 4000 bytes, sends 100, closes
  /big      50 MB of JSON-ish bytes, chunked (no Content-Length)
  /notjson  200 with a body that is not JSON
  /redirect 302 to /good

Every finished request is one JSON line in --log: path, n (the request's
number on its path), valid, t0/t1 (time.monotonic() at its start and end:
CLOCK_MONOTONIC, as powerd's grid), max_conc (the most requests of the path
at once so far)."""
import argparse
import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

LOCK = threading.Lock()
COUNT = {}
CONC = {}
MAXC = {}
LOG = None


def doc(n, valid, base=300):
    return {
        "ac": {"input_freq": 60.7, "input_voltage": 122.4, "output_freq": 60.7,
               "output_load_percent": 9, "output_va": 352, "output_voltage": 121.5,
               "output_watts": base + n},
        "dc": {"batt_v_compensation_k": 0.01, "charge_current": 0, "charge_power": 0,
               "discharge_current": 0, "discharge_power": 0, "new_k": 0,
               "pv_current": 4.575311, "pv_voltage": 88.3, "pv_power": base + 100 + n,
               "voltage": 27.4, "voltage_corrected": 27.4},
        "inverter": {"read_interval_ms": 15000, "charger": 13, "charger_source_priority": 1,
                     "eff_va": 87.12872, "eff_w": 84.40594, "op_mode": 4,
                     "output_source_priority": 1, "soc": 100, "temp": 44,
                     "valid_info": 1 if valid else 0},
    }


class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def body(self, code, data, ctype="application/json"):
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        u = urlparse(self.path)
        q = parse_qs(u.query)
        p = u.path
        t0 = time.monotonic()
        with LOCK:
            n = COUNT.get(p, 0)
            COUNT[p] = n + 1
            CONC[p] = CONC.get(p, 0) + 1
            MAXC[p] = max(MAXC.get(p, 0), CONC[p])
        valid = True
        try:
            if p == "/status":
                valid = n % 3 != 2
                if "delay" in q:
                    time.sleep(float(q["delay"][0]))
                self.body(200, json.dumps(doc(n, valid)).encode())
            elif p == "/good":
                self.body(200, json.dumps(doc(n, True, 10000)).encode())
            elif p == "/slow":
                time.sleep(float(q.get("d", ["1"])[0]))
                self.body(200, json.dumps(doc(n, True, 10000)).encode())
            elif p == "/hang":
                time.sleep(3600)
            elif p == "/500":
                self.body(500, b'{"error": "internal"}')
            elif p == "/cut":
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", "4000")
                self.end_headers()
                self.wfile.write(b'{"ac": {"output_watts": 1' + b" " * 75)
                self.wfile.flush()
                self.close_connection = True
            elif p == "/big":
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                chunk = b"[" + b"1," * 32767 + b"1"
                for _ in range(50 * 1024 * 1024 // len(chunk)):
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                self.wfile.write(b"0\r\n\r\n")
            elif p == "/notjson":
                self.body(200, b"<html>not json</html>", "text/html")
            elif p == "/redirect":
                self.send_response(302)
                self.send_header("Location", "/good")
                self.send_header("Content-Length", "0")
                self.end_headers()
            else:
                self.body(404, b"{}")
        except (BrokenPipeError, ConnectionResetError):
            pass
        finally:
            t1 = time.monotonic()
            with LOCK:
                CONC[p] -= 1
                LOG.write(json.dumps({"path": p, "n": n, "valid": valid, "t0": t0, "t1": t1,
                                      "max_conc": MAXC[p]}) + "\n")
                LOG.flush()


def main():
    global LOG
    ap = argparse.ArgumentParser()
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--log", required=True)
    a = ap.parse_args()
    LOG = open(a.log, "a")
    srv = ThreadingHTTPServer(("127.0.0.1", 0), H)
    srv.daemon_threads = True
    srv.request_queue_size = 256
    with open(a.port_file + ".tmp", "w") as f:
        f.write(str(srv.server_address[1]))
    import os
    os.rename(a.port_file + ".tmp", a.port_file)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
