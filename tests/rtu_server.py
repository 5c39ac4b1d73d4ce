#!/usr/bin/env python3
"""A Modbus RTU server on a pseudo-terminal that holds the master to the
serial line's timing (Modbus over Serial Line v1.02, 2.5.1.1), for
tests/t_modbus_rtu.sh.

The slave end is symlinked to --link, for powerd to open as its serial port.
The server simulates the line at --baud: a request is framed by 3.5
characters of silence after its last byte has crossed the line; it is
dropped (and counted) if its characters arrive with a gap of more than 1.5
characters (dropped_gap), or if it starts less than 3.5 characters after
the last byte of the server's own reply (dropped_early: the master did not
leave the line silent).  A reply is written after the request's
transmission time and 3.5 characters, and after sleeping its own
transmission time, in one write, so that a loaded machine cannot put gaps
into it.  Only the --unit ids are answered.

  rtu_server.py --link PATH --baud 2400 [--parity N|E|O] [--data-bits 8]
                [--stop-bits 1] --unit 5 [--unit 6 ...] [--regs FILE]
                [--byteswap] [--bad-crc N ...] [--ready FILE] --stats FILE

--regs: lines "holding|input ADDR VALUE [VALUE...]" (decimal or 0x hex, #
comments), the values as the registers hold them; --byteswap sends each
register's bytes swapped (the PowMr firmware).  --bad-crc N damages the
CRC of the N-th reply (1-based; may repeat).  On SIGTERM the statistics
are written to --stats as JSON: frames received, each request and reply
(hex), counts by what happened.
"""
import argparse
import json
import os
import select
import signal
import sys
import time
import tty


def crc16(data):
    crc = 0xFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return crc


def frame(body):
    c = crc16(body)
    return bytes(body) + bytes([c & 0xFF, c >> 8])


def load_regs(path):
    regs = {"holding": {}, "input": {}}
    if not path:
        return regs
    with open(path) as f:
        for n, line in enumerate(f, 1):
            line = line.split("#", 1)[0].split()
            if not line:
                continue
            if line[0] not in regs or len(line) < 3:
                sys.exit(f"{path}:{n}: want holding|input ADDR VALUE...")
            addr = int(line[1], 0)
            for i, v in enumerate(line[2:]):
                regs[line[0]][addr + i] = int(v, 0) & 0xFFFF
    return regs


class Server:
    def __init__(self, a):
        self.a = a
        bits = 1 + a.data_bits + (a.parity != "N") + a.stop_bits
        self.char = bits / a.baud
        self.t15 = 1.5 * self.char
        self.t35 = 3.5 * self.char
        self.regs = load_regs(a.regs)
        self.units = set(a.unit)
        self.bad_crc = set(a.bad_crc)
        self.st = {
            "frames": 0, "answered": 0, "dropped_gap": 0, "dropped_early": 0,
            "not_mine": 0, "bad_crc_in": 0, "exceptions": 0, "replies_damaged": 0,
            "by_unit": {}, "writes": [], "requests": [], "replies": [],
            "min_silence_after_reply_chars": None,
        }
        self.last_reply = None  # when the last byte of our reply was on the line

    def reply(self, req):
        unit, fn = req[0], req[1]
        table = {3: "holding", 4: "input"}.get(fn)
        if table and len(req) == 6:
            addr, count = int.from_bytes(req[2:4], "big"), int.from_bytes(req[4:6], "big")
            if not 1 <= count <= 125 or addr + count > 65536:
                return bytes([unit, fn | 0x80, 3])
            out = bytearray([unit, fn, 2 * count])
            for r in range(addr, addr + count):
                v = self.regs[table].get(r, 0)
                w = v.to_bytes(2, "big")
                out += w[::-1] if self.a.byteswap else w
            return bytes(out)
        if fn == 6 and len(req) == 6:
            addr, v = int.from_bytes(req[2:4], "big"), int.from_bytes(req[4:6], "big")
            if self.a.byteswap:
                v = ((v & 0xFF) << 8) | (v >> 8)
            self.regs["holding"][addr] = v
            self.st["writes"].append([addr, v])
            return bytes(req[:6])
        return bytes([unit, fn | 0x80, 1])

    def handle(self, req, start, gap_bad):
        self.st["frames"] += 1
        if len(self.st["requests"]) < 1000:
            self.st["requests"].append(req.hex())
        if self.last_reply is not None:
            quiet = (start - self.last_reply) / self.char
            m = self.st["min_silence_after_reply_chars"]
            self.st["min_silence_after_reply_chars"] = quiet if m is None else min(m, quiet)
            if start - self.last_reply < self.t35:
                self.st["dropped_early"] += 1
                return
        if gap_bad:
            self.st["dropped_gap"] += 1
            return
        if len(req) < 4 or crc16(req[:-2]) != req[-2] | req[-1] << 8:
            self.st["bad_crc_in"] += 1
            return
        unit = req[0]
        if unit not in self.units:
            self.st["not_mine"] += 1
            return
        self.st["by_unit"][str(unit)] = self.st["by_unit"].get(str(unit), 0) + 1
        body = self.reply(req[:-2])
        if body[1] & 0x80:
            self.st["exceptions"] += 1
        out = bytearray(frame(body))
        self.st["answered"] += 1
        if self.st["answered"] in self.bad_crc:
            out[-1] ^= 0x5A
            self.st["replies_damaged"] += 1
        if len(self.st["replies"]) < 1000:
            self.st["replies"].append(out.hex())
        # The reply crosses the line before its last byte is in.
        time.sleep(len(out) * self.char)
        self.last_reply = time.monotonic()
        os.write(self.master, out)

    def run(self):
        self.master, slave = os.openpty()
        tty.setraw(slave)
        try:
            os.unlink(self.a.link)
        except FileNotFoundError:
            pass
        os.symlink(os.ttyname(slave), self.a.link)
        stop = []
        signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
        if self.a.ready:
            with open(self.a.ready, "w") as f:
                f.write("ready\n")
        buf, start, line_free, gap_bad = bytearray(), 0.0, 0.0, False
        while not stop:
            timeout = 0.2  # (PEP 475: a signal does not end the select)
            if buf:
                # The frame ends 3.5 characters after its last byte left.
                timeout = max(0.0, line_free + self.t35 - time.monotonic())
            try:
                r, _, _ = select.select([self.master], [], [], timeout)
            except InterruptedError:
                continue
            now = time.monotonic()
            if not r:
                if buf:
                    self.handle(bytes(buf), start, gap_bad)
                    buf.clear()
                continue
            try:
                data = os.read(self.master, 4096)
            except OSError:
                data = b""
            if not data:
                time.sleep(0.01)  # the slave is closed: powerd restarting
                continue
            if not buf:
                start, gap_bad = now, False
            elif now - line_free > self.t15:
                gap_bad = True
            buf += data
            line_free = max(line_free, now) + len(data) * self.char
        with open(self.a.stats, "w") as f:
            json.dump(self.st, f)
        os.unlink(self.a.link)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--link", required=True)
    p.add_argument("--baud", type=int, default=9600)
    p.add_argument("--parity", default="N", choices="NEO")
    p.add_argument("--data-bits", type=int, default=8)
    p.add_argument("--stop-bits", type=int, default=1)
    p.add_argument("--unit", type=int, action="append", required=True)
    p.add_argument("--regs")
    p.add_argument("--byteswap", action="store_true")
    p.add_argument("--bad-crc", type=int, action="append", default=[])
    p.add_argument("--ready")
    p.add_argument("--stats", required=True)
    Server(p.parse_args()).run()


if __name__ == "__main__":
    main()
