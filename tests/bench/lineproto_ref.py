#!/usr/bin/env python3
"""The reference for bench_uploader encode: line protocol the way users'
bridge scripts write it, one f-string per reading, joined into a request body.

    lineproto_ref.py --samples N [--out FILE] [--compare C_OUTPUT]

The samples are bench_uploader's (bu_values() there): the same doubles, the
same timestamps, built 5000 at a time outside the clock; only the encoding
is timed.  --compare reads bench_uploader's output and checks every line
against this one: same series and timestamp, same field names, and field
values that read back as the very same doubles (the two sides may print a
number differently, e.g. 1500.0 and 1500).  Exit 1 on any difference.
"""
import argparse
import sys
import time

CHUNK = 5000
T0 = 1700000000123456789
DT = 1000003007


def chunk_samples(start, n):
    """(meter, power_w, energy_wh, interval_s, ts) of samples start..start+n."""
    out = []
    for i in range(start, start + n):
        interval_s = (500000 + (i * 7919) % 1000000) / 1e6
        out.append(("house", 3600.0 / interval_s, (12345000 + i) / 1000.0, interval_s,
                    T0 + i * DT))
    return out


def parse(line):
    series, fields, ts = line.split(" ")
    vals = {}
    for kv in fields.split(","):
        k, v = kv.split("=")
        vals[k] = float(v)
    return series, vals, int(ts)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--samples", type=int, required=True)
    ap.add_argument("--out")
    ap.add_argument("--compare")
    a = ap.parse_args()

    out = open(a.out, "wb") if a.out else None
    elapsed = 0.0
    nbytes = 0
    done = 0
    while done < a.samples:
        n = min(CHUNK, a.samples - done)
        samples = chunk_samples(done, n)
        t = time.perf_counter()
        lines = [f"pulse,meter={m} power_w={p},energy_wh={e},interval_s={dt} {ts}"
                 for m, p, e, dt, ts in samples]
        body = ("\n".join(lines) + "\n").encode()
        elapsed += time.perf_counter() - t
        nbytes += len(body)
        if out:
            out.write(body)
        done += n
    if out:
        out.close()
    print(f"bench lp_python samples={a.samples} bytes={nbytes} wall_s={elapsed:.4f} "
          f"samples_per_s={a.samples / elapsed:.0f} mb_per_s={nbytes / elapsed / 1e6:.1f} "
          f"ns_per_sample={elapsed * 1e9 / a.samples:.1f}")

    if a.compare:
        if not a.out:
            sys.exit("lineproto_ref.py: --compare needs --out")
        n = 0
        with open(a.out) as mine, open(a.compare) as theirs:
            for n, (x, y) in enumerate(zip(mine, theirs), 1):
                if parse(x.rstrip("\n")) != parse(y.rstrip("\n")):
                    print(f"MISMATCH at line {n}:\n  python: {x.rstrip()}\n  powerd: {y.rstrip()}",
                          file=sys.stderr)
                    sys.exit(1)
            if mine.readline() or theirs.readline() or n != a.samples:
                print(f"MISMATCH: line counts differ (compared {n} of {a.samples})",
                      file=sys.stderr)
                sys.exit(1)
        print(f"lp_encode output matches the Python encoder on all {n} lines")


if __name__ == "__main__":
    main()
