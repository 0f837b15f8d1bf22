/* Two weir stacks joined by an in-memory link: whole TCP connections
 * end to end, with and without loss and reordering, in virtual time. */
#include <stdlib.h>
#include <string.h>

#include "harness/test.h"
#include "stack_util.h"

#define A_IP 0x0a4d0002u
#define B_IP 0x0a4d0003u
#define MAXQ 4096

struct frame {
  uint16_t len;
  uint8_t data[1600];
};

/* One direction of the link: a FIFO with an optional deterministic
 * impairment (drop every `drop_every`th frame, swap pairs). */
struct wire {
  struct frame *q;
  int head, n;
  unsigned count, drop_every, swap_every, dropped, oversize;
};

struct pair {
  struct weir_stack *a, *b;
  struct wire ab, ba;
  uint64_t now;
};

static int g_no_sack, g_no_ts; /* options both stacks of the next pair get */

/* A counting allocator, when g_count is set. */
struct counter {
  long allocs, frees;
  int refuse; /* nonzero: every allocation fails */
};
static struct counter *g_count;

static void *count_alloc(void *ctx, size_t n)
{
  struct counter *c = ctx;
  if (c->refuse)
    return NULL;
  c->allocs++;
  return malloc(n);
}

static void count_free(void *ctx, void *p)
{
  ((struct counter *)ctx)->frees++;
  free(p);
}

static void tweak_pair(struct weir_config *c)
{
  c->link = WEIR_LINK_IP;
  c->tcp_sack = !g_no_sack;
  c->tcp_timestamps = !g_no_ts;
  if (g_count) {
    c->alloc.alloc = count_alloc;
    c->alloc.free = count_free;
    c->alloc.ctx = g_count;
  }
  c->tcp_msl_us = 1000000;
  c->max_sockets = 16;
}

static void tweak_pair_b(struct weir_config *c)
{
  tweak_pair(c);
  c->ip = B_IP;
  c->secret[0] ^= 0xff;
}

static int pair_init(struct pair *p, unsigned drop_every, unsigned swap_every)
{
  memset(p, 0, sizeof(*p));
  p->a = mk_stack(WEIR_LINK_IP, tweak_pair);
  p->b = mk_stack(WEIR_LINK_IP, tweak_pair_b);
  p->ab.q = calloc(MAXQ, sizeof(struct frame));
  p->ba.q = calloc(MAXQ, sizeof(struct frame));
  p->ab.drop_every = p->ba.drop_every = drop_every;
  p->ab.swap_every = p->ba.swap_every = swap_every;
  p->now = 1000000;
  return p->a && p->b && p->ab.q && p->ba.q;
}

static void pair_free(struct pair *p)
{
  weir_stack_free(p->a);
  weir_stack_free(p->b);
  free(p->ab.q);
  free(p->ba.q);
}

/* Moves what `from` sends onto the wire. */
static int collect(struct weir_stack *from, struct wire *w, uint64_t now)
{
  struct frame f;
  size_t n;
  int moved = 0;
  while ((n = weir_output(from, f.data, sizeof(f.data), now)) > 0) {
    moved++;
    if (n > weir_stack_config(from)->mtu)
      w->oversize++; /* a real link would refuse it */
    w->count++;
    if (w->drop_every && w->count % w->drop_every == 0) {
      w->dropped++;
      continue;
    }
    if (w->n == MAXQ)
      continue;
    f.len = (uint16_t)n;
    w->q[(w->head + w->n) % MAXQ] = f;
    w->n++;
    if (w->swap_every && w->count % w->swap_every == 0 && w->n >= 2) {
      struct frame *x = &w->q[(w->head + w->n - 1) % MAXQ];
      struct frame *y = &w->q[(w->head + w->n - 2) % MAXQ];
      struct frame tmp = *x;
      *x = *y;
      *y = tmp;
    }
  }
  return moved;
}

static int deliver(struct weir_stack *to, struct wire *w, uint64_t now)
{
  int n = w->n;
  while (w->n) {
    struct frame *f = &w->q[w->head];
    w->head = (w->head + 1) % MAXQ;
    w->n--;
    weir_input(to, f->data, f->len, now);
  }
  return n;
}

/* One step of the world: frames cross (with 100 us of latency), and if
 * nothing moved, time jumps to the next deadline. Returns 0 when nothing
 * at all is left to happen. */
static int step(struct pair *p)
{
  int moved = collect(p->a, &p->ab, p->now) + collect(p->b, &p->ba, p->now);
  uint64_t da, db, d;
  if (p->ab.n || p->ba.n) {
    p->now += 100;
    weir_timers(p->a, p->now);
    weir_timers(p->b, p->now);
    deliver(p->b, &p->ab, p->now);
    deliver(p->a, &p->ba, p->now);
    return 1;
  }
  if (moved)
    return 1;
  da = weir_deadline(p->a);
  db = weir_deadline(p->b);
  d = da < db ? da : db;
  if (d == UINT64_MAX)
    return 0;
  if (d > p->now)
    p->now = d;
  weir_timers(p->a, p->now);
  weir_timers(p->b, p->now);
  return 1;
}

static uint8_t pat(size_t i)
{
  return (uint8_t)(i * 131 + (i >> 11));
}

/* B connects to A; B sends `total` bytes; A echoes them; B checks the
 * echo, then both close. Returns 0 on success or the step that failed. */
static int echo_run(struct pair *p, size_t total, int *why)
{
  int ls = weir_tcp_open(p->a), as = -1, cs = weir_tcp_open(p->b);
  static uint8_t buf[65536];
  size_t sent = 0, echoed_in = 0, echoed_out = 0, back = 0;
  size_t a_pending = 0, a_off = 0;
  static uint8_t a_buf[65536];
  int b_shut = 0, a_shut = 0, b_eof = 0, steps = 0;

  *why = 0;
  if (weir_tcp_listen(p->a, ls, 80, 8) != 0)
    return *why = 1;
  if (weir_tcp_connect(p->b, cs, A_IP, 80, p->now) != 0)
    return *why = 2;
  while (steps++ < 2000000) {
    int r;
    if (as < 0) {
      as = weir_tcp_accept(p->a, ls, NULL, NULL);
      if (as < 0 && as != WEIR_EAGAIN)
        return *why = 3;
    }
    /* B: send the pattern. */
    while (sent < total) {
      size_t n = total - sent < sizeof(buf) ? total - sent : sizeof(buf);
      for (size_t i = 0; i < n; i++)
        buf[i] = pat(sent + i);
      r = weir_tcp_send(p->b, cs, buf, n, p->now);
      if (r == WEIR_EAGAIN || r == WEIR_ENOTCONN)
        break;
      if (r < 0)
        return *why = 4;
      sent += (size_t)r;
    }
    if (sent == total && !b_shut && weir_tcp_shutdown(p->b, cs, p->now) == 0)
      b_shut = 1;
    /* A: echo. */
    if (as >= 0 && !a_shut) {
      for (;;) {
        if (a_pending) {
          r = weir_tcp_send(p->a, as, a_buf + a_off, a_pending, p->now);
          if (r == WEIR_EAGAIN)
            break;
          if (r < 0)
            return *why = 5;
          a_off += (size_t)r;
          a_pending -= (size_t)r;
          echoed_out += (size_t)r;
          continue;
        }
        r = weir_tcp_recv(p->a, as, a_buf, sizeof(a_buf), p->now);
        if (r == WEIR_EAGAIN)
          break;
        if (r == 0) {
          if (!a_shut) {
            weir_tcp_close(p->a, as, p->now);
            a_shut = 1;
          }
          break;
        }
        if (r < 0)
          return *why = 6;
        echoed_in += (size_t)r;
        a_pending = (size_t)r;
        a_off = 0;
      }
    }
    /* B: read the echo. */
    for (;;) {
      r = weir_tcp_recv(p->b, cs, buf, sizeof(buf), p->now);
      if (r == WEIR_EAGAIN)
        break;
      if (r == 0) {
        b_eof = 1;
        break;
      }
      if (r < 0)
        return *why = 7;
      for (int i = 0; i < r; i++)
        if (buf[i] != pat(back + (size_t)i))
          return *why = 8;
      back += (size_t)r;
    }
    if (b_eof) {
      weir_tcp_close(p->b, cs, p->now);
      break;
    }
    {
      struct weir_event ev;
      while (weir_next_event(p->a, &ev) || weir_next_event(p->b, &ev))
        ;
    }
    if (!step(p))
      return *why = 9;
  }
  if (back != total)
    return *why = 10;
  if (p->ab.oversize || p->ba.oversize)
    return *why = 11; /* a frame larger than the MTU was sent */
  weir_tcp_close(p->a, ls, p->now);
  /* Let TIME-WAIT and every timer run out: nothing may be left. */
  while (step(p) && steps++ < 4000000)
    ;
  (void)echoed_in;
  (void)echoed_out;
  return 0;
}

TEST(test_tcp_pair_echo_1mib)
{
  static struct pair p;
  int why;
  CHECK(pair_init(&p, 0, 0));
  CHECK_EQ(echo_run(&p, 1 << 20, &why), 0);
  CHECK_EQ(weir_stats(p.a)->c[WEIR_STAT_TCP_RETRANSMITS], 0);
  CHECK_EQ(weir_stats(p.a)->c[WEIR_STAT_TCP_CONN_OPENED], 1);
  CHECK_UEQ(weir_deadline(p.a), UINT64_MAX);
  CHECK_UEQ(weir_deadline(p.b), UINT64_MAX);
  pair_free(&p);
}

TEST(test_tcp_pair_echo_survives_loss)
{
  static struct pair p;
  int why;
  CHECK(pair_init(&p, 37, 0));
  CHECK_EQ(echo_run(&p, 1 << 20, &why), 0);
  CHECK(p.ab.dropped > 10 && p.ba.dropped > 10);
  /* Losses are repaired by fast retransmit (SACK recovery here), not by
   * waiting for timeouts. */
  CHECK(weir_stats(p.b)->c[WEIR_STAT_TCP_FAST_RETRANSMITS] > 5);
  CHECK(weir_stats(p.b)->c[WEIR_STAT_TCP_TIMEOUTS] <= 2);
  pair_free(&p);
}

TEST(test_tcp_pair_echo_survives_reordering)
{
  static struct pair p;
  int why;
  CHECK(pair_init(&p, 0, 5));
  CHECK_EQ(echo_run(&p, 1 << 20, &why), 0);
  pair_free(&p);
}

TEST(test_tcp_pair_echo_survives_loss_and_reordering)
{
  static struct pair p;
  int why;
  CHECK(pair_init(&p, 23, 7));
  CHECK_EQ(echo_run(&p, 1 << 20, &why), 0);
  pair_free(&p);
}

TEST(test_tcp_pair_newreno_without_sack_recovers_by_fast_retransmit)
{
  static struct pair p;
  int why;
  g_no_sack = 1;
  g_no_ts = 1;
  CHECK(pair_init(&p, 37, 0));
  g_no_sack = g_no_ts = 0;
  CHECK_EQ(echo_run(&p, 1 << 20, &why), 0);
  CHECK(weir_stats(p.b)->c[WEIR_STAT_TCP_FAST_RETRANSMITS] > 5);
  pair_free(&p);
}

/* Memory is taken when a connection is set up and given back when it
 * ends: the number of allocations does not depend on how much data
 * crossed, and nothing is left once TIME-WAIT is over. */
static long allocs_for(size_t total, long *live_after)
{
  static struct pair p;
  struct counter c = {0, 0, 0};
  long allocs0, live0;
  int why;
  g_count = &c;
  if (!pair_init(&p, 0, 0))
    return -1;
  g_count = NULL;
  allocs0 = c.allocs;
  live0 = c.allocs - c.frees;
  if (echo_run(&p, total, &why) != 0)
    return -1;
  /* Blocks still live beyond what the two stacks held before. */
  *live_after = (c.allocs - c.frees) - live0;
  pair_free(&p);
  if (c.allocs != c.frees)
    return -1;
  return c.allocs - allocs0;
}

TEST(test_tcp_memory_is_per_connection_not_per_segment)
{
  long live_small, live_big;
  long small = allocs_for(64 * 1024, &live_small);
  long big = allocs_for(4 << 20, &live_big);
  CHECK(small > 0);
  CHECK_EQ(big, small);
  /* After the connections ended only the stacks' own memory is live. */
  CHECK_EQ(live_small, 0);
  CHECK_EQ(live_big, 0);
}

/* Runs the pair until B's connection to A is accepted; returns A's handle
 * or a negative value. */
static int establish(struct pair *p, int ls, int cs)
{
  int as = WEIR_EAGAIN;
  if (weir_tcp_listen(p->a, ls, 80, 8) != 0 ||
      weir_tcp_connect(p->b, cs, A_IP, 80, p->now) != 0)
    return -1;
  for (int i = 0; i < 1000 && as == WEIR_EAGAIN; i++) {
    step(p);
    as = weir_tcp_accept(p->a, ls, NULL, NULL);
  }
  return as;
}

/* An idle connection costs its TCB alone: the buffers come with the first
 * byte each way. When they cannot be had, sending fails with ENOMEM and
 * received data is dropped and counted (the peer sends it again). */
TEST(test_tcp_buffers_come_with_the_first_byte)
{
  static struct pair p;
  struct counter c = {0, 0, 0};
  long live0;
  int ls, cs, as;
  uint8_t buf[100];
  g_count = &c;
  CHECK(pair_init(&p, 0, 0));
  g_count = NULL;
  ls = weir_tcp_open(p.a);
  cs = weir_tcp_open(p.b);
  live0 = c.allocs - c.frees;
  as = establish(&p, ls, cs);
  CHECK(as >= 0);
  /* The listener's block, and one per connection on each side: the two
   * TCBs. */
  CHECK_EQ(c.allocs - c.frees - live0, 3);

  c.refuse = 1;
  CHECK_EQ(weir_tcp_send(p.b, cs, "hello", 5, p.now), WEIR_ENOMEM);
  c.refuse = 0;
  CHECK_EQ(weir_tcp_send(p.b, cs, "hello", 5, p.now), 5);
  CHECK_EQ(c.allocs - c.frees - live0, 4); /* B's send buffer */

  /* A cannot take the segment in: dropped, counted, not acknowledged. */
  c.refuse = 1;
  for (int i = 0; i < 5; i++)
    step(&p);
  CHECK(weir_stats(p.a)->c[WEIR_STAT_DROP_TCP_NO_MEM] >= 1);
  CHECK_EQ(weir_tcp_recv(p.a, as, buf, sizeof(buf), p.now), WEIR_EAGAIN);
  /* Memory comes back: B's retransmission gets through. */
  c.refuse = 0;
  for (int i = 0; i < 1000; i++) {
    int r = weir_tcp_recv(p.a, as, buf, sizeof(buf), p.now);
    if (r != WEIR_EAGAIN) {
      CHECK_EQ(r, 5);
      CHECK(memcmp(buf, "hello", 5) == 0);
      break;
    }
    CHECK(step(&p));
  }
  CHECK(weir_stats(p.b)->c[WEIR_STAT_TCP_RETRANSMITS] >= 1);
  CHECK_EQ(c.allocs - c.frees - live0, 5); /* A's receive buffer */
  weir_tcp_abort(p.a, as, p.now);
  weir_tcp_abort(p.b, cs, p.now);
  pair_free(&p);
  CHECK_EQ(c.allocs, c.frees);
}

/* The congestion control is chosen per socket, before connect or listen
 * (accepted connections take the listener's), or later; CUBIC unless
 * said otherwise. */
TEST(test_tcp_congestion_control_per_socket)
{
  static struct pair p;
  struct weir_tcp_info ia, ib;
  int ls, cs, as, cs2, as2;
  CHECK(pair_init(&p, 0, 0));
  ls = weir_tcp_open(p.a);
  cs = weir_tcp_open(p.b);
  CHECK_EQ(weir_tcp_setopt(p.b, cs, WEIR_TCP_CONGESTION, 9), WEIR_EINVAL);
  CHECK_EQ(weir_tcp_setopt(p.b, cs, WEIR_TCP_CONGESTION, WEIR_TCP_CC_RENO), 0);
  CHECK_EQ(weir_tcp_setopt(p.a, ls, WEIR_TCP_CONGESTION, WEIR_TCP_CC_RENO), 0);
  as = establish(&p, ls, cs);
  CHECK(as >= 0);
  CHECK_EQ(weir_tcp_info(p.a, as, &ia), 0);
  CHECK_EQ(weir_tcp_info(p.b, cs, &ib), 0);
  CHECK_EQ(ia.cc, WEIR_TCP_CC_RENO);
  CHECK_EQ(ib.cc, WEIR_TCP_CC_RENO);
  /* Changed on a live connection: the window stays. */
  CHECK_EQ(weir_tcp_setopt(p.b, cs, WEIR_TCP_CONGESTION, WEIR_TCP_CC_CUBIC), 0);
  CHECK_EQ(weir_tcp_info(p.b, cs, &ia), 0);
  CHECK_EQ(ia.cc, WEIR_TCP_CC_CUBIC);
  CHECK_UEQ(ia.cwnd, ib.cwnd);
  /* A second connection from a socket left alone: the default. */
  cs2 = weir_tcp_open(p.b);
  CHECK_EQ(weir_tcp_connect(p.b, cs2, A_IP, 80, p.now), 0);
  as2 = WEIR_EAGAIN;
  for (int i = 0; i < 1000 && as2 == WEIR_EAGAIN; i++) {
    step(&p);
    as2 = weir_tcp_accept(p.a, ls, NULL, NULL);
  }
  CHECK(as2 >= 0);
  CHECK_EQ(weir_tcp_info(p.b, cs2, &ib), 0);
  CHECK_EQ(ib.cc, WEIR_TCP_CC_CUBIC);
  CHECK_EQ(weir_tcp_info(p.a, as2, &ia), 0);
  CHECK_EQ(ia.cc, WEIR_TCP_CC_RENO); /* the listener's choice */
  pair_free(&p);
}
