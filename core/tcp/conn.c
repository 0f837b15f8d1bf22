/* TCP connections: the table, their life cycle, and the socket API.
 *
 * A connection block (TCB) is allocated when a connect starts or a SYN
 * arrives, and freed when the connection ends. Its two buffers are
 * allocated when first written (weir__tcp_ring_ready), so that an idle
 * connection costs its TCB alone.
 * It is found by its 4-tuple through a hash table, never by a walk. The
 * socket handle and the TCB are separate: closing the handle leaves the
 * TCB to finish its closing handshake alone. */
#include <string.h>

#include "tcp/tcb.h"

static const char *const state_names[] = {
    "CLOSED",      "LISTEN",     "SYN-SENT",   "SYN-RECEIVED",
    "ESTABLISHED", "FIN-WAIT-1", "FIN-WAIT-2", "CLOSE-WAIT",
    "CLOSING",     "LAST-ACK",   "TIME-WAIT",
};

const char *weir_tcp_state_name(int st)
{
  if (st < 0 || st > WEIR_TCP_TIME_WAIT)
    return "?";
  return state_names[st];
}

int weir__tcp_init(struct weir_stack *s)
{
  uint32_t n = s->cfg.tcp_max_conns, buckets = 1;
  while (buckets < n)
    buckets <<= 1;
  s->tcp_hmask = buckets - 1;
  s->tcp_hkey = (uint32_t)s->cfg.secret[4] << 24 |
                (uint32_t)s->cfg.secret[5] << 16 |
                (uint32_t)s->cfg.secret[6] << 8 | s->cfg.secret[7];
  s->tcbs = weir__alloc(s, (size_t)(n ? n : 1) * sizeof(*s->tcbs));
  s->tcp_hash = weir__alloc(s, (size_t)buckets * sizeof(*s->tcp_hash));
  if (!s->tcbs || !s->tcp_hash || weir__slots_init(s, &s->tcb_slots, n) != 0)
    return WEIR_ENOMEM;
  if (s->cfg.trace_entries) {
    s->trace = weir__alloc(s, (size_t)s->cfg.trace_entries * sizeof(*s->trace));
    if (!s->trace)
      return WEIR_ENOMEM;
  }
  return 0;
}

static void tcb_free_mem(struct weir_stack *s, struct weir__tcb *t)
{
  weir__free(s, t->snd.buf);
  weir__free(s, t->rcv.buf);
  weir__free(s, t);
}

void weir__tcp_free_all(struct weir_stack *s)
{
  if (s->tcbs) {
    for (uint32_t i = 0; i < s->cfg.tcp_max_conns; i++)
      if (s->tcbs[i])
        tcb_free_mem(s, s->tcbs[i]);
  }
  if (s->socks) {
    for (uint32_t k = 0; k < s->cfg.max_sockets; k++)
      weir__free(s, s->socks[k].lst);
  }
  weir__free(s, s->tcbs);
  weir__free(s, s->tcp_hash);
  weir__slots_free(s, &s->tcb_slots);
  weir__free(s, s->trace);
}

static uint32_t tuple_hash(const struct weir_stack *s, uint32_t raddr,
                           uint16_t lport, uint16_t rport)
{
  /* The key keeps a peer from choosing ports that share one chain. */
  uint32_t h =
      raddr * 2654435761u ^ ((uint32_t)lport << 16 | rport) ^ s->tcp_hkey;
  h ^= h >> 15;
  h *= 2246822519u;
  h ^= h >> 13;
  return h & s->tcp_hmask;
}

struct weir__tcb *weir__tcp_lookup(struct weir_stack *s, uint32_t laddr,
                                   uint16_t lport, uint32_t raddr,
                                   uint16_t rport)
{
  struct weir__tcb *t = s->tcp_hash[tuple_hash(s, raddr, lport, rport)];
  while (t && !(t->raddr == raddr && t->rport == rport && t->lport == lport &&
                t->laddr == laddr))
    t = t->hnext;
  return t;
}

/* RFC 6528: ISN = M + F(4-tuple, secret), M a 4 microsecond clock, F
 * SipHash-2-4 keyed with the configuration's secret. */
uint32_t weir__tcp_isn(const struct weir_stack *s, uint32_t laddr,
                       uint16_t lport, uint32_t raddr, uint16_t rport,
                       uint64_t now)
{
  uint8_t m[12];
  for (int i = 0; i < 4; i++) {
    m[i] = (uint8_t)(laddr >> (24 - 8 * i));
    m[4 + i] = (uint8_t)(raddr >> (24 - 8 * i));
  }
  m[8] = (uint8_t)(lport >> 8);
  m[9] = (uint8_t)lport;
  m[10] = (uint8_t)(rport >> 8);
  m[11] = (uint8_t)rport;
  return (uint32_t)weir__siphash24(s->cfg.secret, m, sizeof(m)) +
         (uint32_t)(now / 4);
}

/* The window scale we offer: the smallest shift that lets the receive
 * buffer be advertised whole (RFC 7323 2.2). */
static uint8_t wscale_for(uint32_t buf)
{
  uint8_t shift = 0;
  while (shift < WEIR_TCP_MAX_WSCALE && (buf >> shift) > 65535)
    shift++;
  return shift;
}

struct weir__tcb *weir__tcp_new(struct weir_stack *s, uint32_t raddr,
                                uint16_t lport, uint16_t rport, uint64_t now)
{
  struct weir__tcb *t;
  uint32_t id, h;
  uint8_t key[16];

  t = weir__alloc(s, sizeof(*t));
  if (!t)
    return NULL;
  id = weir__slot_take(&s->tcb_slots);
  if (id == WEIR__NONE) {
    weir__free(s, t);
    return NULL;
  }
  t->snd.cap = s->cfg.tcp_snd_buf;
  t->rcv.cap = s->cfg.tcp_rcv_buf;
  t->id = id;
  t->sock = t->listener = -1;
  t->laddr = s->cfg.ip;
  t->raddr = raddr;
  t->lport = lport;
  t->rport = rport;
  t->iss = weir__tcp_isn(s, t->laddr, lport, raddr, rport, now);
  t->snd_una = t->snd_nxt = t->snd_max = t->snd_sml = t->iss;
  t->rcv_wscale = s->cfg.tcp_wscale ? wscale_for(s->cfg.tcp_rcv_buf) : 0;
  /* Until the peer says otherwise (RFC 9293 3.7.1). */
  t->snd_mss = 536;
  t->rcv_mss = s->cfg.mtu - 40u;
  t->rto = s->cfg.tcp_rto_initial_us;
  t->keep_idle = 7200000000u; /* RFC 1122 4.2.3.6: >= 2 hours */
  t->keep_intvl = 75000000u;
  t->keep_cnt = 9;
  /* RFC 7323 5.4: a per-connection offset keeps TSval from exposing the
   * host's clock or linking connections. */
  memcpy(key, s->cfg.secret, 16);
  key[0] ^= 0x5a;
  {
    uint8_t m[8] = {(uint8_t)(raddr >> 24), (uint8_t)(raddr >> 16),
                    (uint8_t)(raddr >> 8),  (uint8_t)raddr,
                    (uint8_t)(lport >> 8),  (uint8_t)lport,
                    (uint8_t)(rport >> 8),  (uint8_t)rport};
    t->ts_offset = (uint32_t)weir__siphash24(key, m, sizeof(m));
  }
  t->timer.kind = WEIR__T_TCP;
  t->timer.owner = id;
  t->last_rcv = now;
  t->cc = weir__cc_find(s->cfg.tcp_cc);
  weir__cc_init(t);

  s->tcbs[id] = t;
  s->tcb_count++;
  h = tuple_hash(s, raddr, lport, rport);
  t->hnext = s->tcp_hash[h];
  s->tcp_hash[h] = t;
  return t;
}

/* Unhooks a TCB from everything and frees it. Its socket, if any, keeps
 * the handle but loses the connection. */
void weir__tcp_destroy(struct weir_stack *s, struct weir__tcb *t)
{
  struct weir__tcb **link =
      &s->tcp_hash[tuple_hash(s, t->raddr, t->lport, t->rport)];
  while (*link != t)
    link = &(*link)->hnext;
  *link = t->hnext;
  weir__timer_cancel(&s->timers, &t->timer);
  weir__tcp_txq_remove(s, t);
  if (t->listener >= 0) {
    /* Still on its listener's SYN or accept queue. Which one is found
     * by looking, not from the state: callers may already have moved
     * the state to CLOSED. */
    struct weir__listener *l = s->socks[t->listener].lst;
    struct weir__tcb **q = &l->syn_q, *prev = NULL;
    while (*q && *q != t)
      q = &(*q)->qnext;
    if (*q) {
      *q = t->qnext;
      l->nsyn--;
    } else {
      for (q = &l->acc_head; *q && *q != t; q = &(*q)->qnext)
        prev = *q;
      if (*q) {
        *q = t->qnext;
        if (l->acc_tail == t)
          l->acc_tail = prev;
        l->nacc--;
      }
    }
  }
  if (t->sock >= 0)
    s->socks[t->sock].tcb = NULL;
  s->tcbs[t->id] = NULL;
  weir__slot_put(&s->tcb_slots, t->id);
  s->tcb_count--;
  tcb_free_mem(s, t);
}

void weir__tcp_trace(struct weir_stack *s, struct weir__tcb *t, int kind,
                     uint32_t seq, int arg, uint64_t now)
{
  struct weir_trace *e;
  uint32_t n = s->cfg.trace_entries;
  if (!n)
    return;
  if (s->trace_len == n) {
    s->trace_head = (s->trace_head + 1) % n;
    s->trace_len--;
    s->trace_lost++;
  }
  e = &s->trace[(s->trace_head + s->trace_len) % n];
  s->trace_len++;
  memset(e, 0, sizeof(*e));
  e->kind = kind;
  e->sock = t->sock;
  e->local_addr = t->laddr;
  e->remote_addr = t->raddr;
  e->local_port = t->lport;
  e->remote_port = t->rport;
  e->from = e->to = t->state;
  e->seq = seq - t->iss;
  e->arg = arg;
  e->time = now;
}

int weir_next_trace(struct weir_stack *s, struct weir_trace *out)
{
  if (!s->trace_len)
    return 0;
  *out = s->trace[s->trace_head];
  out->lost = s->trace_lost;
  s->trace_lost = 0;
  s->trace_head = (s->trace_head + 1) % s->cfg.trace_entries;
  s->trace_len--;
  return 1;
}

void weir__tcp_set_state(struct weir_stack *s, struct weir__tcb *t, int st,
                         uint64_t now)
{
  int from = t->state;
  if (from == st)
    return;
  t->state = (uint8_t)st;
  if (s->cfg.trace_entries) {
    weir__tcp_trace(s, t, WEIR_TRACE_STATE, 0, 0, now);
    s->trace[(s->trace_head + s->trace_len - 1) % s->cfg.trace_entries].from =
        from;
  }
  if (st == WEIR_TCP_ESTABLISHED)
    WEIR__COUNT(s, TCP_CONN_OPENED);
}

void weir__tcp_raise(struct weir_stack *s, struct weir__tcb *t, unsigned events)
{
  if (t->sock >= 0)
    weir__sock_raise(s, (uint32_t)t->sock, events);
}

/* The connection is over because of err (reset, refused, timed out): the
 * app hears of it, and the TCB goes. */
void weir__tcp_error(struct weir_stack *s, struct weir__tcb *t, int err,
                     uint64_t now)
{
  weir__tcp_set_state(s, t, WEIR_TCP_CLOSED, now);
  if (t->sock >= 0) {
    struct weir__sock *so = &s->socks[t->sock];
    so->err = err;
    so->err_addr = t->raddr;
    so->err_port = t->rport;
    weir__sock_raise(s, (uint32_t)t->sock,
                     err == WEIR_ETIMEDOUT ? WEIR_EV_ERROR
                                           : WEIR_EV_RESET | WEIR_EV_ERROR);
  }
  weir__tcp_destroy(s, t);
}

/* SYN-RECEIVED -> ESTABLISHED on a passive open: off the SYN queue, onto
 * the accept queue, and the listener hears of it. */
void weir__tcp_established_passive(struct weir_stack *s, struct weir__tcb *t)
{
  struct weir__listener *l;
  struct weir__tcb **q;
  if (t->listener < 0)
    return;
  l = s->socks[t->listener].lst;
  for (q = &l->syn_q; *q && *q != t; q = &(*q)->qnext)
    ;
  if (*q) {
    *q = t->qnext;
    l->nsyn--;
  }
  t->qnext = NULL;
  if (l->acc_tail)
    l->acc_tail->qnext = t;
  else
    l->acc_head = t;
  l->acc_tail = t;
  l->nacc++;
  weir__sock_raise(s, (uint32_t)t->listener, WEIR_EV_ACCEPT);
}

int weir__tcp_listener_of(struct weir_stack *s, uint16_t port)
{
  uint32_t k = weir__port_lookup(s, WEIR__SOCK_TCP_LISTEN, port);
  return k == WEIR__NONE ? -1 : (int)k;
}

/* ------------------------------------------------------------- the API */

static struct weir__sock *get_tcp(const struct weir_stack *s, int sock)
{
  if (sock < 0 || (uint32_t)sock >= s->cfg.max_sockets ||
      (s->socks[sock].type != WEIR__SOCK_TCP &&
       s->socks[sock].type != WEIR__SOCK_TCP_LISTEN))
    return NULL;
  return &s->socks[sock];
}

int weir_tcp_open(struct weir_stack *s)
{
  return weir__sock_alloc(s, WEIR__SOCK_TCP);
}

/* A port is taken by a listener or by a socket bound to it to connect
 * from; both are in the port hash. */
static int port_in_use(struct weir_stack *s, uint16_t port)
{
  return weir__port_lookup(s, WEIR__SOCK_TCP_LISTEN, port) != WEIR__NONE ||
         weir__port_lookup(s, WEIR__SOCK_TCP, port) != WEIR__NONE;
}

int weir_tcp_listen(struct weir_stack *s, int sock, uint16_t port,
                    uint32_t backlog)
{
  struct weir__sock *so = get_tcp(s, sock);
  if (!so)
    return WEIR_EBADF;
  if (so->type == WEIR__SOCK_TCP_LISTEN || so->tcb)
    return WEIR_EISCONN;
  if (port == 0 || backlog == 0)
    return WEIR_EINVAL;
  if (weir__port_lookup(s, WEIR__SOCK_TCP_LISTEN, port) != WEIR__NONE)
    return WEIR_EADDRINUSE;
  so->lst = weir__alloc(s, sizeof(*so->lst));
  if (!so->lst)
    return WEIR_ENOMEM;
  so->lst->port = port;
  so->lst->backlog = backlog;
  so->type = WEIR__SOCK_TCP_LISTEN;
  weir__port_link(s, (uint32_t)sock, port);
  return 0;
}

int weir_tcp_accept(struct weir_stack *s, int listener, uint32_t *addr,
                    uint16_t *port)
{
  struct weir__sock *so = get_tcp(s, listener);
  struct weir__listener *l;
  struct weir__tcb *t;
  int k;
  if (!so || so->type != WEIR__SOCK_TCP_LISTEN)
    return WEIR_EBADF;
  l = so->lst;
  if (!l->acc_head)
    return WEIR_EAGAIN;
  k = weir__sock_alloc(s, WEIR__SOCK_TCP);
  if (k < 0)
    return k;
  t = l->acc_head;
  l->acc_head = t->qnext;
  if (!l->acc_head)
    l->acc_tail = NULL;
  l->nacc--;
  t->qnext = NULL;
  t->listener = -1;
  t->sock = k;
  s->socks[k].tcb = t;
  s->socks[k].lport = 0;
  if (addr)
    *addr = t->raddr;
  if (port)
    *port = t->rport;
  /* What happened before accept is news to the new handle. */
  {
    unsigned ev = WEIR_EV_WRITABLE;
    if (t->rcv.len || t->fin_rcvd)
      ev |= WEIR_EV_READABLE;
    if (t->fin_rcvd)
      ev |= WEIR_EV_PEER_CLOSED;
    weir__sock_raise(s, (uint32_t)k, ev);
  }
  if (l->acc_head)
    weir__sock_raise(s, (uint32_t)listener, WEIR_EV_ACCEPT);
  return k;
}

int weir_tcp_bind(struct weir_stack *s, int sock, uint16_t port)
{
  struct weir__sock *so = get_tcp(s, sock);
  if (!so)
    return WEIR_EBADF;
  if (so->type != WEIR__SOCK_TCP || so->tcb || so->lport)
    return WEIR_EINVAL;
  if (port == 0)
    return WEIR_EINVAL;
  if (port_in_use(s, port))
    return WEIR_EADDRINUSE;
  weir__port_link(s, (uint32_t)sock, port);
  return 0;
}

/* RFC 6056 algorithm 3: a keyed hash of the destination picks where the
 * search for a free ephemeral port starts, and a counter moves it along,
 * so ports are hard to guess and reuse of one 4-tuple is spread out. */
static uint16_t pick_port(struct weir_stack *s, uint32_t raddr, uint16_t rport)
{
  const uint32_t lo = 49152, n = 65536 - lo;
  uint8_t m[6] = {(uint8_t)(raddr >> 24), (uint8_t)(raddr >> 16),
                  (uint8_t)(raddr >> 8),  (uint8_t)raddr,
                  (uint8_t)(rport >> 8),  (uint8_t)rport};
  uint32_t off = (uint32_t)weir__siphash24(s->cfg.secret, m, sizeof(m));
  for (uint32_t i = 0; i < n; i++) {
    uint16_t p = (uint16_t)(lo + (off + s->tcp_port_seq + i) % n);
    if (!weir__tcp_lookup(s, s->cfg.ip, p, raddr, rport) &&
        !port_in_use(s, p)) {
      s->tcp_port_seq += i + 1;
      return p;
    }
  }
  return 0;
}

int weir_tcp_connect(struct weir_stack *s, int sock, uint32_t addr,
                     uint16_t port, uint64_t now)
{
  struct weir__sock *so = get_tcp(s, sock);
  struct weir__tcb *t;
  uint32_t nexthop;
  uint16_t lport;
  int err;

  if (!so)
    return WEIR_EBADF;
  if (so->type != WEIR__SOCK_TCP || so->tcb)
    return WEIR_EISCONN;
  if (addr == 0 || port == 0 || addr == s->cfg.ip ||
      weir__ip_is_bcast(s, addr) || weir_ipv4_is_multicast(addr))
    return WEIR_EINVAL;
  err = weir__ip_route(s, addr, &nexthop);
  if (err)
    return err;
  lport = so->lport;
  if (lport && weir__tcp_lookup(s, s->cfg.ip, lport, addr, port))
    return WEIR_EADDRINUSE;
  if (!lport && (lport = pick_port(s, addr, port)) == 0)
    return WEIR_EADDRNOTAVAIL;
  if (s->tcb_count == s->cfg.tcp_max_conns)
    return WEIR_ENOBUFS;
  t = weir__tcp_new(s, addr, lport, port, now);
  if (!t)
    return WEIR_ENOMEM;
  t->sock = sock;
  so->tcb = t;
  if (so->tcp_cc)
    t->cc = weir__cc_find(so->tcp_cc);
  weir__tcp_set_state(s, t, WEIR_TCP_SYN_SENT, now);
  t->rtx_start = now; /* R2 for the SYN counts from the connect */
  weir__tcp_start_rtx(s, t, now);
  weir__tcp_want_output(s, t);
  return 0;
}

static int conn_error(struct weir__sock *so)
{
  int err = so->err;
  if (err) {
    so->err = 0;
    return err;
  }
  return WEIR_ENOTCONN;
}

int weir_tcp_send(struct weir_stack *s, int sock, const void *data, size_t len,
                  uint64_t now)
{
  struct weir__sock *so = get_tcp(s, sock);
  struct weir__tcb *t;
  uint32_t room, n;
  (void)now;
  if (!so || so->type != WEIR__SOCK_TCP)
    return WEIR_EBADF;
  t = so->tcb;
  if (!t)
    return conn_error(so);
  if (t->fin_queued)
    return WEIR_EPIPE;
  if (t->state != WEIR_TCP_ESTABLISHED && t->state != WEIR_TCP_CLOSE_WAIT)
    return WEIR_ENOTCONN;
  if (len == 0)
    return 0;
  room = t->snd.cap - t->snd.len;
  if (room == 0) {
    so->want_writable = 1;
    return WEIR_EAGAIN;
  }
  if (weir__tcp_ring_ready(s, &t->snd))
    return WEIR_ENOMEM;
  n = len < room ? (uint32_t)len : room;
  weir__ring_write(&t->snd, t->snd.len, data, n);
  t->snd.len += n;
  t->stats.bytes_sent += n;
  weir__tcp_want_output(s, t);
  return (int)n;
}

int weir_tcp_recv(struct weir_stack *s, int sock, void *buf, size_t cap,
                  uint64_t now)
{
  struct weir__sock *so = get_tcp(s, sock);
  struct weir__tcb *t;
  uint32_t n;
  if (!so || so->type != WEIR__SOCK_TCP)
    return WEIR_EBADF;
  t = so->tcb;
  if (!t)
    return so->err ? conn_error(so) : 0;
  if (t->state == WEIR_TCP_SYN_SENT || t->state == WEIR_TCP_SYN_RECEIVED)
    return WEIR_EAGAIN;
  if (t->rcv.len == 0)
    return t->fin_rcvd ? 0 : WEIR_EAGAIN;
  n = t->rcv.len < cap ? t->rcv.len : (uint32_t)cap;
  weir__ring_read(&t->rcv, 0, buf, n);
  weir__ring_consume(&t->rcv, n);
  /* Reading opens the window. Say so at once only when it matters: the
   * offer at least doubles (a closed or nearly closed window reopening);
   * otherwise the next ACK carries it (as Linux's tcp_cleanup_rbuf). */
  if (t->state != WEIR_TCP_TIME_WAIT) {
    uint32_t cur = seq_gt(t->rcv_adv, t->rcv_nxt) ? t->rcv_adv - t->rcv_nxt : 0;
    uint32_t wnd = weir__tcp_wnd_bytes(t);
    if (wnd > cur && wnd >= 2 * cur) {
      t->ack_now = 1;
      weir__tcp_want_output(s, t);
    }
  }
  (void)now;
  return (int)n;
}

int weir_tcp_shutdown(struct weir_stack *s, int sock, uint64_t now)
{
  struct weir__sock *so = get_tcp(s, sock);
  struct weir__tcb *t;
  if (!so || so->type != WEIR__SOCK_TCP)
    return WEIR_EBADF;
  t = so->tcb;
  if (!t)
    return WEIR_ENOTCONN;
  if (t->fin_queued)
    return 0;
  switch (t->state) {
  case WEIR_TCP_SYN_SENT:
    /* Nothing was said yet: the connection simply ends. */
    weir__tcp_set_state(s, t, WEIR_TCP_CLOSED, now);
    weir__tcp_destroy(s, t);
    return 0;
  case WEIR_TCP_SYN_RECEIVED:
  case WEIR_TCP_ESTABLISHED:
    t->fin_queued = 1;
    weir__tcp_set_state(s, t, WEIR_TCP_FIN_WAIT_1, now);
    break;
  case WEIR_TCP_CLOSE_WAIT:
    t->fin_queued = 1;
    weir__tcp_set_state(s, t, WEIR_TCP_LAST_ACK, now);
    break;
  default:
    return 0;
  }
  weir__tcp_want_output(s, t);
  return 0;
}

static void send_rst_and_destroy(struct weir_stack *s, struct weir__tcb *t,
                                 uint64_t now)
{
  /* The RST goes out through the output queue; the TCB keeps its
   * addresses until then and is freed by the output path. */
  t->send_rst = 1;
  t->closed_by_app = 1;
  if (t->sock >= 0) {
    s->socks[t->sock].tcb = NULL;
    t->sock = -1;
  }
  weir__timer_cancel(&s->timers, &t->timer);
  weir__tcp_trace(s, t, WEIR_TRACE_RESET_OUT, t->snd_nxt, 0, now);
  weir__tcp_set_state(s, t, WEIR_TCP_CLOSED, now);
  weir__tcp_want_output(s, t);
}

static void close_listener(struct weir_stack *s, struct weir__sock *so,
                           uint64_t now)
{
  struct weir__listener *l = so->lst;
  while (l->syn_q) {
    struct weir__tcb *t = l->syn_q;
    l->syn_q = t->qnext;
    l->nsyn--;
    t->listener = -1;
    send_rst_and_destroy(s, t, now);
  }
  while (l->acc_head) {
    struct weir__tcb *t = l->acc_head;
    l->acc_head = t->qnext;
    l->nacc--;
    t->listener = -1;
    send_rst_and_destroy(s, t, now);
  }
  weir__port_unlink(s, (uint32_t)(so - s->socks));
  weir__free(s, l);
  so->lst = NULL;
}

static void release(struct weir_stack *s, struct weir__sock *so)
{
  if (so->lport) /* bound with weir_tcp_bind */
    weir__port_unlink(s, (uint32_t)(so - s->socks));
  so->tcb = NULL;
  so->want_writable = 0;
  so->err = 0;
  weir__sock_put(s, (uint32_t)(so - s->socks));
}

int weir_tcp_close(struct weir_stack *s, int sock, uint64_t now)
{
  struct weir__sock *so = get_tcp(s, sock);
  struct weir__tcb *t;
  if (!so)
    return WEIR_EBADF;
  if (so->type == WEIR__SOCK_TCP_LISTEN) {
    close_listener(s, so, now);
    release(s, so);
    return 0;
  }
  t = so->tcb;
  if (t) {
    /* RFC 9293 3.10.4 / RFC 2525 2.17: closing with unread data tells
     * the peer at once that it was not read. */
    if (t->rcv.len > 0 && t->state != WEIR_TCP_SYN_SENT) {
      send_rst_and_destroy(s, t, now);
    } else {
      weir_tcp_shutdown(s, sock, now);
      t = so->tcb; /* SYN-SENT ends at once */
      if (t) {
        t->closed_by_app = 1;
        t->sock = -1;
        /* An orphan in FIN-WAIT-2 waits for the peer's FIN no longer
         * than 2 MSL (Linux tcp_fin_timeout). */
        if (t->state == WEIR_TCP_FIN_WAIT_2) {
          t->t_close = now + 2 * s->cfg.tcp_msl_us;
          weir__tcp_arm(s, t);
        }
      }
    }
  }
  release(s, so);
  return 0;
}

int weir_tcp_abort(struct weir_stack *s, int sock, uint64_t now)
{
  struct weir__sock *so = get_tcp(s, sock);
  if (!so)
    return WEIR_EBADF;
  if (so->type == WEIR__SOCK_TCP_LISTEN) {
    close_listener(s, so, now);
  } else if (so->tcb) {
    struct weir__tcb *t = so->tcb;
    if (t->state == WEIR_TCP_SYN_SENT || t->state == WEIR_TCP_TIME_WAIT) {
      weir__tcp_set_state(s, t, WEIR_TCP_CLOSED, now);
      weir__tcp_destroy(s, t);
    } else {
      send_rst_and_destroy(s, t, now);
    }
  }
  release(s, so);
  return 0;
}

int weir_tcp_setopt(struct weir_stack *s, int sock, int opt, uint64_t value)
{
  struct weir__sock *so = get_tcp(s, sock);
  struct weir__tcb *t;
  if (!so)
    return WEIR_EBADF;
  t = so->tcb;
  if (opt == WEIR_TCP_CONGESTION) {
    if (value != WEIR_TCP_CC_CUBIC && value != WEIR_TCP_CC_RENO)
      return WEIR_EINVAL;
    so->tcp_cc = (uint8_t)value;
    if (t && t->cc != weir__cc_find(so->tcp_cc)) {
      /* The window and ssthresh stay; the new algorithm's own state
       * starts from nothing. */
      t->cc = weir__cc_find(so->tcp_cc);
      t->cubic = (struct weir__cubic){0};
      t->bytes_acked_ca = 0;
    }
    return 0;
  }
  if (!t)
    return WEIR_ENOTCONN;
  switch (opt) {
  case WEIR_TCP_NODELAY:
    t->nodelay = value != 0;
    weir__tcp_want_output(s, t);
    return 0;
  case WEIR_TCP_KEEPALIVE:
    t->keepalive = value != 0;
    t->t_keep = t->keepalive ? t->last_rcv + t->keep_idle : 0;
    weir__tcp_arm(s, t);
    return 0;
  case WEIR_TCP_KEEPIDLE_MS:
  case WEIR_TCP_KEEPINTVL_MS:
    if (value == 0 || value > 86400000u * 30)
      return WEIR_EINVAL;
    if (opt == WEIR_TCP_KEEPIDLE_MS)
      t->keep_idle = value * 1000;
    else
      t->keep_intvl = value * 1000;
    if (t->keepalive) {
      t->t_keep = t->last_rcv + t->keep_idle;
      weir__tcp_arm(s, t);
    }
    return 0;
  case WEIR_TCP_KEEPCNT:
    if (value == 0 || value > 255)
      return WEIR_EINVAL;
    t->keep_cnt = (uint32_t)value;
    return 0;
  default:
    return WEIR_EINVAL;
  }
}

uint32_t weir__tcp_rcv_space(const struct weir__tcb *t)
{
  return t->rcv.cap - t->rcv.len;
}

int weir_tcp_info(const struct weir_stack *s, int sock,
                  struct weir_tcp_info *info)
{
  const struct weir__sock *so = get_tcp(s, sock);
  const struct weir__tcb *t;
  if (!so)
    return WEIR_EBADF;
  memset(info, 0, sizeof(*info));
  if (so->type == WEIR__SOCK_TCP_LISTEN) {
    info->state = WEIR_TCP_LISTEN;
    info->local_addr = s->cfg.ip;
    info->local_port = so->lst->port;
    return 0;
  }
  t = so->tcb;
  if (!t)
    return 0; /* CLOSED */
  *info = t->stats;
  info->state = t->state;
  info->local_addr = t->laddr;
  info->remote_addr = t->raddr;
  info->local_port = t->lport;
  info->remote_port = t->rport;
  info->snd_mss = t->snd_mss;
  info->snd_wnd = t->snd_wnd;
  info->rcv_wnd = weir__tcp_rcv_space(t);
  info->cwnd = t->cwnd;
  info->ssthresh = t->ssthresh;
  info->srtt_us = t->srtt;
  info->rttvar_us = t->rttvar;
  info->rto_us = t->rto;
  info->unacked = t->snd_max - t->snd_una;
  info->unread = t->rcv.len;
  info->wscale_ok = t->ws_ok;
  info->ts_ok = t->ts_ok;
  info->sack_ok = t->sack_ok;
  info->cc = t->cc == &weir__cc_reno ? WEIR_TCP_CC_RENO : WEIR_TCP_CC_CUBIC;
  return 0;
}
