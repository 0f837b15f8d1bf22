/* UDP (RFC 768). */
#ifndef WEIR_WIRE_UDP_H
#define WEIR_WIRE_UDP_H

#include "wire.h"

#define WEIR_UDP_HLEN 8

struct weir_udp {
  uint16_t sport;
  uint16_t dport;
  uint16_t len;           /* header + payload, as in the header */
  uint16_t csum;          /* as in the header; 0 means none */
  const uint8_t *payload; /* parse: points into buf; emit: unused */
  size_t payload_len;     /* parse: len - 8; emit: bytes at buf + 8 */
};

/* len < 8 -> TRUNCATED; length field < 8 or > len -> BAD_LENGTH. Bytes past
 * the length field are ignored. The checksum is not verified here: see
 * weir_l4_checksum_ok. */
int weir_udp_parse(struct weir_udp *u, const uint8_t *buf, size_t len);

/* Writes the 8-byte header for a datagram whose payload_len bytes of
 * payload are already at buf + 8, sets the length field, and fills the
 * checksum over the pseudo-header (0 is sent as 0xffff). Returns
 * 8 + payload_len, or 0 if that exceeds cap or 65535. */
size_t weir_udp_emit(const struct weir_udp *u, uint32_t src, uint32_t dst,
                     uint8_t *buf, size_t cap);

#endif
