/* IPv4 fragment reassembly: orders, overlaps, limits and timeouts. */
#include <string.h>

#include "harness/test.h"
#include "stack_util.h"
#include "wire/icmp.h"
#include "wire/ipv4.h"
#include "wire/udp.h"

#define T0   7000000u
#define DLEN 3000 /* a UDP payload that needs three 1500-byte fragments */

static uint64_t stat(struct weir_stack *s, enum weir_stat i)
{
  return weir_stats(s)->c[i];
}

/* The UDP datagram (header + DLEN bytes) to port 7, cut into fragments. */
struct dgram {
  uint8_t l4[WEIR_UDP_HLEN + DLEN];
  uint8_t data[DLEN];
  size_t len;
};

static void mk_dgram(struct dgram *d)
{
  for (int i = 0; i < DLEN; i++)
    d->data[i] = (uint8_t)(i * 7 + i / 256);
  d->len = mk_udp(d->l4, PEER_IP, US_IP, 4000, 7, d->data, DLEN);
}

/* Feeds the fragment [off, off + len) of d (bare IP link). */
static void frag(struct weir_stack *s, const struct dgram *d, uint16_t id,
                 size_t off, size_t len, uint64_t now)
{
  uint8_t f[FRAME_MAX];
  int mf = off + len < d->len;
  size_t n = mk_ip(f, PEER_IP, US_IP, WEIR_IP_PROTO_UDP, id, mf, (uint16_t)off,
                   d->l4 + off, len);
  weir_input(s, f, n, now);
}

static int bound_sock(struct weir_stack *s)
{
  int sock = weir_udp_open(s);
  if (sock >= 0 && weir_udp_bind(s, sock, 7) != 0)
    return -1;
  return sock;
}

/* Checks that exactly the datagram d is queued on sock. */
static int got_dgram(struct weir_stack *s, int sock, const struct dgram *d)
{
  static uint8_t buf[65536];
  int n = weir_udp_recvfrom(s, sock, buf, sizeof(buf), NULL, NULL);
  return n == DLEN && memcmp(buf, d->data, DLEN) == 0 &&
         weir_udp_recvfrom(s, sock, buf, sizeof(buf), NULL, NULL) ==
             WEIR_EAGAIN;
}

static int nothing_queued(struct weir_stack *s, int sock)
{
  uint8_t buf[16];
  return weir_udp_recvfrom(s, sock, buf, sizeof(buf), NULL, NULL) ==
         WEIR_EAGAIN;
}

TEST(test_reasm_fragments_in_order_are_delivered)
{
  struct weir_stack *s = mk_stack(WEIR_LINK_IP, NULL);
  static struct dgram d;
  int sock = bound_sock(s);
  mk_dgram(&d);
  frag(s, &d, 1, 0, 1480, T0);
  frag(s, &d, 1, 1480, 1480, T0 + 1);
  CHECK(nothing_queued(s, sock));
  frag(s, &d, 1, 2960, d.len - 2960, T0 + 2);
  CHECK(got_dgram(s, sock, &d));
  CHECK_EQ(stat(s, WEIR_STAT_REASM_OK), 1);
  CHECK_UEQ(weir_deadline(s), UINT64_MAX); /* its timer went with it */
  weir_stack_free(s);
}

TEST(test_reasm_fragments_out_of_order_are_delivered)
{
  struct weir_stack *s = mk_stack(WEIR_LINK_IP, NULL);
  static struct dgram d;
  int sock = bound_sock(s);
  mk_dgram(&d);
  frag(s, &d, 2, 2960, d.len - 2960, T0);
  frag(s, &d, 2, 0, 1480, T0 + 1);
  frag(s, &d, 2, 1480, 1480, T0 + 2);
  CHECK(got_dgram(s, sock, &d));
  weir_stack_free(s);
}

TEST(test_reasm_exact_duplicate_fragment_is_ignored)
{
  struct weir_stack *s = mk_stack(WEIR_LINK_IP, NULL);
  static struct dgram d;
  int sock = bound_sock(s);
  mk_dgram(&d);
  frag(s, &d, 3, 0, 1480, T0);
  frag(s, &d, 3, 0, 1480, T0 + 1);
  frag(s, &d, 3, 1480, 1480, T0 + 2);
  frag(s, &d, 3, 2960, d.len - 2960, T0 + 3);
  CHECK(got_dgram(s, sock, &d));
  CHECK_EQ(stat(s, WEIR_STAT_REASM_DUP), 1);
  weir_stack_free(s);
}

TEST(test_reasm_overlapping_fragment_drops_the_datagram)
{
  struct weir_stack *s = mk_stack(WEIR_LINK_IP, NULL);
  static struct dgram d;
  int sock = bound_sock(s);
  mk_dgram(&d);
  frag(s, &d, 4, 0, 1480, T0);
  frag(s, &d, 4, 1472, 1488, T0 + 1); /* starts 8 bytes early */
  CHECK_EQ(stat(s, WEIR_STAT_REASM_OVERLAP), 1);
  frag(s, &d, 4, 2960, d.len - 2960, T0 + 2);
  CHECK(nothing_queued(s, sock));
  CHECK_EQ(stat(s, WEIR_STAT_REASM_OK), 0);
  weir_stack_free(s);
}

TEST(test_reasm_fragment_past_the_last_one_drops_the_datagram)
{
  struct weir_stack *s = mk_stack(WEIR_LINK_IP, NULL);
  static struct dgram d;
  int sock = bound_sock(s);
  mk_dgram(&d);
  frag(s, &d, 5, 1480, 1480, T0);
  /* A "last" fragment ending before data we already hold. */
  {
    uint8_t f[FRAME_MAX];
    size_t n =
        mk_ip(f, PEER_IP, US_IP, WEIR_IP_PROTO_UDP, 5, 0, 8, d.l4 + 8, 792);
    weir_input(s, f, n, T0 + 1);
  }
  CHECK_EQ(stat(s, WEIR_STAT_REASM_OVERLAP), 1);
  CHECK(nothing_queued(s, sock));
  weir_stack_free(s);
}

TEST(test_reasm_missing_fragment_times_out_with_icmp_time_exceeded)
{
  struct weir_stack *s = mk_stack(WEIR_LINK_IP, NULL);
  static struct dgram d;
  uint8_t out[FRAME_MAX];
  struct weir_ipv4 ip;
  struct weir_icmp m;
  uint64_t timeout;
  int sock = bound_sock(s);
  size_t n;

  mk_dgram(&d);
  timeout = weir_stack_config(s)->reasm_timeout_us;
  frag(s, &d, 6, 0, 1480, T0);
  frag(s, &d, 6, 2960, d.len - 2960, T0 + 10);
  CHECK_UEQ(weir_deadline(s), T0 + timeout);
  weir_timers(s, T0 + timeout - 1);
  CHECK_EQ(drain(s, T0 + timeout - 1), 0);
  weir_timers(s, T0 + timeout);
  CHECK_EQ(stat(s, WEIR_STAT_REASM_TIMEOUT), 1);
  n = weir_output(s, out, sizeof(out), T0 + timeout);
  CHECK_EQ(weir_ipv4_parse(&ip, out, n), 0);
  CHECK_UEQ(ip.dst, PEER_IP);
  CHECK_EQ(weir_icmp_parse(&m, ip.payload, ip.payload_len), 0);
  CHECK_EQ(m.type, WEIR_ICMP_TIME_EXCEEDED);
  CHECK_EQ(m.code, 1);
  CHECK(m.payload_len >= 28);
  CHECK_EQ(m.payload[6] & 0x20, 0x20); /* quotes the first fragment (MF) */
  /* The late fragment starts a new datagram; nothing is delivered. */
  frag(s, &d, 6, 1480, 1480, T0 + timeout + 1);
  CHECK(nothing_queued(s, sock));
  weir_stack_free(s);
}

TEST(test_reasm_timeout_without_first_fragment_sends_nothing)
{
  struct weir_stack *s = mk_stack(WEIR_LINK_IP, NULL);
  static struct dgram d;
  uint64_t timeout;
  mk_dgram(&d);
  timeout = weir_stack_config(s)->reasm_timeout_us;
  frag(s, &d, 7, 1480, 1480, T0);
  weir_timers(s, T0 + timeout);
  CHECK_EQ(stat(s, WEIR_STAT_REASM_TIMEOUT), 1);
  CHECK_EQ(drain(s, T0 + timeout), 0);
  weir_stack_free(s);
}

static void small_reasm(struct weir_config *c)
{
  c->reasm_max_size = 2000;
  c->reasm_datagrams = 2;
  c->reasm_max_frags = 4;
}

TEST(test_reasm_oversize_datagram_is_dropped)
{
  struct weir_stack *s = mk_stack(WEIR_LINK_IP, small_reasm);
  static struct dgram d;
  int sock = bound_sock(s);
  mk_dgram(&d);
  frag(s, &d, 8, 0, 1480, T0);
  frag(s, &d, 8, 1480, 1480, T0 + 1); /* ends at 2960 > 2000 */
  CHECK_EQ(stat(s, WEIR_STAT_REASM_OVERSIZE), 1);
  frag(s, &d, 8, 2960, d.len - 2960, T0 + 2);
  CHECK(nothing_queued(s, sock));
  weir_stack_free(s);
}

TEST(test_reasm_datagram_limit_drops_new_datagrams)
{
  struct weir_stack *s = mk_stack(WEIR_LINK_IP, small_reasm);
  static struct dgram d;
  mk_dgram(&d);
  frag(s, &d, 10, 0, 1480, T0);
  frag(s, &d, 11, 0, 1480, T0);
  frag(s, &d, 12, 0, 1480, T0);
  CHECK_EQ(stat(s, WEIR_STAT_REASM_NO_SLOT), 1);
  weir_stack_free(s);
}

TEST(test_reasm_too_many_fragments_drop_the_datagram)
{
  struct weir_stack *s = mk_stack(WEIR_LINK_IP, small_reasm);
  static struct dgram d;
  mk_dgram(&d);
  for (int i = 0; i < 5; i++)
    frag(s, &d, 13, (size_t)i * 8, 8, T0);
  CHECK_EQ(stat(s, WEIR_STAT_REASM_TOO_MANY_FRAGS), 1);
  weir_stack_free(s);
}

static void byte_limited(struct weir_config *c)
{
  c->reasm_max_bytes = 2000;
}

TEST(test_reasm_total_byte_limit_is_enforced)
{
  struct weir_stack *s = mk_stack(WEIR_LINK_IP, byte_limited);
  static struct dgram d;
  mk_dgram(&d);
  frag(s, &d, 14, 0, 1480, T0);
  frag(s, &d, 15, 0, 1480, T0); /* 2960 bytes held would pass the limit */
  CHECK_EQ(stat(s, WEIR_STAT_REASM_NO_SLOT), 1);
  weir_stack_free(s);
}

TEST(test_reasm_non_last_fragment_not_multiple_of_8_is_dropped)
{
  struct weir_stack *s = mk_stack(WEIR_LINK_IP, NULL);
  static struct dgram d;
  mk_dgram(&d);
  frag(s, &d, 16, 0, 1481, T0);
  CHECK_EQ(stat(s, WEIR_STAT_DROP_IP_MALFORMED), 1);
  CHECK_UEQ(weir_deadline(s), UINT64_MAX);
  weir_stack_free(s);
}

TEST(test_reasm_ping_of_death_is_dropped)
{
  struct weir_stack *s = mk_stack(WEIR_LINK_IP, NULL);
  uint8_t f[FRAME_MAX], data[1480];
  size_t n;
  memset(data, 0, sizeof(data));
  /* Offset 65528 + 1480 bytes runs past 65535. */
  n = mk_ip(f, PEER_IP, US_IP, WEIR_IP_PROTO_ICMP, 17, 0, 65528, data,
            sizeof(data));
  weir_input(s, f, n, T0);
  CHECK_EQ(stat(s, WEIR_STAT_DROP_IP_MALFORMED), 1);
  CHECK_EQ(stat(s, WEIR_STAT_REASM_FRAGS), 0);
  weir_stack_free(s);
}

TEST(test_reasm_large_echo_reply_over_mtu_is_counted_not_sent)
{
  struct weir_stack *s = mk_stack(WEIR_LINK_IP, NULL);
  uint8_t data[2000], icmp[2100], f[FRAME_MAX];
  size_t n, off;
  memset(data, 'p', sizeof(data));
  n = mk_echo(icmp, 1, 1, data, sizeof(data));
  for (off = 0; off < n; off += 1480) {
    size_t len = n - off < 1480 ? n - off : 1480;
    size_t m = mk_ip(f, PEER_IP, US_IP, WEIR_IP_PROTO_ICMP, 18, off + len < n,
                     (uint16_t)off, icmp + off, len);
    weir_input(s, f, m, T0);
  }
  CHECK_EQ(stat(s, WEIR_STAT_REASM_OK), 1);
  CHECK_EQ(stat(s, WEIR_STAT_ICMP_ECHO_IN), 1);
  CHECK_EQ(stat(s, WEIR_STAT_DROP_TX_TOO_BIG), 1);
  CHECK_EQ(drain(s, T0), 0);
  weir_stack_free(s);
}
