#!/usr/bin/env python3
"""A Modbus/TCP device that answers a batch of requests in reverse order,
for the pipeline check of tests/t_modbus_tcp.sh: it reads what arrives
within 100 ms, logs "batch N" (how many requests came together) to LOG and
answers each read with register values = their addresses, last first.

  mbap_reverse.py PORT LOG
"""
import socket, struct, sys, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(4)
log = open(sys.argv[2], "w")
while True:
    c, _ = s.accept()
    c.settimeout(5)
    try:
        while True:
            data = b""
            data += c.recv(4096)
            if not data: break
            time.sleep(0.1)
            c.setblocking(False)
            try:
                data += c.recv(4096)
            except BlockingIOError:
                pass
            c.setblocking(True)
            adus = []
            while len(data) >= 7:
                tid, pid, ln, unit = struct.unpack(">HHHB", data[:7])
                adus.append((tid, unit, data[7:6 + ln])); data = data[6 + ln:]
            log.write(f"batch {len(adus)}\n"); log.flush()
            for tid, unit, pdu in reversed(adus):
                fn, addr, cnt = struct.unpack(">BHH", pdu)
                body = bytes([fn, 2 * cnt]) + b"".join(struct.pack(">H", addr + k) for k in range(cnt))
                c.sendall(struct.pack(">HHHB", tid, 0, len(body) + 1, unit) + body)
    except OSError:
        pass
    c.close()
