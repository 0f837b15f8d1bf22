/* TCP as part of the stack: ARP before the SYN, resets for closed ports
 * on an Ethernet link. (The conversation-level behaviour is pinned by the
 * scripts in test/tcp/scripts.) */
#include <string.h>

#include "harness/test.h"
#include "stack_util.h"
#include "wire/arp.h"
#include "wire/ethernet.h"
#include "wire/ipv4.h"
#include "wire/tcp.h"

#define T0 3000000u

/* Parses the next output frame as Ethernet; 0 on success. */
static int next_eth(struct weir_stack *s, uint64_t now, uint8_t *buf,
                    struct weir_eth *e)
{
  size_t n = weir_output(s, buf, FRAME_MAX, now);
  return n ? weir_eth_parse(e, buf, n) : -1;
}

TEST(test_tcp_connect_to_unresolved_peer_sends_arp_then_syn_at_once)
{
  struct weir_stack *s = mk_stack(WEIR_LINK_ETHERNET, NULL);
  uint8_t out[FRAME_MAX], f[FRAME_MAX];
  struct weir_eth e;
  struct weir_ipv4 ip;
  struct weir_tcp t;
  int c = weir_tcp_open(s);
  size_t n;

  CHECK_EQ(weir_tcp_connect(s, c, PEER_IP, 80, T0), 0);
  /* The ARP request must come out now, not at the next timer. */
  CHECK_EQ(next_eth(s, T0, out, &e), 0);
  CHECK_EQ(e.type, WEIR_ETHERTYPE_ARP);
  CHECK_EQ(weir_output(s, out, sizeof(out), T0), 0);
  n = mk_arp_frame(f, WEIR_ARP_REPLY, PEER_MAC, PEER_IP, US_MAC, US_IP);
  weir_input(s, f, n, T0 + 300);
  /* The SYN that waited for it follows at once. */
  CHECK_EQ(next_eth(s, T0 + 300, out, &e), 0);
  CHECK_EQ(e.type, WEIR_ETHERTYPE_IPV4);
  CHECK(memcmp(e.dst, PEER_MAC, 6) == 0);
  CHECK_EQ(weir_ipv4_parse(&ip, e.payload, e.payload_len), 0);
  CHECK_EQ(weir_tcp_parse(&t, ip.payload, ip.payload_len), 0);
  CHECK_EQ(t.flags, WEIR_TCP_SYN);
  CHECK_EQ(t.dport, 80);
  CHECK_EQ(weir_stats(s)->c[WEIR_STAT_TCP_RETRANSMITS], 0);
  weir_stack_free(s);
}

TEST(test_tcp_syn_to_closed_port_gets_rst_ack_over_ethernet)
{
  struct weir_stack *s = mk_stack(WEIR_LINK_ETHERNET, NULL);
  uint8_t l4[64], ipb[128], f[FRAME_MAX], out[FRAME_MAX];
  struct weir_eth e;
  struct weir_ipv4 ip;
  struct weir_tcp h, r;
  size_t n;

  /* Teach the stack the peer's MAC first. */
  n = mk_arp_frame(f, WEIR_ARP_REQUEST, PEER_MAC, PEER_IP,
                   (const uint8_t[6]){0}, US_IP);
  weir_input(s, f, n, T0);
  CHECK_EQ(drain(s, T0), 1);
  memset(&h, 0, sizeof(h));
  h.sport = 40000;
  h.dport = 81;
  h.seq = 1000;
  h.flags = WEIR_TCP_SYN;
  h.win = 1024;
  n = weir_tcp_emit(&h, PEER_IP, US_IP, l4, sizeof(l4));
  n = mk_ip(ipb, PEER_IP, US_IP, WEIR_IP_PROTO_TCP, 7, 0, 0, l4, n);
  n = mk_eth(f, US_MAC, PEER_MAC, WEIR_ETHERTYPE_IPV4, ipb, n);
  weir_input(s, f, n, T0 + 1);
  CHECK_EQ(next_eth(s, T0 + 1, out, &e), 0);
  CHECK_EQ(weir_ipv4_parse(&ip, e.payload, e.payload_len), 0);
  CHECK_EQ(weir_tcp_parse(&r, ip.payload, ip.payload_len), 0);
  /* RFC 9293 3.10.7.1: <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>. */
  CHECK_EQ(r.flags, WEIR_TCP_RST | WEIR_TCP_ACK);
  CHECK_UEQ(r.seq, 0);
  CHECK_UEQ(r.ack, 1001);
  CHECK_EQ(r.sport, 81);
  CHECK_EQ(r.dport, 40000);
  CHECK_EQ(weir_stats(s)->c[WEIR_STAT_DROP_TCP_NO_CONN], 1);
  weir_stack_free(s);
}
