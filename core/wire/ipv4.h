/* IPv4 headers (RFC 791). */
#ifndef WEIR_WIRE_IPV4_H
#define WEIR_WIRE_IPV4_H

#include "wire.h"

#define WEIR_IPV4_HLEN     20
#define WEIR_IPV4_MAX_LEN  65535
#define WEIR_IP_PROTO_ICMP 1
#define WEIR_IP_PROTO_TCP  6
#define WEIR_IP_PROTO_UDP  17

struct weir_ipv4 {
  uint8_t hlen; /* header length in bytes (IHL * 4) */
  uint8_t tos;
  uint16_t total_len; /* header + payload, as in the header */
  uint16_t id;
  uint8_t df;        /* don't-fragment flag (0/1) */
  uint8_t mf;        /* more-fragments flag (0/1) */
  uint16_t frag_off; /* fragment offset in bytes (a multiple of 8) */
  uint8_t ttl;
  uint8_t proto;
  uint32_t src; /* host order */
  uint32_t dst; /* host order */
  /* parse only: */
  const uint8_t *options; /* hlen - 20 bytes, not interpreted */
  size_t options_len;
  const uint8_t *payload; /* total_len - hlen bytes */
  size_t payload_len;
};

/* Checks, in this order, each with its own reason:
 *   len < 20                              TRUNCATED
 *   version != 4                          BAD_VERSION
 *   IHL < 5 or IHL * 4 > len              BAD_HLEN
 *   total_len < IHL * 4 or > len          BAD_LENGTH
 *   header checksum                       BAD_CHECKSUM
 *   frag_off + payload_len > 65535 - hlen BAD_FRAGMENT (ping of death)
 * Bytes past total_len (link padding) are ignored. */
int weir_ipv4_parse(struct weir_ipv4 *h, const uint8_t *buf, size_t len);

/* Writes a 20-byte header without options (hlen is taken as 20), with
 * total_len, id, flags, offset, ttl, proto and addresses from `h`, and the
 * header checksum filled. Returns 20, or 0 if cap < 20. */
size_t weir_ipv4_emit(const struct weir_ipv4 *h, uint8_t *buf, size_t cap);

/* Address helpers (host order). */
int weir_ipv4_is_multicast(uint32_t a); /* 224.0.0.0/4 */
int weir_ipv4_is_loopback(uint32_t a);  /* 127.0.0.0/8 */

#endif
