/* Running a parsed script against the core in virtual time.
 *
 * Time only moves forward, from one line's time to the next. On the way
 * the runner calls weir_timers exactly at each weir_deadline, and after
 * every call into the stack it drains weir_output, checks each packet
 * (IPv4 and TCP well formed, checksums, addresses, DF) and queues it with
 * its emission time. `>` lines take segments off that queue in order; a
 * segment still queued when a later line runs was not expected. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tcpscript.h"
#include "wire/bytes.h"
#include "wire/checksum.h"
#include "wire/icmp.h"
#include "wire/ipv4.h"
#include "wire/tcp.h"

#define BASE_US     10000000000ull /* virtual time of script time 0: 10000 s */
#define MAX_HANDLES 64
#define MAX_CONNS   64
#define PKT_MAX     65536
#define TRACE_SHOWN 12 /* trace entries printed with a failure */

struct handle {
  char name[TS_NAME];
  int sock;
  uint64_t sent, rcvd; /* stream offsets of send and recv */
};

/* What the runner knows of the connection with one peer port. */
struct conn {
  uint16_t pport;
  uint32_t isn;   /* weir's ISN, from its last SYN to this port */
  uint32_t tsval; /* the last TSval weir sent */
  int has_ts;
  uint8_t last[28]; /* what an ICMP error quotes of weir's last segment */
  int has_last;
};

struct seen {
  uint64_t t;
  size_t len;
  uint8_t *pkt;
};

struct run {
  const struct ts_script *sc;
  struct weir_stack *s;
  uint64_t now, tol;
  uint16_t pport, lport, ip_id;
  int verbose, line;
  struct handle h[MAX_HANDLES];
  int nh;
  struct conn c[MAX_CONNS];
  int nc;
  struct seen *q; /* FIFO of emitted segments not yet expected */
  int qhead, qn, qcap;
  unsigned *pending; /* events per socket, accumulated */
  uint32_t npending;
  char *err;
  size_t cap;
  uint8_t buf[PKT_MAX];
};

/* The payload bytes at stream offset `off`: one pattern per direction,
 * and never equal to each other at the same offset. */
static uint8_t pat_in(uint64_t off)
{
  return (uint8_t)(off * 7 + (off >> 8) * 3 + 0x21);
}

static uint8_t pat_out(uint64_t off)
{
  return (uint8_t)(off * 13 + (off >> 8) * 5 + 0x5a);
}

static const char *tstr(uint64_t t, char *buf)
{
  uint64_t rel = t >= BASE_US ? t - BASE_US : 0;
  snprintf(buf, 32, "%llu.%06llu", (unsigned long long)(rel / 1000000),
           (unsigned long long)(rel % 1000000));
  return buf;
}

static int fail(struct run *r, const char *fmt, ...)
{
  va_list ap;
  int n = snprintf(r->err, r->cap, "line %d: ", r->line);

  va_start(ap, fmt);
  if (n > 0 && (size_t)n < r->cap)
    vsnprintf(r->err + n, r->cap - (size_t)n, fmt, ap);
  va_end(ap);
  return -1;
}

static void detail(struct run *r, const char *fmt, ...)
{
  va_list ap;
  size_t n = strlen(r->err);

  if (n + 6 >= r->cap)
    return;
  memcpy(r->err + n, "\n     ", 7);
  n += 6;
  va_start(ap, fmt);
  vsnprintf(r->err + n, r->cap - n, fmt, ap);
  va_end(ap);
}

static struct conn *conn(struct run *r, uint16_t pport)
{
  for (int i = 0; i < r->nc; i++)
    if (r->c[i].pport == pport)
      return &r->c[i];
  if (r->nc == MAX_CONNS)
    return NULL;
  memset(&r->c[r->nc], 0, sizeof(r->c[0]));
  r->c[r->nc].pport = pport;
  return &r->c[r->nc++];
}

static uint32_t isn_of(struct run *r, uint16_t pport)
{
  struct conn *c = conn(r, pport);
  return c ? c->isn : 0;
}

/* ------------------------------------------------ segments as text */

/* The options of a parsed header as script items; SACK edges relative
 * to the peer's ISN. Returns the count. */
static int opts_of(struct run *r, const uint8_t *p, size_t n, struct ts_opt *o)
{
  size_t i = 0;
  int k = 0;

  while (i < n && k < TS_MAX_OPTS) {
    struct ts_opt *x = &o[k++];
    uint8_t len;
    memset(x, 0, sizeof(*x));
    if (p[i] == 0) {
      x->kind = O_EOL;
      break;
    }
    if (p[i] == 1) {
      x->kind = O_NOP;
      i++;
      continue;
    }
    len = p[i + 1]; /* weir_tcp_parse checked the lengths */
    switch (p[i]) {
    case 2:
      x->kind = O_MSS;
      x->a.v = weir__get16(p + i + 2);
      break;
    case 3:
      x->kind = O_WSCALE;
      x->a.v = p[i + 2];
      break;
    case 4:
      x->kind = O_SACKOK;
      break;
    case 8:
      x->kind = O_TS;
      x->a.v = weir__get32(p + i + 2);
      x->b.v = weir__get32(p + i + 6);
      break;
    case 5:
      x->kind = O_SACK;
      x->nblk = (len - 2) / 8;
      for (int b = 0; b < x->nblk; b++) {
        x->left[b].v =
            (uint32_t)(weir__get32(p + i + 2 + 8 * b) - r->sc->peer_isn);
        x->right[b].v =
            (uint32_t)(weir__get32(p + i + 6 + 8 * b) - r->sc->peer_isn);
      }
      break;
    default:
      x->kind = O_BYTES;
      x->nbytes = len;
      memcpy(x->bytes, p + i, len);
      break;
    }
    i += len;
  }
  return k;
}

static void put_num(struct ts_sb *b, const struct ts_num *n)
{
  if (n->wild)
    ts_sbf(b, "*");
  else
    ts_sbf(b, "%lld", (long long)n->v);
}

static void fmt_opts(const struct ts_opt *o, int n, struct ts_sb *b)
{
  static const char *const names[] = {
      [O_MSS] = "mss",   [O_SACKOK] = "sackOK", [O_TS] = "TS",
      [O_NOP] = "nop",   [O_EOL] = "eol",       [O_WSCALE] = "wscale",
      [O_SACK] = "sack", [O_BYTES] = "bytes"};

  for (int i = 0; i < n; i++) {
    const struct ts_opt *x = &o[i];
    ts_sbf(b, "%s%s", i ? "," : "", names[x->kind]);
    if (x->kind == O_MSS || x->kind == O_WSCALE) {
      ts_sbf(b, " ");
      put_num(b, &x->a);
    } else if (x->kind == O_TS) {
      ts_sbf(b, " val ");
      put_num(b, &x->a);
      ts_sbf(b, " ecr ");
      if (x->ecr_last)
        ts_sbf(b, "last");
      else
        put_num(b, &x->b);
    }
    for (int j = 0; x->kind == O_SACK && j < x->nblk; j++) {
      ts_sbf(b, " ");
      put_num(b, &x->left[j]);
      ts_sbf(b, ":");
      put_num(b, &x->right[j]);
    }
    for (int j = 0; x->kind == O_BYTES && j < x->nbytes; j++)
      ts_sbf(b, " %02x", x->bytes[j]);
  }
}

/* Flags as scripts write them: S F R P U E W, then '.' for ACK. */
static void flags_str(uint8_t f, char *b)
{
  static const struct {
    uint8_t bit;
    char c;
  } fl[] = {{WEIR_TCP_SYN, 'S'}, {WEIR_TCP_FIN, 'F'}, {WEIR_TCP_RST, 'R'},
            {WEIR_TCP_PSH, 'P'}, {WEIR_TCP_URG, 'U'}, {WEIR_TCP_ECE, 'E'},
            {WEIR_TCP_CWR, 'W'}, {WEIR_TCP_ACK, '.'}};

  for (size_t i = 0; i < sizeof(fl) / sizeof(fl[0]); i++)
    if (f & fl[i].bit)
      *b++ = fl[i].c;
  *b = '\0';
}

/* A segment weir sent, in script syntax (numbers relative). */
static void fmt_seg(struct run *r, const struct weir_tcp *t, char *buf,
                    size_t cap)
{
  struct ts_sb b = {buf, cap, 0};
  uint32_t rel = t->seq - isn_of(r, t->dport);
  struct ts_opt o[TS_MAX_OPTS];
  char fl[10];

  flags_str(t->flags, fl);
  ts_sbf(&b, "> %s %d:%d(%zu)", fl, (int32_t)rel,
         (int32_t)(rel + (uint32_t)t->payload_len), t->payload_len);
  if (t->flags & WEIR_TCP_ACK)
    ts_sbf(&b, " ack %d", (int32_t)(t->ack - r->sc->peer_isn));
  ts_sbf(&b, " win %u", t->win);
  if (t->urg || (t->flags & WEIR_TCP_URG))
    ts_sbf(&b, " urg %u", t->urg);
  if (t->hlen > WEIR_TCP_HLEN) {
    ts_sbf(&b, " <");
    fmt_opts(o,
             opts_of(r, t->payload - t->hlen + WEIR_TCP_HLEN,
                     t->hlen - WEIR_TCP_HLEN, o),
             &b);
    ts_sbf(&b, ">");
  }
}

/* -------------------------------------------- what weir sends */

static int drain(struct run *r);

/* Moves every event into the per-socket masks. */
static void collect(struct run *r)
{
  struct weir_event ev;

  while (weir_next_event(r->s, &ev))
    if (ev.sock >= 0 && (uint32_t)ev.sock < r->npending)
      r->pending[ev.sock] |= ev.events;
}

static int bad_packet(struct run *r, size_t n, const char *why)
{
  char t[32], hex[3 * 64 + 1];
  struct ts_sb b = {hex, sizeof(hex), 0};

  fail(r, "weir sent a bad packet at %s: %s", tstr(r->now, t), why);
  for (size_t i = 0; i < n && i < 64; i++)
    ts_sbf(&b, "%02x ", r->buf[i]);
  detail(r, "%zu bytes: %s%s", n, hex, n > 64 ? "..." : "");
  return -1;
}

/* Checks one packet weir sent and queues it. */
static int take(struct run *r, size_t n)
{
  struct weir_ipv4 ip;
  struct weir_tcp t;
  struct conn *c;
  struct seen *e;
  char line[600], ts[32];

  if (weir_ipv4_parse(&ip, r->buf, n) != 0)
    return bad_packet(r, n, "IPv4 header malformed or bad checksum");
  if (ip.total_len != n)
    return bad_packet(r, n, "IPv4 total length is not the packet's length");
  if (ip.src != US_ADDR || ip.dst != PEER_ADDR)
    return bad_packet(r, n, "addresses are not 10.77.0.2 > 10.77.0.9");
  if (ip.proto != WEIR_IP_PROTO_TCP)
    return bad_packet(r, n, "not TCP");
  if (!ip.df)
    return bad_packet(r, n, "DF not set");
  if (ip.mf || ip.frag_off)
    return bad_packet(r, n, "a fragment");
  if (weir_tcp_parse(&t, ip.payload, ip.payload_len) != 0)
    return bad_packet(r, n, "TCP header or options malformed");
  if (!weir_l4_checksum_ok(WEIR_IP_PROTO_TCP, ip.payload, ip.payload_len,
                           ip.src, ip.dst))
    return bad_packet(r, n, "TCP checksum");
  c = conn(r, t.dport);
  if (c != NULL && (t.flags & WEIR_TCP_SYN)) {
    c->isn = t.seq;
    c->has_ts = 0;
  }
  if (c != NULL && t.opt.has_ts) {
    if (c->has_ts && (int32_t)(t.opt.ts_val - c->tsval) < 0) {
      fmt_seg(r, &t, line, sizeof(line));
      fail(r, "TSval went backwards at %s: %u after %u", tstr(r->now, ts),
           t.opt.ts_val, c->tsval);
      detail(r, "seen: %s", line);
      return -1;
    }
    c->tsval = t.opt.ts_val;
    c->has_ts = 1;
  }
  if (c != NULL) {
    memcpy(c->last, r->buf, sizeof(c->last));
    c->has_last = 1;
  }
  if (r->verbose) {
    fmt_seg(r, &t, line, sizeof(line));
    printf("  %s %s\n", tstr(r->now, ts), line);
  }
  if (r->qhead + r->qn == r->qcap) {
    if (r->qhead > 0) {
      memmove(r->q, r->q + r->qhead, (size_t)r->qn * sizeof(*r->q));
      r->qhead = 0;
    } else {
      int cap = r->qcap ? r->qcap * 2 : 16;
      struct seen *q = realloc(r->q, (size_t)cap * sizeof(*q));
      if (q == NULL)
        return fail(r, "out of memory");
      r->q = q;
      r->qcap = cap;
    }
  }
  e = &r->q[r->qhead + r->qn];
  e->pkt = malloc(n);
  if (e->pkt == NULL)
    return fail(r, "out of memory");
  memcpy(e->pkt, r->buf, n);
  e->len = n;
  e->t = r->now;
  r->qn++;
  return 0;
}

static int drain(struct run *r)
{
  size_t n;

  while ((n = weir_output(r->s, r->buf, sizeof(r->buf), r->now)) > 0)
    if (take(r, n) != 0)
      return -1;
  collect(r);
  return 0;
}

/* Parses a queued packet (it was checked when taken). */
static void seen_tcp(const struct seen *e, struct weir_tcp *t)
{
  struct weir_ipv4 ip;

  weir_ipv4_parse(&ip, e->pkt, e->len);
  weir_tcp_parse(t, ip.payload, ip.payload_len);
}

static void pop(struct run *r)
{
  free(r->q[r->qhead].pkt);
  r->qhead++;
  r->qn--;
}

/* Fails if a segment was sent before `t` and no line took it. */
static int unexpected(struct run *r, uint64_t t)
{
  struct weir_tcp seg;
  char line[600], ts[32];

  if (r->qn == 0 || r->q[r->qhead].t >= t)
    return 0;
  seen_tcp(&r->q[r->qhead], &seg);
  fmt_seg(r, &seg, line, sizeof(line));
  fail(r, "unexpected segment at %s: %s", tstr(r->q[r->qhead].t, ts), line);
  return -1;
}

/* Runs the timers exactly at each deadline up to `target`. With `first`,
 * stops as soon as a segment is queued. */
static int advance(struct run *r, uint64_t target, int first)
{
  int spins = 0;
  char ts[32];

  for (;;) {
    uint64_t d = weir_deadline(r->s);
    if (d == UINT64_MAX || d > target || (first && r->qn > 0))
      break;
    if (d <= r->now) {
      if (++spins > 1000)
        return fail(r, "weir_deadline() stays at %s after weir_timers(%s)",
                    tstr(d, ts), tstr(r->now, ts + 16));
    } else {
      spins = 0;
      r->now = d;
    }
    weir_timers(r->s, r->now);
    if (drain(r) != 0)
      return -1;
  }
  if ((!first || r->qn == 0) && target > r->now)
    r->now = target;
  return 0;
}

/* ------------------------------------------- segments the peer sends */

static size_t put_opts(struct run *r, const struct ts_seg *g, uint8_t *p)
{
  uint32_t isn = g->abs ? 0 : isn_of(r, r->pport);
  struct conn *c = conn(r, r->pport);
  size_t n = 0;

  for (int i = 0; i < g->nopts; i++) {
    const struct ts_opt *o = &g->opt[i];
    uint8_t b[40];
    size_t k = 0;
    switch (o->kind) {
    case O_MSS:
      b[k++] = 2;
      b[k++] = 4;
      weir__put16(b + k, (uint16_t)o->a.v);
      k += 2;
      break;
    case O_WSCALE:
      b[k++] = 3;
      b[k++] = 3;
      b[k++] = (uint8_t)o->a.v;
      break;
    case O_SACKOK:
      b[k++] = 4;
      b[k++] = 2;
      break;
    case O_NOP:
      b[k++] = 1;
      break;
    case O_EOL:
      b[k++] = 0;
      break;
    case O_TS:
      b[k++] = 8;
      b[k++] = 10;
      weir__put32(b + k, (uint32_t)o->a.v);
      weir__put32(b + k + 4,
                  o->ecr_last ? (c ? c->tsval : 0) : (uint32_t)o->b.v);
      k += 8;
      break;
    case O_SACK:
      b[k++] = 5;
      b[k++] = (uint8_t)(2 + 8 * o->nblk);
      for (int j = 0; j < o->nblk; j++) {
        weir__put32(b + k, isn + (uint32_t)o->left[j].v);
        weir__put32(b + k + 4, isn + (uint32_t)o->right[j].v);
        k += 8;
      }
      break;
    default:
      memcpy(b, o->bytes, (size_t)o->nbytes);
      k = (size_t)o->nbytes;
      break;
    }
    if (n + k > 40)
      return 41;
    memcpy(p + n, b, k);
    n += k;
  }
  while (n % 4)
    p[n++] = 0; /* EOL, then padding */
  return n;
}

static int inject(struct run *r, const struct ts_seg *g)
{
  uint8_t *ipb = r->buf, *tcp = r->buf + WEIR_IPV4_HLEN;
  uint32_t seq = (g->abs ? 0 : r->sc->peer_isn) + (uint32_t)g->seq.v;
  uint32_t ack = (g->abs ? 0 : isn_of(r, r->pport)) + (uint32_t)g->ack.v;
  uint32_t off = seq - r->sc->peer_isn + ((g->flags & WEIR_TCP_SYN) ? 1 : 0) -
                 1; /* stream offset of the first payload byte */
  size_t olen = put_opts(r, g, tcp + WEIR_TCP_HLEN), len;
  struct weir_ipv4 ip;
  uint16_t csum;

  if (olen > 40)
    return fail(r, "options longer than 40 bytes");
  len = WEIR_TCP_HLEN + olen + (size_t)g->len.v;
  if (len + WEIR_IPV4_HLEN > WEIR_IPV4_MAX_LEN)
    return fail(r, "segment larger than an IPv4 packet");
  weir__put16(tcp, r->pport);
  weir__put16(tcp + 2, r->lport);
  weir__put32(tcp + 4, seq);
  weir__put32(tcp + 8, g->has_ack ? ack : 0);
  tcp[12] =
      (uint8_t)((g->has_doff ? (size_t)g->doff : (WEIR_TCP_HLEN + olen) / 4)
                << 4);
  tcp[13] = g->flags;
  weir__put16(tcp + 14, (uint16_t)g->win.v);
  weir__put16(tcp + 16, 0);
  weir__put16(tcp + 18, (uint16_t)g->urg.v);
  for (int64_t i = 0; i < g->len.v; i++)
    tcp[WEIR_TCP_HLEN + olen + (size_t)i] = pat_in(off + (uint64_t)i);
  csum = weir_csum_finish(weir_csum_add(
      weir_csum_pseudo(PEER_ADDR, US_ADDR, WEIR_IP_PROTO_TCP, (uint16_t)len),
      tcp, len));
  if (g->badsum)
    csum ^= 0x0101;
  weir__put16(tcp + 16, csum);
  memset(&ip, 0, sizeof(ip));
  ip.total_len = (uint16_t)(WEIR_IPV4_HLEN + len);
  ip.id = r->ip_id++;
  ip.df = 1;
  ip.ttl = 64;
  ip.proto = WEIR_IP_PROTO_TCP;
  ip.src = PEER_ADDR;
  ip.dst = US_ADDR;
  weir_ipv4_emit(&ip, ipb, WEIR_IPV4_HLEN);
  weir_input(r->s, ipb, WEIR_IPV4_HLEN + len, r->now);
  return drain(r);
}

/* An ICMP destination unreachable from the peer, quoting the IPv4
 * header and the first 8 bytes (RFC 792's minimum) of weir's last segment
 * to the current peer port. */
static int inject_icmp(struct run *r, const struct ts_icmp *m)
{
  struct conn *c = conn(r, r->pport);
  uint8_t quote[28], *icmp = r->buf + WEIR_IPV4_HLEN;
  struct weir_icmp h;
  struct weir_ipv4 ip;
  size_t n;

  if (c == NULL || !c->has_last)
    return fail(r, "icmp: weir has sent nothing to port %u to quote", r->pport);
  memcpy(quote, c->last, sizeof(quote));
  if (m->has_seq)
    weir__put32(quote + WEIR_IPV4_HLEN + 4, c->isn + (uint32_t)m->seq);
  memset(&h, 0, sizeof(h));
  h.type = WEIR_ICMP_DEST_UNREACH;
  h.code = (uint8_t)m->code;
  h.mtu = (uint16_t)m->mtu;
  n = weir_icmp_emit(&h, quote, sizeof(quote), icmp,
                     sizeof(r->buf) - WEIR_IPV4_HLEN);
  memset(&ip, 0, sizeof(ip));
  ip.total_len = (uint16_t)(WEIR_IPV4_HLEN + n);
  ip.id = r->ip_id++;
  ip.ttl = 64;
  ip.proto = WEIR_IP_PROTO_ICMP;
  ip.src = PEER_ADDR;
  ip.dst = US_ADDR;
  weir_ipv4_emit(&ip, r->buf, WEIR_IPV4_HLEN);
  weir_input(r->s, r->buf, WEIR_IPV4_HLEN + n, r->now);
  return drain(r);
}

/* ------------------------------------------ segments weir must send */

static int num_ok(const struct ts_num *n, uint32_t got)
{
  return n->wild || (uint32_t)n->v == got;
}

static int opt_ok(const struct ts_opt *w, const struct ts_opt *g)
{
  if (w->kind != g->kind)
    return 0;
  switch (w->kind) {
  case O_MSS:
  case O_WSCALE:
    return num_ok(&w->a, (uint32_t)g->a.v);
  case O_TS:
    return num_ok(&w->a, (uint32_t)g->a.v) && num_ok(&w->b, (uint32_t)g->b.v);
  case O_SACK:
    if (w->nblk != g->nblk)
      return 0;
    for (int i = 0; i < w->nblk; i++)
      if (!num_ok(&w->left[i], (uint32_t)g->left[i].v) ||
          !num_ok(&w->right[i], (uint32_t)g->right[i].v))
        return 0;
    return 1;
  default:
    return 1;
  }
}

/* Compares a segment with the expectation; on a difference fills why. */
static int match(struct run *r, const struct ts_seg *g,
                 const struct weir_tcp *t, char *why, size_t cap)
{
  uint32_t isn = g->abs ? 0 : isn_of(r, t->dport);
  uint32_t pisn = g->abs ? 0 : r->sc->peer_isn;
  uint32_t rel = t->seq - isn_of(r, t->dport);
  struct ts_opt o[TS_MAX_OPTS];
  int n = 0;

  if (t->sport != r->lport || t->dport != r->pport) {
    snprintf(why, cap, "ports: expected %u > %u, got %u > %u", r->lport,
             r->pport, t->sport, t->dport);
    return 0;
  }
  if (t->flags != g->flags) {
    char a[10], b[10];
    flags_str(g->flags, a);
    flags_str(t->flags, b);
    snprintf(why, cap, "flags: expected %s, got %s", a, b);
    return 0;
  }
  if (!num_ok(&g->seq, t->seq - isn)) {
    snprintf(why, cap, "seq: expected %lld, got %d", (long long)g->seq.v,
             (int32_t)(t->seq - isn));
    return 0;
  }
  if (!num_ok(&g->len, (uint32_t)t->payload_len)) {
    snprintf(why, cap, "length: expected %lld, got %zu", (long long)g->len.v,
             t->payload_len);
    return 0;
  }
  if (g->has_ack && !num_ok(&g->ack, t->ack - pisn)) {
    snprintf(why, cap, "ack: expected %lld, got %d", (long long)g->ack.v,
             (int32_t)(t->ack - pisn));
    return 0;
  }
  if (g->has_win && !num_ok(&g->win, t->win)) {
    snprintf(why, cap, "win: expected %lld, got %u", (long long)g->win.v,
             t->win);
    return 0;
  }
  if (g->has_urg && !num_ok(&g->urg, t->urg)) {
    snprintf(why, cap, "urg: expected %lld, got %u", (long long)g->urg.v,
             t->urg);
    return 0;
  }
  if (t->hlen > WEIR_TCP_HLEN)
    n = opts_of(r, t->payload - t->hlen + WEIR_TCP_HLEN,
                t->hlen - WEIR_TCP_HLEN, o);
  if (!g->opts_any) {
    int ok = n == g->nopts;
    for (int i = 0; ok && i < n; i++)
      ok = opt_ok(&g->opt[i], &o[i]);
    if (!ok) {
      snprintf(why, cap, "options differ");
      return 0;
    }
  }
  for (size_t i = 0; i < t->payload_len; i++) {
    uint64_t off = (uint32_t)(rel + ((t->flags & WEIR_TCP_SYN) ? 1 : 0) - 1);
    if (t->payload[i] != pat_out(off + i)) {
      snprintf(why, cap,
               "payload byte %zu (stream offset %llu) is 0x%02x, sent 0x%02x",
               i, (unsigned long long)(off + i), t->payload[i],
               pat_out(off + i));
      return 0;
    }
  }
  return 1;
}

static int expect(struct run *r, const struct ts_stmt *st, uint64_t when)
{
  struct weir_tcp t;
  char why[200], line[600], ts[32], ws[32];
  const struct seen *e;
  int ok;

  if (r->qn == 0 && r->tol > 0 && advance(r, when + r->tol, 1) != 0)
    return -1;
  if (r->qn == 0) {
    fail(r, "expected segment not sent by %s", tstr(when + r->tol, ts));
    detail(r, "expected: %s", st->text);
    return -1;
  }
  e = &r->q[r->qhead];
  seen_tcp(e, &t);
  fmt_seg(r, &t, line, sizeof(line));
  ok = match(r, &st->seg, &t, why, sizeof(why));
  if (!ok && e->t + r->tol < when)
    fail(r, "unexpected segment at %s: %s", tstr(e->t, ts), line);
  else if (!ok)
    fail(r, "%s", why);
  else if (e->t + r->tol < when || e->t > when + r->tol)
    fail(r, "segment sent at %s, expected at %s", tstr(e->t, ts),
         tstr(when, ws));
  if (!ok || e->t + r->tol < when || e->t > when + r->tol) {
    detail(r, "seen:     %s", line);
    detail(r, "expected: %s", st->text);
    return -1;
  }
  pop(r);
  return 0;
}

/* ------------------------------------------------------ socket calls */

static struct handle *hfind(struct run *r, const char *name)
{
  for (int i = 0; i < r->nh; i++)
    if (strcmp(r->h[i].name, name) == 0)
      return &r->h[i];
  return NULL;
}

static struct handle *hget(struct run *r, const char *name)
{
  struct handle *h = hfind(r, name);
  if (h == NULL)
    fail(r, "no handle named %s", name);
  return h;
}

static struct handle *hset(struct run *r, const char *name, int sock)
{
  struct handle *h = hfind(r, name);

  if (h == NULL) {
    if (r->nh == MAX_HANDLES) {
      fail(r, "too many handles");
      return NULL;
    }
    h = &r->h[r->nh++];
    snprintf(h->name, sizeof(h->name), "%s", name);
  }
  h->sock = sock;
  h->sent = h->rcvd = 0;
  if ((uint32_t)sock < r->npending)
    r->pending[sock] = 0;
  return h;
}

static const char *rstr(int64_t v, char *buf)
{
  const char *n = v < 0 ? ts_err_name(v) : NULL;
  if (n != NULL)
    return n;
  snprintf(buf, 32, "%lld", (long long)v);
  return buf;
}

/* The call's result: as `= R` says, or else success (`want`, or >= 0). */
static int result(struct run *r, const struct ts_call *c, const char *fn,
                  int64_t got, int64_t want)
{
  char a[32], b[32];

  if (c->has_ret ? got != c->ret : (want >= 0 ? got != want : got < 0))
    return fail(r, "%s returned %s, expected %s", fn, rstr(got, a),
                c->has_ret  ? rstr(c->ret, b)
                : want >= 0 ? rstr(want, b)
                            : "success");
  return 0;
}

static int cmp(int op, uint64_t a, uint64_t b)
{
  switch (op) {
  case CMP_NE:
    return a != b;
  case CMP_LT:
    return a < b;
  case CMP_LE:
    return a <= b;
  case CMP_GT:
    return a > b;
  case CMP_GE:
    return a >= b;
  default:
    return a == b;
  }
}

static const char *const cmp_names[] = {"", "!= ", "< ", "<= ", "> ", ">= "};

static int open_sock(struct run *r, const struct ts_call *c, int *sock)
{
  struct handle *h;

  if (!c->res[0]) {
    h = hget(r, c->h);
    if (h == NULL)
      return -1;
    *sock = h->sock;
    return 0;
  }
  *sock = weir_tcp_open(r->s);
  if (*sock < 0)
    return fail(r, "weir_tcp_open returned %s", ts_err_name(*sock));
  return hset(r, c->res, *sock) ? 0 : -1;
}

static int data_call(struct run *r, const struct ts_call *c, struct handle *h)
{
  size_t n = (size_t)c->n1;
  uint8_t *buf = malloc(n ? n : 1);
  int rc;

  if (buf == NULL)
    return fail(r, "out of memory");
  if (c->verb == V_SEND) {
    for (size_t i = 0; i < n; i++)
      buf[i] = pat_out(h->sent + i);
    rc = weir_tcp_send(r->s, h->sock, buf, n, r->now);
    if (rc > 0)
      h->sent += (uint64_t)rc;
    free(buf);
    return result(r, c, "send", rc, (int64_t)n);
  }
  rc = weir_tcp_recv(r->s, h->sock, buf, n, r->now);
  if (result(r, c, "recv", rc, (int64_t)n) != 0) {
    free(buf);
    return -1;
  }
  for (int i = 0; i < rc; i++) {
    if (buf[i] != pat_in(h->rcvd + (uint64_t)i)) {
      fail(r, "recv: byte %d (stream offset %llu) is 0x%02x, peer sent 0x%02x",
           i, (unsigned long long)(h->rcvd + (uint64_t)i), buf[i],
           pat_in(h->rcvd + (uint64_t)i));
      free(buf);
      return -1;
    }
  }
  if (rc > 0)
    h->rcvd += (uint64_t)rc;
  free(buf);
  return 0;
}

static int check_call(struct run *r, const struct ts_call *c, struct handle *h)
{
  struct weir_tcp_info in;
  char a[200], b[200];
  int rc;

  switch (c->verb) {
  case V_EVENT: {
    unsigned got = (uint32_t)h->sock < r->npending ? r->pending[h->sock] : 0;
    if (c->exact ? got != c->bits : (got & c->bits) != c->bits) {
      ts_bits_format(got, a, sizeof(a));
      ts_bits_format(c->bits, b, sizeof(b));
      return fail(r, "events of %s: %s, expected %s%s", h->name, a,
                  c->exact ? "exactly " : "", b);
    }
    if ((uint32_t)h->sock < r->npending)
      r->pending[h->sock] = 0;
    return 0;
  }
  case V_ERROR:
    rc = weir_sock_error(r->s, h->sock, NULL, NULL);
    if (rc != c->ret)
      return fail(r, "error of %s: %s, expected %s", h->name,
                  rc ? rstr(rc, a) : "none", c->ret ? rstr(c->ret, b) : "none");
    return 0;
  default:
    break;
  }
  rc = weir_tcp_info(r->s, h->sock, &in);
  if (rc != 0)
    return fail(r, "weir_tcp_info(%s) returned %s", h->name, rstr(rc, a));
  if (c->verb == V_STATE) {
    if (in.state != c->idx)
      return fail(r, "state of %s: %s, expected %s", h->name,
                  weir_tcp_state_name(in.state), weir_tcp_state_name(c->idx));
    return 0;
  }
  if (!cmp(c->cmp, ts_info_get(&in, c->idx), (uint64_t)c->ret))
    return fail(r, "info %s %s: %llu, expected %s%lld", h->name,
                ts_info_name(c->idx),
                (unsigned long long)ts_info_get(&in, c->idx), cmp_names[c->cmp],
                (long long)c->ret);
  return 0;
}

static int do_call(struct run *r, const struct ts_call *c)
{
  struct handle *h = NULL;
  struct weir_tcp_info in;
  uint32_t addr = 0;
  uint16_t port = 0;
  int sock, rc;

  switch (c->verb) {
  case V_SOCKET:
    rc = weir_tcp_open(r->s);
    if (result(r, c, "socket", rc, -1) != 0)
      return -1;
    return rc >= 0 && hset(r, c->res, rc) == NULL ? -1 : 0;
  case V_LISTEN:
    if (open_sock(r, c, &sock) != 0)
      return -1;
    rc = weir_tcp_listen(r->s, sock, (uint16_t)c->n1,
                         c->nargs > 1 ? (uint32_t)c->n2 : 16);
    if (rc == 0)
      r->lport = (uint16_t)c->n1;
    return result(r, c, "listen", rc, 0);
  case V_CONNECT:
    if (open_sock(r, c, &sock) != 0)
      return -1;
    rc = weir_tcp_connect(r->s, sock, PEER_ADDR, (uint16_t)c->n1, r->now);
    if (rc == 0 && weir_tcp_info(r->s, sock, &in) == 0) {
      r->pport = (uint16_t)c->n1;
      r->lport = in.local_port;
    }
    return result(r, c, "connect", rc, 0);
  case V_EVENTS_NONE:
    for (uint32_t i = 0; i < r->npending; i++) {
      if (r->pending[i]) {
        const char *name = "?";
        for (int k = 0; k < r->nh; k++)
          if (r->h[k].sock == (int)i)
            name = r->h[k].name;
        ts_bits_format(r->pending[i], (char *)r->buf, 200);
        return fail(r, "pending events: %s (socket %u): %s", name, i,
                    (char *)r->buf);
      }
    }
    return 0;
  case V_STAT: {
    uint64_t v = weir_stats(r->s)->c[c->idx];
    if (!cmp(c->cmp, v, (uint64_t)c->ret))
      return fail(r, "stat %s: %llu, expected %s%lld", weir_stat_name(c->idx),
                  (unsigned long long)v, cmp_names[c->cmp], (long long)c->ret);
    return 0;
  }
  case V_WAIT:
    return 0;
  default:
    break;
  }
  h = hget(r, c->h);
  if (h == NULL)
    return -1;
  switch (c->verb) {
  case V_ACCEPT:
    rc = weir_tcp_accept(r->s, h->sock, &addr, &port);
    if (result(r, c, "accept", rc, -1) != 0)
      return -1;
    if (rc >= 0 && hset(r, c->res, rc) == NULL)
      return -1;
    if (rc >= 0 && addr != PEER_ADDR)
      return fail(r, "accept: peer address is not 10.77.0.9");
    return 0;
  case V_BIND:
    return result(r, c, "bind", weir_tcp_bind(r->s, h->sock, (uint16_t)c->n1),
                  0);
  case V_SEND:
  case V_RECV:
    return data_call(r, c, h);
  case V_SHUTDOWN:
    rc = weir_tcp_shutdown(r->s, h->sock, r->now);
    return result(r, c, "shutdown", rc, 0);
  case V_CLOSE:
  case V_ABORT:
    rc = c->verb == V_CLOSE ? weir_tcp_close(r->s, h->sock, r->now)
                            : weir_tcp_abort(r->s, h->sock, r->now);
    if (result(r, c, c->verb == V_CLOSE ? "close" : "abort", rc, 0) != 0)
      return -1;
    if (drain(r) != 0)
      return -1;
    /* The handle is free now: forget what was pending on it. */
    if ((uint32_t)h->sock < r->npending)
      r->pending[h->sock] = 0;
    return 0;
  case V_SETOPT:
    rc = weir_tcp_setopt(r->s, h->sock, ts_opt_code(c->idx), (uint64_t)c->n1);
    return result(r, c, "setopt", rc, 0);
  default:
    return check_call(r, c, h);
  }
}

/* ------------------------------------------------------------ script */

static void show_trace(struct run *r)
{
  struct weir_trace tr[TRACE_SHOWN], t;
  int n = 0;
  char ts[32];

  while (weir_next_trace(r->s, &t))
    tr[n++ % TRACE_SHOWN] = t;
  for (int i = n > TRACE_SHOWN ? n - TRACE_SHOWN : 0; i < n; i++) {
    const struct weir_trace *x = &tr[i % TRACE_SHOWN];
    const char *what = x->kind == WEIR_TRACE_RETRANSMIT  ? "retransmit"
                       : x->kind == WEIR_TRACE_RESET_IN  ? "reset received"
                       : x->kind == WEIR_TRACE_RESET_OUT ? "reset sent"
                                                         : NULL;
    if (what == NULL)
      detail(r, "trace %s  :%u>:%u  %s -> %s", tstr(x->time, ts), x->local_port,
             x->remote_port, weir_tcp_state_name(x->from),
             weir_tcp_state_name(x->to));
    else
      detail(r, "trace %s  :%u>:%u  %s%s", tstr(x->time, ts), x->local_port,
             x->remote_port, what,
             x->kind == WEIR_TRACE_RETRANSMIT
                 ? (x->arg == 2 ? " (fast)" : " (RTO)")
                 : "");
  }
}

static int step(struct run *r, const struct ts_stmt *st)
{
  uint64_t when = BASE_US + (uint64_t)st->t;

  r->line = st->line;
  switch (st->kind) {
  case K_PEER_PORT:
    r->pport = (uint16_t)st->v;
    return 0;
  case K_LOCAL_PORT:
    r->lport = (uint16_t)st->v;
    return 0;
  case K_TOLERANCE:
    r->tol = (uint64_t)st->v;
    return 0;
  default:
    break;
  }
  if (advance(r, when, 0) != 0)
    return -1;
  if (r->verbose) {
    char ts[32];
    printf("%4d %s %s\n", st->line, tstr(when, ts), st->text);
  }
  if (st->kind != K_OUT && unexpected(r, when) != 0)
    return -1;
  for (int i = 0; i < st->repeat; i++) {
    int rc = st->kind == K_OUT    ? expect(r, st, when)
             : st->kind == K_IN   ? inject(r, &st->seg)
             : st->kind == K_ICMP ? inject_icmp(r, &st->icmp)
                                  : do_call(r, &st->call);
    /* Whatever a call queued or raised is seen at this time. */
    if (rc == 0 && st->kind == K_CALL)
      rc = drain(r);
    if (rc != 0) {
      if (st->repeat > 1)
        detail(r, "(repetition %d of %d)", i + 1, st->repeat);
      return -1;
    }
  }
  return 0;
}

int ts_run(const struct ts_script *sc, int verbose, char *err, size_t cap)
{
  struct run *r = calloc(1, sizeof(*r));
  int rc = 0;

  if (r == NULL) {
    snprintf(err, cap, "line 0: out of memory");
    return -1;
  }
  r->sc = sc;
  r->err = err;
  r->cap = cap;
  r->verbose = verbose;
  r->now = BASE_US;
  r->pport = 40000;
  r->lport = 8080;
  r->ip_id = 1;
  if (weir_stack_new(&sc->cfg, &r->s) != 0) {
    snprintf(err, cap, "line 0: weir_stack_new rejected the configuration");
    free(r);
    return -1;
  }
  r->npending = weir_stack_config(r->s)->max_sockets;
  r->pending = calloc(r->npending, sizeof(*r->pending));
  if (r->pending == NULL)
    rc = fail(r, "out of memory");
  for (int i = 0; rc == 0 && i < sc->n; i++)
    rc = step(r, &sc->st[i]);
  if (rc == 0) {
    r->line = sc->last_line;
    rc = unexpected(r, UINT64_MAX);
    if (rc == 0)
      rc = drain(r);
    if (rc == 0)
      rc = unexpected(r, UINT64_MAX);
  }
  if (rc != 0)
    show_trace(r);
  while (r->qn > 0)
    pop(r);
  free(r->q);
  free(r->pending);
  weir_stack_free(r->s);
  free(r);
  return rc;
}
