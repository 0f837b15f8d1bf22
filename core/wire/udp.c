/* UDP (RFC 768). */
#include "wire/udp.h"
#include "wire/bytes.h"
#include "wire/checksum.h"
#include "wire/ipv4.h"

int weir_udp_parse(struct weir_udp *u, const uint8_t *buf, size_t len)
{
  if (len < WEIR_UDP_HLEN)
    return WEIR_WIRE_TRUNCATED;
  u->sport = weir__get16(buf);
  u->dport = weir__get16(buf + 2);
  u->len = weir__get16(buf + 4);
  u->csum = weir__get16(buf + 6);
  /* The length field, not the buffer, delimits the datagram: a buffer
   * may carry link padding after it. */
  if (u->len < WEIR_UDP_HLEN || u->len > len)
    return WEIR_WIRE_BAD_LENGTH;
  u->payload = buf + WEIR_UDP_HLEN;
  u->payload_len = (size_t)u->len - WEIR_UDP_HLEN;
  return WEIR_WIRE_OK;
}

size_t weir_udp_emit(const struct weir_udp *u, uint32_t src, uint32_t dst,
                     uint8_t *buf, size_t cap)
{
  size_t total;
  uint16_t csum;

  if (u->payload_len > WEIR_IPV4_MAX_LEN - WEIR_UDP_HLEN)
    return 0;
  total = WEIR_UDP_HLEN + u->payload_len;
  if (total > cap)
    return 0;
  weir__put16(buf, u->sport);
  weir__put16(buf + 2, u->dport);
  weir__put16(buf + 4, (uint16_t)total);
  weir__put16(buf + 6, 0);
  csum = weir_csum_finish(weir_csum_add(
      weir_csum_pseudo(src, dst, WEIR_IP_PROTO_UDP, (uint16_t)total), buf,
      total));
  /* RFC 768: a computed 0 is sent as all ones; 0 means "no checksum". */
  if (csum == 0)
    csum = 0xffff;
  weir__put16(buf + 6, csum);
  return total;
}
