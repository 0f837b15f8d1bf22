/* ARP for IPv4 over Ethernet (RFC 826). */
#include <string.h>

#include "wire/arp.h"
#include "wire/bytes.h"

#define ARP_HTYPE_ETHERNET 1
#define ARP_PTYPE_IPV4     0x0800

int weir_arp_parse(struct weir_arp *a, const uint8_t *buf, size_t len)
{
  if (len < WEIR_ARP_LEN)
    return WEIR_WIRE_TRUNCATED;
  /* RFC 826 lets ARP carry any hardware/protocol pair; weir resolves only
   * IPv4 over Ethernet, and the fixed offsets below depend on it. */
  if (weir__get16(buf) != ARP_HTYPE_ETHERNET ||
      weir__get16(buf + 2) != ARP_PTYPE_IPV4 || buf[4] != 6 || buf[5] != 4)
    return WEIR_WIRE_UNSUPPORTED;
  a->op = weir__get16(buf + 6);
  if (a->op != WEIR_ARP_REQUEST && a->op != WEIR_ARP_REPLY)
    return WEIR_WIRE_UNSUPPORTED;
  memcpy(a->sha, buf + 8, 6);
  a->spa = weir__get32(buf + 14);
  memcpy(a->tha, buf + 18, 6);
  a->tpa = weir__get32(buf + 24);
  return WEIR_WIRE_OK;
}

size_t weir_arp_emit(const struct weir_arp *a, uint8_t *buf, size_t cap)
{
  if (cap < WEIR_ARP_LEN)
    return 0;
  weir__put16(buf, ARP_HTYPE_ETHERNET);
  weir__put16(buf + 2, ARP_PTYPE_IPV4);
  buf[4] = 6;
  buf[5] = 4;
  weir__put16(buf + 6, a->op);
  memcpy(buf + 8, a->sha, 6);
  weir__put32(buf + 14, a->spa);
  memcpy(buf + 18, a->tha, 6);
  weir__put32(buf + 24, a->tpa);
  return WEIR_ARP_LEN;
}
