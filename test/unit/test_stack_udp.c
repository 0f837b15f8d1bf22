/* UDP sockets: echo, closed ports, queues, errors and flow control. */
#include <string.h>

#include "harness/test.h"
#include "stack_util.h"
#include "wire/checksum.h"
#include "wire/ethernet.h"
#include "wire/icmp.h"
#include "wire/ipv4.h"
#include "wire/udp.h"

#define T0 9000000u

static uint64_t stat(struct weir_stack *s, enum weir_stat i)
{
  return weir_stats(s)->c[i];
}

TEST(test_udp_echo_round_trip_is_byte_exact)
{
  struct weir_stack *s = mk_stack(WEIR_LINK_ETHERNET, NULL);
  uint8_t f[FRAME_MAX], out[FRAME_MAX], want[FRAME_MAX], buf[256];
  struct weir_event ev;
  uint32_t addr;
  uint16_t port;
  int sock = weir_udp_open(s), n;
  size_t len, wl;

  CHECK(sock >= 0);
  CHECK_EQ(weir_udp_bind(s, sock, 7), 0);
  CHECK_EQ(weir_udp_local_port(s, sock), 7);
  len = mk_udp_in(f, WEIR_LINK_ETHERNET, PEER_IP, 40000, 7, "hello weir", 10);
  weir_input(s, f, len, T0);
  CHECK_EQ(weir_next_event(s, &ev), 1);
  CHECK_EQ(ev.sock, sock);
  CHECK_EQ(ev.events, WEIR_EV_READABLE);
  CHECK_EQ(weir_next_event(s, &ev), 0);
  n = weir_udp_recvfrom(s, sock, buf, sizeof(buf), &addr, &port);
  CHECK_EQ(n, 10);
  CHECK_BYTES(buf, 10, "hello weir", 10);
  CHECK_UEQ(addr, PEER_IP);
  CHECK_EQ(port, 40000);
  CHECK_EQ(weir_udp_recvfrom(s, sock, buf, sizeof(buf), NULL, NULL),
           WEIR_EAGAIN);

  /* Teach the stack the peer's MAC, then echo. */
  len = mk_arp_frame(f, 2, PEER_MAC, PEER_IP, US_MAC, US_IP);
  weir_input(s, f, len, T0);
  CHECK_EQ(weir_udp_sendto(s, sock, buf, 10, addr, port, T0), 10);
  len = weir_output(s, out, sizeof(out), T0);

  /* The frame we expect, built independently from its parts. */
  {
    uint8_t l4[64], ip[128];
    struct weir_ipv4 h;
    size_t k = mk_udp(l4, US_IP, PEER_IP, 7, 40000, "hello weir", 10);
    /* The IP ID is the stack's choice (keyed by the secret): take it
     * from what was sent. Every other bit must match. */
    CHECK_EQ(weir_ipv4_parse(&h, out + WEIR_ETH_HLEN, len - WEIR_ETH_HLEN), 0);
    k = mk_ip(ip, US_IP, PEER_IP, WEIR_IP_PROTO_UDP, h.id, 0, 0, l4, k);
    ip[6] |= 0x40; /* DF */
    ip[10] = ip[11] = 0;
    {
      uint16_t c = weir_csum(ip, 20);
      ip[10] = (uint8_t)(c >> 8);
      ip[11] = (uint8_t)c;
    }
    wl = mk_eth(want, PEER_MAC, US_MAC, WEIR_ETHERTYPE_IPV4, ip, k);
  }
  CHECK_BYTES(out, len, want, wl);
  CHECK_EQ(stat(s, WEIR_STAT_UDP_IN), 1);
  CHECK_EQ(stat(s, WEIR_STAT_UDP_OUT), 1);
  weir_stack_free(s);
}

TEST(test_udp_to_closed_port_gets_icmp_port_unreachable)
{
  struct weir_stack *s = mk_stack(WEIR_LINK_IP, NULL);
  uint8_t f[FRAME_MAX], out[FRAME_MAX];
  struct weir_ipv4 ip;
  struct weir_icmp m;
  struct weir_icmp_quote q;
  size_t len = mk_udp_in(f, WEIR_LINK_IP, PEER_IP, 40001, 9, "anyone?", 7);
  size_t n;
  weir_input(s, f, len, T0);
  n = weir_output(s, out, sizeof(out), T0);
  CHECK_EQ(weir_ipv4_parse(&ip, out, n), 0);
  CHECK_UEQ(ip.dst, PEER_IP);
  CHECK_EQ(ip.proto, WEIR_IP_PROTO_ICMP);
  CHECK_EQ(weir_icmp_parse(&m, ip.payload, ip.payload_len), 0);
  CHECK_EQ(m.type, WEIR_ICMP_DEST_UNREACH);
  CHECK_EQ(m.code, WEIR_ICMP_PORT_UNREACH);
  CHECK_BYTES(m.payload, m.payload_len, f, len);
  CHECK_EQ(weir_icmp_parse_quote(&q, m.payload, m.payload_len), 0);
  CHECK_EQ(q.sport, 40001);
  CHECK_EQ(q.dport, 9);
  CHECK_EQ(stat(s, WEIR_STAT_DROP_UDP_NO_PORT), 1);
  weir_stack_free(s);
}

TEST(test_udp_to_closed_port_via_broadcast_gets_no_icmp)
{
  struct weir_stack *s = mk_stack(WEIR_LINK_IP, NULL);
  uint8_t l4[64], f[FRAME_MAX];
  size_t n = mk_udp(l4, PEER_IP, 0xffffffffu, 68, 67, "dhcp?", 5);
  n = mk_ip(f, PEER_IP, 0xffffffffu, WEIR_IP_PROTO_UDP, 1, 0, 0, l4, n);
  weir_input(s, f, n, T0);
  CHECK_EQ(drain(s, T0), 0);
  CHECK_EQ(stat(s, WEIR_STAT_DROP_UDP_NO_PORT), 1);
  weir_stack_free(s);
}

TEST(test_udp_bad_checksum_is_dropped_and_zero_checksum_accepted)
{
  struct weir_stack *s = mk_stack(WEIR_LINK_IP, NULL);
  uint8_t f[FRAME_MAX], buf[16];
  int sock = weir_udp_open(s);
  size_t len;
  CHECK_EQ(weir_udp_bind(s, sock, 7), 0);
  len = mk_udp_in(f, WEIR_LINK_IP, PEER_IP, 1000, 7, "abcd", 4);
  f[len - 1] ^= 0xff;
  weir_input(s, f, len, T0);
  CHECK_EQ(stat(s, WEIR_STAT_DROP_UDP_CHECKSUM), 1);
  CHECK_EQ(drain(s, T0), 0); /* no ICMP for a corrupt datagram */
  /* RFC 768: a zero checksum means the sender computed none. */
  f[WEIR_IPV4_HLEN + 6] = 0;
  f[WEIR_IPV4_HLEN + 7] = 0;
  weir_input(s, f, len, T0);
  CHECK_EQ(weir_udp_recvfrom(s, sock, buf, sizeof(buf), NULL, NULL), 4);
  weir_stack_free(s);
}

TEST(test_udp_malformed_length_is_dropped)
{
  struct weir_stack *s = mk_stack(WEIR_LINK_IP, NULL);
  uint8_t l4[64], f[FRAME_MAX];
  size_t n = mk_udp(l4, PEER_IP, US_IP, 1, 7, "abcd", 4);
  l4[5] = 200; /* length past the datagram */
  n = mk_ip(f, PEER_IP, US_IP, WEIR_IP_PROTO_UDP, 1, 0, 0, l4, n);
  weir_input(s, f, n, T0);
  CHECK_EQ(stat(s, WEIR_STAT_DROP_UDP_MALFORMED), 1);
  weir_stack_free(s);
}

static void small_rx(struct weir_config *c)
{
  c->udp_rx_bytes = 2048;
}

TEST(test_udp_full_receive_queue_drops_whole_datagrams)
{
  struct weir_stack *s = mk_stack(WEIR_LINK_IP, small_rx);
  uint8_t f[FRAME_MAX], data[1000], buf[1100];
  int sock = weir_udp_open(s);
  size_t len;
  CHECK_EQ(weir_udp_bind(s, sock, 7), 0);
  for (int i = 0; i < 3; i++) {
    memset(data, 'a' + i, sizeof(data));
    len = mk_udp_in(f, WEIR_LINK_IP, PEER_IP, 1000, 7, data, sizeof(data));
    weir_input(s, f, len, T0);
  }
  CHECK_EQ(stat(s, WEIR_STAT_DROP_UDP_RXQ_FULL), 1);
  CHECK_EQ(weir_udp_recvfrom(s, sock, buf, sizeof(buf), NULL, NULL), 1000);
  CHECK_EQ(buf[999], 'a');
  /* Room again; the ring wraps around its end. */
  memset(data, 'z', sizeof(data));
  len = mk_udp_in(f, WEIR_LINK_IP, PEER_IP, 1000, 7, data, sizeof(data));
  weir_input(s, f, len, T0);
  CHECK_EQ(weir_udp_recvfrom(s, sock, buf, sizeof(buf), NULL, NULL), 1000);
  CHECK_EQ(buf[0], 'b');
  CHECK_EQ(weir_udp_recvfrom(s, sock, buf, sizeof(buf), NULL, NULL), 1000);
  CHECK(buf[0] == 'z' && buf[999] == 'z');
  CHECK_EQ(weir_udp_recvfrom(s, sock, buf, sizeof(buf), NULL, NULL),
           WEIR_EAGAIN);
  weir_stack_free(s);
}

TEST(test_udp_recvfrom_truncates_to_buffer_and_discards_rest)
{
  struct weir_stack *s = mk_stack(WEIR_LINK_IP, NULL);
  uint8_t f[FRAME_MAX], buf[4];
  int sock = weir_udp_open(s);
  size_t len;
  CHECK_EQ(weir_udp_bind(s, sock, 7), 0);
  len = mk_udp_in(f, WEIR_LINK_IP, PEER_IP, 1000, 7, "0123456789", 10);
  weir_input(s, f, len, T0);
  len = mk_udp_in(f, WEIR_LINK_IP, PEER_IP, 1000, 7, "ab", 2);
  weir_input(s, f, len, T0);
  CHECK_EQ(weir_udp_recvfrom(s, sock, buf, sizeof(buf), NULL, NULL), 4);
  CHECK_BYTES(buf, 4, "0123", 4);
  CHECK_EQ(weir_udp_recvfrom(s, sock, buf, sizeof(buf), NULL, NULL), 2);
  CHECK_BYTES(buf, 2, "ab", 2);
  weir_stack_free(s);
}

TEST(test_udp_bind_conflicts_and_ephemeral_ports)
{
  struct weir_stack *s = mk_stack(WEIR_LINK_IP, NULL);
  int a = weir_udp_open(s), b = weir_udp_open(s), c = weir_udp_open(s);
  int pb, pc;
  CHECK_EQ(weir_udp_bind(s, a, 7), 0);
  CHECK_EQ(weir_udp_bind(s, b, 7), WEIR_EADDRINUSE);
  CHECK_EQ(weir_udp_bind(s, a, 8), WEIR_EINVAL);
  CHECK_EQ(weir_udp_bind(s, b, 0), 0);
  CHECK_EQ(weir_udp_bind(s, c, 0), 0);
  pb = weir_udp_local_port(s, b);
  pc = weir_udp_local_port(s, c);
  CHECK(pb >= 49152 && pc >= 49152 && pb != pc);
  CHECK_EQ(weir_udp_close(s, a), 0);
  CHECK_EQ(weir_udp_close(s, a), WEIR_EBADF);
  a = weir_udp_open(s);
  CHECK_EQ(weir_udp_bind(s, a, 7), 0); /* the port was released */
  CHECK_EQ(weir_udp_bind(s, 999, 7), WEIR_EBADF);
  CHECK_EQ(weir_udp_sendto(s, -1, "x", 1, PEER_IP, 7, T0), WEIR_EBADF);
  weir_stack_free(s);
}

TEST(test_udp_sendto_rejects_what_cannot_be_sent)
{
  struct weir_stack *s = mk_stack(WEIR_LINK_ETHERNET, NULL);
  static uint8_t big[1500];
  int sock = weir_udp_open(s);
  CHECK_EQ(weir_udp_sendto(s, sock, big, 1473, PEER_IP, 7, T0), WEIR_EMSGSIZE);
  CHECK_EQ(weir_udp_sendto(s, sock, big, 1472, PEER_IP, 7, T0), 1472);
  CHECK_EQ(weir_udp_sendto(s, sock, "x", 1, PEER_IP, 0, T0), WEIR_EINVAL);
  CHECK_EQ(weir_udp_sendto(s, sock, "x", 1, 0, 7, T0), WEIR_EINVAL);
  weir_stack_free(s);
}

static void no_gateway(struct weir_config *c)
{
  c->gateway = 0;
}

TEST(test_udp_sendto_off_link_without_gateway_is_unreachable)
{
  struct weir_stack *s = mk_stack(WEIR_LINK_ETHERNET, no_gateway);
  int sock = weir_udp_open(s);
  CHECK_EQ(weir_udp_sendto(s, sock, "x", 1, REMOTE_IP, 7, T0),
           WEIR_ENETUNREACH);
  CHECK_EQ(drain(s, T0), 0);
  weir_stack_free(s);
}

static void few_slots(struct weir_config *c)
{
  c->tx_slots = 8;
}

TEST(test_udp_full_transmit_queue_says_eagain_then_writable)
{
  struct weir_stack *s = mk_stack(WEIR_LINK_IP, few_slots);
  uint8_t f[FRAME_MAX], out[FRAME_MAX];
  struct weir_event ev;
  int sock = weir_udp_open(s), sent = 0, r;
  size_t len;
  while ((r = weir_udp_sendto(s, sock, "x", 1, PEER_IP, 7, T0)) == 1)
    sent++;
  CHECK_EQ(r, WEIR_EAGAIN);
  CHECK_EQ(sent, 4); /* 8 slots, 4 kept for replies */
  /* The reserve still answers a ping. */
  {
    uint8_t icmp[64];
    size_t n = mk_echo(icmp, 1, 1, "p", 1);
    len = mk_ip(f, PEER_IP, US_IP, WEIR_IP_PROTO_ICMP, 1, 0, 0, icmp, n);
    weir_input(s, f, len, T0);
  }
  CHECK_EQ(weir_next_event(s, &ev), 0);
  /* The reply took a reserve slot: one frame out refills the reserve,
   * the second makes room for the application. */
  CHECK(weir_output(s, out, sizeof(out), T0) > 0);
  CHECK_EQ(weir_next_event(s, &ev), 0);
  CHECK(weir_output(s, out, sizeof(out), T0) > 0);
  CHECK_EQ(weir_next_event(s, &ev), 1);
  CHECK_EQ(ev.sock, sock);
  CHECK_EQ(ev.events, WEIR_EV_WRITABLE);
  CHECK_EQ(drain(s, T0), 3);
  CHECK_EQ(weir_udp_sendto(s, sock, "x", 1, PEER_IP, 7, T0), 1);
  weir_stack_free(s);
}

TEST(test_output_keeps_frame_when_buffer_too_small)
{
  struct weir_stack *s = mk_stack(WEIR_LINK_IP, NULL);
  uint8_t out[FRAME_MAX];
  int sock = weir_udp_open(s);
  CHECK_EQ(weir_udp_sendto(s, sock, "hello", 5, PEER_IP, 7, T0), 5);
  CHECK_EQ(weir_output(s, out, 32, T0), 0);
  CHECK_EQ(weir_output(s, out, 33, T0), 33);
  weir_stack_free(s);
}

TEST(test_socket_table_full_gives_emfile)
{
  struct weir_stack *s = mk_stack(WEIR_LINK_IP, NULL);
  uint32_t n = weir_stack_config(s)->max_sockets;
  for (uint32_t i = 0; i < n; i++)
    CHECK_EQ(weir_udp_open(s), (int)i);
  CHECK_EQ(weir_udp_open(s), WEIR_EMFILE);
  weir_stack_free(s);
}

TEST(test_closed_socket_events_are_not_delivered)
{
  struct weir_stack *s = mk_stack(WEIR_LINK_IP, NULL);
  uint8_t f[FRAME_MAX];
  struct weir_event ev;
  int sock = weir_udp_open(s), again;
  size_t len;
  CHECK_EQ(weir_udp_bind(s, sock, 7), 0);
  len = mk_udp_in(f, WEIR_LINK_IP, PEER_IP, 1000, 7, "x", 1);
  weir_input(s, f, len, T0);
  CHECK_EQ(weir_udp_close(s, sock), 0);
  again = weir_udp_open(s); /* takes the same handle */
  CHECK_EQ(again, sock);
  CHECK_EQ(weir_next_event(s, &ev), 0);
  /* The reopened socket's own events still work. */
  CHECK_EQ(weir_udp_bind(s, again, 7), 0);
  weir_input(s, f, len, T0);
  CHECK_EQ(weir_next_event(s, &ev), 1);
  CHECK_EQ(ev.sock, again);
  CHECK_EQ(weir_next_event(s, &ev), 0);
  weir_stack_free(s);
}
