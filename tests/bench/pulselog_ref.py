#!/usr/bin/env python3
"""Reference pulselog in plain Python: what a user's own script would do.

Same input, options and output as tools/pulselog.c, and the same semantics:
the trace format of include/trace.h (exact nanoseconds, malformed and
out-of-order lines skipped and counted) and the PULSE-mode filter and
converter of daemon/pulse.c.  make bench runs it side by side with pulselog
and requires the same flashes and energy, so it is both the "standard tool"
comparison and an independent check of the C code.
"""

import argparse
import re
import sys

NS = 1_000_000_000
INT64_MAX = (1 << 63) - 1
SEC_PREFIX_MAX = (INT64_MAX // NS - 9) // 10

# "<seconds> <level>": seconds DIGITS[.DIGITS] (or .DIGITS), level 0 or 1.
LINE = re.compile(rb"[ \t\r\n]*([0-9]*)(?:\.([0-9]*))?[ \t]+([01])[ \t\r\n]*")
BLANK = re.compile(rb"[ \t\r\n]*(#.*)?", re.S)


class Meter:
    """The PULSE-mode filter: a level counts once held for min_pulse_ns;
    a flash is a confirmed active period followed by a confirmed inactive
    one; the flash time is when its active period began."""

    def __init__(self, ipk, min_pulse_ns):
        self.ipk = ipk
        self.min_pulse = min_pulse_ns
        self.raw = -1
        self.stable = -1
        self.raw_since = 0
        self.stable_since = 0
        self.have_flash = False
        self.last_flash = 0
        self.flashes = 0
        self.edges = 0
        self.glitches = 0

    def _confirm(self, level, since):
        flash = None
        if self.stable == level:
            return None
        if level == 0 and self.stable == 1:
            t = self.stable_since
            interval = t - self.last_flash if self.have_flash else 0
            power = 3.6e15 / (float(self.ipk) * float(interval)) if interval > 0 else 0.0
            self.flashes += 1
            self.last_flash = t
            self.have_flash = True
            flash = (t, interval, power, self.flashes)
        self.stable = level
        self.stable_since = since
        return flash

    def edge(self, ts, level):
        if self.raw >= 0 and ts < self.raw_since:
            return None
        self.edges += 1
        if self.raw == level:
            return None
        flash = None
        if self.raw >= 0:
            if ts - self.raw_since >= self.min_pulse:
                flash = self._confirm(self.raw, self.raw_since)
            else:
                self.glitches += 1
        self.raw = level
        self.raw_since = ts
        return flash

    def advance(self, now):
        if self.raw < 0 or self.raw == self.stable or now - self.raw_since < self.min_pulse:
            return None
        return self._confirm(self.raw, self.raw_since)


def parse_line(line):
    """(ts_ns, level), None for a blank or comment line, or raises ValueError."""
    m = LINE.fullmatch(line)
    if m is None:
        if BLANK.fullmatch(line):
            return None
        raise ValueError("malformed line")
    sec, frac, level = m.group(1), m.group(2) or b"", m.group(3)
    if not sec and not frac:
        raise ValueError("no time")
    if len(sec) > 1 and int(sec[:-1]) > SEC_PREFIX_MAX:
        raise ValueError("time out of range")
    ns = int(sec or b"0") * NS + int((frac[:9] or b"0").ljust(9, b"0"))
    return ns, level == b"1"


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("trace")
    ap.add_argument("-i", "--impulses-per-kwh", type=int, required=True)
    ap.add_argument("-m", "--min-pulse-ms", type=int, default=5)
    ap.add_argument("-q", "--quiet", action="store_true")
    a = ap.parse_args(argv)
    if not 1 <= a.impulses_per_kwh <= 1000000 or not 0 <= a.min_pulse_ms <= 10000:
        ap.error("option out of range")
    ipk = a.impulses_per_kwh
    meter = Meter(ipk, a.min_pulse_ms * 1_000_000)
    out = sys.stdout
    show = not a.quiet

    def report(f):
        t, interval, power, count = f
        energy = count * 1000.0 / ipk
        if interval > 0:
            out.write("%d.%09d,%.9f,%.3f,%.6f\n" % (t // NS, t % NS, interval / 1e9, power, energy))
        else:
            out.write("%d.%09d,,,%.6f\n" % (t // NS, t % NS, energy))

    if show:
        out.write("time_s,interval_s,power_w,energy_wh\n")
    bad = 0
    last = None
    src = sys.stdin.buffer if a.trace == "-" else open(a.trace, "rb")
    with src:
        for lineno, line in enumerate(src, 1):
            try:
                e = parse_line(line)
            except ValueError as err:
                bad += 1
                sys.stderr.write("%s:%d: %s\n" % (a.trace, lineno, err))
                continue
            if e is None:
                continue
            ts, level = e
            if last is not None and ts < last:
                bad += 1
                sys.stderr.write("%s:%d: time goes backwards; edge skipped\n" % (a.trace, lineno))
                continue
            last = ts
            f = meter.advance(ts)
            if f and show:
                report(f)
            f = meter.edge(ts, 1 if level else 0)
            if f and show:
                report(f)
    # The line stays at its last level after the trace, as in pulselog.
    f = meter.advance(INT64_MAX)
    if f and show:
        report(f)
    out.write("# flashes=%d glitches_rejected=%d edges=%d bad_lines=%d energy_wh=%.6f\n"
              % (meter.flashes, meter.glitches, meter.edges, bad, meter.flashes * 1000.0 / ipk))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
