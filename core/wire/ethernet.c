/* Ethernet II frames. */
#include <string.h>

#include "wire/bytes.h"
#include "wire/ethernet.h"

int weir_eth_parse(struct weir_eth *e, const uint8_t *buf, size_t len)
{
  if (len < WEIR_ETH_HLEN)
    return WEIR_WIRE_TRUNCATED;
  memcpy(e->dst, buf, WEIR_ETH_ALEN);
  memcpy(e->src, buf + 6, WEIR_ETH_ALEN);
  e->type = weir__get16(buf + 12);
  /* IEEE 802.3: values below 0x0600 are a length (802.3 / LLC framing),
   * not an EtherType; nothing weir speaks is framed that way. */
  if (e->type < 0x0600)
    return WEIR_WIRE_UNSUPPORTED;
  e->payload = buf + WEIR_ETH_HLEN;
  e->payload_len = len - WEIR_ETH_HLEN;
  return WEIR_WIRE_OK;
}

size_t weir_eth_emit(const struct weir_eth *e, uint8_t *buf, size_t cap)
{
  if (cap < WEIR_ETH_HLEN)
    return 0;
  memcpy(buf, e->dst, WEIR_ETH_ALEN);
  memcpy(buf + 6, e->src, WEIR_ETH_ALEN);
  weir__put16(buf + 12, e->type);
  return WEIR_ETH_HLEN;
}

int weir_eth_is_broadcast(const uint8_t *a)
{
  return (a[0] & a[1] & a[2] & a[3] & a[4] & a[5]) == 0xff;
}

/* IEEE 802: the individual/group bit is the low bit of the first byte. */
int weir_eth_is_multicast(const uint8_t *a)
{
  return a[0] & 1;
}

int weir_eth_is_zero(const uint8_t *a)
{
  return (a[0] | a[1] | a[2] | a[3] | a[4] | a[5]) == 0;
}
