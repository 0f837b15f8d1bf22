/* libFuzzer target for the wire layer.
 *
 * The first byte picks where to start (Ethernet, ARP, IPv4, ICMP, ICMP
 * quote, UDP, TCP, address text); the rest is the packet, copied into an
 * exactly sized heap buffer so that ASan sees any read past its end. A
 * parse that succeeds continues into the layer it names, as the stack's
 * input path does. On every success the view must lie within the input
 * and re-emitting it must parse back to the same fields; a broken
 * invariant abort()s. Every input is also checksummed at each alignment
 * against a plain 16-bit reference. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "weir/addr.h"
#include "wire/arp.h"
#include "wire/checksum.h"
#include "wire/ethernet.h"
#include "wire/icmp.h"
#include "wire/ipv4.h"
#include "wire/tcp.h"
#include "wire/udp.h"

#define SRC 0x0a000201u
#define DST 0x0a000202u

#define REQUIRE(cond)                                                          \
  do {                                                                         \
    if (!(cond))                                                               \
      abort();                                                                 \
  } while (0)

static void within(const uint8_t *buf, size_t len, const uint8_t *p, size_t n)
{
  REQUIRE(p >= buf && p <= buf + len);
  REQUIRE(n <= (size_t)(buf + len - p));
}

static uint32_t ref_sum(const uint8_t *p, size_t len)
{
  uint32_t s = 0;
  for (size_t i = 0; i + 1 < len; i += 2) {
    s += (uint32_t)p[i] << 8 | p[i + 1];
    s = (s & 0xffff) + (s >> 16);
  }
  if (len & 1) {
    s += (uint32_t)p[len - 1] << 8;
    s = (s & 0xffff) + (s >> 16);
  }
  return s;
}

static void check_csum(const uint8_t *data, size_t size)
{
  uint8_t *b = malloc(size + 8);
  uint32_t want = ref_sum(data, size);
  REQUIRE(b);
  for (size_t off = 0; off < 8; off++) {
    memcpy(b + off, data, size);
    REQUIRE(weir_csum_add(0, b + off, size) == want);
    /* chained at an even cut */
    size_t cut = (size / 2) & ~(size_t)1;
    uint32_t s = weir_csum_add(0, b + off, cut);
    REQUIRE(weir_csum_add(s, b + off + cut, size - cut) == want);
  }
  REQUIRE(weir_csum(data, size) == (uint16_t)~want);
  free(b);
}

static void do_tcp(const uint8_t *buf, size_t len)
{
  struct weir_tcp t, t2;
  uint8_t *out, *out2;
  size_t hl, n;

  (void)weir_l4_checksum_ok(WEIR_IP_PROTO_TCP, buf, len, SRC, DST);
  if (weir_tcp_parse(&t, buf, len) != WEIR_WIRE_OK)
    return;
  REQUIRE(t.hlen >= 20 && t.hlen <= 60 && t.hlen % 4 == 0 && t.hlen <= len);
  REQUIRE(t.payload == buf + t.hlen && t.payload_len == len - t.hlen);
  REQUIRE(t.opt.nsack <= WEIR_TCP_MAX_SACK);
  REQUIRE(t.opt.wscale <= WEIR_TCP_MAX_WSCALE);
  if (len - t.hlen > 65535 - 60)
    return;

  hl = weir_tcp_header_len(&t.opt);
  REQUIRE(hl >= 20 && hl <= 60 && hl % 4 == 0);
  out = malloc(hl + t.payload_len);
  out2 = malloc(hl + t.payload_len);
  REQUIRE(out && out2);
  if (t.payload_len)
    memcpy(out + hl, t.payload, t.payload_len);
  REQUIRE(weir_tcp_emit(&t, SRC, DST, out, hl + t.payload_len) ==
          hl + t.payload_len);
  REQUIRE(weir_tcp_emit(&t, SRC, DST, out2, hl + t.payload_len - 1) == 0);
  REQUIRE(weir_l4_checksum_ok(WEIR_IP_PROTO_TCP, out, hl + t.payload_len, SRC,
                              DST));
  REQUIRE(weir_tcp_parse(&t2, out, hl + t.payload_len) == WEIR_WIRE_OK);
  REQUIRE(t2.sport == t.sport && t2.dport == t.dport);
  REQUIRE(t2.seq == t.seq && t2.ack == t.ack);
  REQUIRE(t2.flags == t.flags && t2.win == t.win && t2.urg == t.urg);
  REQUIRE(t2.hlen == hl);
  REQUIRE(t2.payload_len == t.payload_len);
  REQUIRE(t.payload_len == 0 ||
          memcmp(t2.payload, t.payload, t.payload_len) == 0);
  REQUIRE(t2.opt.has_mss == t.opt.has_mss);
  REQUIRE(!t.opt.has_mss || t2.opt.mss == t.opt.mss);
  REQUIRE(t2.opt.has_wscale == t.opt.has_wscale);
  REQUIRE(!t.opt.has_wscale || t2.opt.wscale == t.opt.wscale);
  REQUIRE(t2.opt.sack_perm == t.opt.sack_perm);
  REQUIRE(t2.opt.has_ts == t.opt.has_ts);
  REQUIRE(!t.opt.has_ts ||
          (t2.opt.ts_val == t.opt.ts_val && t2.opt.ts_ecr == t.opt.ts_ecr));
  /* SACK blocks that do not fit after the other options are dropped from
   * the end, and only then. */
  REQUIRE(t2.opt.nsack <= t.opt.nsack);
  if (t2.opt.nsack < t.opt.nsack)
    REQUIRE(hl + (t2.opt.nsack ? 8 : 12) > 60);
  for (size_t i = 0; i < t2.opt.nsack; i++)
    REQUIRE(t2.opt.sack[i].left == t.opt.sack[i].left &&
            t2.opt.sack[i].right == t.opt.sack[i].right);
  /* Emitting the re-parsed segment is a fixed point. */
  if (t.payload_len)
    memcpy(out2 + hl, t.payload, t.payload_len);
  n = weir_tcp_emit(&t2, SRC, DST, out2, hl + t.payload_len);
  REQUIRE(n == hl + t.payload_len);
  REQUIRE(memcmp(out, out2, n) == 0);
  free(out);
  free(out2);
}

static void do_udp(const uint8_t *buf, size_t len)
{
  struct weir_udp u, u2;
  uint8_t *out;
  size_t n;

  if (weir_udp_parse(&u, buf, len) != WEIR_WIRE_OK)
    return;
  (void)weir_l4_checksum_ok(WEIR_IP_PROTO_UDP, buf, u.len, SRC, DST);
  REQUIRE(u.len >= 8 && u.len <= len);
  REQUIRE(u.payload == buf + 8 && u.payload_len == (size_t)u.len - 8);
  within(buf, len, u.payload, u.payload_len);
  out = malloc(u.len);
  REQUIRE(out);
  if (u.payload_len)
    memcpy(out + 8, u.payload, u.payload_len);
  n = weir_udp_emit(&u, SRC, DST, out, u.len);
  REQUIRE(n == u.len);
  REQUIRE(weir_l4_checksum_ok(WEIR_IP_PROTO_UDP, out, n, SRC, DST));
  REQUIRE(out[6] != 0 || out[7] != 0);
  REQUIRE(weir_udp_parse(&u2, out, n) == WEIR_WIRE_OK);
  REQUIRE(u2.sport == u.sport && u2.dport == u.dport && u2.len == u.len);
  REQUIRE(u2.payload_len == u.payload_len);
  REQUIRE(u.payload_len == 0 ||
          memcmp(u2.payload, u.payload, u.payload_len) == 0);
  free(out);
}

static void do_quote(const uint8_t *buf, size_t len)
{
  struct weir_icmp_quote q;
  size_t hlen;

  if (weir_icmp_parse_quote(&q, buf, len) != WEIR_WIRE_OK)
    return;
  hlen = (size_t)(buf[0] & 0x0f) * 4;
  REQUIRE(buf[0] >> 4 == 4 && hlen >= 20 && hlen + 8 <= len);
  REQUIRE(q.proto == buf[9]);
  REQUIRE(q.sport == (uint16_t)(buf[hlen] << 8 | buf[hlen + 1]));
}

static void do_icmp(const uint8_t *buf, size_t len)
{
  struct weir_icmp m, m2;
  uint8_t *out;

  if (weir_icmp_parse(&m, buf, len) != WEIR_WIRE_OK)
    return;
  REQUIRE(m.payload == buf + 8 && m.payload_len == len - 8);
  out = malloc(len);
  REQUIRE(out);
  REQUIRE(weir_icmp_emit(&m, m.payload, m.payload_len, out, len - 1) == 0);
  REQUIRE(weir_icmp_emit(&m, m.payload, m.payload_len, out, len) == len);
  REQUIRE(weir_icmp_parse(&m2, out, len) == WEIR_WIRE_OK);
  REQUIRE(m2.type == m.type && m2.code == m.code && m2.id == m.id &&
          m2.seq == m.seq && m2.mtu == m.mtu);
  REQUIRE(memcmp(out + 8, buf + 8, len - 8) == 0);
  /* In place, as an echo reply is built. */
  memcpy(out, buf, len);
  REQUIRE(weir_icmp_emit(&m, out + 8, m.payload_len, out, len) == len);
  REQUIRE(weir_icmp_parse(&m2, out, len) == WEIR_WIRE_OK);
  REQUIRE(memcmp(out + 8, buf + 8, len - 8) == 0);
  free(out);
  if (m.type == WEIR_ICMP_DEST_UNREACH || m.type == WEIR_ICMP_TIME_EXCEEDED)
    do_quote(m.payload, m.payload_len);
}

static void do_ipv4(const uint8_t *buf, size_t len)
{
  struct weir_ipv4 h, h2;
  uint8_t *out;
  size_t n;

  if (weir_ipv4_parse(&h, buf, len) != WEIR_WIRE_OK)
    return;
  REQUIRE(h.hlen >= 20 && h.hlen % 4 == 0 && h.total_len <= len);
  REQUIRE(h.total_len == h.hlen + h.payload_len);
  REQUIRE(h.options == buf + 20 && h.options_len == (size_t)h.hlen - 20);
  REQUIRE(h.payload == buf + h.hlen);
  within(buf, len, h.payload, h.payload_len);
  REQUIRE(h.frag_off % 8 == 0);
  REQUIRE((size_t)h.hlen + h.frag_off + h.payload_len <= 65535);

  /* Re-emit without options and parse back. */
  n = 20 + h.payload_len;
  out = malloc(n);
  REQUIRE(out);
  h2 = h;
  h2.total_len = (uint16_t)n;
  if (h.payload_len)
    memcpy(out + 20, h.payload, h.payload_len);
  REQUIRE(weir_ipv4_emit(&h2, out, 19) == 0);
  REQUIRE(weir_ipv4_emit(&h2, out, n) == 20);
  REQUIRE(weir_ipv4_parse(&h2, out, n) == WEIR_WIRE_OK);
  REQUIRE(h2.hlen == 20 && h2.total_len == n && h2.tos == h.tos);
  REQUIRE(h2.id == h.id && h2.df == h.df && h2.mf == h.mf);
  REQUIRE(h2.frag_off == h.frag_off && h2.ttl == h.ttl);
  REQUIRE(h2.proto == h.proto && h2.src == h.src && h2.dst == h.dst);
  REQUIRE(h2.payload_len == h.payload_len);
  /* Without options and the reserved flag, only the checksum may differ
   * (0 and ffff both verify when the rest sums to ffff). */
  if (h.hlen == 20 && !(buf[6] & 0x80))
    REQUIRE(memcmp(out, buf, 10) == 0 && memcmp(out + 12, buf + 12, 8) == 0);
  free(out);

  if (h.frag_off != 0 || h.mf)
    return; /* a fragment's payload is not a whole L4 message */
  switch (h.proto) {
  case WEIR_IP_PROTO_ICMP:
    do_icmp(h.payload, h.payload_len);
    break;
  case WEIR_IP_PROTO_UDP:
    do_udp(h.payload, h.payload_len);
    break;
  case WEIR_IP_PROTO_TCP:
    do_tcp(h.payload, h.payload_len);
    break;
  }
}

static void do_arp(const uint8_t *buf, size_t len)
{
  struct weir_arp a;
  uint8_t out[WEIR_ARP_LEN];

  if (weir_arp_parse(&a, buf, len) != WEIR_WIRE_OK)
    return;
  REQUIRE(len >= WEIR_ARP_LEN);
  REQUIRE(a.op == WEIR_ARP_REQUEST || a.op == WEIR_ARP_REPLY);
  REQUIRE(weir_arp_emit(&a, out, sizeof(out) - 1) == 0);
  REQUIRE(weir_arp_emit(&a, out, sizeof(out)) == WEIR_ARP_LEN);
  REQUIRE(memcmp(out, buf, WEIR_ARP_LEN) == 0);
}

static void do_eth(const uint8_t *buf, size_t len)
{
  struct weir_eth e;
  uint8_t out[WEIR_ETH_HLEN];

  if (weir_eth_parse(&e, buf, len) != WEIR_WIRE_OK)
    return;
  REQUIRE(e.type >= 0x0600);
  REQUIRE(e.payload == buf + 14 && e.payload_len == len - 14);
  REQUIRE(weir_eth_emit(&e, out, sizeof(out)) == WEIR_ETH_HLEN);
  REQUIRE(memcmp(out, buf, WEIR_ETH_HLEN) == 0);
  REQUIRE(weir_eth_is_broadcast(buf) <= weir_eth_is_multicast(buf));
  if (e.type == WEIR_ETHERTYPE_ARP)
    do_arp(e.payload, e.payload_len);
  else if (e.type == WEIR_ETHERTYPE_IPV4)
    do_ipv4(e.payload, e.payload_len);
}

/* Address text: whatever parses formats back to something that parses to
 * the same value. */
static void do_addr(const uint8_t *data, size_t size)
{
  char *s = malloc(size + 1);
  char buf[WEIR_MAC_STRLEN + WEIR_IPV4_STRLEN];
  uint32_t a, a2;
  uint8_t p, mac[6], mac2[6];

  REQUIRE(s);
  memcpy(s, data, size);
  s[size] = '\0';
  if (weir_ipv4_parse_text(s, &a) == 0) {
    weir_ipv4_format(a, buf);
    REQUIRE(strlen(buf) < WEIR_IPV4_STRLEN);
    REQUIRE(strcmp(buf, s) == 0); /* the accepted form is canonical */
    REQUIRE(weir_ipv4_parse_text(buf, &a2) == 0 && a2 == a);
  }
  if (weir_ipv4_parse_cidr(s, &a, &p) == 0)
    REQUIRE(p <= 32);
  if (weir_mac_parse(s, mac) == 0) {
    weir_mac_format(mac, buf);
    REQUIRE(strlen(buf) == WEIR_MAC_STRLEN - 1);
    REQUIRE(weir_mac_parse(buf, mac2) == 0 && memcmp(mac, mac2, 6) == 0);
  }
  free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  uint8_t *buf;
  size_t len;

  if (size < 1)
    return 0;
  len = size - 1;
  /* Exactly sized, so that a read one byte too far is caught. */
  buf = malloc(len ? len : 1);
  if (!buf)
    return 0;
  memcpy(buf, data + 1, len);
  switch (data[0] & 7) {
  case 0:
    do_eth(buf, len);
    break;
  case 1:
    do_arp(buf, len);
    break;
  case 2:
    do_ipv4(buf, len);
    break;
  case 3:
    do_icmp(buf, len);
    break;
  case 4:
    do_quote(buf, len);
    break;
  case 5:
    do_udp(buf, len);
    break;
  case 6:
    do_tcp(buf, len);
    break;
  case 7:
    do_addr(buf, len);
    break;
  }
  free(buf);
  check_csum(data, size);
  return 0;
}
