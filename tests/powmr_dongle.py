#!/usr/bin/env python3
"""A stand-in for seed 003's ESP32 PowMr dongle (no real one runs here):
GET /api/status answers the dongle's JSON (HTTP/1.1, keep-alive, as the
ESP32's web server does), values changing with every request and
inverter.valid_info 0 on every fourth one.  Each answer is logged, once it
is fully written, as a JSON line {"i", "t", "valid", "doc"} to LOG.

  powmr_dongle.py PORT LOG
"""
import http.server
import json
import sys
import time

PORT, LOG = int(sys.argv[1]), sys.argv[2]
log = open(LOG, "a", buffering=1)
count = [0]


def doc(i):
    valid = 0 if i % 4 == 3 else 1
    return {
        "ac": {"input_freq": 60.7, "input_voltage": 122.4, "output_freq": 60.7,
               "output_load_percent": 9, "output_va": 352, "output_voltage": 121.5,
               "output_watts": 300 + (i * 7) % 50},
        "dc": {"batt_v_compensation_k": 0.01, "charge_current": round(2 + (i % 5) * 0.5, 2),
               "charge_power": 0, "discharge_current": 0, "discharge_power": 0, "new_k": 0,
               "pv_current": 4.575311, "pv_voltage": 88.3, "pv_power": round(100 + 1.25 * i, 2),
               "voltage": 27.4, "voltage_corrected": 27.4},
        "inverter": {"read_interval_ms": 15000, "charger": 13, "charger_source_priority": 1,
                     "eff_va": 87.12872, "eff_w": 84.40594, "op_mode": 4,
                     "output_source_priority": 1, "soc": 100, "temp": 44, "valid_info": valid},
        "bms": {"alarm": 0},
    }


class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        if self.path == "/ping":  # for the test to know it is up: not a read
            self.send_response(204)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if self.path != "/api/status":
            self.send_error(404)
            return
        i = count[0]
        count[0] += 1
        d = doc(i)
        body = json.dumps(d).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        self.wfile.flush()
        log.write(json.dumps({"i": i, "t": time.time(), "valid": d["inverter"]["valid_info"],
                              "doc": d}) + "\n")

    def log_message(self, *a):
        pass


http.server.HTTPServer(("127.0.0.1", PORT), H).serve_forever()
