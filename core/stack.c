/* The stack object: configuration, creation, the input/output/timer entry
 * points, events and counters. */
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "tcp/tcb.h"
#include "wire/ethernet.h"

/* Defaults. Each is what a small host on a LAN wants; they are in the
 * config so that an embedded user can shrink them and a bench can grow
 * them. */
void weir_config_default(struct weir_config *c)
{
  memset(c, 0, sizeof(*c));
  c->link = WEIR_LINK_ETHERNET;
  c->mtu = 1500;
  c->ttl = 64; /* RFC 1700's recommendation, Linux's default */
  c->tx_slots = 256;
  c->max_sockets = 64;
  c->udp_rx_bytes = 64 * 1024;
  c->arp_entries = 64;
  c->arp_queue_per_entry = 4; /* lwIP holds 3, Linux ~100 KiB */
  c->arp_ttl_us = 60000000;   /* Linux's reachable time is 15-45 s */
  c->arp_retry_us = 1000000;  /* Linux retrans_time: 1 s */
  c->arp_retries = 3;         /* Linux mcast_solicit: 3 */
  c->reasm_datagrams = 4;
  c->reasm_max_size = 65535;
  c->reasm_max_bytes = 4 * 65535;
  c->reasm_max_frags = 64;
  c->reasm_timeout_us = 30000000; /* Linux ipfrag_time; RFC 791 >= 15 s */
  c->tcp_max_conns = 1024;
  c->tcp_snd_buf = 256 * 1024;
  c->tcp_rcv_buf = 256 * 1024;
  c->tcp_syn_backlog = 128;
  c->tcp_msl_us = 30000000; /* TIME-WAIT 60 s, as long as Linux keeps it */
  c->tcp_rto_initial_us = 1000000; /* RFC 6298 2.1 */
  /* RFC 6298 asks for a 1 s floor; Linux has used 200 ms for decades.
   * With timers driven at microsecond resolution and RTTs of a LAN or a
   * TUN device, a 1 s floor makes every loss repaired by timeout cost a
   * second for no safety gained: the estimator's 4 x RTTVAR term already
   * covers delayed ACKs (40 ms here, and at most 200 ms by RFC 9293). */
  c->tcp_rto_min_us = 200000;
  c->tcp_rto_max_us = 120000000;      /* Linux TCP_RTO_MAX; RFC: >= 60 s */
  c->tcp_user_timeout_us = 120000000; /* RFC 9293 R2 >= 100 s */
  c->tcp_syn_timeout_us = 180000000;  /* RFC 9293: R2 for SYN >= 3 min */
  c->tcp_delack_us = 40000;           /* Linux's minimum ATO */
  c->tcp_timestamps = 1;
  c->tcp_sack = 1;
  c->tcp_wscale = 1;
  c->tcp_cc = WEIR_TCP_CC_CUBIC; /* as Linux, FreeBSD, Windows */
  c->icmp_rate_per_s = 1000;     /* Linux icmp_msgs_per_sec */
  c->icmp_burst = 50;            /* Linux icmp_msgs_burst */
}

void weir_config_seed(struct weir_config *c, uint64_t seed)
{
  for (int i = 0; i < 16; i += 8) {
    uint64_t z = (seed += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    z ^= z >> 31;
    for (int k = 0; k < 8; k++)
      c->secret[i + k] = (uint8_t)(z >> (56 - 8 * k));
  }
}

static void *default_alloc(void *ctx, size_t size)
{
  (void)ctx;
  return malloc(size);
}

static void default_free(void *ctx, void *p)
{
  (void)ctx;
  free(p);
}

void *weir__alloc(struct weir_stack *s, size_t size)
{
  void *p = s->cfg.alloc.alloc(s->cfg.alloc.ctx, size ? size : 1);
  if (p)
    memset(p, 0, size);
  return p;
}

void weir__free(struct weir_stack *s, void *p)
{
  if (p)
    s->cfg.alloc.free(s->cfg.alloc.ctx, p);
}

static int config_ok(const struct weir_config *c)
{
  if (c->link != WEIR_LINK_ETHERNET && c->link != WEIR_LINK_IP)
    return 0;
  if (c->link == WEIR_LINK_ETHERNET &&
      (weir_eth_is_multicast(c->mac) || weir_eth_is_zero(c->mac)))
    return 0;
  if (c->ip == 0 || c->prefix_len > 32 || weir_ipv4_is_multicast(c->ip) ||
      weir_ipv4_is_loopback(c->ip) || c->ip == 0xffffffffu)
    return 0;
  if (c->gateway == c->ip && c->gateway != 0)
    return 0;
  /* 576: every IPv4 host must accept datagrams of this size (RFC 791). */
  if (c->mtu < 576 || c->ttl == 0)
    return 0;
  if (c->tx_slots < 8 || c->max_sockets == 0 || c->udp_rx_bytes < 2048)
    return 0;
  if (c->arp_entries == 0 || c->arp_retry_us == 0 || c->arp_retries == 0)
    return 0;
  if (c->reasm_datagrams > 0 &&
      (c->reasm_max_size < 576 || c->reasm_max_size > 65535 ||
       c->reasm_max_frags == 0 || c->reasm_timeout_us == 0))
    return 0;
  if ((c->alloc.alloc == NULL) != (c->alloc.free == NULL))
    return 0;
  /* A TCP buffer must hold a few segments; a window beyond 2^30 cannot
   * be expressed even with the largest scale (RFC 7323 2.3). */
  if (c->tcp_snd_buf < 2 * (uint32_t)c->mtu ||
      c->tcp_rcv_buf < 2 * (uint32_t)c->mtu || c->tcp_rcv_buf > (1u << 30) ||
      c->tcp_snd_buf > (1u << 30))
    return 0;
  if (c->tcp_rto_min_us == 0 || c->tcp_rto_max_us < c->tcp_rto_min_us ||
      c->tcp_rto_initial_us == 0 || c->tcp_msl_us == 0 ||
      c->tcp_delack_us > 500000)
    return 0;
  if (c->tcp_cc != WEIR_TCP_CC_CUBIC && c->tcp_cc != WEIR_TCP_CC_RENO)
    return 0;
  /* A super-segment's checksum is always left to the link (virtio-net
   * requires it of GSO), and its length must fit IPv4's field. */
  if (c->tx_tso_max > 65535 || (c->tx_tso_max && !c->tx_csum_offload))
    return 0;
  return 1;
}

int weir_stack_new(const struct weir_config *cfg, struct weir_stack **out)
{
  struct weir_stack *s;
  struct weir_allocator a = cfg->alloc;
  int err;

  *out = NULL;
  if (!config_ok(cfg))
    return WEIR_EINVAL;
  if (!a.alloc) {
    a.alloc = default_alloc;
    a.free = default_free;
  }
  s = a.alloc(a.ctx, sizeof(*s));
  if (!s)
    return WEIR_ENOMEM;
  memset(s, 0, sizeof(*s));
  s->cfg = *cfg;
  s->cfg.alloc = a;
  s->netmask = weir_ipv4_netmask(cfg->prefix_len);
  s->bcast = cfg->prefix_len >= 31 ? 0xffffffffu : (cfg->ip | ~s->netmask);
  s->lhlen = cfg->link == WEIR_LINK_ETHERNET ? WEIR_ETH_HLEN : 0;
  /* The ID only has to differ between datagrams that could be
   * reassembled together (RFC 6864); start it somewhere the secret picks
   * so that two stacks do not march in step. */
  s->ip_id = (uint16_t)(cfg->secret[0] << 8 | cfg->secret[1]);
  s->icmp_tokens = (uint64_t)cfg->icmp_burst * 1000000u;
  s->evq_head = s->evq_tail = s->wr_head = WEIR__NONE;

  s->timers.cap = cfg->arp_entries + cfg->reasm_datagrams + cfg->tcp_max_conns;
  s->timers.v = weir__alloc(s, s->timers.cap * sizeof(*s->timers.v));
  err = s->timers.v ? 0 : WEIR_ENOMEM;
  if (!err)
    err = weir__pkt_init(s);
  if (!err)
    err = weir__arp_init(s);
  if (!err)
    err = weir__reasm_init(s);
  if (!err)
    err = weir__udp_init(s);
  if (!err)
    err = weir__tcp_init(s);
  if (err) {
    weir_stack_free(s);
    return err;
  }
  *out = s;
  return 0;
}

void weir_stack_free(struct weir_stack *s)
{
  if (!s)
    return;
  weir__tcp_free_all(s);
  weir__sock_free_all(s);
  if (s->reasm) {
    for (uint32_t i = 0; i < s->cfg.reasm_datagrams; i++) {
      weir__free(s, s->reasm[i].frags);
      weir__free(s, s->reasm[i].buf);
    }
  }
  weir__free(s, s->reasm);
  weir__free(s, s->arp);
  weir__free(s, s->arp_hash);
  weir__free(s, s->pkts);
  weir__free(s, s->pkt_mem);
  weir__free(s, s->timers.v);
  s->cfg.alloc.free(s->cfg.alloc.ctx, s);
}

void weir_input(struct weir_stack *s, const uint8_t *frame, size_t len,
                uint64_t now)
{
  weir_input_flags(s, frame, len, now, 0);
}

void weir_input_flags(struct weir_stack *s, const uint8_t *frame, size_t len,
                      uint64_t now, unsigned flags)
{
  struct weir_eth e;

  WEIR__COUNT(s, FRAMES_IN);
  s->stats.c[WEIR_STAT_BYTES_IN] += len;
  if (s->cfg.link == WEIR_LINK_IP) {
    /* A TUN device also carries the host's IPv6: not malformed, just not
     * ours to handle. */
    if (len > 0 && frame[0] >> 4 == 6) {
      WEIR__COUNT(s, DROP_ETHERTYPE);
      return;
    }
    weir__ip_input(s, frame, len, 0, flags, now);
    return;
  }
  if (weir_eth_parse(&e, frame, len) != 0) {
    if (len < WEIR_ETH_HLEN)
      WEIR__COUNT(s, DROP_RUNT);
    else
      WEIR__COUNT(s, DROP_ETHERTYPE);
    return;
  }
  /* We join no multicast group: take our address and broadcast only. */
  if (memcmp(e.dst, s->cfg.mac, 6) != 0 && !weir_eth_is_broadcast(e.dst)) {
    WEIR__COUNT(s, DROP_NOT_FOR_US);
    return;
  }
  switch (e.type) {
  case WEIR_ETHERTYPE_ARP:
    weir__arp_input(s, e.payload, e.payload_len, now);
    break;
  case WEIR_ETHERTYPE_IPV4:
    weir__ip_input(s, e.payload, e.payload_len, weir_eth_is_broadcast(e.dst),
                   flags, now);
    break;
  default:
    WEIR__COUNT(s, DROP_ETHERTYPE);
    break;
  }
}

size_t weir_output(struct weir_stack *s, uint8_t *buf, size_t cap, uint64_t now)
{
  return weir_output_meta(s, buf, cap, now, NULL);
}

/* m NULL: weir_output, no offloads. Frames from the slots (ARP, ICMP,
 * UDP, resets, segments that waited for ARP) are always complete. */
size_t weir_output_meta(struct weir_stack *s, uint8_t *buf, size_t cap,
                        uint64_t now, struct weir_tx_meta *m)
{
  uint32_t i = s->txq.head;
  size_t len;

  if (m)
    memset(m, 0, sizeof(*m));
  if (i == WEIR__NONE) {
    /* Control frames first, then connections with something to send,
     * built straight into the caller's buffer. A connection whose next
     * hop is unresolved parks its segment on ARP and queues the request:
     * that request is the frame to return now. */
    len = weir__tcp_output(s, buf, cap, now, m);
    if (len) {
      WEIR__COUNT(s, FRAMES_OUT);
      s->stats.c[WEIR_STAT_BYTES_OUT] += len;
      return len;
    }
    i = s->txq.head;
    if (i == WEIR__NONE)
      return 0;
  }
  if (s->pkts[i].len > cap)
    return 0;
  weir__pktq_pop(s, &s->txq);
  len = s->pkts[i].len;
  memcpy(buf, s->pkts[i].buf, len);
  weir__pkt_put(s, i);
  WEIR__COUNT(s, FRAMES_OUT);
  s->stats.c[WEIR_STAT_BYTES_OUT] += len;
  return len;
}

uint64_t weir_deadline(const struct weir_stack *s)
{
  return s->timers.n ? s->timers.v[0]->when : UINT64_MAX;
}

void weir_timers(struct weir_stack *s, uint64_t now)
{
  struct weir__timer *t;
  while ((t = weir__timer_pop_due(&s->timers, now)) != NULL) {
    switch (t->kind) {
    case WEIR__T_ARP:
      weir__arp_timer(s, t->owner, now);
      break;
    case WEIR__T_REASM:
      weir__reasm_timer(s, t->owner, now);
      break;
    case WEIR__T_TCP:
      weir__tcp_timer(s, t->owner, now);
      break;
    default:
      break;
    }
  }
}

const struct weir_stats *weir_stats(const struct weir_stack *s)
{
  return &s->stats;
}

const struct weir_config *weir_stack_config(const struct weir_stack *s)
{
  return &s->cfg;
}

/* ---------------------------------------------------------------- events */

void weir__sock_raise(struct weir_stack *s, uint32_t k, unsigned events)
{
  struct weir__sock *so = &s->socks[k];
  so->events |= events;
  if (so->on_evq)
    return;
  so->on_evq = 1;
  so->ev_next = WEIR__NONE;
  if (s->evq_tail == WEIR__NONE)
    s->evq_head = k;
  else
    s->socks[s->evq_tail].ev_next = k;
  s->evq_tail = k;
}

void weir__sock_set_error(struct weir_stack *s, uint32_t k, int err,
                          uint32_t addr, uint16_t port)
{
  s->socks[k].err = err;
  s->socks[k].err_addr = addr;
  s->socks[k].err_port = port;
  weir__sock_raise(s, k, WEIR_EV_ERROR);
}

int weir_next_event(struct weir_stack *s, struct weir_event *ev)
{
  while (s->evq_head != WEIR__NONE) {
    uint32_t k = s->evq_head;
    struct weir__sock *so = &s->socks[k];
    s->evq_head = so->ev_next;
    if (s->evq_head == WEIR__NONE)
      s->evq_tail = WEIR__NONE;
    so->on_evq = 0;
    if (so->type == WEIR__SOCK_FREE || so->events == 0)
      continue; /* closed after the event was raised */
    ev->sock = (int)k;
    ev->events = so->events;
    so->events = 0;
    return 1;
  }
  return 0;
}

int weir_sock_error(struct weir_stack *s, int sock, uint32_t *addr,
                    uint16_t *port)
{
  struct weir__sock *so;
  int err;
  if (sock < 0 || (uint32_t)sock >= s->cfg.max_sockets ||
      s->socks[sock].type == WEIR__SOCK_FREE)
    return WEIR_EBADF;
  so = &s->socks[sock];
  err = so->err;
  if (addr)
    *addr = so->err_addr;
  if (port)
    *port = so->err_port;
  so->err = 0;
  return err;
}

/* ----------------------------------------------------- names and strings */

static const char *const stat_names[] = {
#define WEIR__STAT_NAME(name, desc) #name,
    WEIR_STATS_LIST(WEIR__STAT_NAME)
#undef WEIR__STAT_NAME
};

static const char *const stat_descs[] = {
#define WEIR__STAT_DESC(name, desc) desc,
    WEIR_STATS_LIST(WEIR__STAT_DESC)
#undef WEIR__STAT_DESC
};

const char *weir_stat_name(int i)
{
  return i >= 0 && i < WEIR_STAT__COUNT ? stat_names[i] : NULL;
}

const char *weir_stat_desc(int i)
{
  return i >= 0 && i < WEIR_STAT__COUNT ? stat_descs[i] : NULL;
}

const char *weir_strerror(int err)
{
  switch (err) {
  case 0:
    return "success";
  case WEIR_EAGAIN:
    return "resource temporarily unavailable";
  case WEIR_EINVAL:
    return "invalid argument";
  case WEIR_ENOMEM:
    return "out of memory";
  case WEIR_EADDRINUSE:
    return "address already in use";
  case WEIR_EBADF:
    return "bad socket handle";
  case WEIR_EMSGSIZE:
    return "message too long";
  case WEIR_ENETUNREACH:
    return "network is unreachable";
  case WEIR_EHOSTUNREACH:
    return "no route to host";
  case WEIR_ECONNREFUSED:
    return "connection refused";
  case WEIR_ENOBUFS:
    return "no buffer space available";
  case WEIR_ETIMEDOUT:
    return "connection timed out";
  case WEIR_ECONNRESET:
    return "connection reset by peer";
  case WEIR_ENOTCONN:
    return "socket is not connected";
  case WEIR_EMFILE:
    return "too many open sockets";
  case WEIR_EADDRNOTAVAIL:
    return "address not available";
  case WEIR_ENOPROTOOPT:
    return "protocol not available";
  case WEIR_EPROTO:
    return "protocol error";
  case WEIR_ETTL:
    return "time to live exceeded";
  case WEIR_EPIPE:
    return "broken pipe";
  case WEIR_EISCONN:
    return "socket is already connected";
  default:
    return "unknown error";
  }
}
