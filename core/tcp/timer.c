/* TCP's timers: retransmission (RFC 6298) and persist, delayed ACK,
 * keepalive, and the closing timers (TIME-WAIT, orphaned FIN-WAIT-2).
 * Each connection holds one entry in the stack's timer heap, armed at the
 * earliest of its deadlines; weir__tcp_timer sorts out which are due. */
#include "tcp/tcb.h"

static uint64_t min_nz(uint64_t a, uint64_t b)
{
  if (!a)
    return b;
  if (!b)
    return a;
  return a < b ? a : b;
}

void weir__tcp_arm(struct weir_stack *s, struct weir__tcb *t)
{
  uint64_t when =
      min_nz(min_nz(t->t_rtx, t->t_delack), min_nz(t->t_keep, t->t_close));
  if (when)
    weir__timer_arm(&s->timers, &t->timer, when);
  else
    weir__timer_cancel(&s->timers, &t->timer);
}

/* RFC 6298 2.2-2.4, in microseconds. G, the clock granularity, is 1 us
 * here, so max(G, 4 RTTVAR) is 4 RTTVAR. */
void weir__tcp_rto_sample(struct weir__tcb *t, uint64_t r)
{
  if (r == 0)
    r = 1;
  if (t->srtt == 0) {
    t->srtt = r;
    t->rttvar = r / 2;
  } else {
    uint64_t diff = t->srtt > r ? t->srtt - r : r - t->srtt;
    t->rttvar = (3 * t->rttvar + diff) / 4;
    t->srtt = (7 * t->srtt + r) / 8;
  }
  t->rto = t->srtt + 4 * t->rttvar;
}

static uint64_t clamp_rto(const struct weir_stack *s, uint64_t rto)
{
  if (rto < s->cfg.tcp_rto_min_us)
    rto = s->cfg.tcp_rto_min_us;
  if (rto > s->cfg.tcp_rto_max_us)
    rto = s->cfg.tcp_rto_max_us;
  return rto;
}

/* The current RTO with its backoff applied. */
static uint64_t backed_off(const struct weir_stack *s,
                           const struct weir__tcb *t)
{
  uint64_t rto = clamp_rto(s, t->rto);
  for (int i = 0; i < t->backoff && rto < s->cfg.tcp_rto_max_us; i++)
    rto *= 2;
  return clamp_rto(s, rto);
}

/* (Re)starts the retransmission timer from now (RFC 6298 5.1, 5.3). */
void weir__tcp_start_rtx(struct weir_stack *s, struct weir__tcb *t,
                         uint64_t now)
{
  t->t_rtx = now + backed_off(s, t);
  weir__tcp_arm(s, t);
}

static void give_up(struct weir_stack *s, struct weir__tcb *t, uint64_t now)
{
  WEIR__COUNT(s, TCP_CONN_TIMEOUT);
  /* Tell the peer too, so that it does not hold the connection open. */
  if (t->state != WEIR_TCP_SYN_SENT) {
    t->send_rst = 1;
    t->closed_by_app = 1;
    weir__tcp_trace(s, t, WEIR_TRACE_RESET_OUT, t->snd_nxt, 0, now);
    if (t->sock >= 0) {
      struct weir__sock *so = &s->socks[t->sock];
      so->err = WEIR_ETIMEDOUT;
      so->err_addr = t->raddr;
      so->err_port = t->rport;
      weir__sock_raise(s, (uint32_t)t->sock, WEIR_EV_ERROR);
      so->tcb = NULL;
      t->sock = -1;
    }
    t->t_rtx = t->t_delack = t->t_keep = t->t_close = 0;
    weir__tcp_arm(s, t);
    weir__tcp_set_state(s, t, WEIR_TCP_CLOSED, now);
    weir__tcp_want_output(s, t);
    return;
  }
  weir__tcp_error(s, t, WEIR_ETIMEDOUT, now);
}

static void rtx_timeout(struct weir_stack *s, struct weir__tcb *t, uint64_t now)
{
  int syn = t->state == WEIR_TCP_SYN_SENT || t->state == WEIR_TCP_SYN_RECEIVED;
  uint64_t limit = syn ? s->cfg.tcp_syn_timeout_us : s->cfg.tcp_user_timeout_us;

  t->t_rtx = 0;
  if (t->persist) {
    /* Persist (RFC 9293 3.8.6.1): probe the zero window; back off. A
     * peer that answers probes keeps the connection, however long. */
    if (t->backoff < 30)
      t->backoff++;
    t->ack_now = 1;
    t->rtx_pending = WEIR__PEND_WND_PROBE;
    weir__tcp_start_rtx(s, t, now);
    weir__tcp_want_output(s, t);
    return;
  }
  if (!t->rtx_start)
    t->rtx_start = now;
  /* A passive open that is not completed: Linux gives up after 5 SYN-ACK
   * retransmissions (~63 s); the listener's slot is worth more. */
  if ((syn && t->state == WEIR_TCP_SYN_RECEIVED && t->syn_rtx >= 5) ||
      now - t->rtx_start >= limit) {
    give_up(s, t, now);
    return;
  }
  WEIR__COUNT(s, TCP_TIMEOUTS);
  t->stats.timeouts++;
  if (syn)
    t->syn_rtx++;
  /* RFC 6298 5.5-5.7: back off, retransmit the earliest unacknowledged
   * segment; everything outstanding is resent in order (go-back-N), and
   * congestion control starts over from one segment. */
  if (t->backoff < 30)
    t->backoff++;
  t->rtt_start = 0; /* Karn: no sample from a retransmission */
  if (!syn) {
    weir__cc_on_timeout(t, now);
    t->in_recovery = 0;
    t->dupacks = 0;
    t->nsacked = 0;
    t->recover = t->snd_max;
  }
  t->snd_nxt = t->snd_una;
  weir__tcp_trace(s, t, WEIR_TRACE_RETRANSMIT, t->snd_una, 1, now);
  weir__tcp_start_rtx(s, t, now);
  weir__tcp_want_output(s, t);
}

static void keepalive_timeout(struct weir_stack *s, struct weir__tcb *t,
                              uint64_t now)
{
  t->t_keep = 0;
  if (!t->keepalive || t->state != WEIR_TCP_ESTABLISHED)
    return;
  if (now < t->last_rcv + t->keep_idle) {
    t->t_keep = t->last_rcv + t->keep_idle;
    return;
  }
  if (t->keep_probes >= t->keep_cnt) {
    give_up(s, t, now);
    return;
  }
  /* RFC 1122 4.2.3.6: a segment with SEG.SEQ = SND.NXT - 1 and no data
   * draws an ACK from a live peer. */
  t->keep_probes++;
  t->rtx_pending = WEIR__PEND_KEEPALIVE;
  weir__tcp_want_output(s, t);
  t->t_keep = now + t->keep_intvl;
}

void weir__tcp_timer(struct weir_stack *s, uint32_t id, uint64_t now)
{
  struct weir__tcb *t = s->tcbs[id];
  if (!t)
    return;
  if (t->t_close && t->t_close <= now) {
    /* TIME-WAIT over (RFC 9293 3.10.8), or an orphan's wait ran out. */
    weir__tcp_set_state(s, t, WEIR_TCP_CLOSED, now);
    if (t->sock >= 0)
      weir__tcp_raise(s, t, WEIR_EV_CLOSED);
    weir__tcp_destroy(s, t);
    return;
  }
  if (t->t_delack && t->t_delack <= now) {
    t->t_delack = 0;
    t->ack_now = 1;
    weir__tcp_want_output(s, t);
  }
  if (t->t_rtx && t->t_rtx <= now) {
    rtx_timeout(s, t, now);
    if (s->tcbs[id] != t)
      return; /* it gave up */
  }
  if (t->t_keep && t->t_keep <= now) {
    keepalive_timeout(s, t, now);
    if (s->tcbs[id] != t)
      return;
  }
  weir__tcp_arm(s, t);
}
