/* TCP headers and options (RFC 9293, 7323, 2018). */
#ifndef WEIR_WIRE_TCP_H
#define WEIR_WIRE_TCP_H

#include "wire.h"

#define WEIR_TCP_HLEN     20
#define WEIR_TCP_MAX_HLEN 60
#define WEIR_TCP_MAX_SACK 4

#define WEIR_TCP_FIN 0x01
#define WEIR_TCP_SYN 0x02
#define WEIR_TCP_RST 0x04
#define WEIR_TCP_PSH 0x08
#define WEIR_TCP_ACK 0x10
#define WEIR_TCP_URG 0x20
#define WEIR_TCP_ECE 0x40
#define WEIR_TCP_CWR 0x80

#define WEIR_TCP_MAX_WSCALE 14

struct weir_tcp_sack {
  uint32_t left, right;
};

struct weir_tcp_opts {
  uint8_t has_mss;
  uint8_t has_wscale;
  uint8_t sack_perm;
  uint8_t has_ts;
  uint8_t nsack; /* number of SACK blocks, 0..4 */
  uint8_t wscale;
  uint16_t mss;
  uint32_t ts_val, ts_ecr;
  struct weir_tcp_sack sack[WEIR_TCP_MAX_SACK];
};

struct weir_tcp {
  uint16_t sport, dport;
  uint32_t seq, ack;
  uint8_t hlen;  /* data offset in bytes */
  uint8_t flags; /* WEIR_TCP_* */
  uint16_t win;
  uint16_t csum;
  uint16_t urg;
  struct weir_tcp_opts opt;
  const uint8_t *payload; /* parse: points into buf; emit: unused */
  size_t payload_len;     /* parse: len - hlen; emit: bytes at buf + hlen */
};

/* len < 20 -> TRUNCATED; data offset < 5 or past len -> BAD_HLEN.
 * Options: EOL ends the list; NOP is skipped; any other kind needs a length
 * byte within the header, >= 2 and not past the header, else BAD_OPTION.
 * Known kinds with the wrong length -> BAD_OPTION (MSS 4, WS 3, SACK-perm 2,
 * TS 10, SACK 2 + 8n with n = 1..4). Unknown kinds are skipped. A window
 * scale above 14 is taken as 14 (RFC 7323 2.3). The checksum is not
 * verified here: see weir_l4_checksum_ok. */
int weir_tcp_parse(struct weir_tcp *t, const uint8_t *buf, size_t len);

/* The header length weir_tcp_emit writes for these options (20 + options,
 * padded to a multiple of 4, at most 60). */
size_t weir_tcp_header_len(const struct weir_tcp_opts *o);

/* Writes the header and options, in Linux's layout:
 *   MSS; SACK-perm + TS (as 04 02 08 0a ... or 01 01 08 0a ... without
 *   SACK-perm); NOP + WS; NOP NOP + SACK blocks (as many as fit in 40
 *   option bytes).
 * The payload_len bytes of payload must already be at buf + header_len.
 * Fills the checksum over the pseudo-header. Returns header_len +
 * payload_len, or 0 if that exceeds cap. */
size_t weir_tcp_emit(const struct weir_tcp *t, uint32_t src, uint32_t dst,
                     uint8_t *buf, size_t cap);

/* weir_tcp_emit for a link that completes the checksum (checksum
 * offload): the field holds the pseudo-header's folded sum, not
 * complemented, and the payload is not read. */
size_t weir_tcp_emit_partial(const struct weir_tcp *t, uint32_t src,
                             uint32_t dst, uint8_t *buf, size_t cap);

/* The checksum field's offset in a TCP header. */
#define WEIR_TCP_CSUM_OFF 16

/* Verifies a TCP or UDP checksum over the pseudo-header and `len` bytes
 * of segment. For UDP a stored checksum of 0 means none and passes. */
int weir_l4_checksum_ok(uint8_t proto, const uint8_t *seg, size_t len,
                        uint32_t src, uint32_t dst);

#endif
