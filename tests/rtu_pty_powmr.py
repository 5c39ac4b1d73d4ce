#!/usr/bin/env python3
"""A minimal PowMr inverter on a pseudo-terminal, for t_modpoll's RTU case:
unit 5 holds registers 4546-4561 as the real reply in PROTOCOLS.md section 5
gives them, and answers function 3 reads within them; the read of all 16 is
answered with the golden frame byte for byte (checked at start against the
CRC computed here).  A read elsewhere gets exception 2; a read of 9999
gets a reply with a broken CRC; another unit, or anything that is not an
8-byte function 3 request, gets silence, as on a real bus.  No line timing
(tests/rtu_server.py simulates that).

  rtu_pty_powmr.py --link FILE   writes the slave's path to FILE, serves
                                 until SIGTERM, then prints 'requests N'
"""
import argparse
import os
import select
import signal
import sys

GOLDEN = bytes.fromhex("05 03 20 FA00 FA00 C800 FA00 3C00 7800 1E00 62D9 E90E 0000 0000 4500 0000 0000"
                       " 0000 0000 F1 CA")
UNIT, START, COUNT = 5, 4546, 16


def crc16(data):
    crc = 0xFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return bytes((crc & 0xFF, crc >> 8))


def frame(body):
    return body + crc16(body)


def reply(req):
    """The answer to one request, or None for silence."""
    if len(req) != 8 or crc16(req[:6]) != req[6:] or req[0] != UNIT or req[1] != 3:
        return None
    addr, count = int.from_bytes(req[2:4], "big"), int.from_bytes(req[4:6], "big")
    if addr == 9999:
        bad = bytearray(frame(bytes((UNIT, 3, 2, 0, 1))))
        bad[-1] ^= 0xFF
        return bytes(bad)
    if count < 1 or addr < START or addr + count > START + COUNT:
        return frame(bytes((UNIT, 0x83, 2)))
    data = GOLDEN[3 + 2 * (addr - START):3 + 2 * (addr - START + count)]
    return frame(bytes((UNIT, 3, 2 * count)) + data)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--link", required=True)
    a = ap.parse_args()
    assert crc16(GOLDEN[:-2]) == GOLDEN[-2:], "the golden frame's CRC"
    assert reply(frame(bytes((UNIT, 3)) + START.to_bytes(2, "big") + COUNT.to_bytes(2, "big"))) == GOLDEN
    master, slave = os.openpty()  # the slave stays open: a client's close is no hangup
    path = os.ttyname(slave)
    with open(a.link + ".tmp", "w") as f:
        f.write(path + "\n")
    os.rename(a.link + ".tmp", a.link)
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    buf, served = b"", 0
    while not stop:
        try:
            r, _, _ = select.select([master], [], [], 0.05 if buf else 0.5)
        except InterruptedError:
            continue
        if not r:
            buf = b""  # silence ends a frame: a partial one is dropped
            continue
        try:
            buf += os.read(master, 256)
        except OSError:
            continue
        while len(buf) >= 8:
            req, buf = buf[:8], buf[8:]
            served += 1
            out = reply(req)
            if out:
                os.write(master, out)
    print("requests %d" % served, file=sys.stderr)


if __name__ == "__main__":
    main()
