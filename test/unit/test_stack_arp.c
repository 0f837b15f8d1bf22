/* ARP: answering, resolving, waiting, giving up, and hostile packets. */
#include <string.h>

#include "harness/test.h"
#include "stack_util.h"
#include "wire/arp.h"
#include "wire/ethernet.h"
#include "wire/ipv4.h"
#include "wire/udp.h"

#define T0 1000000u /* an arbitrary start: nothing may assume now == 0 */

static uint64_t stat(struct weir_stack *s, enum weir_stat i)
{
  return weir_stats(s)->c[i];
}

/* Parses an ARP frame from the output; 0 on success. */
static int out_arp(struct weir_stack *s, uint64_t now, struct weir_eth *e,
                   struct weir_arp *a)
{
  static uint8_t buf[FRAME_MAX];
  size_t n = weir_output(s, buf, sizeof(buf), now);
  if (n == 0 || weir_eth_parse(e, buf, n) != 0 || e->type != WEIR_ETHERTYPE_ARP)
    return -1;
  return weir_arp_parse(a, e->payload, e->payload_len);
}

TEST(test_arp_request_for_us_gets_reply)
{
  struct weir_stack *s = mk_stack(WEIR_LINK_ETHERNET, NULL);
  uint8_t f[FRAME_MAX];
  struct weir_eth e;
  struct weir_arp a;
  size_t n = mk_arp_frame(f, WEIR_ARP_REQUEST, PEER_MAC, PEER_IP,
                          (const uint8_t[6]){0}, US_IP);
  weir_input(s, f, n, T0);
  CHECK_EQ(out_arp(s, T0, &e, &a), 0);
  CHECK(memcmp(e.dst, PEER_MAC, 6) == 0);
  CHECK(memcmp(e.src, US_MAC, 6) == 0);
  CHECK_EQ(a.op, WEIR_ARP_REPLY);
  CHECK(memcmp(a.sha, US_MAC, 6) == 0);
  CHECK_UEQ(a.spa, US_IP);
  CHECK(memcmp(a.tha, PEER_MAC, 6) == 0);
  CHECK_UEQ(a.tpa, PEER_IP);
  CHECK_EQ(drain(s, T0), 0);
  CHECK_EQ(stat(s, WEIR_STAT_ARP_REPLIES_OUT), 1);
  weir_stack_free(s);
}

TEST(test_arp_reply_is_padded_to_ethernet_minimum)
{
  struct weir_stack *s = mk_stack(WEIR_LINK_ETHERNET, NULL);
  uint8_t f[FRAME_MAX], out[FRAME_MAX];
  size_t n = mk_arp_frame(f, WEIR_ARP_REQUEST, PEER_MAC, PEER_IP,
                          (const uint8_t[6]){0}, US_IP);
  weir_input(s, f, n, T0);
  CHECK_EQ(weir_output(s, out, sizeof(out), T0), 60);
  weir_stack_free(s);
}

TEST(test_arp_request_for_other_host_is_ignored_and_not_cached)
{
  struct weir_stack *s = mk_stack(WEIR_LINK_ETHERNET, NULL);
  uint8_t f[FRAME_MAX];
  struct weir_eth e;
  struct weir_arp a;
  int sock;
  size_t n = mk_arp_frame(f, WEIR_ARP_REQUEST, PEER_MAC, PEER_IP,
                          (const uint8_t[6]){0}, 0x0a4d0063u);
  weir_input(s, f, n, T0);
  CHECK_EQ(drain(s, T0), 0);
  /* PEER is still unknown: sending to it must ask first. */
  sock = weir_udp_open(s);
  CHECK_EQ(weir_udp_sendto(s, sock, "x", 1, PEER_IP, 9, T0), 1);
  CHECK_EQ(out_arp(s, T0, &e, &a), 0);
  CHECK_EQ(a.op, WEIR_ARP_REQUEST);
  CHECK(weir_eth_is_broadcast(e.dst));
  CHECK_UEQ(a.tpa, PEER_IP);
  weir_stack_free(s);
}

TEST(test_arp_unresolved_next_hop_queues_then_sends_after_reply)
{
  struct weir_stack *s = mk_stack(WEIR_LINK_ETHERNET, NULL);
  uint8_t f[FRAME_MAX], out[FRAME_MAX];
  struct weir_eth e;
  struct weir_arp a;
  struct weir_ipv4 ip;
  struct weir_udp u;
  int sock = weir_udp_open(s);
  size_t n;

  CHECK_EQ(weir_udp_sendto(s, sock, "hello", 5, PEER_IP, 7, T0), 5);
  CHECK_EQ(out_arp(s, T0, &e, &a), 0);
  CHECK_EQ(a.op, WEIR_ARP_REQUEST);
  CHECK(memcmp(a.sha, US_MAC, 6) == 0);
  CHECK_UEQ(a.spa, US_IP);
  CHECK(weir_eth_is_zero(a.tha));
  CHECK_UEQ(a.tpa, PEER_IP);
  CHECK_EQ(drain(s, T0), 0); /* the datagram waits */
  CHECK_UEQ(weir_deadline(s), T0 + 1000000u);

  n = mk_arp_frame(f, WEIR_ARP_REPLY, PEER_MAC, PEER_IP, US_MAC, US_IP);
  weir_input(s, f, n, T0 + 500);
  n = weir_output(s, out, sizeof(out), T0 + 500);
  CHECK(n > 0);
  CHECK_EQ(weir_eth_parse(&e, out, n), 0);
  CHECK(memcmp(e.dst, PEER_MAC, 6) == 0);
  CHECK_EQ(e.type, WEIR_ETHERTYPE_IPV4);
  CHECK_EQ(weir_ipv4_parse(&ip, e.payload, e.payload_len), 0);
  CHECK_UEQ(ip.dst, PEER_IP);
  CHECK_EQ(ip.df, 1);
  CHECK_EQ(weir_udp_parse(&u, ip.payload, ip.payload_len), 0);
  CHECK_EQ(u.dport, 7);
  CHECK_BYTES(u.payload, u.payload_len, "hello", 5);
  /* Resolved: the next datagram goes straight out. */
  CHECK_EQ(weir_udp_sendto(s, sock, "again", 5, PEER_IP, 7, T0 + 600), 5);
  n = weir_output(s, out, sizeof(out), T0 + 600);
  CHECK_EQ(weir_eth_parse(&e, out, n), 0);
  CHECK_EQ(e.type, WEIR_ETHERTYPE_IPV4);
  weir_stack_free(s);
}

TEST(test_arp_off_link_destination_resolves_the_gateway)
{
  struct weir_stack *s = mk_stack(WEIR_LINK_ETHERNET, NULL);
  struct weir_eth e;
  struct weir_arp a;
  int sock = weir_udp_open(s);
  CHECK_EQ(weir_udp_sendto(s, sock, "x", 1, REMOTE_IP, 7, T0), 1);
  CHECK_EQ(out_arp(s, T0, &e, &a), 0);
  CHECK_UEQ(a.tpa, GW_IP);
  weir_stack_free(s);
}

TEST(test_arp_gives_up_after_retries_and_reports_host_unreachable)
{
  struct weir_stack *s = mk_stack(WEIR_LINK_ETHERNET, NULL);
  struct weir_eth e;
  struct weir_arp a;
  struct weir_event ev;
  uint32_t addr;
  uint16_t port;
  int sock = weir_udp_open(s);

  CHECK_EQ(weir_udp_sendto(s, sock, "x", 1, PEER_IP, 7, T0), 1);
  CHECK_EQ(out_arp(s, T0, &e, &a), 0);
  /* Retries at 1 s intervals: cfg.arp_retries requests in all. */
  for (int i = 1; i < 3; i++) {
    uint64_t t = T0 + (uint64_t)i * 1000000u;
    CHECK_UEQ(weir_deadline(s), t);
    weir_timers(s, t - 1);
    CHECK_EQ(drain(s, t - 1), 0);
    weir_timers(s, t);
    CHECK_EQ(out_arp(s, t, &e, &a), 0);
    CHECK_EQ(a.op, WEIR_ARP_REQUEST);
  }
  CHECK_EQ(stat(s, WEIR_STAT_ARP_REQUESTS_OUT), 3);
  CHECK_EQ(weir_next_event(s, &ev), 0);
  weir_timers(s, T0 + 3000000u);
  CHECK_EQ(drain(s, T0 + 3000000u), 0);
  CHECK_EQ(stat(s, WEIR_STAT_ARP_GIVE_UP), 1);
  CHECK_UEQ(weir_deadline(s), UINT64_MAX);
  CHECK_EQ(weir_next_event(s, &ev), 1);
  CHECK_EQ(ev.sock, sock);
  CHECK(ev.events & WEIR_EV_ERROR);
  CHECK_EQ(weir_sock_error(s, sock, &addr, &port), WEIR_EHOSTUNREACH);
  CHECK_UEQ(addr, PEER_IP);
  CHECK_EQ(port, 7);
  CHECK_EQ(weir_sock_error(s, sock, NULL, NULL), 0);
  weir_stack_free(s);
}

static void small_arp_queue(struct weir_config *c)
{
  c->arp_queue_per_entry = 2;
}

TEST(test_arp_waiting_queue_is_bounded_and_keeps_newest)
{
  struct weir_stack *s = mk_stack(WEIR_LINK_ETHERNET, small_arp_queue);
  uint8_t f[FRAME_MAX], out[FRAME_MAX];
  struct weir_eth e;
  struct weir_ipv4 ip;
  struct weir_udp u;
  int sock = weir_udp_open(s);
  size_t n;

  for (char c = 'a'; c <= 'e'; c++)
    CHECK_EQ(weir_udp_sendto(s, sock, &c, 1, PEER_IP, 7, T0), 1);
  CHECK_EQ(drain(s, T0), 1); /* the ARP request */
  CHECK_EQ(stat(s, WEIR_STAT_ARP_QUEUE_DROP), 3);
  n = mk_arp_frame(f, WEIR_ARP_REPLY, PEER_MAC, PEER_IP, US_MAC, US_IP);
  weir_input(s, f, n, T0 + 10);
  for (char c = 'd'; c <= 'e'; c++) {
    n = weir_output(s, out, sizeof(out), T0 + 10);
    CHECK_EQ(weir_eth_parse(&e, out, n), 0);
    CHECK_EQ(weir_ipv4_parse(&ip, e.payload, e.payload_len), 0);
    CHECK_EQ(weir_udp_parse(&u, ip.payload, ip.payload_len), 0);
    CHECK_EQ(u.payload[0], c);
  }
  CHECK_EQ(drain(s, T0 + 10), 0);
  weir_stack_free(s);
}

TEST(test_arp_gratuitous_for_unknown_host_does_not_create_entry)
{
  struct weir_stack *s = mk_stack(WEIR_LINK_ETHERNET, NULL);
  uint8_t f[FRAME_MAX];
  struct weir_eth e;
  struct weir_arp a;
  int sock = weir_udp_open(s);
  size_t n = mk_arp_frame(f, WEIR_ARP_REQUEST, PEER_MAC, PEER_IP,
                          (const uint8_t[6]){0}, PEER_IP);
  weir_input(s, f, n, T0);
  CHECK_EQ(drain(s, T0), 0);
  CHECK_EQ(stat(s, WEIR_STAT_ARP_GRATUITOUS), 1);
  CHECK_EQ(weir_udp_sendto(s, sock, "x", 1, PEER_IP, 7, T0), 1);
  CHECK_EQ(out_arp(s, T0, &e, &a), 0);
  CHECK_EQ(a.op, WEIR_ARP_REQUEST);
  weir_stack_free(s);
}

TEST(test_arp_gratuitous_for_known_host_updates_its_address)
{
  struct weir_stack *s = mk_stack(WEIR_LINK_ETHERNET, NULL);
  const uint8_t moved[6] = {0x02, 0, 0, 0, 0, 0x99};
  uint8_t f[FRAME_MAX], out[FRAME_MAX];
  struct weir_eth e;
  int sock = weir_udp_open(s);
  size_t n;

  n = mk_arp_frame(f, WEIR_ARP_REQUEST, PEER_MAC, PEER_IP,
                   (const uint8_t[6]){0}, US_IP);
  weir_input(s, f, n, T0);
  CHECK_EQ(drain(s, T0), 1);
  n = mk_arp_frame(f, WEIR_ARP_REQUEST, moved, PEER_IP, (const uint8_t[6]){0},
                   PEER_IP);
  weir_input(s, f, n, T0 + 1);
  CHECK_EQ(drain(s, T0 + 1), 0);
  CHECK_EQ(weir_udp_sendto(s, sock, "x", 1, PEER_IP, 7, T0 + 2), 1);
  n = weir_output(s, out, sizeof(out), T0 + 2);
  CHECK_EQ(weir_eth_parse(&e, out, n), 0);
  CHECK_EQ(e.type, WEIR_ETHERTYPE_IPV4);
  CHECK(memcmp(e.dst, moved, 6) == 0);
  weir_stack_free(s);
}

TEST(test_arp_claiming_our_address_is_a_conflict_not_an_update)
{
  struct weir_stack *s = mk_stack(WEIR_LINK_ETHERNET, NULL);
  uint8_t f[FRAME_MAX];
  size_t n = mk_arp_frame(f, WEIR_ARP_REQUEST, PEER_MAC, US_IP,
                          (const uint8_t[6]){0}, US_IP);
  weir_input(s, f, n, T0);
  CHECK_EQ(drain(s, T0), 0);
  CHECK_EQ(stat(s, WEIR_STAT_ARP_CONFLICT), 1);
  weir_stack_free(s);
}

TEST(test_arp_sender_with_broadcast_or_zero_mac_is_dropped)
{
  struct weir_stack *s = mk_stack(WEIR_LINK_ETHERNET, NULL);
  uint8_t f[FRAME_MAX];
  size_t n = mk_arp_frame(f, WEIR_ARP_REQUEST, BCAST_MAC, PEER_IP,
                          (const uint8_t[6]){0}, US_IP);
  weir_input(s, f, n, T0);
  n = mk_arp_frame(f, WEIR_ARP_REQUEST, (const uint8_t[6]){0}, PEER_IP,
                   (const uint8_t[6]){0}, US_IP);
  weir_input(s, f, n, T0);
  CHECK_EQ(drain(s, T0), 0);
  CHECK_EQ(stat(s, WEIR_STAT_DROP_ARP_BAD_SENDER), 2);
  weir_stack_free(s);
}

TEST(test_arp_malformed_and_truncated_are_counted)
{
  struct weir_stack *s = mk_stack(WEIR_LINK_ETHERNET, NULL);
  uint8_t f[FRAME_MAX];
  size_t n = mk_arp_frame(f, WEIR_ARP_REQUEST, PEER_MAC, PEER_IP,
                          (const uint8_t[6]){0}, US_IP);
  weir_input(s, f, n - 1, T0); /* one byte short */
  f[WEIR_ETH_HLEN + 1] = 0x86; /* protocol type IPv6 */
  weir_input(s, f, n, T0);
  weir_input(s, f, 10, T0); /* runt frame */
  CHECK_EQ(drain(s, T0), 0);
  CHECK_EQ(stat(s, WEIR_STAT_DROP_ARP_MALFORMED), 2);
  CHECK_EQ(stat(s, WEIR_STAT_DROP_RUNT), 1);
  weir_stack_free(s);
}

TEST(test_arp_entry_expires_after_ttl)
{
  struct weir_stack *s = mk_stack(WEIR_LINK_ETHERNET, NULL);
  uint8_t f[FRAME_MAX];
  struct weir_eth e;
  struct weir_arp a;
  int sock = weir_udp_open(s);
  uint64_t ttl = weir_stack_config(s)->arp_ttl_us;
  size_t n = mk_arp_frame(f, WEIR_ARP_REQUEST, PEER_MAC, PEER_IP,
                          (const uint8_t[6]){0}, US_IP);
  weir_input(s, f, n, T0);
  CHECK_EQ(drain(s, T0), 1);
  CHECK_UEQ(weir_deadline(s), T0 + ttl);
  weir_timers(s, T0 + ttl);
  CHECK_EQ(weir_udp_sendto(s, sock, "x", 1, PEER_IP, 7, T0 + ttl), 1);
  CHECK_EQ(out_arp(s, T0 + ttl, &e, &a), 0);
  CHECK_EQ(a.op, WEIR_ARP_REQUEST);
  weir_stack_free(s);
}

static void tiny_arp_cache(struct weir_config *c)
{
  c->arp_entries = 2;
}

TEST(test_arp_full_cache_evicts_the_oldest_entry)
{
  struct weir_stack *s = mk_stack(WEIR_LINK_ETHERNET, tiny_arp_cache);
  uint8_t f[FRAME_MAX], mac[6] = {0x02, 0, 0, 0, 0, 0x20};
  struct weir_eth e;
  struct weir_arp a;
  int sock = weir_udp_open(s);
  size_t n;

  for (int i = 0; i < 3; i++) {
    mac[5] = (uint8_t)(0x20 + i);
    n = mk_arp_frame(f, WEIR_ARP_REQUEST, mac, 0x0a4d0020u + (uint32_t)i,
                     (const uint8_t[6]){0}, US_IP);
    weir_input(s, f, n, T0 + (uint64_t)i);
  }
  CHECK_EQ(drain(s, T0 + 3), 3);
  CHECK_EQ(stat(s, WEIR_STAT_ARP_CACHE_FULL), 1);
  /* .0.32 was the oldest: asking for it again needs a request. */
  CHECK_EQ(weir_udp_sendto(s, sock, "x", 1, 0x0a4d0020u, 7, T0 + 4), 1);
  CHECK_EQ(out_arp(s, T0 + 4, &e, &a), 0);
  CHECK_EQ(a.op, WEIR_ARP_REQUEST);
  /* .0.34 is still known. */
  CHECK_EQ(weir_udp_sendto(s, sock, "x", 1, 0x0a4d0022u, 7, T0 + 5), 1);
  {
    uint8_t out[FRAME_MAX];
    n = weir_output(s, out, sizeof(out), T0 + 5);
    CHECK_EQ(weir_eth_parse(&e, out, n), 0);
    CHECK_EQ(e.type, WEIR_ETHERTYPE_IPV4);
  }
  weir_stack_free(s);
}

TEST(test_frame_for_another_mac_is_dropped)
{
  struct weir_stack *s = mk_stack(WEIR_LINK_ETHERNET, NULL);
  uint8_t f[FRAME_MAX];
  size_t n = mk_arp_frame(f, WEIR_ARP_REPLY, PEER_MAC, PEER_IP, GW_MAC, US_IP);
  weir_input(s, f, n, T0);
  CHECK_EQ(stat(s, WEIR_STAT_DROP_NOT_FOR_US), 1);
  CHECK_EQ(stat(s, WEIR_STAT_ARP_REPLIES_IN), 0);
  weir_stack_free(s);
}
