/* ICMP for IPv4 (RFC 792). */
#include <string.h>

#include "wire/bytes.h"
#include "wire/checksum.h"
#include "wire/icmp.h"

static int is_echo(uint8_t type)
{
  return type == WEIR_ICMP_ECHO_REQUEST || type == WEIR_ICMP_ECHO_REPLY;
}

static int is_frag_needed(uint8_t type, uint8_t code)
{
  return type == WEIR_ICMP_DEST_UNREACH && code == WEIR_ICMP_FRAG_NEEDED;
}

int weir_icmp_parse(struct weir_icmp *m, const uint8_t *buf, size_t len)
{
  if (len < WEIR_ICMP_HLEN)
    return WEIR_WIRE_TRUNCATED;
  /* RFC 792: the checksum covers the whole message, header and data. */
  if (weir_csum(buf, len) != 0)
    return WEIR_WIRE_BAD_CHECKSUM;
  m->type = buf[0];
  m->code = buf[1];
  m->id = m->seq = m->mtu = 0;
  if (is_echo(m->type)) {
    m->id = weir__get16(buf + 4);
    m->seq = weir__get16(buf + 6);
  } else if (is_frag_needed(m->type, m->code)) {
    /* RFC 1191 4: the next-hop MTU is in the low 16 bits of the second
     * word; the high 16 are unused. */
    m->mtu = weir__get16(buf + 6);
  }
  m->payload = buf + WEIR_ICMP_HLEN;
  m->payload_len = len - WEIR_ICMP_HLEN;
  return WEIR_WIRE_OK;
}

size_t weir_icmp_emit(const struct weir_icmp *m, const uint8_t *payload,
                      size_t payload_len, uint8_t *buf, size_t cap)
{
  if (cap < WEIR_ICMP_HLEN || payload_len > cap - WEIR_ICMP_HLEN)
    return 0;
  /* Move the payload first: an echo reply is often built in place over
   * the request, so `payload` may overlap the header being written. */
  if (payload_len)
    memmove(buf + WEIR_ICMP_HLEN, payload, payload_len);
  buf[0] = m->type;
  buf[1] = m->code;
  weir__put16(buf + 2, 0);
  if (is_echo(m->type)) {
    weir__put16(buf + 4, m->id);
    weir__put16(buf + 6, m->seq);
  } else if (is_frag_needed(m->type, m->code)) {
    weir__put16(buf + 4, 0);
    weir__put16(buf + 6, m->mtu);
  } else {
    weir__put32(buf + 4, 0);
  }
  weir__put16(buf + 2, weir_csum(buf, WEIR_ICMP_HLEN + payload_len));
  return WEIR_ICMP_HLEN + payload_len;
}

int weir_icmp_parse_quote(struct weir_icmp_quote *q, const uint8_t *payload,
                          size_t payload_len)
{
  size_t hlen;
  const uint8_t *l4;

  /* RFC 792 / RFC 1122 3.2.2: the quote is the IP header plus at least
   * 64 bits of the original data. */
  if (payload_len < 20 + 8)
    return WEIR_WIRE_TRUNCATED;
  if (payload[0] >> 4 != 4)
    return WEIR_WIRE_BAD_VERSION;
  hlen = (size_t)(payload[0] & 0x0f) * 4;
  if (hlen < 20 || hlen + 8 > payload_len)
    return WEIR_WIRE_BAD_HLEN;
  l4 = payload + hlen;
  q->proto = payload[9];
  q->src = weir__get32(payload + 12);
  q->dst = weir__get32(payload + 16);
  q->sport = weir__get16(l4);
  q->dport = weir__get16(l4 + 2);
  q->tcp_seq = weir__get32(l4 + 4);
  return WEIR_WIRE_OK;
}
