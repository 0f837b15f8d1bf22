/* TCP output: deciding what a connection sends next, and building the
 * segment straight into the caller's buffer.
 *
 * Connections with something to say sit on one queue (never a scan of all
 * connections); weir_output takes the head, builds one segment, and puts
 * the connection back at the tail if it has more, so that connections
 * share the link in turn. */
#include <string.h>

#include "tcp/tcb.h"
#include "wire/ipv4.h"

void weir__tcp_want_output(struct weir_stack *s, struct weir__tcb *t)
{
  if (t->in_txq)
    return;
  t->in_txq = 1;
  t->tx_next = NULL;
  t->tx_prev = s->tx_tail;
  if (s->tx_tail)
    s->tx_tail->tx_next = t;
  else
    s->tx_head = t;
  s->tx_tail = t;
}

void weir__tcp_txq_remove(struct weir_stack *s, struct weir__tcb *t)
{
  if (!t->in_txq)
    return;
  if (t->tx_prev)
    t->tx_prev->tx_next = t->tx_next;
  else
    s->tx_head = t->tx_next;
  if (t->tx_next)
    t->tx_next->tx_prev = t->tx_prev;
  else
    s->tx_tail = t->tx_prev;
  t->in_txq = 0;
  t->tx_next = t->tx_prev = NULL;
}

/* RFC 7323 TSval: a millisecond clock with a per-connection offset. */
uint32_t weir__tcp_ts_now(const struct weir__tcb *t, uint64_t now)
{
  return (uint32_t)(now / 1000) + t->ts_offset;
}

/* The window to offer now (RFC 9293 3.8.6.2.2, receiver SWS avoidance):
 * RCV.NXT + RCV.WND stays put until the room beyond the current window,
 * RCV.BUFF - RCV.USER - RCV.WND, reaches min(RCV.BUFF / 2, MSS); the right
 * edge never moves left. In bytes, before scaling. */
uint32_t weir__tcp_wnd_bytes(const struct weir__tcb *t)
{
  uint32_t space = t->rcv.cap - t->rcv.len;
  uint32_t thresh = t->rcv.cap / 2 < t->rcv_mss ? t->rcv.cap / 2 : t->rcv_mss;
  uint32_t cur = seq_gt(t->rcv_adv, t->rcv_nxt) ? t->rcv_adv - t->rcv_nxt : 0;
  uint32_t max = 65535u << t->rcv_wscale;
  uint32_t wnd = cur;
  if (space >= cur && space - cur >= thresh)
    wnd = space;
  if (wnd > max)
    wnd = max;
  return wnd > cur ? wnd : cur;
}

/* The window field for a segment now, scaled. */
uint32_t weir__tcp_wnd_to_advertise(struct weir__tcb *t)
{
  uint32_t wnd = weir__tcp_wnd_bytes(t), field = wnd >> t->rcv_wscale;
  uint32_t space = t->rcv.cap - t->rcv.len;
  /* Rounding down to the scale may pull the edge back. Round up instead
   * only if the buffer has room for it: a window offered beyond the
   * buffer invites data that cannot be kept, and the sender's next ACK
   * lands past what we can accept (a deadlock seen under loss). Else the
   * edge moves back by less than one scale unit, which RFC 7323 2.4
   * makes every sender handle; RCV.WND for acceptance stays the largest
   * edge offered, which the buffer still covers. */
  if (seq_lt(t->rcv_nxt + (field << t->rcv_wscale), t->rcv_adv)) {
    uint32_t up = (wnd + (1u << t->rcv_wscale) - 1) >> t->rcv_wscale;
    if ((uint64_t)up << t->rcv_wscale <= space)
      field = up;
  }
  if (field > 65535)
    field = 65535;
  return field;
}

/* Bytes of [l, r) that the peer has SACKed. */
static uint32_t sacked_in(const struct weir__tcb *t, uint32_t l, uint32_t r)
{
  uint32_t n = 0;
  for (int i = 0; i < t->nsacked; i++) {
    uint32_t a = seq_max(l, t->sacked[i].left);
    uint32_t b = seq_min(r, t->sacked[i].right);
    if (seq_lt(a, b))
      n += b - a;
  }
  return n;
}

/* RFC 6675 IsLost for every sequence number below the value returned:
 * DupThresh (3) SACKed ranges above it, or more than (DupThresh - 1)
 * segments' worth of SACKed bytes. */
uint32_t weir__tcp_lost_below(const struct weir__tcb *t)
{
  uint32_t bytes = 0;
  for (int i = t->nsacked - 1, count = 1; i >= 0; i--, count++) {
    bytes += t->sacked[i].right - t->sacked[i].left;
    if (count >= 3 || bytes > 2 * t->snd_mss)
      return t->sacked[i].left;
  }
  return t->snd_una;
}

/* RFC 6675 "pipe": bytes believed in flight. */
static uint32_t sack_pipe(const struct weir__tcb *t)
{
  uint32_t lost = weir__tcp_lost_below(t), in_flight;
  uint32_t top = t->snd_max, una = t->snd_una;
  uint32_t rtx_end = seq_min(seq_max(t->high_rxt, una), lost);
  /* Not lost and not SACKed, above the loss boundary... */
  in_flight = seq_lt(lost, top) ? (top - lost) - sacked_in(t, lost, top) : 0;
  /* ...plus the lost bytes already resent. */
  if (seq_lt(una, rtx_end))
    in_flight += (rtx_end - una) - sacked_in(t, una, rtx_end);
  return in_flight;
}

/* RFC 6675 NextSeg rule 1: the first lost byte not yet resent, and how
 * much of its hole to send. Returns 0 if none. */
static uint32_t next_lost(const struct weir__tcb *t, uint32_t *seq)
{
  uint32_t lost = weir__tcp_lost_below(t);
  uint32_t b = seq_max(t->high_rxt, t->snd_una);
  for (int i = 0; i <= t->nsacked && seq_lt(b, lost); i++) {
    uint32_t hole_end = i < t->nsacked ? t->sacked[i].left : t->snd_max;
    if (i > 0 && seq_lt(b, t->sacked[i - 1].right))
      b = t->sacked[i - 1].right;
    hole_end = seq_min(hole_end, lost);
    if (seq_lt(b, hole_end)) {
      *seq = b;
      return hole_end - b;
    }
  }
  return 0;
}

/* Data bytes that fit in a segment now: the MSS less the SACK blocks
 * this segment will carry (RFC 6691: options come out of the MSS; the
 * timestamp's 12 bytes are already taken off snd_mss). */
static uint32_t seg_room(const struct weir__tcb *t)
{
  uint32_t n = t->nooo, room = t->snd_mss;
  if (!t->sack_ok || n == 0)
    return room;
  if (n > (t->ts_ok ? 3u : 4u))
    n = t->ts_ok ? 3u : 4u;
  /* NOP NOP kind len, then 8 bytes a block. */
  return room > 4 + 8 * n + 64 ? room - (4 + 8 * n) : 64;
}

struct plan {
  uint32_t seq, len;
  uint32_t gso; /* a super-segment: data bytes per piece; 0: one segment */
  uint8_t flags;
  uint8_t syn_opts;
};

/* The segments a plan stands for on the wire. */
static uint32_t pieces(const struct plan *p)
{
  return p->gso ? (p->len + p->gso - 1) / p->gso : 1;
}

/* The sequence number just past the data in the send buffer (where the
 * FIN goes). Data is only sent once the SYN is acknowledged, so the
 * buffer starts at SND.UNA until the FIN is acknowledged too. */
static uint32_t data_end(const struct weir__tcb *t)
{
  return t->fin_sent ? t->fin_seq : t->snd_una + t->snd.len;
}

/* The right edge of what may be sent outside SACK recovery: the peer's
 * window or cwnd, whichever is less, from SND.UNA. Limited Transmit
 * (RFC 3042): each of the first two duplicate ACKs lets one new segment
 * beyond cwnd go, so that a small flight still draws the third duplicate
 * ACK instead of waiting for a timeout. */
static uint32_t send_edge(const struct weir__tcb *t)
{
  uint32_t cw = t->cwnd;
  if (!t->in_recovery && t->dupacks > 0 && t->dupacks < 3)
    cw += t->dupacks * t->snd_mss;
  return t->snd_una + (t->snd_wnd < cw ? t->snd_wnd : cw);
}

/* What decide() chose. */
enum seg_kind {
  SEG_NONE = 0, /* nothing to send */
  SEG_NEW,      /* new data, a control segment or an ACK */
  SEG_RESEND,   /* a retransmission */
  SEG_OWED_ACK, /* one of several duplicate ACKs owed; more may follow */
};

/* Decides what t sends now. */
static enum seg_kind decide(struct weir_stack *s, struct weir__tcb *t,
                            struct plan *p, uint64_t now)
{
  uint32_t end, avail, wnd, room, len;
  int fin_ok;

  memset(p, 0, sizeof(*p));
  if (t->send_rst) {
    p->seq = t->snd_nxt;
    p->flags = WEIR_TCP_RST | WEIR_TCP_ACK;
    return SEG_NEW;
  }
  if (t->state == WEIR_TCP_SYN_SENT || t->state == WEIR_TCP_SYN_RECEIVED) {
    if (t->snd_nxt != t->iss) {
      /* The SYN is out; only an ACK may be owed (a challenge ACK). */
      if (!t->ack_now || t->state != WEIR_TCP_SYN_RECEIVED)
        return SEG_NONE;
      p->seq = t->snd_nxt;
      p->flags = WEIR_TCP_ACK;
      return SEG_NEW;
    }
    p->seq = t->iss;
    p->flags = t->state == WEIR_TCP_SYN_SENT ? WEIR_TCP_SYN
                                             : WEIR_TCP_SYN | WEIR_TCP_ACK;
    p->syn_opts = 1;
    return SEG_NEW;
  }
  if (t->state == WEIR_TCP_TIME_WAIT || t->state == WEIR_TCP_CLOSED) {
    if (!t->ack_now)
      return SEG_NONE;
    p->seq = t->snd_nxt;
    p->flags = WEIR_TCP_ACK;
    return SEG_NEW;
  }

  end = data_end(t);
  fin_ok = t->fin_queued;

  /* One duplicate ACK per out-of-order segment: all but the last go out
   * bare, the last may ride on data. */
  if (t->dupacks_owed > 1) {
    t->dupacks_owed--;
    p->seq = t->snd_nxt;
    p->flags = WEIR_TCP_ACK;
    return SEG_OWED_ACK;
  }

  /* A keepalive probe: an old sequence number draws an ACK. */
  if (t->rtx_pending == WEIR__PEND_KEEPALIVE) {
    t->rtx_pending = WEIR__PEND_NONE;
    p->seq = t->snd_una - 1;
    p->flags = WEIR_TCP_ACK;
    return SEG_NEW;
  }
  /* Fast retransmit (RFC 5681 3.2, RFC 6582, RFC 6675 5 step 4): the
   * segment at SND.UNA, whatever the window. */
  if (t->rtx_pending == WEIR__PEND_FAST_RTX) {
    t->rtx_pending = WEIR__PEND_NONE;
    p->seq = t->snd_una;
    len = seq_lt(t->snd_una, end) ? end - t->snd_una : 0;
    p->len = len < seg_room(t) ? len : seg_room(t);
    p->flags = WEIR_TCP_ACK;
    if (fin_ok && t->snd_una + p->len == end && t->fin_sent)
      p->flags |= WEIR_TCP_FIN;
    if (p->len || (p->flags & WEIR_TCP_FIN)) {
      if (t->sack_ok)
        t->high_rxt = p->seq + p->len;
      return SEG_RESEND;
    }
  }
  /* SACK recovery: resend what is lost while the pipe has room. */
  if (t->in_recovery && t->sack_ok) {
    uint32_t pipe = sack_pipe(t), seq = 0;
    if (pipe + t->snd_mss <= t->cwnd) {
      uint32_t n = next_lost(t, &seq);
      if (n) {
        p->seq = seq;
        p->len = n < seg_room(t) ? n : seg_room(t);
        p->flags = WEIR_TCP_ACK;
        t->high_rxt = seq + p->len;
        return SEG_RESEND;
      }
    } else if (!t->ack_now) {
      return SEG_NONE;
    }
  }

  /* New data, or go-back-N after a timeout (snd_nxt < snd_max). */
  avail = seq_lt(t->snd_nxt, end) ? end - t->snd_nxt : 0;
  if (t->rtx_pending == WEIR__PEND_WND_PROBE) {
    /* A zero-window probe: one byte past the window (RFC 9293 3.8.6.1). */
    t->rtx_pending = WEIR__PEND_NONE;
    if (seq_lt(t->snd_una, end)) {
      /* The first byte beyond what was acknowledged: the same byte again
       * if an earlier probe was not taken. */
      p->seq = t->snd_una;
      p->len = 1;
      p->flags = WEIR_TCP_ACK;
      return seq_lt(t->snd_una, t->snd_max) ? SEG_RESEND : SEG_NEW;
    }
  }
  if (t->in_recovery && t->sack_ok) {
    uint32_t pipe = sack_pipe(t);
    room = pipe < t->cwnd ? t->cwnd - pipe : 0;
    wnd = t->snd_una + t->snd_wnd - t->snd_nxt;
    if (seq_gt(t->snd_nxt, t->snd_una + t->snd_wnd))
      wnd = 0;
    room = room < wnd ? room : wnd;
  } else {
    uint32_t edge = send_edge(t);
    room = seq_lt(t->snd_nxt, edge) ? edge - t->snd_nxt : 0;
  }
  len = avail < room ? avail : room;
  if (len > seg_room(t))
    len = seg_room(t);
  if (len > 0) {
    int retrans = seq_lt(t->snd_nxt, t->snd_max);
    int all = len == avail;
    int idle = t->snd_nxt == t->snd_una;
    /* Nagle as Minshall refined it (and Linux does): hold a short
     * segment only while an earlier short one is unacknowledged, so the
     * tail of a large write does not wait a round trip. */
    int nagle_ok = idle || t->nodelay || !seq_gt(t->snd_sml, t->snd_una);
    /* Sender SWS avoidance and Nagle (RFC 9293 3.8.6.2.1, RFC 896): a
     * full segment; or all that is queued, if Nagle allows or we are
     * closing; or half the largest window the peer offered. */
    if (len == seg_room(t) || retrans || (all && (nagle_ok || fin_ok)) ||
        (t->max_snd_wnd && len >= t->max_snd_wnd / 2 && (idle || t->nodelay))) {
      p->seq = t->snd_nxt;
      p->len = len;
      p->flags = WEIR_TCP_ACK;
      if (all && fin_ok && t->snd_nxt + len == end)
        p->flags |= WEIR_TCP_FIN;
      if (t->snd_nxt + len == end && !fin_ok)
        p->flags |= WEIR_TCP_PSH;
      else if (all)
        p->flags |= WEIR_TCP_PSH;
      return retrans ? SEG_RESEND : SEG_NEW;
    }
  }
  /* A FIN alone, once the data before it is sent; or again, after a
   * timeout sent SND.NXT back to it. */
  if (fin_ok && t->snd_nxt == end && seq_lt(t->snd_una, end + 1)) {
    p->seq = end;
    p->flags = WEIR_TCP_FIN | WEIR_TCP_ACK;
    return t->fin_sent ? SEG_RESEND : SEG_NEW;
  }
  /* Data waits on a closed window: the persist timer will probe. */
  if (avail && t->snd_wnd == 0 && t->snd_nxt == t->snd_una && !t->t_rtx) {
    t->persist = 1;
    weir__tcp_start_rtx(s, t, now);
  }
  if (t->ack_now) {
    p->seq = t->snd_nxt;
    p->flags = WEIR_TCP_ACK;
    return SEG_NEW;
  }
  return SEG_NONE;
}

/* The options of a segment (RFC 9293 3.2, 7323, 2018). */
static void options(const struct weir_stack *s, const struct weir__tcb *t,
                    const struct plan *p, struct weir_tcp_opts *o, uint64_t now)
{
  memset(o, 0, sizeof(*o));
  if (p->syn_opts) {
    int active = t->state == WEIR_TCP_SYN_SENT;
    o->has_mss = 1;
    o->mss = (uint16_t)t->rcv_mss;
    o->sack_perm = s->cfg.tcp_sack && (active || t->sack_ok);
    o->has_ts = s->cfg.tcp_timestamps && (active || t->ts_ok);
    o->has_wscale = s->cfg.tcp_wscale && (active || t->ws_ok);
    o->wscale = t->rcv_wscale;
  } else {
    o->has_ts = t->ts_ok;
  }
  if (o->has_ts) {
    o->ts_val = weir__tcp_ts_now(t, now);
    o->ts_ecr = (p->flags & WEIR_TCP_ACK) ? t->ts_recent : 0;
  }
  /* SACK blocks (RFC 2018 4): the block holding the latest arrival first,
   * then the others by recency; 3 fit beside a timestamp, 4 without. */
  if (!p->syn_opts && t->sack_ok && t->nooo && !(p->flags & WEIR_TCP_RST)) {
    int max = o->has_ts ? 3 : 4;
    uint32_t below = UINT32_MAX; /* stamps are distinct: take them down */
    while (o->nsack < max && o->nsack < t->nooo) {
      const struct weir__range *r = NULL;
      for (int i = 0; i < t->nooo; i++)
        if (t->ooo[i].stamp < below && (!r || t->ooo[i].stamp > r->stamp))
          r = &t->ooo[i];
      below = r->stamp;
      o->sack[o->nsack].left = r->left;
      o->sack[o->nsack].right = r->right;
      o->nsack++;
    }
  }
}

/* A super-segment for the link to cut (TSO): p, a whole segment of new
 * data, grows to take the whole segments that the next decide() calls
 * would send at this moment, and the short one that would end them, in
 * at most `max` data bytes. Those calls would see the same window, cwnd
 * and options (nothing they read changes in between but SND.NXT), so the
 * link's copies of this header are what they would build; the last
 * piece's PSH and FIN are the link's to place. Retransmissions and
 * recovery stay one segment at a time. */
static void grow(const struct weir__tcb *t, struct plan *p, uint32_t max)
{
  uint32_t m = seg_room(t), end = data_end(t), edge = send_edge(t);
  uint32_t avail, room, lim, len, tail;
  int nagle_ok;

  if (p->len != m || p->seq != t->snd_nxt || t->snd_nxt != t->snd_max ||
      t->in_recovery || (p->flags & (WEIR_TCP_FIN | WEIR_TCP_PSH)) ||
      max < 2 * m)
    return;
  avail = end - p->seq;
  room = seq_gt(edge, p->seq) ? edge - p->seq : 0;
  lim = avail < room ? avail : room;
  len = (lim < max ? lim : max) / m * m;
  tail = lim - len;
  /* The short piece: decide() would send it only as all that is left,
   * Nagle (SND.NXT is past SND.UNA by then, and whole pieces shorter
   * than the MSS count as short) or the FIN allowing; or as half the
   * peer's largest window with Nagle off. */
  if (tail > 0 && tail < m && len + tail <= max) {
    nagle_ok =
        t->nodelay || (m >= t->snd_mss && !seq_gt(t->snd_sml, t->snd_una));
    if ((len + tail == avail && (nagle_ok || t->fin_queued)) ||
        (t->max_snd_wnd && tail >= t->max_snd_wnd / 2 && t->nodelay))
      len += tail;
  }
  if (len <= m)
    return;
  p->len = len;
  p->gso = m;
  if (p->seq + len == end)
    p->flags |= WEIR_TCP_PSH | (t->fin_queued ? WEIR_TCP_FIN : 0);
}

/* Builds the segment of plan p at ip (IPv4 header included); returns the
 * IP packet's length, or 0 if cap is too small. `partial`: leave the
 * checksum to the link. */
static size_t build(struct weir_stack *s, struct weir__tcb *t,
                    const struct plan *p, uint8_t *ip, size_t cap, int partial,
                    uint64_t now)
{
  struct weir_tcp h;
  size_t hl, total;
  uint8_t *l4 = ip + WEIR_IPV4_HLEN;

  memset(&h, 0, sizeof(h));
  options(s, t, p, &h.opt, now);
  hl = weir_tcp_header_len(&h.opt);
  total = WEIR_IPV4_HLEN + hl + p->len;
  if (total > cap)
    return 0;
  if (p->len)
    weir__ring_read(&t->snd, p->seq - t->snd_una, l4 + hl, p->len);
  h.sport = t->lport;
  h.dport = t->rport;
  h.seq = p->seq;
  h.flags = p->flags;
  if (p->flags & WEIR_TCP_ACK)
    h.ack = t->rcv_nxt;
  if (p->syn_opts) {
    uint32_t space = t->rcv.cap - t->rcv.len;
    /* The window of a SYN is never scaled (RFC 7323 2.2). */
    h.win = space > 65535 ? 65535 : (uint16_t)space;
    t->rcv_adv = t->rcv_nxt + h.win;
  } else if (p->flags & WEIR_TCP_RST) {
    h.win = 0;
  } else {
    uint32_t field = weir__tcp_wnd_to_advertise(t);
    h.win = (uint16_t)field;
    if (seq_gt(t->rcv_nxt + (field << t->rcv_wscale), t->rcv_adv))
      t->rcv_adv = t->rcv_nxt + (field << t->rcv_wscale);
  }
  h.payload_len = p->len;
  if (partial)
    weir_tcp_emit_partial(&h, t->laddr, t->raddr, l4, cap - WEIR_IPV4_HLEN);
  else
    weir_tcp_emit(&h, t->laddr, t->raddr, l4, cap - WEIR_IPV4_HLEN);
  weir__ip_header(s, ip, WEIR_IP_PROTO_TCP, t->raddr, hl + p->len);
  /* The link numbers the pieces' IP IDs from this one up; ours go on
   * after the last, as if we had sent them one by one. */
  s->ip_id = (uint16_t)(s->ip_id + pieces(p) - 1);
  s->stats.c[WEIR_STAT_IP_OUT] += pieces(p) - 1;
  return total;
}

/* The TCP header length of plan p's segment. */
static size_t header_len(const struct weir_stack *s, const struct weir__tcb *t,
                         const struct plan *p, uint64_t now)
{
  struct weir_tcp_opts o;

  options(s, t, p, &o, now);
  return weir_tcp_header_len(&o);
}

/* Bookkeeping once a segment of plan p is on its way. */
static void sent(struct weir_stack *s, struct weir__tcb *t,
                 const struct plan *p, enum seg_kind kind, uint64_t now)
{
  uint32_t seqlen = p->len + ((p->flags & WEIR_TCP_SYN) ? 1 : 0) +
                    ((p->flags & WEIR_TCP_FIN) ? 1 : 0);
  uint32_t end = p->seq + seqlen, n = pieces(p);
  /* A super-segment's last piece, and its first (the one RTT timing
   * follows, as it would one segment at a time). */
  uint32_t last = p->gso ? p->len - (n - 1) * p->gso : p->len;
  uint32_t first_end = p->gso ? p->seq + p->gso : end;

  s->stats.c[WEIR_STAT_TCP_SEGS_OUT] += n;
  t->stats.segs_out += n;
  if (p->flags & WEIR_TCP_FIN) {
    t->fin_sent = 1;
    t->fin_seq = p->seq + p->len;
  }
  if (last && last < t->snd_mss && !t->persist &&
      seq_gt(p->seq + p->len, t->snd_sml))
    t->snd_sml = p->seq + p->len; /* (a window probe is not a write) */
  if (p->flags & WEIR_TCP_ACK) {
    t->ack_now = kind == SEG_OWED_ACK; /* more owed ACKs keep the flag */
    t->t_delack = 0;
    t->last_ack_sent = t->rcv_nxt;
    if (kind != SEG_OWED_ACK)
      t->dupacks_owed = 0;
  }
  if (p->flags & WEIR_TCP_RST) {
    WEIR__COUNT(s, TCP_RST_OUT);
    return;
  }
  if (!seqlen)
    return;
  if (kind == SEG_RESEND || seq_lt(p->seq, t->snd_max)) {
    WEIR__COUNT(s, TCP_RETRANSMITS);
    t->stats.retransmits++;
    if (t->rtt_start && seq_leq(p->seq, t->rtt_seq))
      t->rtt_start = 0; /* Karn */
  } else if (!t->rtt_start) {
    t->rtt_start = now;
    t->rtt_seq = first_end;
  }
  /* Only the go-back-N and new-data paths move snd_nxt; the targeted
   * retransmissions (fast retransmit, SACK holes) leave it be. */
  if (p->seq == t->snd_nxt)
    t->snd_nxt = end;
  if (seq_gt(end, t->snd_max))
    t->snd_max = end;
  if (!t->t_rtx || t->persist) {
    if (p->len && t->persist && p->len == 1 && t->snd_wnd == 0)
      ; /* a probe keeps the persist timer's own schedule */
    else {
      t->persist = 0;
      if (!t->rtx_start)
        t->rtx_start = now; /* R2 counts from the first transmission */
      weir__tcp_start_rtx(s, t, now);
    }
  }
}

/* Builds one frame for t into buf. Returns its length; 0 if t has nothing
 * to send (it leaves the queue); (size_t)-1 if a segment was queued for
 * ARP instead. m: as weir__tcp_output's. */
static size_t dispatch(struct weir_stack *s, struct weir__tcb *t, uint8_t *buf,
                       size_t cap, uint64_t now, struct weir_tx_meta *m)
{
  struct plan p;
  enum seg_kind kind = decide(s, t, &p, now);
  int lh, partial = m && s->cfg.tx_csum_offload;
  size_t n, ip_max, hl;

  if (!kind) {
    weir__tcp_txq_remove(s, t);
    if (t->closed_by_app && t->state == WEIR_TCP_CLOSED)
      weir__tcp_destroy(s, t);
    return 0;
  }
  lh = weir__link_header(s, t->raddr, buf, now);
  if (lh == -1) {
    /* The next hop is not resolved: the segment waits on ARP in a slot
     * (a few are kept; the rest is as good as lost and retransmitted). */
    uint32_t k = weir__pkt_get(s, 0);
    uint32_t nexthop;
    if (k != WEIR__NONE) {
      n = build(s, t, &p, WEIR__PKT_IP(s, k), s->cfg.mtu, 0, now);
      s->pkts[k].len = s->lhlen + (uint32_t)n;
      weir__ip_route(s, t->raddr, &nexthop);
      weir__arp_resolve_send(s, k, nexthop, now);
    }
    n = (size_t)-1;
  } else if (lh < 0) {
    WEIR__COUNT(s, DROP_NO_ROUTE);
    n = (size_t)-1;
  } else {
    ip_max = cap - (size_t)lh;
    if (m && s->cfg.tx_tso_max && kind == SEG_NEW) {
      if (ip_max > s->cfg.tx_tso_max)
        ip_max = s->cfg.tx_tso_max;
      hl = header_len(s, t, &p, now);
      if (ip_max > WEIR_IPV4_HLEN + hl)
        grow(t, &p, (uint32_t)(ip_max - WEIR_IPV4_HLEN - hl));
    }
    n = build(s, t, &p, buf + lh, ip_max, partial, now);
    if (n == 0)
      return 0; /* the caller's buffer is too small: try again later */
    if (partial) {
      m->flags = WEIR_TX_CSUM_PARTIAL;
      m->csum_start = (uint16_t)(lh + WEIR_IPV4_HLEN);
      m->csum_offset = WEIR_TCP_CSUM_OFF;
    }
    if (p.gso) {
      m->gso_size = (uint16_t)p.gso;
      m->hdr_len = (uint16_t)(n - p.len + (size_t)lh);
    }
    n += (size_t)lh;
  }
  sent(s, t, &p, kind, now);
  if (p.flags & WEIR_TCP_RST) {
    weir__tcp_destroy(s, t);
    return n;
  }
  return n;
}

size_t weir__tcp_output(struct weir_stack *s, uint8_t *buf, size_t cap,
                        uint64_t now, struct weir_tx_meta *m)
{
  struct weir__tcb *t;
  while ((t = s->tx_head) != NULL) {
    size_t n = dispatch(s, t, buf, cap, now, m);
    if (n == 0 && s->tx_head == t)
      return 0; /* cap too small: leave it queued */
    if (n == 0)
      continue;
    /* Round robin: a connection with more to send goes to the back. */
    if (s->tx_head == t && t->in_txq && t->tx_next) {
      weir__tcp_txq_remove(s, t);
      weir__tcp_want_output(s, t);
    }
    if (n != (size_t)-1)
      return n;
    if (s->txq.head != WEIR__NONE)
      return 0; /* an ARP request to send first: weir_output takes it */
  }
  return 0;
}

/* RFC 9293 3.10.7.1: the reply to a segment that reached no connection.
 * If it carried an ACK: <SEQ=SEG.ACK><CTL=RST>; otherwise
 * <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>. A RST is never answered. */
void weir__tcp_send_reset(struct weir_stack *s, const struct weir__ip_in *in,
                          const struct weir_tcp *seg, uint64_t now)
{
  struct weir_tcp h;
  uint32_t k;
  uint8_t *ip;
  size_t n;

  if (seg->flags & WEIR_TCP_RST)
    return;
  if (in->ip_bcast || in->link_bcast)
    return;
  k = weir__pkt_get(s, 0);
  if (k == WEIR__NONE) {
    WEIR__COUNT(s, DROP_TX_FULL);
    return;
  }
  memset(&h, 0, sizeof(h));
  h.sport = seg->dport;
  h.dport = seg->sport;
  if (seg->flags & WEIR_TCP_ACK) {
    h.seq = seg->ack;
    h.flags = WEIR_TCP_RST;
  } else {
    h.ack = seg->seq + (uint32_t)seg->payload_len +
            ((seg->flags & WEIR_TCP_SYN) ? 1 : 0) +
            ((seg->flags & WEIR_TCP_FIN) ? 1 : 0);
    h.flags = WEIR_TCP_RST | WEIR_TCP_ACK;
  }
  ip = WEIR__PKT_IP(s, k);
  n = weir_tcp_emit(&h, s->cfg.ip, in->h.src, ip + WEIR_IPV4_HLEN,
                    s->cfg.mtu - WEIR_IPV4_HLEN);
  WEIR__COUNT(s, TCP_SEGS_OUT);
  WEIR__COUNT(s, TCP_RST_OUT);
  weir__ip_send(s, k, WEIR_IP_PROTO_TCP, in->h.src, n, now);
}

/* An ACK soon: at once if two full segments are unacknowledged (RFC 5681
 * 4.2), else when the delayed-ACK timer fires. */
void weir__tcp_ack_soon(struct weir_stack *s, struct weir__tcb *t, uint64_t now)
{
  uint32_t seg = t->rcv_seg_max > 536 ? t->rcv_seg_max : 536;
  /* A segment the host merged (GRO) or never cut (TSO) stands for
   * several of at most the MSS we offered: ACK as for those. */
  if (seg > t->rcv_mss)
    seg = t->rcv_mss;
  if (t->rcv_nxt - t->last_ack_sent >= 2 * seg) {
    t->ack_now = 1;
    weir__tcp_want_output(s, t);
    return;
  }
  if (!t->t_delack) {
    t->t_delack = now + s->cfg.tcp_delack_us;
    weir__tcp_arm(s, t);
  }
}
