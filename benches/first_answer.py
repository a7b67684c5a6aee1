#!/usr/bin/env python3
"""Start a DNS server and time it until it answers one name: the load-time figure of
benches/bigzone.sh. dig in a loop measures dig's own start-up (tens of milliseconds);
this sends an A query every 5 ms from one socket.

Usage: first_answer.py PORT NAME STDOUT STDERR -- COMMAND...
Prints "SECONDS PID" once NAME answers with data (the server is left running); exits 1
if the server exits first or 300 s pass.
"""
import socket
import struct
import subprocess
import sys
import time


def query(name: str) -> bytes:
    labels = b"".join(bytes([len(l)]) + l.encode() for l in name.strip(".").split("."))
    return struct.pack(">HHHHHH", 0x5359, 0, 1, 0, 0, 0) + labels + b"\0" + struct.pack(">HH", 1, 1)


def main() -> int:
    port, name, out, err = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
    assert sys.argv[5] == "--", "usage: first_answer.py PORT NAME STDOUT STDERR -- COMMAND..."
    q = query(name)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(0.005)
    with open(out, "wb") as o, open(err, "wb") as e:
        t0 = time.monotonic()
        proc = subprocess.Popen(sys.argv[6:], stdout=o, stderr=e, start_new_session=True)
    while time.monotonic() - t0 < 300:
        s.sendto(q, ("127.0.0.1", port))
        try:
            d = s.recv(4096)
            # NOERROR with at least one answer.
            if len(d) > 12 and d[3] & 0x0F == 0 and struct.unpack(">H", d[6:8])[0] > 0:
                print(f"{time.monotonic() - t0:.3f} {proc.pid}")
                return 0
        except (socket.timeout, ConnectionRefusedError):
            pass
        if proc.poll() is not None:
            print(f"server exited with {proc.returncode} before answering {name}", file=sys.stderr)
            return 1
    print(f"no answer for {name} within 300 s", file=sys.stderr)
    proc.kill()
    return 1


if __name__ == "__main__":
    sys.exit(main())
