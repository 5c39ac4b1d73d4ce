#!/usr/bin/env python3
"""A stand-in for an EG4 / LuxPower WiFi dongle (no real one runs here),
written from research/PROTOCOLS.md section 1, not from powerd's code: a TCP
server that plays a script against the connections powerd makes, answers
its read requests from a register image, and logs every frame it sent and
every frame it received, as JSON lines, to LOG:

  {"conn": N, "dir": "tx"|"rx", "what": ..., "hex": ...}       every frame
  {"conn": N, "dir": "tx", "what": "reply", "fn": 3|4, "start": S,
   "vals": [...], "datalog": ..., "serial": ...}               read replies
  {"conn": N, "what": "unexpected", ...}                        a check failed
  {"what": "eof", "conn": N, "rx_bytes": B}                      a connection ended

  eg4_dongle.py SCENARIO PORT LOG DONE

SCENARIO is "main" (the full script, for poll = 1h, heartbeats = yes,
watchdog = 3s, timeout = 1s, datalog 2222222222, inverter 5555555555),
"listen" (for poll = 0, heartbeats = no: pushes and heartbeats, and nothing
may come back), "steady" (answers every read request, for as long as it
runs) or "silent" (accepts and reads, never sends).  DONE.ready is written once it listens, DONE once the script is through;
the server then keeps reading until powerd goes away, and runs until
SIGTERM.
"""
import json
import signal
import socket
import struct
import sys
import time

SCENARIO, PORT, LOG, DONE = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
DL = b"2222222222"
SN = b"5555555555"
log = open(LOG, "a", buffering=1)
signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))


def crc16(data):
    crc = 0xFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return crc


def frame(protocol, tcp_fn, datalog, payload):
    """Outer frame: prefix, protocol, length = total - 6, 1, function, datalog."""
    total = 18 + len(payload)
    return struct.pack("<BBHHBB", 0xA1, 0x1A, protocol, total - 6, 1, tcp_fn) + datalog + payload


def td(protocol, addr, fn, start, body, datalog=DL, serial=SN):
    """TranslatedData: data length, address, function, serial, start, body, CRC."""
    inner = bytes([addr, fn]) + serial + struct.pack("<H", start) + body
    pdu = inner + struct.pack("<H", crc16(inner))
    return frame(protocol, 194, datalog, struct.pack("<H", len(pdu)) + pdu)


def read_reply(protocol, fn, start, vals, datalog=DL, serial=SN):
    data = b"".join(struct.pack("<H", v) for v in vals)
    body = data if protocol == 1 else bytes([len(data)]) + data
    return td(protocol, 1, fn, start, body, datalog, serial)


def read_request(fn, start, count, datalog=DL, serial=SN):
    return td(1, 0, fn, start, struct.pack("<H", count), datalog, serial)


def heartbeat(protocol, datalog=DL):
    return frame(protocol, 193, datalog, b"\x00")


def image(rnd):
    """Input registers 0-126 for round rnd: fixed values with meaning (lxp-bridge
    scaling in the test), the rest a pattern, a few moving with the round."""
    r = [(i * 7 + rnd * 13) % 1000 for i in range(127)]
    r[0] = 16  # battery on-grid
    r[1], r[2], r[3] = 3456 + rnd, 3012, 0  # Vpv 0.1 V
    r[4] = 532  # Vbat 53.2 V
    r[5] = 100 << 8 | (80 + rnd)  # SOH 100 %, SOC 81.. %
    r[7], r[8], r[9] = 1234 + rnd, 987, 5  # Ppv W
    r[10], r[11] = 500, 20  # charge, discharge W
    r[15] = 6001  # 60.01 Hz
    r[19] = 998  # PF 0.998
    r[26], r[27] = 300, 45  # to grid, to user W
    r[28], r[29], r[30] = 12, 34, 0  # daily PV 0.1 kWh
    r[40], r[41] = 0x1234, 0x0001  # e_pv_all_1 u32 low word first: 70196 -> 7019.6 kWh
    r[42], r[43] = 0xFFFF, 0x0000  # 65535 -> 6553.5 kWh
    r[44], r[45] = 7, 0
    r[64] = 45  # Tinner C
    r[67] = 0xFFFB  # Tbat -5 C (i16)
    r[69], r[70] = 0x5678, 0x0012  # runtime s u32
    r[81] = 6600  # MaxChgCurr 66.00 A
    r[98] = (-1234) & 0xFFFF  # bat current -12.34 A (i16)
    r[101], r[102] = 3412, 3398  # cells 0.001 V
    r[103] = (-10) & 0xFFFF  # -1.0 C
    serial = b"2043022401"
    for k in range(5):  # first character in the low byte
        r[115 + k] = serial[2 * k] | serial[2 * k + 1] << 8
    r[125], r[126] = 0x0002, 0x0001  # e_gen_all 65538 -> 6553.8 kWh
    return r


def note(**kw):
    log.write(json.dumps(kw) + "\n")


class Conn:
    def __init__(self, sock, n):
        self.s, self.n, self.buf, self.held, self.rx = sock, n, b"", [], 0
        self.eof = False

    def send(self, data, what, **kw):
        self.s.sendall(data)
        note(conn=self.n, dir="tx", what=what, hex=data.hex(), **kw)

    def reply(self, protocol, fn, start, vals, datalog=DL, serial=SN, what="reply"):
        self.send(read_reply(protocol, fn, start, vals, datalog, serial), what, fn=fn,
                  start=start, vals=vals, datalog=datalog.decode(), serial=serial.decode(),
                  protocol=protocol)

    def _frame(self, deadline):
        """The next whole frame from powerd, None at the deadline, b"" at EOF."""
        while True:
            if len(self.buf) >= 6:
                if self.buf[:2] != b"\xa1\x1a":
                    note(conn=self.n, what="unexpected", why="not a frame", hex=self.buf.hex())
                    self.buf = b""
                    continue
                total = struct.unpack_from("<H", self.buf, 4)[0] + 6
                if len(self.buf) >= total:
                    f, self.buf = self.buf[:total], self.buf[total:]
                    note(conn=self.n, dir="rx", what="frame", hex=f.hex())
                    return f
            left = deadline - time.monotonic()
            if left <= 0 or self.eof:
                return b"" if self.eof else None
            self.s.settimeout(left)
            try:
                d = self.s.recv(65536)
            except socket.timeout:
                return None
            except ConnectionError:
                d = b""
            if not d:
                self.eof = True
                note(what="eof", conn=self.n, rx_bytes=self.rx)
                continue
            self.rx += len(d)
            self.buf += d

    def want(self, expect, what, timeout=15):
        """A frame equal to expect (frames that are not, kept for later)."""
        for i, f in enumerate(self.held):
            if f == expect:
                del self.held[i]
                return True
        deadline = time.monotonic() + timeout
        while True:
            f = self._frame(deadline)
            if f == expect:
                return True
            if not f:
                note(conn=self.n, what="unexpected", why="missing " + what, want=expect.hex())
                return False
            self.held.append(f)

    def quiet(self, seconds):
        """Nothing may arrive for this long (or until EOF)."""
        deadline = time.monotonic() + seconds
        while True:
            f = self._frame(deadline)
            if f is None or f == b"":
                return
            note(conn=self.n, what="unexpected", why="sent while it should be quiet",
                 hex=f.hex())

    def drain(self):
        """Read until powerd closes: everything but the expected is logged."""
        while not self.eof:
            f = self._frame(time.monotonic() + 3600)
            if f:
                self.held.append(f)
        for f in self.held:
            note(conn=self.n, what="unexpected", why="left over", hex=f.hex())


def serve_poll(c, rnd, protocol=2, skip=()):
    """Answer the four reads of the map's input plan (0-39, 40-77, 80-119, 120-126)."""
    img = image(rnd)
    for start, count in ((0, 40), (40, 38), (80, 40), (120, 7)):
        if not c.want(read_request(4, start, count), "request %d+%d" % (start, count)):
            return
        if start in skip:
            continue
        c.reply(protocol, 4, start, img[start:start + count])


def golden():
    """PROTOCOLS.md 1.4's golden frames, byte for byte (decimal as written there)."""
    dl, sn = list(DL), list(SN)
    return [
        ("golden hold reply", bytes([161, 26, 2, 0, 37, 0, 1, 194] + dl + [23, 0, 1, 3] + sn +
                                    [12, 0, 6, 22, 6, 20, 5, 16, 57, 93, 135])),
        ("golden write single reply", bytes([161, 26, 2, 0, 32, 0, 1, 194] + dl + [18, 0, 1, 6] +
                                            sn + [66, 0, 100, 0, 73, 173])),
        ("golden write multi reply", bytes([161, 26, 2, 0, 32, 0, 1, 194] + dl + [18, 0, 1, 16] +
                                           sn + [12, 0, 3, 0, 226, 187])),
        ("golden client read request", bytes([161, 26, 1, 0, 32, 0, 1, 194] + dl + [18, 0, 0, 4] +
                                             sn + [0, 0, 40, 0, 42, 132])),
        ("write param from the cloud", bytes([161, 26, 2, 0, 15, 0, 1, 196] + dl + [7, 0, 3])),
        ("read param reply", bytes([161, 26, 2, 0, 18, 0, 1, 195] + dl + [0, 0, 2, 0, 44, 1])),
    ]


def scenario_main(srv):
    # 1: heartbeats echoed, garbage, others' traffic while our request
    # waits, every golden frame, a protocol-1 reply, an exception, the push;
    # then silence until powerd's watchdog closes the connection.
    c = Conn(srv.accept()[0], 1)
    c.send(b"\x00\xff\xa1\x00\x1a" + heartbeat(2), "garbage and heartbeat")
    c.want(heartbeat(2), "heartbeat echo")
    c.send(heartbeat(5), "heartbeat protocol 5")
    c.want(heartbeat(2), "heartbeat echo (protocol 2)")
    if c.want(read_request(4, 0, 40), "request 0+40"):
        img = image(1)
        c.reply(2, 4, 0, image(9)[0:40], datalog=b"3333333333", serial=b"9999999999",
                what="another dongle's reply")
        c.reply(2, 4, 40, img[40:78], what="a reply for another client")
        for what, f in golden():
            if what == "golden hold reply":  # 12-14: 22,6 20,5 16,57, low byte first
                c.send(f, what, fn=3, start=12, vals=[6 << 8 | 22, 5 << 8 | 20, 57 << 8 | 16],
                       datalog=DL.decode(), serial=SN.decode(), protocol=2)
            else:
                c.send(f, what)
        bad = bytearray(read_reply(2, 4, 0, img[0:40]))
        bad[-1] ^= 0x55
        c.send(bytes(bad), "bad crc")
        c.send(frame(2, 197, DL, b"\x00\x00"), "tcp function 197")
        c.send(b"\x13\x37" + b"\xa1\x1a\x02\x00\xff\x04" + b"\xa1\x1a\x02\x00\x0c\x00" + b"\xa1\xa1",
               "garbage, too long, too short")
        c.reply(2, 4, 0, img[0:40])
    if c.want(read_request(4, 40, 38), "request 40+38"):
        c.reply(1, 4, 40, image(1)[40:78])
    if c.want(read_request(4, 80, 40), "request 80+40"):
        c.send(td(2, 1, 0x84, 80, b"\x04"), "exception")
    if c.want(read_request(4, 120, 7), "request 120+7"):
        c.reply(2, 4, 120, image(1)[120:127])
    c.reply(5, 4, 0, image(2), what="push")
    c.quiet(30)  # until the watchdog (3 s) closes it
    if not c.eof:
        note(conn=1, what="unexpected", why="the watchdog did not close the connection")
    c.s.close()

    # 2: the first request unanswered (timeout), the rest answered, then a
    # connection reset.
    c = Conn(srv.accept()[0], 2)
    serve_poll(c, 3, skip=(0,))
    time.sleep(0.3)
    c.s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    c.s.close()
    note(conn=2, what="reset")

    # 3: after the backoff, a normal poll and a heartbeat.
    c = Conn(srv.accept()[0], 3)
    serve_poll(c, 4)
    c.send(heartbeat(2), "heartbeat")
    c.want(heartbeat(2), "heartbeat echo")
    open(DONE, "w").write("done\n")
    c.drain()


def scenario_listen(srv):
    # poll = 0 and heartbeats = no: the dongle talks, powerd never answers.
    dl, sn = b"BA12345678", b"2043022401"
    c = Conn(srv.accept()[0], 1)
    c.send(heartbeat(2, dl), "heartbeat")
    c.reply(5, 4, 0, image(5), datalog=dl, serial=sn, what="push")
    c.send(heartbeat(5, dl), "heartbeat protocol 5")
    c.reply(2, 4, 0, image(6)[0:40], datalog=dl, serial=sn, what="cloud's reply")
    c.quiet(1.5)
    open(DONE, "w").write("done\n")
    c.drain()


def scenario_silent(srv):
    # Accepts, reads, never sends a byte: a dongle whose inverter is gone.
    import threading

    def serve(sock, n):
        c = Conn(sock, n)
        while not c.eof:
            c._frame(time.monotonic() + 3600)
        sock.close()

    n = 0
    while True:
        sock = srv.accept()[0]
        n += 1
        note(what="accept", conn=n)
        threading.Thread(target=serve, args=(sock, n), daemon=True).start()


def scenario_steady(srv):
    # Answers whatever is asked, from the image, for as long as it runs.
    n = 0
    while True:
        n += 1
        c = Conn(srv.accept()[0], n)
        rnd = 0
        while not c.eof:
            f = c._frame(time.monotonic() + 0.5)
            if f is None:
                continue
            if not f:
                break
            if f[7] == 194 and f[21] == 4 and len(f) == 38:
                start, count = struct.unpack_from("<HH", f, 32)
                rnd += 1
                c.reply(2, 4, start, image(rnd)[start:start + count])
            elif f[7] == 193:
                pass
            else:
                note(conn=n, what="unexpected", why="not a read", hex=f.hex())
        c.s.close()


# The fake's own builders against PROTOCOLS.md's vectors, before it serves.
G = dict(golden())
assert read_request(4, 0, 40) == G["golden client read request"], "read request builder"
assert read_reply(2, 3, 12, [6 << 8 | 22, 5 << 8 | 20, 57 << 8 | 16]) == G["golden hold reply"]
assert td(2, 1, 6, 66, struct.pack("<H", 100)) == G["golden write single reply"]
assert heartbeat(2) == bytes([161, 26, 2, 0, 13, 0, 1, 193]) + DL + b"\x00"
assert len(read_reply(5, 4, 0, list(range(127)))) == 291

srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", PORT))
srv.listen(4)
open(DONE + ".ready", "w").write("%d\n" % PORT)
{"main": scenario_main, "listen": scenario_listen, "steady": scenario_steady,
 "silent": scenario_silent}[SCENARIO](srv)
while True:
    time.sleep(3600)
