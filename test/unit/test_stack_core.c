/* The stack object itself: configuration, memory, determinism, timers. */
#include <stdlib.h>
#include <string.h>

#include "harness/test.h"
#include "stack_util.h"
#include "wire/ipv4.h"

#define T0 11000000u

/* An allocator that counts, and can be told to fail the Nth request. */
struct counting {
  long allocs, frees, fail_at;
};

static void *c_alloc(void *ctx, size_t n)
{
  struct counting *c = ctx;
  if (c->fail_at && c->allocs + 1 == c->fail_at)
    return NULL;
  c->allocs++;
  return malloc(n);
}

static void c_free(void *ctx, void *p)
{
  struct counting *c = ctx;
  c->frees++;
  free(p);
}

static struct counting *g_counting; /* only for the tweak below */

static void use_counting(struct weir_config *c)
{
  c->alloc.alloc = c_alloc;
  c->alloc.free = c_free;
  c->alloc.ctx = g_counting;
}

TEST(test_config_rejects_bad_values)
{
  struct weir_config c, ok;
  struct weir_stack *s = (struct weir_stack *)&c;
  weir_config_default(&ok);
  memcpy(ok.mac, US_MAC, 6);
  ok.ip = US_IP;
  ok.prefix_len = 24;
#define BAD(stmt)                                                              \
  do {                                                                         \
    c = ok;                                                                    \
    stmt;                                                                      \
    CHECK_EQ(weir_stack_new(&c, &s), WEIR_EINVAL);                             \
    CHECK(s == NULL);                                                          \
  } while (0)
  BAD(c.ip = 0);
  BAD(c.ip = 0xe0000001u);
  BAD(c.ip = 0x7f000001u);
  BAD(c.prefix_len = 33);
  BAD(c.mtu = 575);
  BAD(c.mac[0] = 0x01); /* multicast */
  BAD(memset(c.mac, 0, 6));
  BAD(c.link = 0);
  BAD(c.gateway = US_IP);
  BAD(c.tx_slots = 2);
  BAD(c.max_sockets = 0);
  BAD(c.reasm_max_size = 100);
  BAD(c.alloc.alloc = c_alloc); /* alloc without free */
#undef BAD
  c = ok;
  CHECK_EQ(weir_stack_new(&c, &s), 0);
  weir_stack_free(s);
  c.link = WEIR_LINK_IP;
  memset(c.mac, 0, 6); /* no MAC needed on a bare IP link */
  CHECK_EQ(weir_stack_new(&c, &s), 0);
  weir_stack_free(s);
}

TEST(test_every_allocation_failure_is_clean)
{
  struct counting c;
  long total;
  struct weir_stack *s;
  memset(&c, 0, sizeof(c));
  g_counting = &c;
  s = mk_stack(WEIR_LINK_ETHERNET, use_counting);
  CHECK(s != NULL);
  weir_stack_free(s);
  total = c.allocs;
  CHECK_EQ(c.frees, c.allocs);
  CHECK(total > 3);
  for (long n = 1; n <= total; n++) {
    memset(&c, 0, sizeof(c));
    c.fail_at = n;
    s = mk_stack(WEIR_LINK_ETHERNET, use_counting);
    CHECK(s == NULL);
    CHECK_EQ(c.frees, c.allocs); /* nothing leaked on the way out */
  }
}

TEST(test_packet_path_does_not_allocate_once_warm)
{
  struct counting c;
  struct weir_stack *s;
  uint8_t f[FRAME_MAX], buf[64];
  int sock;
  long before;
  memset(&c, 0, sizeof(c));
  g_counting = &c;
  s = mk_stack(WEIR_LINK_ETHERNET, use_counting);
  sock = weir_udp_open(s);
  CHECK_EQ(weir_udp_bind(s, sock, 7), 0);
  before = c.allocs;
  for (int i = 0; i < 100; i++) {
    size_t n =
        mk_arp_frame(f, 1, PEER_MAC, PEER_IP, (const uint8_t[6]){0}, US_IP);
    weir_input(s, f, n, T0 + (uint64_t)i);
    n = mk_udp_in(f, WEIR_LINK_ETHERNET, PEER_IP, 1000, 7, "ping", 4);
    weir_input(s, f, n, T0 + (uint64_t)i);
    n = mk_udp_in(f, WEIR_LINK_ETHERNET, PEER_IP, 1000, 9, "closed", 6);
    weir_input(s, f, n, T0 + (uint64_t)i);
    CHECK_EQ(weir_udp_recvfrom(s, sock, buf, sizeof(buf), NULL, NULL), 4);
    CHECK_EQ(weir_udp_sendto(s, sock, buf, 4, PEER_IP, 1000, T0), 4);
    drain(s, T0 + (uint64_t)i);
    weir_timers(s, T0 + (uint64_t)i);
  }
  CHECK_EQ(c.allocs, before);
  weir_stack_free(s);
  CHECK_EQ(c.frees, c.allocs);
}

/* Runs a fixed mix of traffic through a fresh stack and appends every
 * output frame (length-prefixed) and the final counters to `log`. */
static size_t script(uint8_t *log, size_t cap)
{
  struct weir_stack *s = mk_stack(WEIR_LINK_ETHERNET, NULL);
  uint8_t f[FRAME_MAX], buf[FRAME_MAX];
  size_t used = 0, n;
  int sock = weir_udp_open(s);
  weir_udp_bind(s, sock, 7);
  for (int i = 0; i < 50; i++) {
    uint64_t now = T0 + (uint64_t)i * 250000u;
    switch (i % 5) {
    case 0:
      n = mk_udp_in(f, WEIR_LINK_ETHERNET, PEER_IP, 1000, 7, "abc", 3);
      break;
    case 1:
      n = mk_udp_in(f, WEIR_LINK_ETHERNET, PEER_IP, 1000, 99, "abc", 3);
      break;
    case 2:
      n = mk_arp_frame(f, 1, PEER_MAC, PEER_IP, (const uint8_t[6]){0}, US_IP);
      break;
    default:
      n = 0;
      break;
    }
    if (n)
      weir_input(s, f, n, now);
    if (i % 7 == 0)
      weir_udp_sendto(s, sock, "out", 3, 0x0a4d0000u + (uint32_t)i, 7, now);
    weir_timers(s, now);
    while ((n = weir_output(s, buf, sizeof(buf), now)) > 0 &&
           used + n + 2 <= cap) {
      log[used++] = (uint8_t)(n >> 8);
      log[used++] = (uint8_t)n;
      memcpy(log + used, buf, n);
      used += n;
    }
  }
  if (used + sizeof(struct weir_stats) <= cap) {
    memcpy(log + used, weir_stats(s), sizeof(struct weir_stats));
    used += sizeof(struct weir_stats);
  }
  weir_stack_free(s);
  return used;
}

TEST(test_same_inputs_at_same_times_give_identical_outputs)
{
  static uint8_t a[1 << 16], b[1 << 16];
  size_t na = script(a, sizeof(a)), nb = script(b, sizeof(b));
  CHECK(na > 1000);
  CHECK_BYTES(a, na, b, nb);
}

TEST(test_deadline_is_the_earliest_timer)
{
  struct weir_stack *s = mk_stack(WEIR_LINK_ETHERNET, NULL);
  int sock = weir_udp_open(s);
  uint64_t retry = weir_stack_config(s)->arp_retry_us;
  CHECK_UEQ(weir_deadline(s), UINT64_MAX);
  /* Three resolutions started at different times; the heap must give
   * them back in time order whatever the order they were armed in. */
  CHECK_EQ(weir_udp_sendto(s, sock, "x", 1, 0x0a4d0031u, 7, T0 + 300), 1);
  CHECK_EQ(weir_udp_sendto(s, sock, "x", 1, 0x0a4d0032u, 7, T0 + 100), 1);
  CHECK_EQ(weir_udp_sendto(s, sock, "x", 1, 0x0a4d0033u, 7, T0 + 200), 1);
  CHECK_UEQ(weir_deadline(s), T0 + 100 + retry);
  weir_timers(s, T0 + 100 + retry);
  CHECK_UEQ(weir_deadline(s), T0 + 200 + retry);
  weir_timers(s, T0 + 250 + retry);
  CHECK_UEQ(weir_deadline(s), T0 + 300 + retry);
  weir_stack_free(s);
}

TEST(test_counters_have_names_and_descriptions)
{
  for (int i = 0; i < WEIR_STAT__COUNT; i++) {
    CHECK(weir_stat_name(i) != NULL && weir_stat_name(i)[0] != '\0');
    CHECK(weir_stat_desc(i) != NULL);
  }
  CHECK(weir_stat_name(WEIR_STAT__COUNT) == NULL);
  CHECK(weir_stat_name(-1) == NULL);
  CHECK(strcmp(weir_stat_name(WEIR_STAT_DROP_IP_CHECKSUM),
               "DROP_IP_CHECKSUM") == 0);
  CHECK(strcmp(weir_strerror(WEIR_EHOSTUNREACH), "no route to host") == 0);
  CHECK(strcmp(weir_strerror(12345), "unknown error") == 0);
}
