/* TCP input: a segment arrives (RFC 9293 3.10.7), with the blind-attack
 * defences of RFC 5961, PAWS and window scaling of RFC 7323, SACK of RFC
 * 2018, and the loss detection of RFC 5681, 6582 and 6675. */
#include <string.h>

#include "tcp/tcb.h"

static uint32_t seg_len(const struct weir_tcp *g)
{
  return (uint32_t)g->payload_len + ((g->flags & WEIR_TCP_SYN) ? 1 : 0) +
         ((g->flags & WEIR_TCP_FIN) ? 1 : 0);
}

/* RFC 5961 7: challenge ACKs are rate limited, here per stack to 1000 a
 * second as Linux does, so that they cannot be used as an amplifier. */
static void challenge_ack(struct weir_stack *s, struct weir__tcb *t,
                          uint64_t now)
{
  if (now - s->challenge_window >= 1000000u) {
    s->challenge_window = now;
    s->challenge_count = 0;
  }
  if (s->challenge_count >= 1000) {
    WEIR__COUNT(s, TCP_CHALLENGE_LIMITED);
    return;
  }
  s->challenge_count++;
  WEIR__COUNT(s, TCP_CHALLENGE_ACK);
  t->ack_now = 1;
  weir__tcp_want_output(s, t);
}

/* The options of the peer's SYN decide what the connection uses: each
 * extension only if both sides offered it. */
static void negotiate(struct weir_stack *s, struct weir__tcb *t,
                      const struct weir_tcp *g)
{
  uint32_t peer_mss = g->opt.has_mss ? g->opt.mss : 536;
  t->ws_ok = s->cfg.tcp_wscale && g->opt.has_wscale;
  t->snd_wscale = t->ws_ok ? g->opt.wscale : 0;
  if (!t->ws_ok)
    t->rcv_wscale = 0;
  t->ts_ok = s->cfg.tcp_timestamps && g->opt.has_ts;
  if (t->ts_ok)
    t->ts_recent = g->opt.ts_val;
  t->sack_ok = s->cfg.tcp_sack && g->opt.sack_perm;
  /* RFC 9293 3.7.1 and RFC 6691: the peer's MSS, not more than our MTU
   * allows, less the options every segment will carry. */
  if (peer_mss > s->cfg.mtu - 40u)
    peer_mss = s->cfg.mtu - 40u;
  if (t->ts_ok)
    peer_mss -= 12;
  if (peer_mss < 64)
    peer_mss = 64; /* an absurd MSS must not stall us (RFC 9293 3.7.1) */
  t->snd_mss = peer_mss;
  weir__cc_init(t);
}

static void listen_input(struct weir_stack *s, int lsock,
                         const struct weir__ip_in *in, const struct weir_tcp *g,
                         uint64_t now)
{
  struct weir__listener *l = s->socks[lsock].lst;
  struct weir__tcb *t;

  if (g->flags & WEIR_TCP_RST)
    return; /* RFC 9293 3.10.7.2: ignored */
  if (g->flags & WEIR_TCP_ACK) {
    weir__tcp_send_reset(s, in, g, now);
    return;
  }
  if (!(g->flags & WEIR_TCP_SYN))
    return;
  if (l->nsyn >= s->cfg.tcp_syn_backlog || l->nacc >= l->backlog) {
    WEIR__COUNT(s, DROP_TCP_BACKLOG);
    return;
  }
  t = weir__tcp_new(s, in->h.src, g->dport, g->sport, now);
  if (t && s->socks[lsock].tcp_cc)
    t->cc = weir__cc_find(s->socks[lsock].tcp_cc);
  if (!t) {
    WEIR__COUNT(s, DROP_TCP_NO_MEM);
    return;
  }
  t->listener = lsock;
  t->state = WEIR_TCP_LISTEN; /* it was born of the listener */
  t->qnext = l->syn_q;
  l->syn_q = t;
  l->nsyn++;
  t->irs = g->seq;
  t->rcv_nxt = g->seq + 1;
  t->rcv_adv = t->rcv_nxt;
  t->last_ack_sent = t->rcv_nxt;
  negotiate(s, t, g);
  t->snd_wnd = g->win; /* never scaled in a SYN */
  t->max_snd_wnd = t->snd_wnd;
  t->snd_wl1 = g->seq;
  t->snd_wl2 = t->iss;
  /* RFC 9293 3.10.7.2: text on a SYN is queued for processing once the
   * connection is established; the SYN,ACK acknowledges the SYN only.
   * It waits in the receive buffer at its own place in the window. */
  if (g->payload_len && weir__tcp_ring_ready(s, &t->rcv) == 0) {
    uint32_t n = (uint32_t)g->payload_len;
    if (n > t->rcv.cap / 2)
      n = t->rcv.cap / 2;
    weir__ring_write(&t->rcv, 0, g->payload, n);
    t->syn_data = n;
  }
  weir__tcp_set_state(s, t, WEIR_TCP_SYN_RECEIVED, now);
  weir__tcp_start_rtx(s, t, now);
  weir__tcp_want_output(s, t);
}

static void syn_sent_input(struct weir_stack *s, struct weir__tcb *t,
                           const struct weir__ip_in *in,
                           const struct weir_tcp *g, uint64_t now)
{
  int ack = (g->flags & WEIR_TCP_ACK) != 0;

  /* RFC 9293 3.10.7.3, first: an ACK outside (ISS, SND.NXT]. */
  if (ack && (seq_leq(g->ack, t->iss) || seq_gt(g->ack, t->snd_max))) {
    if (!(g->flags & WEIR_TCP_RST))
      weir__tcp_send_reset(s, in, g, now);
    return;
  }
  if (g->flags & WEIR_TCP_RST) {
    if (ack) {
      WEIR__COUNT(s, TCP_RST_IN);
      weir__tcp_trace(s, t, WEIR_TRACE_RESET_IN, 0, 0, now);
      weir__tcp_error(s, t, WEIR_ECONNREFUSED, now);
    }
    return;
  }
  if (!(g->flags & WEIR_TCP_SYN))
    return;
  t->irs = g->seq;
  t->rcv_nxt = g->seq + 1;
  t->rcv_adv = t->rcv_nxt;
  t->last_ack_sent = t->rcv_nxt;
  negotiate(s, t, g);
  t->snd_wl1 = g->seq;
  t->snd_wl2 = g->ack;
  t->snd_wnd = g->win;
  t->max_snd_wnd = t->snd_wnd;
  if (!ack) {
    /* Simultaneous open: SYN-RECEIVED, and our SYN goes again as a
     * SYN,ACK with the same ISS. */
    t->snd_nxt = t->iss;
    weir__tcp_set_state(s, t, WEIR_TCP_SYN_RECEIVED, now);
    weir__tcp_want_output(s, t);
    return;
  }
  t->snd_una = g->ack;
  if (t->rtt_start) {
    weir__tcp_rto_sample(t, now - t->rtt_start);
    t->rtt_start = 0;
  } else if (t->syn_rtx) {
    /* RFC 6298 5.7: the SYN was resent and gave no sample: start data
     * at 3 s rather than the backed-off value. */
    t->rto = 3000000;
  }
  t->backoff = 0;
  t->rtx_start = 0;
  t->t_rtx = 0;
  weir__tcp_arm(s, t);
  weir__tcp_set_state(s, t, WEIR_TCP_ESTABLISHED, now);
  t->ack_now = 1;
  weir__tcp_want_output(s, t);
  weir__tcp_raise(s, t, WEIR_EV_CONNECTED | WEIR_EV_WRITABLE);
}

/* Acceptability (RFC 9293 3.10.7.4): the four cases of SEG.LEN and
 * RCV.WND. */
static int acceptable(const struct weir__tcb *t, uint32_t seq, uint32_t len,
                      uint32_t wnd, int rst)
{
  if (len == 0) {
    if (wnd == 0)
      return seq == t->rcv_nxt;
    /* A bare ACK at the right edge itself is taken too (as Linux does):
     * a peer that filled the window sends its ACKs from there, and
     * rejecting them would lose the acknowledgments they carry. A RST
     * there is still outside (RFC 5961 3.2). */
    if (!rst && seq == t->rcv_nxt + wnd)
      return 1;
    return seq_leq(t->rcv_nxt, seq) && seq_lt(seq, t->rcv_nxt + wnd);
  }
  if (wnd == 0)
    return 0;
  return (seq_leq(t->rcv_nxt, seq) && seq_lt(seq, t->rcv_nxt + wnd)) ||
         (seq_leq(t->rcv_nxt, seq + len - 1) &&
          seq_lt(seq + len - 1, t->rcv_nxt + wnd));
}

static void enter_time_wait(struct weir_stack *s, struct weir__tcb *t,
                            uint64_t now)
{
  weir__tcp_set_state(s, t, WEIR_TCP_TIME_WAIT, now);
  t->t_rtx = t->t_delack = t->t_keep = 0;
  t->persist = 0;
  t->t_close = now + 2 * s->cfg.tcp_msl_us;
  /* What TIME-WAIT needs is the 4-tuple and the sequence numbers: the
   * send buffer goes now, the receive buffer once it is read. */
  weir__free(s, t->snd.buf);
  t->snd.buf = NULL;
  t->snd.len = 0;
  if (t->closed_by_app) {
    weir__free(s, t->rcv.buf);
    t->rcv.buf = NULL;
    t->rcv.len = 0;
  }
  weir__tcp_arm(s, t);
  weir__tcp_raise(s, t, WEIR_EV_CLOSED);
}

/* The peer's FIN is next in sequence: it takes one sequence number and
 * moves the state on. */
static void fin_in(struct weir_stack *s, struct weir__tcb *t, int fin_acked,
                   uint64_t now)
{
  t->rcv_nxt++;
  t->fin_rcvd = 1;
  t->ooo_fin = 0;
  t->ack_now = 1;
  weir__tcp_raise(s, t, WEIR_EV_PEER_CLOSED | WEIR_EV_READABLE);
  switch (t->state) {
  case WEIR_TCP_SYN_RECEIVED:
  case WEIR_TCP_ESTABLISHED:
    weir__tcp_set_state(s, t, WEIR_TCP_CLOSE_WAIT, now);
    break;
  case WEIR_TCP_FIN_WAIT_1:
    if (fin_acked)
      enter_time_wait(s, t, now);
    else
      weir__tcp_set_state(s, t, WEIR_TCP_CLOSING, now);
    break;
  case WEIR_TCP_FIN_WAIT_2:
    enter_time_wait(s, t, now);
    break;
  default:
    break;
  }
}

/* Records the peer's SACK blocks (RFC 2018) in the scoreboard. Returns 1
 * if any of them told us something new (RFC 6675's duplicate ACK). */
static int take_sacks(struct weir_stack *s, struct weir__tcb *t,
                      const struct weir_tcp *g)
{
  int news = 0, slot;
  (void)s;
  for (int i = 0; i < g->opt.nsack; i++) {
    uint32_t l = g->opt.sack[i].left, r = g->opt.sack[i].right;
    /* Only blocks within what is outstanding; a D-SACK below SND.UNA or
     * a block past SND.MAX is ignored. */
    if (!seq_lt(l, r) || seq_leq(l, t->snd_una) || seq_gt(r, t->snd_max))
      continue;
    t->stats.sack_blocks_in++;
    if (weir__range_add(t->sacked, &t->nsacked, WEIR__SACK_MAX, l, r, &slot))
      news = 1;
  }
  return news;
}

/* Drops scoreboard entries that SND.UNA has passed. */
static void prune_sacks(struct weir__tcb *t)
{
  int keep = 0;
  for (int i = 0; i < t->nsacked; i++) {
    if (seq_leq(t->sacked[i].right, t->snd_una))
      continue;
    t->sacked[keep] = t->sacked[i];
    if (seq_lt(t->sacked[keep].left, t->snd_una))
      t->sacked[keep].left = t->snd_una;
    keep++;
  }
  t->nsacked = (uint8_t)keep;
}

static void enter_recovery(struct weir_stack *s, struct weir__tcb *t,
                           uint64_t now)
{
  weir__cc_on_loss(t, now);
  t->in_recovery = 1;
  t->recover = t->snd_max;
  t->high_rxt = t->snd_una;
  t->rtx_pending = WEIR__PEND_FAST_RTX;
  t->rtt_start = 0;
  /* NewReno (RFC 6582 3.2 step 2): inflate by the three segments that
   * left the network. With SACK the pipe does this accounting. */
  if (!t->sack_ok)
    t->cwnd = t->ssthresh + 3 * t->snd_mss;
  WEIR__COUNT(s, TCP_FAST_RETRANSMITS);
  t->stats.fast_retransmits++;
  weir__tcp_trace(s, t, WEIR_TRACE_RETRANSMIT, t->snd_una, 2, now);
}

/* The send side: what an acceptable ACK acknowledges (RFC 9293 3.10.7.4
 * fifth step). Returns 0, or -1 if the connection is gone. */
static int ack_in(struct weir_stack *s, struct weir__tcb *t,
                  const struct weir_tcp *g, uint64_t now)
{
  uint32_t ack = g->ack;
  int sack_news = 0, fin_sent;

  if (t->sack_ok && g->opt.nsack)
    sack_news = take_sacks(s, t, g);
  fin_sent = t->fin_sent;

  if (seq_gt(ack, t->snd_una)) {
    uint32_t acked = ack - t->snd_una;
    uint32_t data = acked > t->snd.len ? t->snd.len : acked;
    weir__ring_consume(&t->snd, data);
    t->snd_una = ack;
    if (seq_lt(t->snd_nxt, ack))
      t->snd_nxt = ack;
    t->stats.bytes_acked += data;
    /* Karn (RFC 6298 5 and 3): the backed-off RTO stays until a segment
     * sent once gives a sample. */
    if (t->rtt_start && seq_geq(ack, t->rtt_seq)) {
      weir__tcp_rto_sample(t, now - t->rtt_start);
      t->rtt_start = 0;
      t->backoff = 0;
    }
    /* The oldest outstanding byte is younger now: give-up counts anew. */
    t->rtx_start = now;
    t->dupacks = 0;
    prune_sacks(t);
    if (t->in_recovery) {
      if (seq_geq(ack, t->recover)) {
        /* Full ACK: recovery ends (RFC 6582 3.2 step 3, option 1). */
        uint32_t flight = t->snd_max - t->snd_una + t->snd_mss;
        t->in_recovery = 0;
        if (!t->sack_ok && flight < t->ssthresh)
          t->cwnd = flight;
        else
          t->cwnd = t->ssthresh;
      } else if (!t->sack_ok) {
        /* Partial ACK (RFC 6582 3.2 step 5): resend the next hole at
         * once, deflate by what was acknowledged, add one back. */
        t->rtx_pending = WEIR__PEND_FAST_RTX;
        t->cwnd = t->cwnd > data ? t->cwnd - data : 0;
        t->cwnd += t->snd_mss;
      }
    } else {
      weir__cc_on_ack(t, data, now);
    }
    if (t->snd_una == t->snd_max) {
      t->t_rtx = 0;
      t->persist = 0;
      t->rtx_start = 0;
    } else {
      weir__tcp_start_rtx(s, t, now);
    }
    weir__tcp_want_output(s, t);
    if (data && t->sock >= 0 && s->socks[t->sock].want_writable) {
      s->socks[t->sock].want_writable = 0;
      weir__tcp_raise(s, t, WEIR_EV_WRITABLE);
    }
  } else if (ack == t->snd_una && t->snd_max != t->snd_una) {
    /* A duplicate ACK (RFC 5681 2): no data, no SYN/FIN, same window -
     * or, with SACK, any ACK that brings new SACK information (RFC 6675
     * 2), which also counts when the peer is sending data. */
    int dup =
        t->snd_wnd != 0 && /* probes of a closed window are not dupacks */
        ((g->payload_len == 0 && !(g->flags & (WEIR_TCP_SYN | WEIR_TCP_FIN)) &&
          ((uint32_t)g->win << t->snd_wscale) == t->snd_wnd) ||
         sack_news);
    if (dup) {
      t->dupacks++;
      t->stats.dupacks_in++;
      if (!t->in_recovery && seq_geq(t->snd_una, t->recover) &&
          t->dupacks >= 3) {
        enter_recovery(s, t, now);
        weir__tcp_want_output(s, t);
      } else if (t->in_recovery) {
        if (!t->sack_ok)
          t->cwnd += t->snd_mss; /* RFC 6582 3.2 step 4 */
        weir__tcp_want_output(s, t);
      } else if (t->dupacks < 3) {
        weir__tcp_want_output(s, t); /* Limited Transmit (output.c) */
      }
    }
  }

  /* RFC 6675 5 (4): with SACK, loss is also declared when enough data
   * above SND.UNA is SACKed, whether or not this ACK moved SND.UNA (a
   * receiver that coalesces its ACKs sends fewer than three). */
  if (t->sack_ok && !t->in_recovery && t->snd_una != t->snd_max &&
      seq_geq(t->snd_una, t->recover) &&
      seq_lt(t->snd_una, weir__tcp_lost_below(t))) {
    enter_recovery(s, t, now);
    weir__tcp_want_output(s, t);
  }

  /* The peer's window (RFC 9293 3.10.7.4: only from a newer segment). */
  if (seq_lt(t->snd_wl1, g->seq) ||
      (t->snd_wl1 == g->seq && seq_leq(t->snd_wl2, ack))) {
    uint32_t wnd = (uint32_t)g->win << t->snd_wscale;
    if (wnd > t->snd_wnd)
      weir__tcp_want_output(s, t);
    t->snd_wnd = wnd;
    t->snd_wl1 = g->seq;
    t->snd_wl2 = ack;
    if (wnd > t->max_snd_wnd)
      t->max_snd_wnd = wnd;
    if (wnd && t->persist) {
      /* A probe byte not taken is resent with the rest. */
      t->snd_nxt = t->snd_una;
      t->persist = 0;
      t->backoff = 0;
      t->t_rtx = 0;
      if (t->snd_una != t->snd_max)
        weir__tcp_start_rtx(s, t, now);
      else
        weir__tcp_arm(s, t);
    }
  }

  /* Our FIN acknowledged? */
  if (fin_sent && ack == t->fin_seq + 1) {
    switch (t->state) {
    case WEIR_TCP_FIN_WAIT_1:
      weir__tcp_set_state(s, t, WEIR_TCP_FIN_WAIT_2, now);
      if (t->closed_by_app) {
        t->t_close = now + 2 * s->cfg.tcp_msl_us;
        weir__tcp_arm(s, t);
      }
      break;
    case WEIR_TCP_CLOSING:
      enter_time_wait(s, t, now);
      break;
    case WEIR_TCP_LAST_ACK:
      weir__tcp_set_state(s, t, WEIR_TCP_CLOSED, now);
      weir__tcp_raise(s, t, WEIR_EV_CLOSED);
      weir__tcp_destroy(s, t);
      return -1;
    default:
      break;
    }
  }
  return 0;
}

/* Received text (RFC 9293 3.10.7.4 seventh step): in order into the
 * buffer, out of order into the buffer at its place with its range noted
 * for SACK; the out-of-order store is the receive buffer itself, so what
 * is SACKed is always kept. */
static void text_in(struct weir_stack *s, struct weir__tcb *t,
                    const struct weir_tcp *g, uint64_t now)
{
  uint32_t seq = g->seq, len = (uint32_t)g->payload_len, off, space;
  const uint8_t *data = g->payload;
  int slot;

  if (seq_lt(seq, t->rcv_nxt)) {
    uint32_t skip = t->rcv_nxt - seq;
    if (skip >= len)
      return;
    seq += skip;
    data += skip;
    len -= skip;
  }
  off = seq - t->rcv_nxt;
  space = t->rcv.cap - t->rcv.len;
  if (off >= space)
    return;
  if (len > space - off)
    len = space - off;
  if (weir__tcp_ring_ready(s, &t->rcv)) {
    WEIR__COUNT(s, DROP_TCP_NO_MEM); /* the peer will send it again */
    return;
  }
  if (len > t->rcv_seg_max)
    t->rcv_seg_max = len;
  t->stats.bytes_received += len;
  if (off > 0) {
    weir__ring_write(&t->rcv, t->rcv.len + off, data, len);
    weir__range_add(t->ooo, &t->nooo, WEIR__OOO_MAX, seq, seq + len, &slot);
    if (slot < 0)
      WEIR__COUNT(s, DROP_TCP_OOO_FULL);
    else
      t->ooo[slot].stamp = ++t->ooo_clock; /* for SACK's order */
    /* RFC 5681 4.2: each out-of-order segment is acknowledged at once,
     * even when several arrive before the next weir_output. */
    t->ack_now = 1;
    if (t->dupacks_owed < 8)
      t->dupacks_owed++;
    weir__tcp_want_output(s, t);
    return;
  }
  weir__ring_write(&t->rcv, t->rcv.len, data, len);
  t->rcv.len += len;
  t->rcv_nxt += len;
  if (t->nooo) {
    /* The hole may be filled: take in what follows, and ACK at once. */
    int k = 0;
    while (k < t->nooo && seq_leq(t->ooo[k].left, t->rcv_nxt)) {
      if (seq_gt(t->ooo[k].right, t->rcv_nxt)) {
        uint32_t more = t->ooo[k].right - t->rcv_nxt;
        t->rcv.len += more;
        t->rcv_nxt += more;
      }
      k++;
    }
    if (k) {
      memmove(t->ooo, t->ooo + k, (t->nooo - k) * sizeof(t->ooo[0]));
      t->nooo = (uint8_t)(t->nooo - k);
    }
    t->ack_now = 1;
    weir__tcp_want_output(s, t);
  } else {
    weir__tcp_ack_soon(s, t, now);
  }
  weir__tcp_raise(s, t, WEIR_EV_READABLE);
}

static void sync_input(struct weir_stack *s, struct weir__tcb *t,
                       const struct weir__ip_in *in, struct weir_tcp *g,
                       uint64_t now)
{
  uint32_t len = seg_len(g), wnd;
  int ok;

  /* A retransmitted SYN while our SYN,ACK is out: send it again. */
  if (t->state == WEIR_TCP_SYN_RECEIVED && (g->flags & WEIR_TCP_SYN) &&
      !(g->flags & WEIR_TCP_ACK) && g->seq == t->irs) {
    t->snd_nxt = t->iss;
    weir__tcp_want_output(s, t);
    return;
  }
  /* TIME-WAIT (RFC 9293 3.10.7.4): the only thing that can arrive is a
   * retransmission of the peer's FIN: acknowledge it and restart the
   * 2 MSL timeout. (It is below RCV.NXT, so the window test would only
   * acknowledge it.) */
  if (t->state == WEIR_TCP_TIME_WAIT && (g->flags & WEIR_TCP_FIN) &&
      !(g->flags & (WEIR_TCP_RST | WEIR_TCP_SYN)) &&
      g->seq + (uint32_t)g->payload_len + 1 == t->rcv_nxt) {
    t->ack_now = 1;
    t->t_close = now + 2 * s->cfg.tcp_msl_us;
    weir__tcp_arm(s, t);
    weir__tcp_want_output(s, t);
    return;
  }
  /* SYN in a synchronized state (RFC 5961 4.2): a challenge ACK,
   * "irrespective of the sequence number", rate limited; never a reset. */
  if ((g->flags & WEIR_TCP_SYN) && !(g->flags & WEIR_TCP_RST)) {
    challenge_ack(s, t, now);
    return;
  }
  /* PAWS (RFC 7323 5.3): a timestamp older than TS.Recent marks an old
   * duplicate. */
  if (t->ts_ok && g->opt.has_ts && !(g->flags & WEIR_TCP_RST) &&
      seq_lt(g->opt.ts_val, t->ts_recent)) {
    WEIR__COUNT(s, DROP_TCP_PAWS);
    t->ack_now = 1;
    weir__tcp_want_output(s, t);
    return;
  }
  wnd = seq_gt(t->rcv_adv, t->rcv_nxt) ? t->rcv_adv - t->rcv_nxt : 0;
  ok = acceptable(t, g->seq, len, wnd, (g->flags & WEIR_TCP_RST) != 0);
  if (!ok && wnd == 0 && g->seq == t->rcv_nxt) {
    /* RFC 9293 3.10.7.4: with a zero window, the ACK, window and RST of
     * an in-sequence segment are still taken; only its text is not. */
    if (g->payload_len || (g->flags & WEIR_TCP_FIN)) {
      t->ack_now = 1; /* the text was not taken: say so */
      weir__tcp_want_output(s, t);
    }
    g->payload_len = 0;
    g->flags &= (uint8_t) ~(WEIR_TCP_FIN | WEIR_TCP_SYN);
    ok = 1;
  }
  if (!ok) {
    WEIR__COUNT(s, DROP_TCP_OUT_OF_WINDOW);
    if (!(g->flags & WEIR_TCP_RST)) {
      t->ack_now = 1;
      weir__tcp_want_output(s, t);
    }
    return;
  }
  /* RFC 7323 4.3: TS.Recent from a segment that covers Last.ACK.sent. */
  if (t->ts_ok && g->opt.has_ts && seq_leq(g->seq, t->last_ack_sent) &&
      seq_geq(g->opt.ts_val, t->ts_recent))
    t->ts_recent = g->opt.ts_val;

  /* RST (RFC 5961 3.2): only an exact match resets; in-window otherwise
   * earns a challenge ACK. */
  if (g->flags & WEIR_TCP_RST) {
    if (g->seq != t->rcv_nxt) {
      challenge_ack(s, t, now);
      return;
    }
    WEIR__COUNT(s, TCP_RST_IN);
    weir__tcp_trace(s, t, WEIR_TRACE_RESET_IN, 0, 0, now);
    if (t->state == WEIR_TCP_SYN_RECEIVED && t->listener >= 0) {
      weir__tcp_set_state(s, t, WEIR_TCP_CLOSED, now);
      weir__tcp_destroy(s, t); /* a passive open just goes away */
    } else if (t->state == WEIR_TCP_SYN_RECEIVED) {
      weir__tcp_error(s, t, WEIR_ECONNREFUSED, now);
    } else if (t->state >= WEIR_TCP_CLOSING) {
      weir__tcp_set_state(s, t, WEIR_TCP_CLOSED, now);
      weir__tcp_raise(s, t, WEIR_EV_CLOSED);
      weir__tcp_destroy(s, t);
    } else {
      weir__tcp_error(s, t, WEIR_ECONNRESET, now);
    }
    return;
  }
  if (g->flags & WEIR_TCP_SYN)
    return; /* SYN with RST: the RST was not exact; nothing more */
  if (!(g->flags & WEIR_TCP_ACK))
    return;
  t->last_rcv = now;
  t->keep_probes = 0;
  if (t->keepalive)
    t->t_keep = now + t->keep_idle;

  if (t->state == WEIR_TCP_SYN_RECEIVED) {
    if (!seq_gt(g->ack, t->snd_una) || seq_gt(g->ack, t->snd_max)) {
      weir__tcp_send_reset(s, in, g, now);
      return;
    }
    if (t->rtt_start) {
      weir__tcp_rto_sample(t, now - t->rtt_start);
      t->rtt_start = 0;
    } else if (t->syn_rtx) {
      t->rto = 3000000; /* RFC 6298 5.7, as in SYN-SENT */
    }
    t->snd_una = g->ack;
    t->backoff = 0;
    t->rtx_start = 0;
    t->t_rtx = 0;
    weir__tcp_arm(s, t);
    t->snd_wnd = (uint32_t)g->win << t->snd_wscale;
    t->max_snd_wnd = t->snd_wnd;
    t->snd_wl1 = g->seq;
    t->snd_wl2 = g->ack;
    weir__tcp_set_state(s, t, WEIR_TCP_ESTABLISHED, now);
    if (t->syn_data) {
      /* The text that came on the SYN is processed now. */
      t->rcv.len = t->syn_data;
      t->rcv_nxt += t->syn_data;
      t->stats.bytes_received += t->syn_data;
      t->syn_data = 0;
      weir__tcp_ack_soon(s, t, now);
    }
    if (t->listener >= 0)
      weir__tcp_established_passive(s, t);
    else
      weir__tcp_raise(s, t, WEIR_EV_CONNECTED | WEIR_EV_WRITABLE);
  } else {
    /* RFC 5961 5.2: acceptable only if
     * SND.UNA - MAX.SND.WND <= SEG.ACK <= SND.NXT. */
    if (seq_gt(g->ack, t->snd_max)) {
      WEIR__COUNT(s, DROP_TCP_BAD_ACK);
      t->ack_now = 1;
      weir__tcp_want_output(s, t);
      return;
    }
    if (seq_lt(g->ack, t->snd_una - t->max_snd_wnd)) {
      WEIR__COUNT(s, DROP_TCP_BAD_ACK);
      challenge_ack(s, t, now);
      return;
    }
  }
  if (ack_in(s, t, g, now) < 0)
    return;

  if (t->state == WEIR_TCP_TIME_WAIT) {
    /* Only a retransmitted FIN arrives here: ACK it and wait anew. */
    if (g->flags & WEIR_TCP_FIN) {
      t->ack_now = 1;
      t->t_close = now + 2 * s->cfg.tcp_msl_us;
      weir__tcp_arm(s, t);
      weir__tcp_want_output(s, t);
    }
    return;
  }
  if (g->payload_len &&
      (t->state == WEIR_TCP_ESTABLISHED || t->state == WEIR_TCP_FIN_WAIT_1 ||
       t->state == WEIR_TCP_FIN_WAIT_2) &&
      !t->fin_rcvd)
    text_in(s, t, g, now);
  if (g->flags & WEIR_TCP_FIN) {
    uint32_t fin_seq = g->seq + (uint32_t)g->payload_len;
    if (t->fin_rcvd) {
      t->ack_now = 1; /* a retransmitted FIN: ACK it again */
      weir__tcp_want_output(s, t);
    } else if (fin_seq == t->rcv_nxt) {
      fin_in(s, t, t->state == WEIR_TCP_FIN_WAIT_1 && t->snd_una == t->snd_max,
             now);
      weir__tcp_want_output(s, t);
    } else if (seq_gt(fin_seq, t->rcv_nxt)) {
      t->ooo_fin = 1;
      t->ooo_fin_seq = fin_seq;
    }
  }
  if (t->ooo_fin && !t->fin_rcvd && t->ooo_fin_seq == t->rcv_nxt) {
    fin_in(s, t, t->state == WEIR_TCP_FIN_WAIT_1 && t->snd_una == t->snd_max,
           now);
    weir__tcp_want_output(s, t);
  }
}

void weir__tcp_input(struct weir_stack *s, const struct weir__ip_in *in,
                     uint64_t now)
{
  struct weir_tcp g;
  struct weir__tcb *t;
  int lsock;

  if (weir_tcp_parse(&g, in->payload, in->len) != 0) {
    WEIR__COUNT(s, DROP_TCP_MALFORMED);
    return;
  }
  if (!in->l4_csum_ok && !weir_l4_checksum_ok(WEIR_IP_PROTO_TCP, in->payload,
                                              in->len, in->h.src, in->h.dst)) {
    WEIR__COUNT(s, DROP_TCP_CHECKSUM);
    return;
  }
  WEIR__COUNT(s, TCP_SEGS_IN);
  /* TCP is unicast: a segment sent to a broadcast address is dropped
   * (RFC 1122 4.2.3.10) and never answered. */
  if (in->ip_bcast || in->link_bcast) {
    WEIR__COUNT(s, DROP_TCP_NO_CONN);
    return;
  }
  t = weir__tcp_lookup(s, in->h.dst, g.dport, in->h.src, g.sport);
  if (!t) {
    lsock = weir__tcp_listener_of(s, g.dport);
    if (lsock >= 0) {
      listen_input(s, lsock, in, &g, now);
      return;
    }
    WEIR__COUNT(s, DROP_TCP_NO_CONN);
    weir__tcp_send_reset(s, in, &g, now);
    return;
  }
  t->stats.segs_in++;
  if (t->send_rst)
    return; /* going away: its RST is already queued */
  if (t->state == WEIR_TCP_SYN_SENT)
    syn_sent_input(s, t, in, &g, now);
  else
    sync_input(s, t, in, &g, now);
}

void weir__tcp_icmp_error(struct weir_stack *s, int err, int frag_needed,
                          uint16_t mtu, const struct weir_icmp_quote *q,
                          uint64_t now)
{
  struct weir__tcb *t = weir__tcp_lookup(s, q->src, q->sport, q->dst, q->dport);
  if (!t)
    return;
  /* RFC 5927: believe only an error that quotes a sequence number in
   * flight. */
  if (seq_lt(q->tcp_seq, t->snd_una) || seq_gt(q->tcp_seq, t->snd_max))
    return;
  if (frag_needed) {
    /* RFC 1191: the path is narrower than we thought. */
    uint32_t mss;
    if (mtu < 576 || mtu >= s->cfg.mtu)
      return;
    mss = mtu - 40u - (t->ts_ok ? 12u : 0u);
    if (mss < t->snd_mss) {
      t->snd_mss = mss;
      t->snd_nxt = t->snd_una; /* resend in the smaller size */
      weir__tcp_want_output(s, t);
    }
    return;
  }
  /* RFC 1122 4.2.3.9: unreachable port or protocol while connecting is a
   * hard error; anything else is soft and TCP carries on. */
  if (t->state == WEIR_TCP_SYN_SENT &&
      (err == WEIR_ECONNREFUSED || err == WEIR_ENOPROTOOPT))
    weir__tcp_error(s, t, WEIR_ECONNREFUSED, now);
}
