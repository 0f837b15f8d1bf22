/* Ethernet II frames. */
#ifndef WEIR_WIRE_ETHERNET_H
#define WEIR_WIRE_ETHERNET_H

#include "wire.h"

#define WEIR_ETH_HLEN       14
#define WEIR_ETH_ALEN       6
#define WEIR_ETHERTYPE_IPV4 0x0800
#define WEIR_ETHERTYPE_ARP  0x0806
#define WEIR_ETHERTYPE_VLAN 0x8100
#define WEIR_ETHERTYPE_IPV6 0x86dd

struct weir_eth {
  uint8_t dst[WEIR_ETH_ALEN];
  uint8_t src[WEIR_ETH_ALEN];
  uint16_t type;
  const uint8_t *payload; /* parse only: bytes after the header */
  size_t payload_len;
};

/* len < 14 -> TRUNCATED. EtherType values < 0x0600 (802.3 length
 * fields) -> UNSUPPORTED. Any payload length is accepted, including the
 * padding of short frames: upper layers use their own length fields. */
int weir_eth_parse(struct weir_eth *e, const uint8_t *buf, size_t len);

/* Writes the 14-byte header; returns 14, or 0 if cap < 14. */
size_t weir_eth_emit(const struct weir_eth *e, uint8_t *buf, size_t cap);

/* Address classes (6 bytes at `a`). */
int weir_eth_is_broadcast(const uint8_t *a);
int weir_eth_is_multicast(const uint8_t *a); /* group bit; includes bcast */
int weir_eth_is_zero(const uint8_t *a);

#endif
