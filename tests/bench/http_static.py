#!/usr/bin/env python3
"""A fast local HTTP/1.1 server for tests/bench/http_poll.sh: every path
answers seed 003's PowMr document (keep-alive, Content-Length), from one
asyncio loop, so the bench measures the poller, not the server.  Writes its
port to --port-file; on SIGTERM prints the number of requests served."""
import argparse
import asyncio
import json
import os
import signal
import sys

BODY = json.dumps({
    "ac": {"input_freq": 60.7, "input_voltage": 122.4, "output_freq": 60.7,
           "output_load_percent": 9, "output_va": 352, "output_voltage": 121.5,
           "output_watts": 341},
    "dc": {"batt_v_compensation_k": 0.01, "charge_current": 0, "charge_power": 0,
           "discharge_current": 0, "discharge_power": 0, "new_k": 0, "pv_current": 4.575311,
           "pv_voltage": 88.3, "pv_power": 404, "voltage": 27.4, "voltage_corrected": 27.4},
    "inverter": {"read_interval_ms": 15000, "charger": 13, "charger_source_priority": 1,
                 "eff_va": 87.12872, "eff_w": 84.40594, "op_mode": 4,
                 "output_source_priority": 1, "soc": 100, "temp": 44, "valid_info": 1},
}).encode()
RESP = (b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n"
        % len(BODY)) + BODY
served = 0


async def handle(reader, writer):
    global served
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            if not head:
                break
            served += 1
            writer.write(RESP)
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
        pass
    writer.close()


async def main(port_file):
    srv = await asyncio.start_server(handle, "127.0.0.1", 0, backlog=512)
    with open(port_file + ".tmp", "w") as f:
        f.write(str(srv.sockets[0].getsockname()[1]))
    os.rename(port_file + ".tmp", port_file)
    stop = asyncio.get_running_loop().create_future()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set_result, None)
    await stop
    print(served, flush=True)


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--port-file", required=True)
    asyncio.run(main(ap.parse_args().port_file))
    sys.exit(0)
