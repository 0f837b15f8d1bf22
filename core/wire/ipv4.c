/* IPv4 headers (RFC 791). */
#include "wire/ipv4.h"
#include "wire/bytes.h"
#include "wire/checksum.h"

#define IP_FLAG_DF     0x4000
#define IP_FLAG_MF     0x2000
#define IP_OFFSET_MASK 0x1fff

int weir_ipv4_parse(struct weir_ipv4 *h, const uint8_t *buf, size_t len)
{
  size_t hlen, total;
  uint16_t frag;

  if (len < WEIR_IPV4_HLEN)
    return WEIR_WIRE_TRUNCATED;
  if (buf[0] >> 4 != 4)
    return WEIR_WIRE_BAD_VERSION;
  hlen = (size_t)(buf[0] & 0x0f) * 4;
  if (hlen < WEIR_IPV4_HLEN || hlen > len)
    return WEIR_WIRE_BAD_HLEN;
  total = weir__get16(buf + 2);
  /* Bytes past total_len are link padding (a 60-byte Ethernet minimum). */
  if (total < hlen || total > len)
    return WEIR_WIRE_BAD_LENGTH;
  /* RFC 1071: a header whose stored checksum is right sums to -0. */
  if (weir_csum(buf, hlen) != 0)
    return WEIR_WIRE_BAD_CHECKSUM;

  frag = weir__get16(buf + 6);
  h->hlen = (uint8_t)hlen;
  h->tos = buf[1];
  h->total_len = (uint16_t)total;
  h->id = weir__get16(buf + 4);
  h->df = (frag & IP_FLAG_DF) != 0;
  h->mf = (frag & IP_FLAG_MF) != 0;
  h->frag_off = (uint16_t)((frag & IP_OFFSET_MASK) * 8);
  h->ttl = buf[8];
  h->proto = buf[9];
  h->src = weir__get32(buf + 12);
  h->dst = weir__get32(buf + 16);
  h->options = buf + WEIR_IPV4_HLEN;
  h->options_len = hlen - WEIR_IPV4_HLEN;
  h->payload = buf + hlen;
  h->payload_len = total - hlen;
  /* A fragment that would end past the largest datagram could overflow a
   * reassembly buffer (the "ping of death"). */
  if ((size_t)h->frag_off + h->payload_len > WEIR_IPV4_MAX_LEN - hlen)
    return WEIR_WIRE_BAD_FRAGMENT;
  return WEIR_WIRE_OK;
}

size_t weir_ipv4_emit(const struct weir_ipv4 *h, uint8_t *buf, size_t cap)
{
  uint16_t frag = (uint16_t)((h->frag_off / 8) & IP_OFFSET_MASK);

  if (cap < WEIR_IPV4_HLEN)
    return 0;
  if (h->df)
    frag |= IP_FLAG_DF;
  if (h->mf)
    frag |= IP_FLAG_MF;
  buf[0] = 0x45;
  buf[1] = h->tos;
  weir__put16(buf + 2, h->total_len);
  weir__put16(buf + 4, h->id);
  weir__put16(buf + 6, frag);
  buf[8] = h->ttl;
  buf[9] = h->proto;
  weir__put16(buf + 10, 0);
  weir__put32(buf + 12, h->src);
  weir__put32(buf + 16, h->dst);
  weir__put16(buf + 10, weir_csum(buf, WEIR_IPV4_HLEN));
  return WEIR_IPV4_HLEN;
}

/* RFC 5771: 224.0.0.0/4. */
int weir_ipv4_is_multicast(uint32_t a)
{
  return (a & 0xf0000000u) == 0xe0000000u;
}

/* RFC 1122 3.2.1.3 (g): 127.0.0.0/8. */
int weir_ipv4_is_loopback(uint32_t a)
{
  return (a >> 24) == 127;
}
