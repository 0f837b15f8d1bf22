/* ICMP for IPv4 (RFC 792): echo, destination unreachable, time exceeded. */
#ifndef WEIR_WIRE_ICMP_H
#define WEIR_WIRE_ICMP_H

#include "wire.h"

#define WEIR_ICMP_HLEN          8
#define WEIR_ICMP_ECHO_REPLY    0
#define WEIR_ICMP_DEST_UNREACH  3
#define WEIR_ICMP_ECHO_REQUEST  8
#define WEIR_ICMP_TIME_EXCEEDED 11

/* Destination unreachable codes. */
#define WEIR_ICMP_NET_UNREACH   0
#define WEIR_ICMP_HOST_UNREACH  1
#define WEIR_ICMP_PROTO_UNREACH 2
#define WEIR_ICMP_PORT_UNREACH  3
#define WEIR_ICMP_FRAG_NEEDED   4

struct weir_icmp {
  uint8_t type;
  uint8_t code;
  uint16_t id;  /* echo request/reply */
  uint16_t seq; /* echo request/reply */
  uint16_t mtu; /* dest unreachable, code 4: next-hop MTU (RFC 1191) */
  const uint8_t *payload; /* parse only: bytes after the 8-byte header */
  size_t payload_len;
};

/* len < 8 -> TRUNCATED; checksum over all `len` bytes -> BAD_CHECKSUM.
 * Any type is accepted; only the fields above are decoded. */
int weir_icmp_parse(struct weir_icmp *m, const uint8_t *buf, size_t len);

/* Writes the 8-byte header (the second word from id/seq for echo types,
 * from mtu for dest unreachable code 4, zero otherwise) followed by
 * payload_len bytes copied from `payload` (which may overlap buf + 8;
 * memmove is used), and fills the checksum. Returns 8 + payload_len, or 0
 * if that exceeds cap. */
size_t weir_icmp_emit(const struct weir_icmp *m, const uint8_t *payload,
                      size_t payload_len, uint8_t *buf, size_t cap);

/* What an ICMP error quotes: the offending datagram's IPv4 header and at
 * least the first 8 bytes of its payload (ports for TCP/UDP). */
struct weir_icmp_quote {
  uint8_t proto;
  uint32_t src, dst; /* host order, as in the quoted (our outgoing) header */
  uint16_t sport, dport; /* first 4 bytes of the quoted L4 header */
  uint32_t tcp_seq;      /* bytes 4..7 of the quoted L4 header (TCP seq) */
};

/* Parses the payload of a dest-unreachable or time-exceeded message:
 * payload_len < 20 + 8 -> TRUNCATED; version != 4 -> BAD_VERSION;
 * IHL < 5 or IHL * 4 + 8 > payload_len -> BAD_HLEN. The quoted total length
 * and checksum are not checked (routers may alter or truncate them). */
int weir_icmp_parse_quote(struct weir_icmp_quote *q, const uint8_t *payload,
                          size_t payload_len);

#endif
