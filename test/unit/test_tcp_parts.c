/* TCP's building blocks: sequence arithmetic, SipHash, ISNs, ranges. */
#include <string.h>

#include "harness/test.h"
#include "stack_util.h"
#include "tcp/tcb.h"

TEST(test_seq_compare_is_modular)
{
  CHECK(seq_lt(0xfffffff0u, 0x10u));
  CHECK(seq_gt(0x10u, 0xfffffff0u));
  CHECK(seq_leq(5, 5) && seq_geq(5, 5));
  CHECK(!seq_lt(5, 5));
  CHECK(seq_lt(0x7ffffffeu, 0x7fffffffu));
  CHECK_UEQ(seq_max(0xfffffff0u, 0x10u), 0x10u);
  CHECK_UEQ(seq_min(0xfffffff0u, 0x10u), 0xfffffff0u);
}

/* Test vectors from the SipHash paper (Aumasson and Bernstein, appendix
 * A) and its reference implementation: key 00 01 .. 0f. */
TEST(test_siphash24_matches_reference_vectors)
{
  uint8_t key[16], msg[64];
  for (int i = 0; i < 16; i++)
    key[i] = (uint8_t)i;
  for (int i = 0; i < 64; i++)
    msg[i] = (uint8_t)i;
  CHECK_UEQ(weir__siphash24(key, msg, 0), 0x726fdb47dd0e0e31ull);
  CHECK_UEQ(weir__siphash24(key, msg, 15), 0xa129ca6149be45e5ull);
  CHECK_UEQ(weir__siphash24(key, msg, 8), 0x93f5f5799a932462ull);
}

TEST(test_isn_is_keyed_per_tuple_and_runs_at_4us)
{
  struct weir_stack *s = mk_stack(WEIR_LINK_IP, NULL), *s2;
  uint32_t a = weir__tcp_isn(s, US_IP, 1000, PEER_IP, 80, 0);
  uint32_t b = weir__tcp_isn(s, US_IP, 1001, PEER_IP, 80, 0);
  uint32_t later = weir__tcp_isn(s, US_IP, 1000, PEER_IP, 80, 4000);
  CHECK(a != b);
  CHECK_UEQ(later - a, 1000); /* RFC 6528: M ticks every 4 us */
  CHECK_UEQ(weir__tcp_isn(s, US_IP, 1000, PEER_IP, 80, 0), a);
  {
    struct weir_config c = *weir_stack_config(s);
    c.secret[5] ^= 1;
    c.alloc.alloc = NULL;
    c.alloc.free = NULL;
    CHECK_EQ(weir_stack_new(&c, &s2), 0);
    CHECK(weir__tcp_isn(s2, US_IP, 1000, PEER_IP, 80, 0) != a);
    weir_stack_free(s2);
  }
  weir_stack_free(s);
}

TEST(test_range_add_merges_and_counts_new_bytes)
{
  struct weir__range v[4];
  uint8_t n = 0;
  int slot;
  CHECK_EQ(weir__range_add(v, &n, 4, 100, 200, &slot), 100);
  CHECK_EQ(weir__range_add(v, &n, 4, 300, 400, &slot), 100);
  CHECK_EQ(slot, 1);
  CHECK_EQ(weir__range_add(v, &n, 4, 150, 250, &slot), 50);
  CHECK_EQ(n, 2);
  CHECK_EQ(weir__range_add(v, &n, 4, 250, 300, &slot), 50); /* bridges */
  CHECK_EQ(n, 1);
  CHECK_UEQ(v[0].left, 100);
  CHECK_UEQ(v[0].right, 400);
  CHECK_EQ(weir__range_add(v, &n, 4, 120, 130, &slot), 0);
  /* Across the wrap of sequence space. */
  n = 0;
  CHECK_EQ(weir__range_add(v, &n, 4, 0xfffffff0u, 0x10u, &slot), 0x20);
  CHECK_EQ(weir__range_add(v, &n, 4, 0x10u, 0x20u, &slot), 0x10);
  CHECK_EQ(n, 1);
  /* Full: a new disjoint range is refused, and says so. */
  n = 0;
  for (uint32_t i = 0; i < 4; i++)
    weir__range_add(v, &n, 4, i * 100, i * 100 + 10, &slot);
  CHECK_EQ(weir__range_add(v, &n, 4, 1000, 1010, &slot), 0);
  CHECK_EQ(slot, -1);
}

TEST(test_state_names_follow_rfc_9293)
{
  CHECK(strcmp(weir_tcp_state_name(WEIR_TCP_SYN_SENT), "SYN-SENT") == 0);
  CHECK(strcmp(weir_tcp_state_name(WEIR_TCP_TIME_WAIT), "TIME-WAIT") == 0);
  CHECK(strcmp(weir_tcp_state_name(99), "?") == 0);
}

/* Slots (socket handles, TCB ids) are taken lowest first, across word
 * boundaries, and a table that is full says so. */
TEST(test_slots_take_lowest_free_first)
{
  struct weir_stack *s = mk_stack(WEIR_LINK_IP, NULL);
  struct weir__slots m;
  CHECK(s != NULL);
  CHECK_EQ(weir__slots_init(s, &m, 130), 0);
  for (uint32_t i = 0; i < 130; i++)
    CHECK_UEQ(weir__slot_take(&m), i);
  CHECK_UEQ(weir__slot_take(&m), WEIR__NONE); /* bits past 130 unused */
  weir__slot_put(&m, 100);
  weir__slot_put(&m, 3);
  weir__slot_put(&m, 64);
  CHECK_UEQ(weir__slot_take(&m), 3);
  CHECK_UEQ(weir__slot_take(&m), 64);
  CHECK_UEQ(weir__slot_take(&m), 100);
  CHECK_UEQ(weir__slot_take(&m), WEIR__NONE);
  weir__slot_put(&m, 129);
  CHECK_UEQ(weir__slot_take(&m), 129);
  weir__slots_free(s, &m);
  weir_stack_free(s);
}

/* Drives a congestion control algorithm with one ACK per MSS, a window's
 * worth every RTT, from `now` for `secs` seconds. */
static uint64_t ack_clock(struct weir__tcb *t, uint64_t now, uint64_t rtt,
                          uint64_t us)
{
  for (uint64_t end = now + us; now < end; now += rtt) {
    uint32_t n = t->cwnd / t->snd_mss;
    for (uint32_t i = 0; i < n; i++)
      t->cc->on_ack(t, t->snd_mss, now);
  }
  return now;
}

static void cc_tcb(struct weir__tcb *t, const struct weir__cc_ops *cc,
                   uint32_t cwnd, uint64_t rtt)
{
  memset(t, 0, sizeof(*t));
  t->cc = cc;
  t->snd_mss = 1000;
  cc->init(t);
  t->cwnd = cwnd;
  t->snd_una = 0;
  t->snd_max = cwnd; /* a full window in flight when the loss is seen */
  t->srtt = rtt;
}

/* RFC 9438: a loss at W_max = 100 segments leaves 70 (beta 0.7); the
 * window then climbs back to W_max in K = cbrt(30 / 0.4) = 4.22 s,
 * whatever the RTT, stays near it, and grows beyond it as C (t - K)^3. */
TEST(test_cubic_curve_returns_to_w_max_after_k_seconds)
{
  static struct weir__tcb t;
  uint64_t now = 1000000;
  cc_tcb(&t, &weir__cc_cubic, 100000, 100000);
  t.cc->on_loss(&t, now);
  CHECK_UEQ(t.ssthresh, 70000);
  CHECK_UEQ(t.cwnd, 70000);
  now = ack_clock(&t, now, 100000, 2000000);
  /* Halfway in time, most of the way back (concave growth). */
  CHECK(t.cwnd > 85000 && t.cwnd < 100000);
  now = ack_clock(&t, now, 100000, 2200000);
  CHECK(t.cwnd >= 97000 && t.cwnd <= 101500);
  now = ack_clock(&t, now, 100000, 3000000);
  /* W(K + 3.1 s) = 100 + 0.4 x 3.1^3 = 111.9 segments. */
  CHECK(t.cwnd >= 106000 && t.cwnd <= 115000);
}

/* With fast convergence (4.7) a second loss below the last W_max lowers
 * W_max to cwnd x (1 + beta) / 2: the flow makes room for others. */
TEST(test_cubic_fast_convergence_lowers_w_max)
{
  static struct weir__tcb t;
  uint64_t now = 1000000;
  cc_tcb(&t, &weir__cc_cubic, 100000, 100000);
  t.cc->on_loss(&t, now);
  now = ack_clock(&t, now, 100000, 1000000);
  t.snd_max = t.cwnd;
  {
    uint32_t before = t.cwnd;
    CHECK(before < 100000);
    t.cc->on_loss(&t, now);
    CHECK_UEQ(t.cubic.w_max, (uint64_t)before * 17 / 20);
    CHECK_UEQ(t.ssthresh, (uint64_t)before * 7 / 10);
  }
}

/* On a short path the Reno-friendly estimate (4.3) leads: CUBIC must not
 * grow slower than Reno would, so after the loss the window climbs by
 * about a segment per RTT, where the cubic curve alone would still be
 * below W_max. */
TEST(test_cubic_is_reno_friendly_on_short_rtt)
{
  static struct weir__tcb t;
  uint64_t now = 1000000;
  cc_tcb(&t, &weir__cc_cubic, 10000, 10000);
  t.cc->on_loss(&t, now);
  CHECK_UEQ(t.cwnd, 7000);
  ack_clock(&t, now, 10000, 500000); /* 50 RTTs, K is 1.96 s */
  CHECK(t.cwnd > 40000);
}

/* Reno halves, CUBIC keeps 0.7; both restart from one segment after an
 * RTO, and only the first timeout of a series lowers ssthresh. */
TEST(test_cc_timeout_reductions)
{
  static struct weir__tcb t;
  cc_tcb(&t, &weir__cc_reno, 20000, 100000);
  t.backoff = 1;
  t.cc->on_timeout(&t, 0);
  CHECK_UEQ(t.ssthresh, 10000);
  CHECK_UEQ(t.cwnd, 1000);
  cc_tcb(&t, &weir__cc_cubic, 20000, 100000);
  t.backoff = 1;
  t.cc->on_timeout(&t, 0);
  CHECK_UEQ(t.ssthresh, 14000);
  CHECK_UEQ(t.cwnd, 1000);
  t.backoff = 2;
  t.snd_max = 1000;
  t.cc->on_timeout(&t, 0);
  CHECK_UEQ(t.ssthresh, 14000);
}

/* RFC 7661: a window the sender is not using does not grow. */
TEST(test_cc_window_grows_only_while_it_limits)
{
  static struct weir__tcb t;
  cc_tcb(&t, &weir__cc_cubic, 20000, 100000);
  t.ssthresh = 10000; /* congestion avoidance */
  t.snd_una = 0;
  t.snd_max = 4000; /* 1000 acknowledged of 5000 in flight: not limited */
  for (int i = 0; i < 1000; i++)
    weir__cc_on_ack(&t, 1000, 1000000 + (uint64_t)i * 1000);
  CHECK_UEQ(t.cwnd, 20000);
  t.snd_max = 19500; /* full to within a segment */
  for (int i = 0; i < 1000; i++)
    weir__cc_on_ack(&t, 1000, 2000000 + (uint64_t)i * 1000);
  CHECK(t.cwnd > 20000);
  /* Slow start: grows while half the window is in flight. */
  cc_tcb(&t, &weir__cc_reno, 20000, 100000);
  t.snd_max = 8000;
  weir__cc_on_ack(&t, 1000, 0);
  CHECK_UEQ(t.cwnd, 20000);
  t.snd_max = 9000;
  weir__cc_on_ack(&t, 1000, 0);
  CHECK_UEQ(t.cwnd, 21000);
}
