/* TCP's private structures: the connection block and what the files of
 * core/tcp/ share. Nothing here is part of the API. */
#ifndef WEIR_TCP_TCB_H
#define WEIR_TCP_TCB_H

#include <stdint.h>

#include "internal.h"
#include "wire/icmp.h"
#include "wire/tcp.h"

/* Sequence space arithmetic, modulo 2^32 (RFC 9293 3.4). Never compare
 * sequence numbers with < on raw values. */
static inline int seq_lt(uint32_t a, uint32_t b)
{
  return (int32_t)(a - b) < 0;
}
static inline int seq_leq(uint32_t a, uint32_t b)
{
  return (int32_t)(a - b) <= 0;
}
static inline int seq_gt(uint32_t a, uint32_t b)
{
  return (int32_t)(a - b) > 0;
}
static inline int seq_geq(uint32_t a, uint32_t b)
{
  return (int32_t)(a - b) >= 0;
}
static inline uint32_t seq_max(uint32_t a, uint32_t b)
{
  return seq_gt(a, b) ? a : b;
}
static inline uint32_t seq_min(uint32_t a, uint32_t b)
{
  return seq_lt(a, b) ? a : b;
}

/* A range of sequence space [left, right). */
struct weir__range {
  uint32_t left, right;
  uint32_t stamp; /* out-of-order data: when last added to (SACK order) */
};

/* Out-of-order data held (RFC 2018 receiver) and SACKed data seen (RFC 6675
 * sender): sorted, disjoint, bounded. */
#define WEIR__OOO_MAX  16
#define WEIR__SACK_MAX 16

struct weir__tcb;

/* A segment a timer or an ACK asked for, sent at the next output. */
enum weir__pending {
  WEIR__PEND_NONE = 0,
  WEIR__PEND_FAST_RTX = 1,  /* resend SND.UNA's segment (fast retransmit) */
  WEIR__PEND_WND_PROBE = 2, /* a zero-window probe (persist timer) */
  WEIR__PEND_KEEPALIVE = 3, /* a keepalive probe */
};

/* A congestion control algorithm: what it does on four events. */
struct weir__cc_ops {
  const char *name;
  void (*init)(struct weir__tcb *t); /* also once the MSS is known */
  void (*on_ack)(struct weir__tcb *t, uint32_t acked, uint64_t now);
  void (*on_loss)(struct weir__tcb *t, uint64_t now);    /* 3 dupacks */
  void (*on_timeout)(struct weir__tcb *t, uint64_t now); /* RTO */
};
extern const struct weir__cc_ops weir__cc_reno;
extern const struct weir__cc_ops weir__cc_cubic;

/* CUBIC's own state (RFC 9438 4.1), in bytes and microseconds. */
struct weir__cubic {
  uint64_t epoch_start; /* start of this growth epoch, 0: not begun */
  uint64_t k_us;        /* time from epoch_start to reach w_max */
  uint64_t grow_acc;    /* bytes x bytes of growth owed, below one byte */
  uint32_t w_max;       /* cwnd just before the last reduction */
  uint32_t origin;      /* W_max of the curve in this epoch */
  uint32_t cwnd_prior;  /* cwnd before the last reduction */
  uint32_t w_est;       /* the Reno-friendly estimate (RFC 9438 4.3) */
  uint32_t est_acc;     /* bytes acknowledged toward w_est's next step */
};

struct weir__tcb {
  uint32_t id; /* index in s->tcbs */
  const struct weir__cc_ops *cc;
  uint8_t state;
  uint8_t closed_by_app; /* the handle is gone: finish and free */
  uint8_t fin_queued;    /* the app shut down: FIN after the data */
  uint8_t fin_sent;      /* our FIN went out, at fin_seq */
  uint8_t fin_rcvd;      /* the peer's FIN is in sequence (rcv_nxt past it) */
  uint8_t ooo_fin;       /* a FIN beyond a hole, at ooo_fin_seq */
  uint8_t nodelay, keepalive;
  uint8_t ack_now; /* an ACK must go out (or ride on data) */
  uint8_t in_txq;
  uint8_t ts_ok, sack_ok, ws_ok;
  uint8_t snd_wscale, rcv_wscale;
  uint8_t in_recovery; /* fast recovery (NewReno or SACK) */
  uint8_t rtx_pending; /* enum weir__pending: a segment owed out of turn */
  uint8_t dupacks;
  uint8_t backoff;      /* RTO doublings so far */
  uint8_t persist;      /* the rtx timer is the persist timer */
  uint8_t keep_probes;  /* keepalive probes unanswered */
  uint8_t syn_rtx;      /* SYN or SYN-ACK retransmissions */
  uint8_t send_rst;     /* a RST is to go out, then the TCB goes */
  uint8_t dupacks_owed; /* out-of-order arrivals not yet acknowledged */
  int sock;             /* handle, or -1 */
  int listener;         /* the listening handle while not yet accepted, or -1 */
  int err;              /* pending error for the app */

  uint32_t laddr, raddr;
  uint16_t lport, rport;
  struct weir__tcb *hnext;             /* 4-tuple hash chain */
  struct weir__tcb *qnext;             /* listener's SYN or accept queue */
  struct weir__tcb *tx_next, *tx_prev; /* connections with output */

  /* Send sequence space (RFC 9293 3.3.1). snd_nxt moves back to snd_una
   * after an RTO (go-back-N); snd_max is the highest ever sent. */
  uint32_t iss, snd_una, snd_nxt, snd_max, snd_wl1, snd_wl2;
  uint32_t snd_wnd, max_snd_wnd;
  uint32_t snd_mss;  /* data bytes per segment we send */
  uint32_t recover;  /* NewReno / RFC 6675 RecoveryPoint */
  uint32_t fin_seq;  /* our FIN's sequence number, once sent */
  uint32_t snd_sml;  /* end of the last short segment sent (Minshall) */
  uint32_t high_rxt; /* RFC 6675 HighRxt */
  uint32_t cwnd, ssthresh, bytes_acked_ca;
  struct weir__cubic cubic;
  struct weir__ring snd;

  /* Receive sequence space. */
  uint32_t irs, rcv_nxt, rcv_adv; /* rcv_adv: right edge advertised */
  uint32_t rcv_mss;               /* what the peer may send us */
  uint32_t rcv_seg_max;           /* the largest segment seen from it */
  uint32_t syn_data;              /* text that came on the SYN, held */
  uint32_t last_ack_sent;
  uint32_t ooo_fin_seq;
  struct weir__ring rcv;
  struct weir__range ooo[WEIR__OOO_MAX];
  uint8_t nooo;
  uint32_t ooo_clock; /* stamps for ooo[].stamp */

  /* SACK scoreboard (sender side). */
  struct weir__range sacked[WEIR__SACK_MAX];
  uint8_t nsacked;

  /* Timestamps (RFC 7323). */
  uint32_t ts_recent, ts_offset;

  /* RTT (RFC 6298), microseconds. */
  uint64_t srtt, rttvar, rto;
  uint32_t rtt_seq;   /* timing the segment ending here */
  uint64_t rtt_start; /* 0: not timing */
  uint64_t rtx_start; /* first retransmission of SND.UNA's data, or 0 */

  /* Timers: absolute times, 0 when off; one heap entry at their minimum. */
  uint64_t t_rtx, t_delack, t_keep, t_close;
  uint64_t last_rcv; /* for keepalive */
  uint64_t keep_idle, keep_intvl;
  uint32_t keep_cnt;
  uint64_t last_challenge;
  struct weir__timer timer;

  struct weir_tcp_info stats; /* counters; state fields filled on demand */
};

struct weir__listener {
  uint16_t port;
  uint32_t backlog;
  uint32_t nsyn, nacc;
  struct weir__tcb *syn_q;               /* SYN-RECEIVED */
  struct weir__tcb *acc_head, *acc_tail; /* ESTABLISHED, not accepted */
};

/* conn.c */
int weir__tcp_init(struct weir_stack *s);
void weir__tcp_free_all(struct weir_stack *s);
struct weir__tcb *weir__tcp_lookup(struct weir_stack *s, uint32_t laddr,
                                   uint16_t lport, uint32_t raddr,
                                   uint16_t rport);
struct weir__tcb *weir__tcp_new(struct weir_stack *s, uint32_t raddr,
                                uint16_t lport, uint16_t rport, uint64_t now);
void weir__tcp_destroy(struct weir_stack *s, struct weir__tcb *t);
int weir__tcp_listener_of(struct weir_stack *s, uint16_t port);
void weir__tcp_set_state(struct weir_stack *s, struct weir__tcb *t, int st,
                         uint64_t now);
void weir__tcp_raise(struct weir_stack *s, struct weir__tcb *t,
                     unsigned events);
void weir__tcp_error(struct weir_stack *s, struct weir__tcb *t, int err,
                     uint64_t now);
void weir__tcp_trace(struct weir_stack *s, struct weir__tcb *t, int kind,
                     uint32_t seq, int arg, uint64_t now);
void weir__tcp_established_passive(struct weir_stack *s, struct weir__tcb *t);
uint32_t weir__tcp_isn(const struct weir_stack *s, uint32_t laddr,
                       uint16_t lport, uint32_t raddr, uint16_t rport,
                       uint64_t now);
uint32_t weir__tcp_rcv_space(const struct weir__tcb *t);

/* A TCP buffer's memory, allocated on first use: 0, or WEIR_ENOMEM. */
static inline int weir__tcp_ring_ready(struct weir_stack *s,
                                       struct weir__ring *r)
{
  if (!r->buf)
    r->buf = weir__alloc(s, r->cap);
  return r->buf ? 0 : WEIR_ENOMEM;
}

/* input.c */
void weir__tcp_input(struct weir_stack *s, const struct weir__ip_in *in,
                     uint64_t now);
void weir__tcp_icmp_error(struct weir_stack *s, int err, int frag_needed,
                          uint16_t mtu, const struct weir_icmp_quote *q,
                          uint64_t now);

/* output.c */
void weir__tcp_want_output(struct weir_stack *s, struct weir__tcb *t);
void weir__tcp_txq_remove(struct weir_stack *s, struct weir__tcb *t);
/* m: NULL for weir_output; else weir_output_meta's, filled for a frame
 * that uses the link's offloads. */
size_t weir__tcp_output(struct weir_stack *s, uint8_t *buf, size_t cap,
                        uint64_t now, struct weir_tx_meta *m);
/* A RST (or RST,ACK) answering a segment that has no connection. */
void weir__tcp_send_reset(struct weir_stack *s, const struct weir__ip_in *in,
                          const struct weir_tcp *seg, uint64_t now);
uint32_t weir__tcp_ts_now(const struct weir__tcb *t, uint64_t now);
void weir__tcp_ack_soon(struct weir_stack *s, struct weir__tcb *t,
                        uint64_t now);
uint32_t weir__tcp_wnd_to_advertise(struct weir__tcb *t);
uint32_t weir__tcp_wnd_bytes(const struct weir__tcb *t);
uint32_t weir__tcp_lost_below(const struct weir__tcb *t);

/* timer.c */
void weir__tcp_arm(struct weir_stack *s, struct weir__tcb *t);
void weir__tcp_timer(struct weir_stack *s, uint32_t id, uint64_t now);
void weir__tcp_rto_sample(struct weir__tcb *t, uint64_t rtt);
void weir__tcp_start_rtx(struct weir_stack *s, struct weir__tcb *t,
                         uint64_t now);

/* cc.c: the connection's algorithm (cfg.tcp_cc unless set). */
const struct weir__cc_ops *weir__cc_find(int which); /* enum weir_tcp_cc */
void weir__cc_init(struct weir__tcb *t);
void weir__cc_on_ack(struct weir__tcb *t, uint32_t acked, uint64_t now);
void weir__cc_on_loss(struct weir__tcb *t, uint64_t now);    /* 3 dupacks */
void weir__cc_on_timeout(struct weir__tcb *t, uint64_t now); /* RTO */

/* ranges.c */
uint32_t weir__range_add(struct weir__range *v, uint8_t *n, uint8_t max,
                         uint32_t left, uint32_t right, int *slot);

/* siphash.c */
uint64_t weir__siphash24(const uint8_t key[16], const uint8_t *msg, size_t len);

#endif
