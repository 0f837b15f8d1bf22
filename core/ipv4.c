/* IPv4 (RFC 791, RFC 1122 3.2.1): validate what arrives, route and send
 * what we originate. weir is a host, not a router: it forwards nothing. */
#include <string.h>

#include "internal.h"
#include "tcp/tcb.h"
#include "wire/ethernet.h"
#include "wire/icmp.h"

int weir__ip_is_bcast(const struct weir_stack *s, uint32_t a)
{
  return a == 0xffffffffu || a == s->bcast;
}

/* RFC 1122 3.2.1.3: a source that cannot be one host is dropped. */
static int bad_source(const struct weir_stack *s, uint32_t a)
{
  return a == 0 || weir__ip_is_bcast(s, a) || weir_ipv4_is_multicast(a) ||
         weir_ipv4_is_loopback(a) || a == s->cfg.ip;
}

void weir__ip_input(struct weir_stack *s, const uint8_t *pkt, size_t len,
                    int link_bcast, unsigned flags, uint64_t now)
{
  struct weir__ip_in in;
  int err = weir_ipv4_parse(&in.h, pkt, len);

  if (err) {
    if (err == WEIR_WIRE_BAD_CHECKSUM)
      WEIR__COUNT(s, DROP_IP_CHECKSUM);
    else
      WEIR__COUNT(s, DROP_IP_MALFORMED);
    return;
  }
  if (bad_source(s, in.h.src)) {
    WEIR__COUNT(s, DROP_IP_BAD_SRC);
    return;
  }
  in.ip_bcast = (uint8_t)weir__ip_is_bcast(s, in.h.dst);
  if (in.h.dst != s->cfg.ip && !in.ip_bcast) {
    WEIR__COUNT(s, DROP_IP_NOT_FOR_US);
    return;
  }
  in.link_bcast = (uint8_t)link_bcast;
  in.hdr = pkt;
  in.payload = in.h.payload;
  in.len = in.h.payload_len;
  WEIR__COUNT(s, IP_IN);
  in.l4_csum_ok = 0;
  if (in.h.mf || in.h.frag_off) {
    weir__reasm_input(s, &in, now);
    return;
  }
  /* What the link says of a checksum covers this packet alone: never a
   * datagram pieced together from fragments (above). */
  in.l4_csum_ok = (flags & (WEIR_RX_CSUM_VALID | WEIR_RX_CSUM_PARTIAL)) != 0;
  weir__ip_deliver(s, &in, now);
}

void weir__ip_deliver(struct weir_stack *s, const struct weir__ip_in *in,
                      uint64_t now)
{
  switch (in->h.proto) {
  case WEIR_IP_PROTO_ICMP:
    weir__icmp_input(s, in, now);
    break;
  case WEIR_IP_PROTO_UDP:
    weir__udp_input(s, in, now);
    break;
  case WEIR_IP_PROTO_TCP:
    weir__tcp_input(s, in, now);
    break;
  default:
    WEIR__COUNT(s, DROP_IP_PROTO);
    weir__icmp_error(s, WEIR_ICMP_DEST_UNREACH, WEIR_ICMP_PROTO_UNREACH, in,
                     now);
    break;
  }
}

int weir__ip_route(const struct weir_stack *s, uint32_t dst, uint32_t *nexthop)
{
  if (s->cfg.link == WEIR_LINK_IP || weir__ip_is_bcast(s, dst) ||
      (dst & s->netmask) == (s->cfg.ip & s->netmask)) {
    *nexthop = dst;
    return 0;
  }
  if (s->cfg.gateway == 0)
    return WEIR_ENETUNREACH;
  *nexthop = s->cfg.gateway;
  return 0;
}

size_t weir__ip_header(struct weir_stack *s, uint8_t *ip, uint8_t proto,
                       uint32_t dst, size_t plen)
{
  struct weir_ipv4 h;
  memset(&h, 0, sizeof(h));
  h.total_len = (uint16_t)(WEIR_IPV4_HLEN + plen);
  h.id = s->ip_id++;
  /* We never fragment what we send: the sender sizes to the MTU. */
  h.df = 1;
  h.ttl = s->cfg.ttl;
  h.proto = proto;
  h.src = s->cfg.ip;
  h.dst = dst;
  weir_ipv4_emit(&h, ip, WEIR_IPV4_HLEN);
  WEIR__COUNT(s, IP_OUT);
  return WEIR_IPV4_HLEN;
}

void weir__ip_send(struct weir_stack *s, uint32_t k, uint8_t proto,
                   uint32_t dst, size_t plen, uint64_t now)
{
  uint32_t nexthop;

  if (weir__ip_route(s, dst, &nexthop) != 0) {
    WEIR__COUNT(s, DROP_NO_ROUTE);
    weir__pkt_put(s, k);
    return;
  }
  weir__ip_header(s, WEIR__PKT_IP(s, k), proto, dst, plen);
  s->pkts[k].len = s->lhlen + WEIR_IPV4_HLEN + (uint32_t)plen;
  weir__arp_resolve_send(s, k, nexthop, now);
}

int weir__link_header(struct weir_stack *s, uint32_t dst, uint8_t *buf,
                      uint64_t now)
{
  struct weir_eth e;
  uint32_t nexthop;

  (void)now;
  if (weir__ip_route(s, dst, &nexthop) != 0)
    return WEIR_ENETUNREACH;
  if (s->cfg.link == WEIR_LINK_IP)
    return 0;
  if (!weir__arp_lookup(s, nexthop, e.dst))
    return -1;
  memcpy(e.src, s->cfg.mac, 6);
  e.type = WEIR_ETHERTYPE_IPV4;
  weir_eth_emit(&e, buf, WEIR_ETH_HLEN);
  return WEIR_ETH_HLEN;
}
