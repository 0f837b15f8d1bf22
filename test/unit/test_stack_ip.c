/* IPv4 input validation and ICMP: echo, errors sent, errors received. */
#include <string.h>

#include "harness/test.h"
#include "stack_util.h"
#include "wire/checksum.h"
#include "wire/ethernet.h"
#include "wire/icmp.h"
#include "wire/ipv4.h"
#include "wire/udp.h"

#define T0 5000000u

static uint64_t stat(struct weir_stack *s, enum weir_stat i)
{
  return weir_stats(s)->c[i];
}

/* The next output as an IPv4 packet (after its Ethernet header, if any). */
static int out_ip(struct weir_stack *s, uint64_t now, uint8_t *buf,
                  struct weir_ipv4 *ip)
{
  size_t n = weir_output(s, buf, FRAME_MAX, now);
  struct weir_eth e;
  if (n == 0)
    return -1;
  if (weir_stack_config(s)->link == WEIR_LINK_IP)
    return weir_ipv4_parse(ip, buf, n);
  if (weir_eth_parse(&e, buf, n) != 0 || e.type != WEIR_ETHERTYPE_IPV4)
    return -1;
  return weir_ipv4_parse(ip, e.payload, e.payload_len);
}

/* A frame from PEER carrying `ip` (Ethernet), or `ip` itself. */
static size_t wrap(enum weir_link_type link, uint8_t *f, const uint8_t *ip,
                   size_t n)
{
  if (link == WEIR_LINK_IP) {
    memmove(f, ip, n);
    return n;
  }
  return mk_eth(f, US_MAC, PEER_MAC, WEIR_ETHERTYPE_IPV4, ip, n);
}

/* Teaches the stack PEER's MAC so replies go straight out. */
static void know_peer(struct weir_stack *s)
{
  uint8_t f[FRAME_MAX];
  size_t n =
      mk_arp_frame(f, 1, PEER_MAC, PEER_IP, (const uint8_t[6]){0}, US_IP);
  weir_input(s, f, n, 0);
  drain(s, 0);
}

static size_t echo_req(enum weir_link_type link, uint8_t *f, uint32_t dst,
                       const char *data)
{
  uint8_t icmp[FRAME_MAX], ip[FRAME_MAX];
  size_t n = mk_echo(icmp, 0x4242, 7, data, strlen(data));
  n = mk_ip(ip, PEER_IP, dst, WEIR_IP_PROTO_ICMP, 99, 0, 0, icmp, n);
  return wrap(link, f, ip, n);
}

static void check_echo_reply(enum weir_link_type link)
{
  struct weir_stack *s = mk_stack(link, NULL);
  uint8_t f[FRAME_MAX], out[FRAME_MAX];
  struct weir_ipv4 ip;
  struct weir_icmp m;
  size_t n;

  know_peer(s);
  n = echo_req(link, f, US_IP, "abcdefgh-ping");
  weir_input(s, f, n, T0);
  CHECK_EQ(out_ip(s, T0, out, &ip), 0);
  CHECK_UEQ(ip.src, US_IP);
  CHECK_UEQ(ip.dst, PEER_IP);
  CHECK_EQ(ip.proto, WEIR_IP_PROTO_ICMP);
  CHECK_EQ(ip.ttl, 64);
  CHECK_EQ(weir_icmp_parse(&m, ip.payload, ip.payload_len), 0);
  CHECK_EQ(m.type, WEIR_ICMP_ECHO_REPLY);
  CHECK_EQ(m.code, 0);
  CHECK_EQ(m.id, 0x4242);
  CHECK_EQ(m.seq, 7);
  CHECK_BYTES(m.payload, m.payload_len, "abcdefgh-ping", 13);
  CHECK_EQ(drain(s, T0), 0);
  CHECK_EQ(stat(s, WEIR_STAT_ICMP_ECHO_IN), 1);
  weir_stack_free(s);
}

TEST(test_icmp_echo_request_gets_reply_on_ethernet)
{
  check_echo_reply(WEIR_LINK_ETHERNET);
}

TEST(test_icmp_echo_request_gets_reply_on_bare_ip)
{
  check_echo_reply(WEIR_LINK_IP);
}

TEST(test_icmp_echo_to_broadcast_is_not_answered)
{
  struct weir_stack *s = mk_stack(WEIR_LINK_IP, NULL);
  uint8_t f[FRAME_MAX];
  size_t n = echo_req(WEIR_LINK_IP, f, 0x0a4d00ffu, "smurf");
  weir_input(s, f, n, T0);
  n = echo_req(WEIR_LINK_IP, f, 0xffffffffu, "smurf");
  weir_input(s, f, n, T0);
  CHECK_EQ(drain(s, T0), 0);
  CHECK_EQ(stat(s, WEIR_STAT_ICMP_ECHO_IN), 2);
  weir_stack_free(s);
}

TEST(test_icmp_echo_with_bad_checksum_is_dropped)
{
  struct weir_stack *s = mk_stack(WEIR_LINK_IP, NULL);
  uint8_t f[FRAME_MAX];
  size_t n = echo_req(WEIR_LINK_IP, f, US_IP, "data");
  f[WEIR_IPV4_HLEN + 9] ^= 1; /* a payload byte: ICMP checksum fails */
  weir_input(s, f, n, T0);
  CHECK_EQ(drain(s, T0), 0);
  CHECK_EQ(stat(s, WEIR_STAT_DROP_ICMP_MALFORMED), 1);
  weir_stack_free(s);
}

TEST(test_ip_bad_header_checksum_is_dropped)
{
  struct weir_stack *s = mk_stack(WEIR_LINK_IP, NULL);
  uint8_t f[FRAME_MAX];
  size_t n = echo_req(WEIR_LINK_IP, f, US_IP, "data");
  f[8] ^= 0x10; /* TTL changed, checksum not */
  weir_input(s, f, n, T0);
  CHECK_EQ(drain(s, T0), 0);
  CHECK_EQ(stat(s, WEIR_STAT_DROP_IP_CHECKSUM), 1);
  weir_stack_free(s);
}

TEST(test_ip_malformed_headers_are_dropped)
{
  struct weir_stack *s = mk_stack(WEIR_LINK_IP, NULL);
  uint8_t f[FRAME_MAX];
  size_t n = echo_req(WEIR_LINK_IP, f, US_IP, "data");
  weir_input(s, f, 19, T0);    /* truncated header */
  weir_input(s, f, n - 1, T0); /* total length beyond the packet */
  f[0] = 0x55;                 /* version 5 */
  weir_input(s, f, n, T0);
  f[0] = 0x44; /* IHL 4 */
  weir_input(s, f, n, T0);
  CHECK_EQ(drain(s, T0), 0);
  CHECK_EQ(stat(s, WEIR_STAT_DROP_IP_MALFORMED), 4);
  CHECK_EQ(stat(s, WEIR_STAT_IP_IN), 0);
  weir_stack_free(s);
}

TEST(test_ipv6_on_a_tun_link_is_counted_as_not_ours)
{
  struct weir_stack *s = mk_stack(WEIR_LINK_IP, NULL);
  uint8_t f[48] = {0x60};
  weir_input(s, f, sizeof(f), T0);
  CHECK_EQ(stat(s, WEIR_STAT_DROP_ETHERTYPE), 1);
  CHECK_EQ(stat(s, WEIR_STAT_DROP_IP_MALFORMED), 0);
  weir_stack_free(s);
}

TEST(test_ip_trailing_link_padding_is_ignored)
{
  struct weir_stack *s = mk_stack(WEIR_LINK_ETHERNET, NULL);
  uint8_t f[FRAME_MAX], out[FRAME_MAX];
  struct weir_ipv4 ip;
  struct weir_icmp m;
  size_t n;
  know_peer(s);
  n = echo_req(WEIR_LINK_ETHERNET, f, US_IP, "");
  /* 14 + 20 + 8 = 42 bytes: a real NIC pads to 60 with junk. */
  memset(f + n, 0xee, 60 - n);
  weir_input(s, f, 60, T0);
  CHECK_EQ(out_ip(s, T0, out, &ip), 0);
  CHECK_EQ(ip.total_len, 28);
  CHECK_EQ(weir_icmp_parse(&m, ip.payload, ip.payload_len), 0);
  CHECK_EQ(m.payload_len, 0);
  weir_stack_free(s);
}

TEST(test_ip_not_for_us_is_dropped)
{
  struct weir_stack *s = mk_stack(WEIR_LINK_IP, NULL);
  uint8_t f[FRAME_MAX];
  size_t n = echo_req(WEIR_LINK_IP, f, 0x0a4d0063u, "data");
  weir_input(s, f, n, T0);
  CHECK_EQ(drain(s, T0), 0);
  CHECK_EQ(stat(s, WEIR_STAT_DROP_IP_NOT_FOR_US), 1);
  weir_stack_free(s);
}

TEST(test_ip_source_broadcast_multicast_loopback_or_ours_is_dropped)
{
  const uint32_t bad[] = {0,           0xffffffffu, 0x0a4d00ffu,
                          0xe0000001u, 0x7f000001u, US_IP};
  struct weir_stack *s = mk_stack(WEIR_LINK_IP, NULL);
  uint8_t icmp[64], f[FRAME_MAX];
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    size_t n = mk_echo(icmp, 1, 1, "x", 1);
    n = mk_ip(f, bad[i], US_IP, WEIR_IP_PROTO_ICMP, 1, 0, 0, icmp, n);
    weir_input(s, f, n, T0);
  }
  CHECK_EQ(drain(s, T0), 0);
  CHECK_EQ(stat(s, WEIR_STAT_DROP_IP_BAD_SRC), 6);
  weir_stack_free(s);
}

TEST(test_ip_unknown_protocol_gets_protocol_unreachable)
{
  struct weir_stack *s = mk_stack(WEIR_LINK_IP, NULL);
  uint8_t f[FRAME_MAX], out[FRAME_MAX];
  struct weir_ipv4 ip;
  struct weir_icmp m;
  struct weir_icmp_quote q;
  size_t n = mk_ip(f, PEER_IP, US_IP, 47 /* GRE */, 5, 0, 0, "greeting", 8);
  weir_input(s, f, n, T0);
  CHECK_EQ(out_ip(s, T0, out, &ip), 0);
  CHECK_EQ(weir_icmp_parse(&m, ip.payload, ip.payload_len), 0);
  CHECK_EQ(m.type, WEIR_ICMP_DEST_UNREACH);
  CHECK_EQ(m.code, WEIR_ICMP_PROTO_UNREACH);
  /* The quote is the whole offending datagram (it is short). */
  CHECK_BYTES(m.payload, m.payload_len, f, n);
  CHECK_EQ(weir_icmp_parse_quote(&q, m.payload, m.payload_len), 0);
  CHECK_EQ(q.proto, 47);
  CHECK_EQ(stat(s, WEIR_STAT_DROP_IP_PROTO), 1);
  weir_stack_free(s);
}

TEST(test_icmp_error_quote_is_limited_to_576_bytes)
{
  struct weir_stack *s = mk_stack(WEIR_LINK_IP, NULL);
  uint8_t data[1200], l4[FRAME_MAX], f[FRAME_MAX], out[FRAME_MAX];
  struct weir_ipv4 ip;
  size_t n;
  memset(data, 'q', sizeof(data));
  n = mk_udp(l4, PEER_IP, US_IP, 1000, 9999, data, sizeof(data));
  n = mk_ip(f, PEER_IP, US_IP, WEIR_IP_PROTO_UDP, 1, 0, 0, l4, n);
  weir_input(s, f, n, T0);
  CHECK_EQ(out_ip(s, T0, out, &ip), 0);
  CHECK_EQ(ip.total_len, 576);
  weir_stack_free(s);
}

TEST(test_icmp_errors_are_rate_limited_by_token_bucket)
{
  struct weir_stack *s = mk_stack(WEIR_LINK_IP, NULL);
  uint8_t f[FRAME_MAX];
  uint32_t burst = weir_stack_config(s)->icmp_burst;
  size_t n = mk_udp_in(f, WEIR_LINK_IP, PEER_IP, 1000, 9999, "x", 1);
  for (uint32_t i = 0; i < burst + 10; i++)
    weir_input(s, f, n, T0);
  CHECK_EQ(drain(s, T0), (int)burst);
  CHECK_EQ(stat(s, WEIR_STAT_DROP_ICMP_RATELIMIT), 10);
  /* 1000 per second: 5 ms later, 5 more tokens. */
  for (int i = 0; i < 10; i++)
    weir_input(s, f, n, T0 + 5000);
  CHECK_EQ(drain(s, T0 + 5000), 5);
  weir_stack_free(s);
}

TEST(test_icmp_error_is_never_sent_about_an_icmp_error)
{
  struct weir_stack *s = mk_stack(WEIR_LINK_IP, NULL);
  uint8_t inner[FRAME_MAX], icmp[FRAME_MAX], f[FRAME_MAX];
  struct weir_icmp m;
  size_t n;
  /* An ICMP port unreachable... */
  n = mk_ip(inner, US_IP, PEER_IP, WEIR_IP_PROTO_UDP, 1, 0, 0,
            "\x00\x07\x00\x07\x00\x08\x00\x00", 8);
  memset(&m, 0, sizeof(m));
  m.type = WEIR_ICMP_DEST_UNREACH;
  m.code = WEIR_ICMP_PORT_UNREACH;
  n = weir_icmp_emit(&m, inner, n, icmp, sizeof(icmp));
  /* ...inside a datagram of an unknown protocol would earn a protocol
   * unreachable; inside ICMP itself it earns nothing. */
  n = mk_ip(f, PEER_IP, US_IP, WEIR_IP_PROTO_ICMP, 2, 0, 0, icmp, n);
  weir_input(s, f, n, T0);
  CHECK_EQ(drain(s, T0), 0);
  CHECK_EQ(stat(s, WEIR_STAT_ICMP_ERRORS_IN), 1);
  weir_stack_free(s);
}

TEST(test_icmp_port_unreachable_received_becomes_socket_error)
{
  struct weir_stack *s = mk_stack(WEIR_LINK_IP, NULL);
  uint8_t out[FRAME_MAX], icmp[FRAME_MAX], f[FRAME_MAX];
  struct weir_icmp m;
  struct weir_event ev;
  uint32_t addr;
  uint16_t port;
  int sock = weir_udp_open(s);
  size_t n;

  CHECK_EQ(weir_udp_bind(s, sock, 5555), 0);
  CHECK_EQ(weir_udp_sendto(s, sock, "ping", 4, PEER_IP, 7777, T0), 4);
  n = weir_output(s, out, sizeof(out), T0);
  CHECK(n > 0);
  memset(&m, 0, sizeof(m));
  m.type = WEIR_ICMP_DEST_UNREACH;
  m.code = WEIR_ICMP_PORT_UNREACH;
  n = weir_icmp_emit(&m, out, n, icmp, sizeof(icmp));
  n = mk_ip(f, PEER_IP, US_IP, WEIR_IP_PROTO_ICMP, 3, 0, 0, icmp, n);
  weir_input(s, f, n, T0 + 100);
  CHECK_EQ(weir_next_event(s, &ev), 1);
  CHECK_EQ(ev.sock, sock);
  CHECK_EQ(ev.events, WEIR_EV_ERROR);
  CHECK_EQ(weir_sock_error(s, sock, &addr, &port), WEIR_ECONNREFUSED);
  CHECK_UEQ(addr, PEER_IP);
  CHECK_EQ(port, 7777);
  weir_stack_free(s);
}

TEST(test_icmp_error_with_truncated_quote_is_dropped)
{
  struct weir_stack *s = mk_stack(WEIR_LINK_IP, NULL);
  uint8_t icmp[64], f[FRAME_MAX];
  struct weir_icmp m;
  size_t n;
  memset(&m, 0, sizeof(m));
  m.type = WEIR_ICMP_DEST_UNREACH;
  m.code = WEIR_ICMP_PORT_UNREACH;
  n = weir_icmp_emit(&m, (const uint8_t *)"\x45\x00\x00", 3, icmp,
                     sizeof(icmp));
  n = mk_ip(f, PEER_IP, US_IP, WEIR_IP_PROTO_ICMP, 3, 0, 0, icmp, n);
  weir_input(s, f, n, T0);
  CHECK_EQ(drain(s, T0), 0);
  CHECK_EQ(stat(s, WEIR_STAT_DROP_ICMP_MALFORMED), 1);
  weir_stack_free(s);
}

TEST(test_ethertype_other_than_ip_and_arp_is_counted)
{
  struct weir_stack *s = mk_stack(WEIR_LINK_ETHERNET, NULL);
  uint8_t f[FRAME_MAX];
  size_t n = mk_eth(f, US_MAC, PEER_MAC, WEIR_ETHERTYPE_IPV6, "v6v6v6", 6);
  weir_input(s, f, n, T0);
  n = mk_eth(f, US_MAC, PEER_MAC, 0x0040 /* 802.3 length */, "llc", 3);
  weir_input(s, f, n, T0);
  CHECK_EQ(stat(s, WEIR_STAT_DROP_ETHERTYPE), 2);
  weir_stack_free(s);
}

TEST(test_sent_packets_carry_df_and_distinct_ids)
{
  struct weir_stack *s = mk_stack(WEIR_LINK_IP, NULL);
  uint8_t out[FRAME_MAX];
  struct weir_ipv4 a, b;
  int sock = weir_udp_open(s);
  CHECK_EQ(weir_udp_sendto(s, sock, "1", 1, PEER_IP, 7, T0), 1);
  CHECK_EQ(weir_udp_sendto(s, sock, "2", 1, PEER_IP, 7, T0), 1);
  CHECK_EQ(out_ip(s, T0, out, &a), 0);
  CHECK_EQ(out_ip(s, T0, out, &b), 0);
  CHECK_EQ(a.df, 1);
  CHECK_EQ(a.mf, 0);
  CHECK(a.id != b.id);
  weir_stack_free(s);
}
