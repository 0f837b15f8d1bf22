/* The stack's private structures, shared by the files of core/.
 * Nothing here is part of the API. */
#ifndef WEIR_INTERNAL_H
#define WEIR_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "weir/weir.h"
#include "wire/ipv4.h"

#define WEIR__NONE UINT32_MAX

/* ---------------------------------------------------------------- timers
 * One min-heap of timers for the whole stack: weir_deadline reads its
 * head, weir_timers pops only what is due. A timer is embedded in the
 * object that owns it; `kind` and `owner` tell weir_timers whom to call. */
enum weir__timer_kind {
  WEIR__T_ARP = 1,
  WEIR__T_REASM = 2,
  WEIR__T_TCP = 3,
};

struct weir__timer {
  uint64_t when;
  uint32_t pos; /* 1 + index in the heap; 0 when not armed */
  uint8_t kind;
  uint32_t owner;
};

struct weir__heap {
  struct weir__timer **v;
  uint32_t n, cap;
};

void weir__timer_arm(struct weir__heap *h, struct weir__timer *t,
                     uint64_t when);
void weir__timer_cancel(struct weir__heap *h, struct weir__timer *t);
/* The earliest armed timer if it is due at `now` (it is disarmed and
 * returned), else NULL. */
struct weir__timer *weir__timer_pop_due(struct weir__heap *h, uint64_t now);

/* ---------------------------------------------------------- packet slots
 * Outgoing frames live in a fixed pool of slots, each big enough for one
 * link header plus the MTU. A slot is on exactly one list: free, the
 * transmit queue, or an ARP entry's waiting queue. */
struct weir__pkt {
  uint8_t *buf;    /* link header at buf[0], IP header at buf[lhlen] */
  uint32_t next;   /* next slot on its list, or WEIR__NONE */
  uint32_t len;    /* frame length including the link header */
  int32_t sock;    /* socket to tell if it cannot be delivered, or -1 */
  uint32_t ip_dst; /* for error reports */
  uint16_t port;   /* for error reports */
};

struct weir__pktq {
  uint32_t head, tail, len;
};

/* ----------------------------------------------------------------- ARP */
enum weir__arp_state {
  WEIR__ARP_FREE = 0,
  WEIR__ARP_INCOMPLETE, /* request sent, packets may wait */
  WEIR__ARP_REACHABLE,
};

struct weir__arp_entry {
  uint32_t ip;
  uint8_t mac[6];
  uint8_t state;
  uint8_t tries;    /* requests sent while INCOMPLETE */
  uint32_t hnext;   /* hash chain */
  uint64_t updated; /* when the mapping was last confirmed */
  struct weir__pktq waiting;
  struct weir__timer timer; /* INCOMPLETE: next retry; REACHABLE: expiry */
};

/* ---------------------------------------------------------- reassembly */
struct weir__frag {
  uint16_t off, len; /* in bytes, of the payload */
};

struct weir__reasm {
  uint8_t used;
  uint8_t proto;
  uint8_t have_first; /* the offset-0 fragment arrived: hdr is valid */
  uint8_t hlen;
  uint16_t id;
  uint32_t src, dst;
  uint32_t total; /* payload length once the last fragment arrived, else 0 */
  uint32_t have;  /* payload bytes received (no overlaps, so a plain sum) */
  uint32_t nfrags;
  struct weir__frag *frags;
  uint8_t *buf; /* 60 bytes of room for a header, then the payload */
  struct weir__timer timer;
};

/* ------------------------------------------------------------- sockets */
enum weir__sock_type {
  WEIR__SOCK_FREE = 0,
  WEIR__SOCK_UDP,
  WEIR__SOCK_TCP, /* unconnected, or with a connection */
  WEIR__SOCK_TCP_LISTEN,
};

struct weir__tcb;
struct weir__listener;

/* A byte ring: `len` bytes from `head`, in a buffer of `cap`. UDP keeps
 * datagram records in one; TCP its send buffer (from SND.UNA) and its
 * receive buffer (from the first unread byte). */
struct weir__ring {
  uint8_t *buf;
  uint32_t cap, head, len;
};

/* Copies n bytes in or out at logical offset `at` from head, wrapping at
 * the end of the buffer; `at` may lie past len (out-of-order data lands
 * where it belongs). */
void weir__ring_write(struct weir__ring *r, uint32_t at, const uint8_t *src,
                      uint32_t n);
void weir__ring_read(const struct weir__ring *r, uint32_t at, uint8_t *dst,
                     uint32_t n);
/* Drops n bytes from the head. */
void weir__ring_consume(struct weir__ring *r, uint32_t n);

/* Numbered slots, lowest free first (slots.c). */
struct weir__slots {
  uint64_t *bits; /* taken */
  uint32_t n;
  uint32_t low; /* no word below this one has a free bit */
};
int weir__slots_init(struct weir_stack *s, struct weir__slots *m, uint32_t n);
void weir__slots_free(struct weir_stack *s, struct weir__slots *m);
uint32_t weir__slot_take(struct weir__slots *m); /* WEIR__NONE if full */
void weir__slot_put(struct weir__slots *m, uint32_t i);

struct weir__sock {
  uint8_t type;
  uint8_t on_evq;        /* on the event queue */
  uint8_t want_writable; /* got WEIR_EAGAIN from a send */
  unsigned events;       /* pending WEIR_EV_* bits */
  uint32_t ev_next;      /* event queue link */
  uint32_t wr_next;      /* list of sockets waiting for a free slot */
  uint32_t port_next;    /* port hash chain */
  uint16_t lport;        /* bound local port (UDP, TCP listener or
                            weir_tcp_bind), 0 if none */
  int err;               /* pending error for weir_sock_error */
  uint32_t err_addr;
  uint16_t err_port;
  struct weir__ring rx;       /* UDP: records of (addr, port, len, data) */
  struct weir__tcb *tcb;      /* TCP: the connection, or NULL */
  struct weir__listener *lst; /* TCP listener */
  uint8_t tcp_cc;             /* TCP: enum weir_tcp_cc, 0: cfg.tcp_cc */
};

/* ------------------------------------------------------- a received IP */
struct weir__ip_in {
  struct weir_ipv4 h;     /* parsed header (payload fields as delivered) */
  const uint8_t *hdr;     /* the header's bytes, h.hlen of them */
  const uint8_t *payload; /* the whole (reassembled) payload */
  size_t len;
  uint8_t link_bcast; /* arrived as a link-layer broadcast */
  uint8_t ip_bcast;   /* destination was a broadcast address */
  uint8_t l4_csum_ok; /* the link vouched for the TCP/UDP checksum */
};

/* --------------------------------------------------------------- stack */
struct weir_stack {
  struct weir_config cfg;
  struct weir_stats stats;
  uint32_t netmask, bcast; /* derived from ip/prefix_len */
  uint32_t lhlen;          /* link header length: 14 or 0 */
  uint16_t ip_id;

  struct weir__heap timers;

  struct weir__pkt *pkts;
  uint8_t *pkt_mem;
  uint32_t pkt_size;
  struct weir__pktq freeq, txq;

  struct weir__arp_entry *arp;
  uint32_t *arp_hash; /* bucket heads */
  uint32_t arp_hmask;

  struct weir__reasm *reasm;
  uint32_t reasm_bytes; /* payload bytes held in all slots */

  uint64_t icmp_tokens; /* in millionths of a token */
  uint64_t icmp_last;

  struct weir__sock *socks;
  struct weir__slots sock_slots;
  uint32_t *port_hash;
  uint32_t port_hmask;
  uint32_t evq_head, evq_tail;
  uint32_t wr_head;
  uint16_t next_ephemeral;

  /* TCP */
  struct weir__tcb **tcbs; /* by id; NULL when free */
  struct weir__slots tcb_slots;
  uint32_t tcb_count;
  struct weir__tcb **tcp_hash;
  uint32_t tcp_hmask, tcp_hkey;
  struct weir__tcb *tx_head, *tx_tail; /* connections with output */
  uint32_t tcp_port_seq;               /* RFC 6056 algorithm 3's counter */
  uint64_t challenge_window, challenge_count; /* global challenge-ACK cap */
  struct weir_trace *trace;
  uint32_t trace_head, trace_len, trace_lost;
};

#define WEIR__COUNT(s, name) ((s)->stats.c[WEIR_STAT_##name]++)

/* stack.c */
void *weir__alloc(struct weir_stack *s, size_t size); /* zeroed */
void weir__free(struct weir_stack *s, void *p);
void weir__sock_raise(struct weir_stack *s, uint32_t sock, unsigned events);
void weir__sock_set_error(struct weir_stack *s, uint32_t sock, int err,
                          uint32_t addr, uint16_t port);

/* pkt.c */
int weir__pkt_init(struct weir_stack *s);
/* A free slot, or WEIR__NONE. Application sends (`app` non-zero) may not
 * take the last few slots, kept for ARP and ICMP replies. */
uint32_t weir__pkt_get(struct weir_stack *s, int app);
void weir__pkt_put(struct weir_stack *s, uint32_t i);
void weir__pktq_push(struct weir_stack *s, struct weir__pktq *q, uint32_t i);
uint32_t weir__pktq_pop(struct weir_stack *s, struct weir__pktq *q);
/* Room left in a slot for an IP packet (the MTU). */
#define WEIR__PKT_IP(s, i) ((s)->pkts[i].buf + (s)->lhlen)

/* arp.c */
int weir__arp_init(struct weir_stack *s);
void weir__arp_input(struct weir_stack *s, const uint8_t *pkt, size_t len,
                     uint64_t now);
/* Sends slot i (an IP packet of ip_len bytes at WEIR__PKT_IP) to the
 * next hop: at once if its address is known, else after resolution. */
void weir__arp_resolve_send(struct weir_stack *s, uint32_t i, uint32_t nexthop,
                            uint64_t now);
void weir__arp_timer(struct weir_stack *s, uint32_t entry, uint64_t now);
/* The MAC of nexthop if it is resolved (returns 1), else 0. */
int weir__arp_lookup(struct weir_stack *s, uint32_t nexthop, uint8_t *mac);

/* ipv4.c */
/* Writes a 20-byte IPv4 header for a payload of plen bytes to dst at `ip`
 * and counts it. Returns 20. */
size_t weir__ip_header(struct weir_stack *s, uint8_t *ip, uint8_t proto,
                       uint32_t dst, size_t plen);
/* The link header for a packet to dst: writes it at buf and returns its
 * length (0 or 14), or -1 if the next hop is not resolved yet, or
 * WEIR_ENETUNREACH. */
int weir__link_header(struct weir_stack *s, uint32_t dst, uint8_t *buf,
                      uint64_t now);
/* flags: WEIR_RX_* from weir_input_flags. */
void weir__ip_input(struct weir_stack *s, const uint8_t *pkt, size_t len,
                    int link_bcast, unsigned flags, uint64_t now);
/* Routes a destination: 0 and the next hop, or WEIR_ENETUNREACH. */
int weir__ip_route(const struct weir_stack *s, uint32_t dst, uint32_t *nexthop);
/* Fills the IPv4 header of slot i for a payload of `plen` bytes already
 * written after it, and sends the packet. The slot is consumed. */
void weir__ip_send(struct weir_stack *s, uint32_t i, uint8_t proto,
                   uint32_t dst, size_t plen, uint64_t now);
/* Is `a` a broadcast address for us (limited or subnet-directed)? */
int weir__ip_is_bcast(const struct weir_stack *s, uint32_t a);
void weir__ip_deliver(struct weir_stack *s, const struct weir__ip_in *in,
                      uint64_t now);

/* reasm.c */
int weir__reasm_init(struct weir_stack *s);
void weir__reasm_input(struct weir_stack *s, const struct weir__ip_in *in,
                       uint64_t now);
void weir__reasm_timer(struct weir_stack *s, uint32_t slot, uint64_t now);

/* icmp.c */
void weir__icmp_input(struct weir_stack *s, const struct weir__ip_in *in,
                      uint64_t now);
/* Sends an ICMP error about `orig` unless RFC 1122 3.2.2 forbids it or the
 * rate limit says no. */
void weir__icmp_error(struct weir_stack *s, uint8_t type, uint8_t code,
                      const struct weir__ip_in *orig, uint64_t now);

/* udp.c */
int weir__udp_init(struct weir_stack *s);
void weir__udp_input(struct weir_stack *s, const struct weir__ip_in *in,
                     uint64_t now);
void weir__udp_icmp_error(struct weir_stack *s, int err, uint16_t sport,
                          uint32_t dst, uint16_t dport);
void weir__sock_free_all(struct weir_stack *s);
int weir__sock_alloc(struct weir_stack *s, uint8_t type);
void weir__sock_put(struct weir_stack *s, uint32_t k);
uint32_t weir__port_lookup(const struct weir_stack *s, uint8_t type,
                           uint16_t port);
void weir__port_link(struct weir_stack *s, uint32_t k, uint16_t port);
void weir__port_unlink(struct weir_stack *s, uint32_t k);

#endif
