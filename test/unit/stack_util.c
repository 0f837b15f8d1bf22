#include "stack_util.h"

#include <string.h>

#include "wire/arp.h"
#include "wire/ethernet.h"
#include "wire/icmp.h"
#include "wire/ipv4.h"
#include "wire/udp.h"

const uint8_t US_MAC[6] = {0x02, 0, 0, 0, 0, 0x02};
const uint8_t PEER_MAC[6] = {0x02, 0, 0, 0, 0, 0x09};
const uint8_t GW_MAC[6] = {0x02, 0, 0, 0, 0, 0x01};
const uint8_t BCAST_MAC[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};

struct weir_stack *mk_stack(enum weir_link_type link,
                            void (*tweak)(struct weir_config *))
{
  struct weir_config c;
  struct weir_stack *s;
  weir_config_default(&c);
  c.link = link;
  memcpy(c.mac, US_MAC, 6);
  c.ip = US_IP;
  c.prefix_len = 24;
  c.gateway = GW_IP;
  for (int i = 0; i < 16; i++)
    c.secret[i] = (uint8_t)(i * 17 + 3);
  if (tweak)
    tweak(&c);
  if (weir_stack_new(&c, &s) != 0)
    return NULL;
  return s;
}

size_t mk_ip(uint8_t *buf, uint32_t src, uint32_t dst, uint8_t proto,
             uint16_t id, int mf, uint16_t frag_off, const void *payload,
             size_t plen)
{
  struct weir_ipv4 h;
  memset(&h, 0, sizeof(h));
  h.total_len = (uint16_t)(WEIR_IPV4_HLEN + plen);
  h.id = id;
  h.mf = (uint8_t)mf;
  h.frag_off = frag_off;
  h.ttl = 64;
  h.proto = proto;
  h.src = src;
  h.dst = dst;
  memmove(buf + WEIR_IPV4_HLEN, payload, plen);
  weir_ipv4_emit(&h, buf, WEIR_IPV4_HLEN);
  return WEIR_IPV4_HLEN + plen;
}

size_t mk_udp(uint8_t *buf, uint32_t src, uint32_t dst, uint16_t sport,
              uint16_t dport, const void *data, size_t len)
{
  struct weir_udp u;
  memset(&u, 0, sizeof(u));
  u.sport = sport;
  u.dport = dport;
  u.payload_len = len;
  memmove(buf + WEIR_UDP_HLEN, data, len);
  return weir_udp_emit(&u, src, dst, buf, WEIR_UDP_HLEN + len);
}

size_t mk_echo(uint8_t *buf, uint16_t id, uint16_t seq, const void *data,
               size_t len)
{
  struct weir_icmp m;
  memset(&m, 0, sizeof(m));
  m.type = WEIR_ICMP_ECHO_REQUEST;
  m.id = id;
  m.seq = seq;
  return weir_icmp_emit(&m, data, len, buf, WEIR_ICMP_HLEN + len);
}

size_t mk_eth(uint8_t *buf, const uint8_t *dst, const uint8_t *src,
              uint16_t type, const void *payload, size_t len)
{
  struct weir_eth e;
  memcpy(e.dst, dst, 6);
  memcpy(e.src, src, 6);
  e.type = type;
  memmove(buf + WEIR_ETH_HLEN, payload, len);
  weir_eth_emit(&e, buf, WEIR_ETH_HLEN);
  return WEIR_ETH_HLEN + len;
}

size_t mk_arp_frame(uint8_t *buf, uint16_t op, const uint8_t *sha, uint32_t spa,
                    const uint8_t *tha, uint32_t tpa)
{
  struct weir_arp a;
  uint8_t p[WEIR_ARP_LEN];
  a.op = op;
  memcpy(a.sha, sha, 6);
  a.spa = spa;
  memcpy(a.tha, tha, 6);
  a.tpa = tpa;
  weir_arp_emit(&a, p, sizeof(p));
  return mk_eth(buf, op == WEIR_ARP_REQUEST ? BCAST_MAC : tha, sha,
                WEIR_ETHERTYPE_ARP, p, sizeof(p));
}

size_t mk_udp_in(uint8_t *buf, enum weir_link_type link, uint32_t src,
                 uint16_t sport, uint16_t dport, const void *data, size_t len)
{
  uint8_t l4[FRAME_MAX], ip[FRAME_MAX];
  size_t n = mk_udp(l4, src, US_IP, sport, dport, data, len);
  n = mk_ip(ip, src, US_IP, WEIR_IP_PROTO_UDP, 0x1234, 0, 0, l4, n);
  if (link == WEIR_LINK_IP) {
    memcpy(buf, ip, n);
    return n;
  }
  return mk_eth(buf, US_MAC, PEER_MAC, WEIR_ETHERTYPE_IPV4, ip, n);
}

int drain(struct weir_stack *s, uint64_t now)
{
  uint8_t buf[FRAME_MAX];
  int n = 0;
  while (weir_output(s, buf, sizeof(buf), now) > 0)
    n++;
  return n;
}
