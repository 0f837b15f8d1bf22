/* Congestion control: how big the window is. Loss detection and repair
 * (NewReno, RFC 6582; SACK-based, RFC 6675) live in input.c and
 * output.c; an algorithm here only answers four events through struct
 * weir__cc_ops.
 *
 * Reno: RFC 5681 slow start and congestion avoidance with the initial
 * window of RFC 6928.
 * CUBIC (RFC 9438), the default: the same slow start; after a loss the
 * window shrinks to 0.7 of itself and then follows a cubic curve in real
 * time that is flat near the window where the loss happened, so a long
 * fat path refills in seconds rather than Reno's one MSS per RTT. Integer
 * arithmetic only (the core runs where there is no FPU). */
#include "tcp/tcb.h"

static void reno_init(struct weir__tcb *t)
{
  /* RFC 6928: min(10 MSS, max(2 MSS, 14600)). snd_mss is final once the
   * handshake is done; input.c calls this again then. */
  uint32_t mss = t->snd_mss, iw = 14600;
  if (iw < 2 * mss)
    iw = 2 * mss;
  if (iw > 10 * mss)
    iw = 10 * mss;
  t->cwnd = iw;
  t->ssthresh = UINT32_MAX / 2; /* "arbitrarily high" (RFC 5681 3.1) */
  t->bytes_acked_ca = 0;
}

static void reno_on_ack(struct weir__tcb *t, uint32_t acked, uint64_t now)
{
  (void)now;
  if (t->cwnd < t->ssthresh) {
    /* Slow start: cwnd += min(N, SMSS) per ACK (RFC 5681 3.1, eq. 2). */
    t->cwnd += acked < t->snd_mss ? acked : t->snd_mss;
    return;
  }
  /* Congestion avoidance by byte counting (RFC 5681 3.1, RFC 3465):
   * one SMSS per cwnd of data acknowledged. */
  t->bytes_acked_ca += acked;
  if (t->bytes_acked_ca >= t->cwnd) {
    t->bytes_acked_ca -= t->cwnd;
    t->cwnd += t->snd_mss;
  }
}

static uint32_t half_flight(const struct weir__tcb *t)
{
  uint32_t flight = t->snd_max - t->snd_una, half = flight / 2;
  return half > 2 * t->snd_mss ? half : 2 * t->snd_mss;
}

/* RFC 5681 3.2 step 2: ssthresh = max(FlightSize / 2, 2 SMSS). */
static void reno_on_loss(struct weir__tcb *t, uint64_t now)
{
  (void)now;
  t->ssthresh = half_flight(t);
  t->cwnd = t->ssthresh;
  t->bytes_acked_ca = 0;
}

/* RFC 5681 3.1 eq. 4 and the loss window: cwnd = 1 SMSS. */
static void reno_on_timeout(struct weir__tcb *t, uint64_t now)
{
  (void)now;
  /* Only the first timeout of a series halves (RFC 5681 eq. 4 note):
   * after that the flight is what we resend, not the path's measure. */
  if (t->backoff <= 1)
    t->ssthresh = half_flight(t);
  t->cwnd = t->snd_mss;
  t->bytes_acked_ca = 0;
}

const struct weir__cc_ops weir__cc_reno = {
    "reno", reno_init, reno_on_ack, reno_on_loss, reno_on_timeout,
};

/* ------------------------------------------------------------- CUBIC */

/* RFC 9438 4.5 and 4.6: beta_cubic = 0.7, C = 0.4 segments / s^3, and
 * alpha_cubic = 3 (1 - beta) / (1 + beta) = 0.529 for the Reno-friendly
 * estimate (4.3). */
#define BETA_NUM  7
#define BETA_DEN  10
#define ALPHA_NUM 529
#define ALPHA_DEN 1000

/* floor(cbrt(x)), by bisection: 22 steps for any 64-bit x. */
static uint64_t icbrt(uint64_t x)
{
  uint64_t lo = 0, hi = 2642246; /* cbrt(2^64) < 2642246 */
  while (lo < hi) {
    uint64_t mid = (lo + hi + 1) / 2;
    if (mid * mid * mid <= x)
      lo = mid;
    else
      hi = mid - 1;
  }
  return lo;
}

static void cubic_reset(struct weir__tcb *t)
{
  struct weir__cubic *c = &t->cubic;
  c->epoch_start = 0;
  c->grow_acc = 0;
  c->est_acc = 0;
}

static void cubic_init(struct weir__tcb *t)
{
  reno_init(t);
  t->cubic = (struct weir__cubic){0};
}

/* Starts a growth epoch (RFC 9438 4.2): K is how long the curve takes
 * from the window now to w_max, K = cbrt((W_max - cwnd) / C) seconds.
 * With the gap in thousandths of a segment, in microseconds:
 *   K = cbrt(gap / 1000 / 0.4) * 10^6 = cbrt(gap * 2.5 * 10^9) * 100,
 * within 64 bits for any window up to 2^30 bytes. */
static void cubic_begin(struct weir__tcb *t, uint64_t now)
{
  struct weir__cubic *c = &t->cubic;
  c->epoch_start = now ? now : 1;
  c->w_est = t->cwnd;
  c->est_acc = 0;
  c->grow_acc = 0;
  if (t->cwnd < c->w_max) {
    uint64_t gap = (uint64_t)(c->w_max - t->cwnd) * 1000 / t->snd_mss;
    c->k_us = icbrt(gap * 2500000000u) * 100;
    c->origin = c->w_max;
  } else {
    c->k_us = 0;
    c->origin = t->cwnd;
  }
}

/* W_cubic(t) = C (t - K)^3 + W_max (RFC 9438 eq. 1), in bytes, for t in
 * microseconds since the epoch began. |t - K| is capped at 30 s (10,800
 * segments of growth) so that the cube fits in 64 bits for any MSS;
 * cubic_on_ack clamps the result to 1.5 cwnd anyway. */
static uint64_t cubic_window(const struct weir__tcb *t, uint64_t elapsed)
{
  const struct weir__cubic *c = &t->cubic;
  uint64_t d, cube;
  int below = elapsed < c->k_us;
  d = below ? c->k_us - elapsed : elapsed - c->k_us;
  if (d > 30000000)
    d = 30000000;
  /* C (d / 10^6 s)^3 segments = 0.4 * mss * d^3 / 10^18 bytes; d in
   * units of 1/1024 s keeps d^3 * mss within 64 bits. */
  d = d * 1024 / 1000000;
  cube = d * d * d * t->snd_mss * 2 / 5 >> 30;
  if (below)
    return cube >= c->origin ? 0 : c->origin - cube;
  return c->origin + cube;
}

static void cubic_on_ack(struct weir__tcb *t, uint32_t acked, uint64_t now)
{
  struct weir__cubic *c = &t->cubic;
  uint64_t target, w_cubic;

  if (t->cwnd < t->ssthresh) {
    reno_on_ack(t, acked, now); /* slow start, as Reno (RFC 9438 4.10) */
    return;
  }
  if (c->epoch_start == 0)
    cubic_begin(t, now);

  /* The window one RTT from now (4.4), at least cwnd and at most 1.5
   * cwnd (the clamp of 4.4, which also bounds the burst). */
  w_cubic = cubic_window(t, now - c->epoch_start + t->srtt);
  target = w_cubic;
  if (target < t->cwnd)
    target = t->cwnd;
  if (target > (uint64_t)t->cwnd * 3 / 2)
    target = (uint64_t)t->cwnd * 3 / 2;

  /* The Reno-friendly estimate (4.3): alpha_cubic segments per window of
   * data acknowledged, 1 once it has passed the window before the loss. */
  c->est_acc += acked;
  while (c->est_acc >= t->cwnd) {
    c->est_acc -= t->cwnd;
    c->w_est += c->w_est >= c->cwnd_prior ? t->snd_mss
                                          : t->snd_mss * ALPHA_NUM / ALPHA_DEN;
  }
  if (w_cubic < c->w_est) {
    if (c->w_est > t->cwnd)
      t->cwnd = c->w_est;
    return;
  }
  /* cwnd += (target - cwnd) / cwnd per segment acknowledged, in bytes,
   * keeping the remainder so that small ACKs add up. */
  c->grow_acc += (target - t->cwnd) * acked;
  if (c->grow_acc >= t->cwnd) {
    t->cwnd += (uint32_t)(c->grow_acc / t->cwnd);
    c->grow_acc %= t->cwnd;
  }
}

/* A congestion event (4.6 and 4.7): ssthresh = 0.7 x FlightSize, and
 * with fast convergence a flow whose window is shrinking gives up some
 * of its claim to make room for newer flows. */
static void cubic_reduce(struct weir__tcb *t)
{
  struct weir__cubic *c = &t->cubic;
  uint32_t flight = t->snd_max - t->snd_una;
  uint32_t floor = 2 * t->snd_mss;
  if (t->cwnd < c->w_max)
    c->w_max =
        (uint32_t)((uint64_t)t->cwnd * (BETA_DEN + BETA_NUM) / (2 * BETA_DEN));
  else
    c->w_max = t->cwnd;
  c->cwnd_prior = t->cwnd;
  t->ssthresh = (uint32_t)((uint64_t)flight * BETA_NUM / BETA_DEN);
  if (t->ssthresh < floor)
    t->ssthresh = floor;
  cubic_reset(t);
}

static void cubic_on_loss(struct weir__tcb *t, uint64_t now)
{
  (void)now;
  cubic_reduce(t);
  t->cwnd = t->ssthresh;
  t->bytes_acked_ca = 0;
}

/* 4.8: after an RTO the window restarts from one segment in slow start;
 * only the first timeout of a series counts as a congestion event. */
static void cubic_on_timeout(struct weir__tcb *t, uint64_t now)
{
  (void)now;
  if (t->backoff <= 1)
    cubic_reduce(t);
  t->cwnd = t->snd_mss;
  t->bytes_acked_ca = 0;
}

const struct weir__cc_ops weir__cc_cubic = {
    "cubic", cubic_init, cubic_on_ack, cubic_on_loss, cubic_on_timeout,
};

const struct weir__cc_ops *weir__cc_find(int which)
{
  return which == WEIR_TCP_CC_RENO ? &weir__cc_reno : &weir__cc_cubic;
}

void weir__cc_init(struct weir__tcb *t)
{
  t->cc->init(t);
}

/* RFC 7661: the window grows only while it is what limits the sender.
 * A window that the peer's window or the application keeps from being
 * used is a measure of nothing, and a burst waiting to happen (a bulk
 * transfer into a 4 MiB receive window grew cwnd to 35 MB). As Linux:
 * in slow start while at least half the window was in flight, in
 * congestion avoidance while it was full to within a segment. */
static int cwnd_limited(const struct weir__tcb *t, uint32_t acked)
{
  uint32_t flight = t->snd_max - t->snd_una + acked; /* before this ACK */
  if (t->cwnd < t->ssthresh)
    return flight >= t->cwnd / 2;
  return flight + t->snd_mss > t->cwnd;
}

void weir__cc_on_ack(struct weir__tcb *t, uint32_t acked, uint64_t now)
{
  if (cwnd_limited(t, acked))
    t->cc->on_ack(t, acked, now);
}

void weir__cc_on_loss(struct weir__tcb *t, uint64_t now)
{
  t->cc->on_loss(t, now);
}

void weir__cc_on_timeout(struct weir__tcb *t, uint64_t now)
{
  t->cc->on_timeout(t, now);
}
