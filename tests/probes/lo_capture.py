#!/usr/bin/env python3
"""Records the TCP payloads on the loopback interface to or from some ports.

usage: lo_capture.py OUTPUT PORT...

Until SIGTERM, every IPv4 TCP segment seen on "lo" whose source or destination port is one of
PORTs has its payload appended to OUTPUT, each as a line "SPORT DPORT HEX". Run it in the
network namespace to watch (a sandbox's). A packet socket (AF_PACKET) needs root; Python
standard library only (no tcpdump on the test machines).
"""

import signal
import socket
import struct
import sys

ETH_P_ALL = 0x0003


def main():
    if len(sys.argv) < 3:
        print(__doc__.split("\n\n")[1], file=sys.stderr)
        return 2
    ports = {int(p) for p in sys.argv[2:]}
    sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    sock.bind(("lo", 0))
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    with open(sys.argv[1], "a", encoding="ascii") as out:
        while True:
            frame, meta = sock.recvfrom(262144)
            # Loopback frames have a 14-byte Ethernet header; each packet is seen once outgoing
            # (pkttype 4) and once incoming: keep the outgoing copy only.
            if meta[2] != socket.PACKET_OUTGOING or len(frame) < 14 + 20:
                continue
            if struct.unpack("!H", frame[12:14])[0] != 0x0800:
                continue
            ip = frame[14:]
            ihl = (ip[0] & 0x0F) * 4
            if ip[9] != 6:
                continue
            total = struct.unpack("!H", ip[2:4])[0]
            tcp = ip[ihl:total]
            sport, dport = struct.unpack("!HH", tcp[:4])
            payload = tcp[(tcp[12] >> 4) * 4:]
            if payload and (sport in ports or dport in ports):
                out.write("%d %d %s\n" % (sport, dport, payload.hex()))
                out.flush()


if __name__ == "__main__":
    sys.exit(main())
