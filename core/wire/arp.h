/* ARP for IPv4 over Ethernet (RFC 826). */
#ifndef WEIR_WIRE_ARP_H
#define WEIR_WIRE_ARP_H

#include "wire.h"

#define WEIR_ARP_LEN     28
#define WEIR_ARP_REQUEST 1
#define WEIR_ARP_REPLY   2

struct weir_arp {
  uint16_t op;
  uint8_t sha[6];
  uint32_t spa; /* host order */
  uint8_t tha[6];
  uint32_t tpa; /* host order */
};

/* len < 28 -> TRUNCATED; hardware type != 1, protocol type != 0x0800,
 * hlen != 6 or plen != 4, or op not 1/2 -> UNSUPPORTED. Trailing bytes
 * (Ethernet padding) are ignored. */
int weir_arp_parse(struct weir_arp *a, const uint8_t *buf, size_t len);

/* Writes the 28-byte packet (htype 1, ptype 0x0800, 6, 4, op, addresses);
 * returns 28, or 0 if cap < 28. */
size_t weir_arp_emit(const struct weir_arp *a, uint8_t *buf, size_t cap);

#endif
