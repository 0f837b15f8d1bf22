#!/usr/bin/env python3
"""Writes the seed corpus of fuzz_stack: small valid exchanges on both link
types (ARP, ping, UDP echo, closed port, fragments), in the record format
that test/fuzz/fuzz_stack.c reads. Run from the repository root."""
import os
import struct

US = bytes([10, 77, 0, 2])
PEER = bytes([10, 77, 0, 9])
US_MAC = bytes([2, 0, 0, 0, 0, 2])
PEER_MAC = bytes([2, 0, 0, 0, 0, 9])
BCAST = b"\xff" * 6
OUT = "test/fuzz/corpus/fuzz_stack"


def csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return (~s) & 0xFFFF


def ip(proto, payload, ident=1, mf=0, off=0, src=PEER, dst=US):
    flags = (0x2000 if mf else 0) | (off // 8)
    h = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), ident,
                    flags, 64, proto, 0, src, dst)
    h = h[:10] + struct.pack("!H", csum(h)) + h[12:]
    return h + payload


def udp(sport, dport, data, src=PEER, dst=US):
    u = struct.pack("!HHHH", sport, dport, 8 + len(data), 0) + data
    pseudo = src + dst + struct.pack("!BBH", 0, 17, len(u))
    c = csum(pseudo + u) or 0xFFFF
    return u[:6] + struct.pack("!H", c) + u[8:]


def tcp(sport, dport, seq, ack, flags, data=b"", opts=b"", src=PEER, dst=US):
    hl = 20 + len(opts)
    h = struct.pack("!HHIIBBHHH", sport, dport, seq, ack, (hl // 4) << 4,
                    flags, 65535, 0, 0) + opts + data
    pseudo = src + dst + struct.pack("!BBH", 0, 6, len(h))
    return h[:16] + struct.pack("!H", csum(pseudo + h)) + h[18:]


def echo(data, ident=0x1234, seq=1):
    m = struct.pack("!BBHHH", 8, 0, 0, ident, seq) + data
    return m[:2] + struct.pack("!H", csum(m)) + m[4:]


def eth(payload, etype=0x0800, dst=US_MAC):
    return dst + PEER_MAC + struct.pack("!H", etype) + payload


def arp(op, tpa):
    return eth(struct.pack("!HHBBH6s4s6s4s", 1, 0x0800, 6, 4, op, PEER_MAC,
                           PEER, b"\0" * 6, tpa), 0x0806, BCAST)


def rec(op, data=b"", length=None):
    n = len(data) if length is None else length
    return bytes([op]) + struct.pack("!H", n) + data


def write(name, link, records):
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(bytes([link]) + b"".join(records))


os.makedirs(OUT, exist_ok=True)
big = udp(4000, 7, bytes(range(256)) * 8)
frags = [ip(17, big[0:1480], 9, 1, 0), ip(17, big[1480:], 9, 0, 1480)]
for link, wrap in ((0, eth), (1, lambda p: p)):
    kind = "eth" if link == 0 else "ip"
    write(f"{kind}_ping", link, [rec(0, wrap(ip(1, echo(b"hello"))))])
    write(f"{kind}_udp_echo", link,
          [rec(0, wrap(ip(17, udp(5000, 7, b"echo me")))), rec(3)])
    write(f"{kind}_udp_closed", link,
          [rec(0, wrap(ip(17, udp(5000, 9, b"nobody"))))])
    write(f"{kind}_frags", link, [rec(0, wrap(f)) for f in frags])
    write(f"{kind}_frag_timeout", link,
          [rec(0, wrap(frags[0])), rec(1, length=31000)])
    write(f"{kind}_send", link, [rec(2 | (9 << 2), b"out"), rec(1, length=1500)])
# TCP to the fuzz target's echo listener on port 80. Op 4 marks frames
# whose ack is relative to weir's ISN (fuzz_stack.c fixes it up).
SYN, ACK, PSH, FIN, RST = 0x02, 0x10, 0x08, 0x01, 0x04
opts = bytes([2, 4, 5, 0xb4, 4, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0, 1, 3, 3, 7])
for link, wrap in ((0, eth), (1, lambda p: p)):
    kind = "eth" if link == 0 else "ip"
    isn = 1000
    conv = [
        rec(0, wrap(ip(6, tcp(5555, 80, isn, 0, SYN, opts=opts)))),
        rec(4, wrap(ip(6, tcp(5555, 80, isn + 1, 1, ACK)))),
        rec(4, wrap(ip(6, tcp(5555, 80, isn + 1, 1, ACK | PSH, b"hello")))),
        rec(3),
        rec(4, wrap(ip(6, tcp(5555, 80, isn + 6, 6, ACK | FIN)))),
        rec(1, length=100),
    ]
    write(f"{kind}_tcp_echo", link, conv)
    write(f"{kind}_tcp_rst", link, conv[:2] + [
        rec(4, wrap(ip(6, tcp(5555, 80, isn + 1, 1, RST))))])
    write(f"{kind}_tcp_closed_port", link,
          [rec(0, wrap(ip(6, tcp(5555, 81, isn, 0, SYN))))])
    write(f"{kind}_tcp_connect", link,
          [rec(2 | 0x80 | (9 << 2)), rec(1, length=1500)])
# With TSO and checksum offload (byte 0 bit 1): a small MSS makes weir's
# echo of 512 bytes a super-segment; the data comes in marked as the
# link's (op bits 3-4: WEIR_RX_CSUM_PARTIAL).
small_mss = bytes([2, 4, 0, 100])
for link, wrap in ((2, eth), (3, lambda p: p)):
    kind = "eth" if link == 2 else "ip"
    isn = 5000
    write(f"{kind}_tcp_offload", link, [
        rec(0, wrap(ip(6, tcp(5555, 80, isn, 0, SYN, opts=small_mss)))),
        rec(4, wrap(ip(6, tcp(5555, 80, isn + 1, 1, ACK)))),
        rec(4 | (2 << 3),
            wrap(ip(6, tcp(5555, 80, isn + 1, 1, ACK | PSH, bytes(600))))),
        rec(3),
        rec(4, wrap(ip(6, tcp(5555, 80, isn + 601, 513, ACK)))),
        rec(1, length=100),
    ])
write("eth_arp", 0, [rec(0, arp(1, US))])
write("eth_arp_then_send", 0,
      [rec(2 | (9 << 2), b"q"), rec(0, arp(2, US)), rec(1, length=3000)])
