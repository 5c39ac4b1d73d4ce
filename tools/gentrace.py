#!/usr/bin/env python3
"""Generate an impulse-LED pulse trace (PRODUCT.md 4.3) from a load profile.

The trace is what a photoresistor on the meter's LED would report: a rising
edge (level 1) when a flash starts, a falling edge (level 0) FLASH_MS later.
The meter flashes once per 1/impulses_per_kwh kWh, so at a constant load of
P watts the flashes are 3.6e6 / (impulses_per_kwh * P) seconds apart.

Times are kept as integer nanoseconds and printed with exactly nine
decimals, so the trace carries no floating-point rounding of its own.

Profiles:
  constant:W                 a steady load of W watts
  steps:W1,W2,...:SECONDS    each load for SECONDS, cycling
  household                  a day-like mix: slowly wandering base load,
                             a cycling fridge compressor, kettle bursts
                             (deterministic for a given --seed)

The ground truth (flashes, edges, glitches, energy and, for a constant load,
the exact power) goes to stderr as one line, and to --truth FILE as JSON.
Every counted flash is a complete one (rising then falling edge; an odd
--edges ends with a lone rising edge, which is no flash), so a
PULSE-mode filter with min_pulse below --flash-ms and below the gaps must
accept exactly `flashes` of them; each inserted glitch is one short pulse
inside a long inactive period, so such a filter rejects exactly `glitches`.
"""

import argparse
import heapq
import itertools
import json
import random
import sys

NS = 1_000_000_000
J_PER_KWH = 3_600_000
CHUNK_LINES = 1 << 16
GLITCH_MIN_NS = 50_000
GLITCH_MAX_NS = 900_000  # glitches are shorter than 1 ms


def parse_args(argv):
    ap = argparse.ArgumentParser(
        description="Generate a pulse trace ('<seconds> <level>' lines) from a load profile.")
    ap.add_argument("--impulses-per-kwh", type=int, default=1000, metavar="N",
                    help="meter constant (default 1000)")
    span = ap.add_mutually_exclusive_group()
    span.add_argument("--seconds", type=float,
                      help="length of the trace in seconds")
    span.add_argument("--edges", type=int, metavar="N",
                      help="stop after exactly N edges (glitch edges included)")
    ap.add_argument("--profile", default="constant:1000",
                    help="constant:W | steps:W1,W2,...:SECONDS_EACH | household")
    ap.add_argument("--flash-ms", type=float, default=30.0,
                    help="LED on time in ms (default 30)")
    ap.add_argument("--jitter-us", type=float, default=0.0,
                    help="timestamp jitter in us: half-width (uniform) or sigma (gaussian)")
    ap.add_argument("--jitter-dist", choices=("uniform", "gaussian"), default="uniform",
                    help="jitter distribution (default uniform)")
    ap.add_argument("--glitches", type=float, default=0.0, metavar="RATE",
                    help="expected glitch pulses (< 1 ms) per gap between flashes, e.g. 0.1")
    ap.add_argument("--glitch-guard-ms", type=float, default=20.0,
                    help="keep glitches this far from flash edges (default 20, "
                         "above any sensible min_pulse_ms)")
    ap.add_argument("--start", type=float, default=0.0,
                    help="time origin of the trace in seconds (default 0)")
    ap.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    ap.add_argument("-o", "--output", default="-", help="output file (default stdout)")
    ap.add_argument("--truth", metavar="FILE", help="also write the ground truth as JSON")
    a = ap.parse_args(argv)
    if a.impulses_per_kwh <= 0:
        ap.error("--impulses-per-kwh must be > 0")
    if a.flash_ms <= 0:
        ap.error("--flash-ms must be > 0")
    if a.jitter_us < 0 or a.glitches < 0 or a.glitch_guard_ms < 0 or a.start < 0:
        ap.error("--jitter-us, --glitches, --glitch-guard-ms and --start must be >= 0")
    if a.edges is not None and a.edges < 0:
        ap.error("--edges must be >= 0")
    if a.seconds is not None and a.seconds < 0:
        ap.error("--seconds must be >= 0")
    return ap, a


# ------------------------------------------------------------------ profiles
# A profile is an endless iterator of (start_ns, watts) segments, relative to
# the trace origin, each lasting until the next one starts.

def profile_constant(w):
    yield 0, w


def profile_steps(watts, each_ns):
    t = 0
    while True:
        for w in watts:
            yield t, w
            t += each_ns


def _base_load(rng):
    # Standby, lighting, electronics: wanders between 60 and 400 W, minute by minute.
    t, w = 0, 150.0
    while True:
        yield t, "base", w
        t += 60 * NS
        w = min(400.0, max(60.0, w + rng.gauss(0.0, 12.0)))


def _fridge(rng):
    # Compressor: a start-up surge for a few seconds, ~90 W for ~12 min, off ~28 min.
    t = int(rng.uniform(0, 1800) * NS)
    while True:
        yield t, "fridge", 0.0
        t += int(rng.uniform(22, 34) * 60 * NS)
        yield t, "fridge", 350.0
        t += 3 * NS
        yield t, "fridge", 90.0 + rng.uniform(-8, 8)
        t += int(rng.uniform(9, 15) * 60 * NS)


def _kettle(rng):
    # A few 2.2 kW boils a day, mostly mornings and evenings.
    day = 0
    while True:
        hours = sorted(rng.choice((7.0, 7.5, 8.0, 12.5, 16.0, 19.0, 21.5))
                       + rng.uniform(0, 0.5) for _ in range(rng.randint(3, 6)))
        last = -1
        for h in hours:
            t = day * 86400 * NS + int(h * 3600 * NS)
            if t <= last:
                continue
            yield t, "kettle", 2200.0 + rng.uniform(-100, 100)
            last = t + int(rng.uniform(120, 240) * NS)
            yield last, "kettle", 0.0
        day += 1


def profile_household(seed):
    rng = random.Random(seed ^ 0x5EED)
    parts = {"base": 0.0, "fridge": 0.0, "kettle": 0.0}
    streams = (_base_load(random.Random(rng.random())), _fridge(random.Random(rng.random())),
               _kettle(random.Random(rng.random())))
    pending = None
    for t, name, w in heapq.merge(*streams, key=lambda x: x[0]):
        if pending is not None and t != pending:
            yield pending, sum(parts.values())
        parts[name] = w
        pending = t


def make_profile(ap, spec, seed):
    kind, _, rest = spec.partition(":")
    try:
        if kind == "constant":
            # Loads are generated to the milliwatt; the truth says so exactly.
            w = round(float(rest) * 1000) / 1000
            if w <= 0:
                raise ValueError
            return profile_constant(w), w, None
        if kind == "steps":
            ws, _, each = rest.rpartition(":")
            watts = [float(x) for x in ws.split(",")]
            each_ns = int(float(each) * NS)
            if not watts or min(watts) < 0 or max(watts) <= 0 or each_ns <= 0:
                raise ValueError
            return profile_steps(watts, each_ns), None, (watts, each_ns)
        if kind == "household" and not rest:
            return profile_household(seed), None, None
    except ValueError:
        pass
    ap.error("bad --profile %r: constant:W | steps:W1,W2,...:SECONDS_EACH | household" % spec)


# ------------------------------------------------------------------ flashes

def flash_times(segments, ipk, end_ns):
    """Nominal flash start times (ns since origin): a flash at the first
    nanosecond at which the energy drawn reaches another 1/ipk kWh.  Energy
    is kept as an integer (mW * ns * ipk), so a constant load gives flashes
    at ceil(k * interval) with no drift and no rounding build-up."""
    quantum = 36 * 10**17  # 1 kWh in mW*ns; one flash per quantum/ipk
    acc = 0                # energy since the last flash, scaled by ipk
    t0, w = next(segments)
    for t1, w1 in itertools.chain(segments, [(end_ns, 0.0)]):
        t1 = min(t1, end_ns)
        rate = round(w * 1000) * ipk
        if rate > 0:
            span = rate * (t1 - t0)
            need = quantum - acc
            while need <= span:
                yield t0 + (need + rate - 1) // rate
                need += quantum
            acc = span + quantum - need
        if t1 >= end_ns:
            return
        t0, w = t1, w1


def main(argv):
    ap, a = parse_args(argv)
    ipk = a.impulses_per_kwh
    segments, const_w, steps = make_profile(ap, a.profile, a.seed)
    flash_ns = int(round(a.flash_ms * 1e6))
    guard_ns = int(round(a.glitch_guard_ms * 1e6))
    start_ns = int(round(a.start * NS))
    jit_ns = a.jitter_us * 1e3
    rng = random.Random(a.seed)

    if a.seconds is not None:
        end_ns = int(round(a.seconds * NS))
    elif a.edges is not None:
        end_ns = 1 << 62
    elif steps is not None:
        end_ns = len(steps[0]) * steps[1]
    else:
        ap.error("give --seconds or --edges")
    max_edges = a.edges if a.edges is not None else -1

    if const_w is not None:
        interval = J_PER_KWH * NS / (ipk * const_w)
        if interval <= 2 * flash_ns:
            ap.error("%.0f W at %d imp/kWh flashes every %.3f ms: too fast for --flash-ms %g"
                     % (const_w, ipk, interval / 1e6, a.flash_ms))

    if jit_ns == 0:
        def jitter():
            return 0
    elif a.jitter_dist == "uniform":
        def jitter():
            return int(round(rng.uniform(-jit_ns, jit_ns)))
    else:
        def jitter():
            return int(round(rng.gauss(0.0, jit_ns)))

    out = sys.stdout if a.output == "-" else open(a.output, "w", encoding="ascii")
    out.write("# gentrace profile=%s impulses_per_kwh=%d flash_ms=%g jitter_us=%g/%s "
              "glitches=%g seed=%d\n" % (a.profile, ipk, a.flash_ms, a.jitter_us,
                                          a.jitter_dist, a.glitches, a.seed))

    buf = []
    nflash = nedges = nglitch = 0
    last_ts = -1
    first_flash = last_flash = None
    prev_nominal = None
    step_counts = {}
    done = False

    def emit(ts, level):
        nonlocal last_ts, nedges
        # Jitter must never reorder edges nor go below zero: a real kernel
        # timestamp is monotonic.
        if ts <= last_ts:
            ts = last_ts + 1
        last_ts = ts
        buf.append("%d.%09d %d\n" % (ts // NS, ts % NS, level))
        nedges += 1

    for nominal in flash_times(segments, ipk, end_ns):
        if prev_nominal is not None:
            gap = nominal - prev_nominal
            if gap <= 2 * flash_ns:
                ap.error("load too high at t=%.3f s: flashes %.3f ms apart, --flash-ms %g"
                         % (nominal / NS, gap / 1e6, a.flash_ms))
            # Glitches inside the previous flash's inactive period.
            if a.glitches > 0:
                lo = prev_nominal + flash_ns + guard_ns
                hi = nominal - guard_ns - GLITCH_MAX_NS
                n = int(a.glitches)
                if rng.random() < a.glitches - n:
                    n += 1
                if hi > lo and n:
                    for g in sorted(rng.randrange(lo, hi) for _ in range(n)):
                        if max_edges >= 0 and nedges + 2 > max_edges:
                            done = True
                            break
                        gs = start_ns + g
                        if gs <= last_ts + guard_ns:
                            continue  # two glitches too close: would merge
                        emit(gs, 1)
                        emit(gs + rng.randrange(GLITCH_MIN_NS, GLITCH_MAX_NS), 0)
                        nglitch += 1
            if done:
                break
        if nominal + flash_ns >= end_ns:
            break
        if max_edges >= 0 and nedges + 2 > max_edges:
            break
        rise = start_ns + nominal + jitter()
        emit(rise, 1)
        rise = last_ts
        emit(start_ns + nominal + flash_ns + jitter(), 0)
        nflash += 1
        if first_flash is None:
            first_flash = rise
        last_flash = rise
        if steps is not None:
            # A flash is due at the first ns at which its energy is reached,
            # so one exactly on a step boundary was earned in the step before.
            idx = (max(nominal - 1, 0) // steps[1]) % len(steps[0])
            step_counts[idx] = step_counts.get(idx, 0) + 1
        prev_nominal = nominal
        if len(buf) >= CHUNK_LINES:
            out.write("".join(buf))
            buf.clear()

    # An odd --edges: the last edge is a lone rising one, a flash that never
    # ends inside the trace (and so must not be counted).
    if 0 <= nedges < max_edges:
        emit(max(last_ts, start_ns) + max(guard_ns, 4 * flash_ns), 1)
    out.write("".join(buf))
    if out is not sys.stdout:
        out.close()
    else:
        out.flush()

    truth = {
        "profile": a.profile,
        "impulses_per_kwh": ipk,
        "flashes": nflash,
        "edges": nedges,
        "glitches": nglitch,
        "energy_wh": nflash * 1000.0 / ipk,
        "energy_j": nflash * float(J_PER_KWH) / ipk,
        "first_flash_s": None if first_flash is None else first_flash / NS,
        "last_flash_s": None if last_flash is None else last_flash / NS,
        "flash_ms": a.flash_ms,
        "jitter_us": a.jitter_us,
        "jitter_dist": a.jitter_dist,
        "seed": a.seed,
    }
    if nflash >= 2:
        truth["mean_power_w"] = ((nflash - 1) * float(J_PER_KWH) / ipk
                                 / ((last_flash - first_flash) / NS))
    if const_w is not None:
        truth["expected_power_w"] = const_w
        truth["interval_s"] = J_PER_KWH / (ipk * const_w)
    if steps is not None:
        truth["steps"] = [{"power_w": w, "seconds": steps[1] / NS,
                           "flashes": step_counts.get(i, 0)}
                          for i, w in enumerate(steps[0])]
    if a.truth:
        with open(a.truth, "w", encoding="ascii") as f:
            json.dump(truth, f, indent=1)
            f.write("\n")
    extra = (" expected_power_w=%.6f" % const_w) if const_w is not None else ""
    sys.stderr.write("gentrace: flashes=%d edges=%d glitches=%d energy_wh=%.6f%s\n"
                     % (nflash, nedges, nglitch, truth["energy_wh"], extra))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
