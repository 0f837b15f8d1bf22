/* Congestion control: how big the window is. Loss detection and repair
 * (NewReno, RFC 6582; SACK-based, RFC 6675) live in input.c and
 * output.c; an algorithm here only answers four events through struct
 * weir__cc_ops, so a second one (CUBIC, RFC 9438) is one more table.
 *
 * Reno: RFC 5681 slow start and congestion avoidance with the initial
 * window of RFC 6928. */
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

void weir__cc_init(struct weir__tcb *t)
{
  if (!t->cc)
    t->cc = &weir__cc_reno;
  t->cc->init(t);
}

void weir__cc_on_ack(struct weir__tcb *t, uint32_t acked, uint64_t now)
{
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
