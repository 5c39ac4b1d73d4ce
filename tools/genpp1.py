#!/usr/bin/env python3
"""Generate Power Pod 1 logger files (seed 000, PROTOCOLS.md section 6).

Writes DIR/message_YYYY-MM-DDTHH-MM-SS.json (the name in local time, as the
logger does; set TZ to choose), one file every --every seconds, each
{"telemetry": [11 records]} on one line: der_power_supply, der_memory,
der_disk, der_os, grid, grid_ratio, inverter, solar, solar_string x2,
battery, with the logger's types (floats written with full repr, grid_ratio
and whole_home_power integers, enabled booleans) and record times 0-3 s
after the file's.  Deterministic for a given --seed and --start.

  genpp1.py DIR --files 8640 [--start UNIX_S] [--every 10] [--seed 1]
            [--first N]     (number the files from N: more of the same day)

--start defaults to now minus files*every seconds, so the newest file is
about now.  Prints the number of files and records written.
"""

import argparse
import json
import os
import random
import time

DER_ID = "EXAMPLE-000001"
INV_ID = "EXAMPLEINV0000000001"


def iso(t):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def records(t, rnd):
    der = {"der_id": DER_ID}
    inv = {"der_id": DER_ID, "inverter_id": INV_ID}
    lag = rnd.randint(0, 3)
    load = round(rnd.uniform(150, 4000), 1)
    solar = max(0.0, round(rnd.uniform(-500, 5000), 2))
    grid = load - solar + rnd.uniform(-50, 50)
    charge = max(0.0, rnd.uniform(-300, 300))
    soc = rnd.uniform(10, 100)
    recs = [
        ("der_power_supply", der, 0, {"voltage": 0.0}),
        ("der_memory", der, 0, {"used": float(rnd.randint(7e7, 9e7)),
                                 "free": float(rnd.randint(3e7, 4e7))}),
        ("der_disk", der, 0, {"used": float(rnd.randint(7e9, 8e9)),
                               "free": float(rnd.randint(2e10, 3e10))}),
        ("der_os", der, 0, {"load": round(rnd.uniform(0, 2), 2),
                             "temperature": round(rnd.uniform(35, 60), 1)}),
        ("grid", inv, lag, {"voltage": float(rnd.randint(235, 250)),
                             "current": float(rnd.randint(0, 3000)),
                             "power": grid, "frequency": 60.0}),
        ("grid_ratio", inv, lag, {"power_import": max(0, int(grid)),
                                   "power_export": max(0, -int(grid))}),
        ("inverter", inv, lag, {"load_power": load, "whole_home_power": 0,
                                 "voltage": float(rnd.randint(235, 250)),
                                 "current": float(rnd.randint(0, 3000)),
                                 "temperature": round(rnd.uniform(20, 45), 1)}),
        ("solar", inv, lag, {"enabled": True, "power": solar}),
    ]
    for k in (1, 2):
        tags = dict(inv, string_index=k)
        recs.append(("solar_string", tags, lag,
                     {"power": solar / 2, "current": round(rnd.uniform(0, 10), 2),
                      "voltage": round(rnd.uniform(2, 400), 1),
                      "temperature": round(rnd.uniform(10, 40), 1)}))
    recs.append(("battery", inv, min(3, lag + 1),
                 {"enabled": True, "power_charge": charge,
                  "power_discharge": max(0.0, -charge + rnd.uniform(0, 400)),
                  "voltage": round(rnd.uniform(48, 56), 1),
                  "current": round(rnd.uniform(-20, 20), 1), "charge_state": soc}))
    return [{"measurement": m, "tags": tg, "time": iso(t + d), "fields": f}
            for m, tg, d, f in recs]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("dir")
    ap.add_argument("--files", type=int, required=True)
    ap.add_argument("--start", type=int)
    ap.add_argument("--every", type=int, default=10)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--first", type=int, default=0)
    a = ap.parse_args()
    start = a.start if a.start is not None else int(time.time()) - a.files * a.every
    os.makedirs(a.dir, exist_ok=True)
    n = 0
    for i in range(a.first, a.first + a.files):
        t = start + i * a.every
        rnd = random.Random(a.seed * 1000003 + i)
        name = time.strftime("message_%Y-%m-%dT%H-%M-%S.json", time.localtime(t))
        doc = {"telemetry": records(t, rnd)}
        tmp = os.path.join(a.dir, "." + name + ".tmp")
        with open(tmp, "w") as f:
            f.write(json.dumps(doc, separators=(", ", ": ")))
        # As the logger's writer closes it: the reader sees a whole file.
        os.rename(tmp, os.path.join(a.dir, name))
        n += len(doc["telemetry"])
    print(f"{a.files} files, {n} records")


if __name__ == "__main__":
    main()
