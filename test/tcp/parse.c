/* Parsing the script language (test/tcp/README.md) into statements. Every
 * check that needs no stack is made here, so that a typo fails the script
 * with its line number before anything runs. */
#include <ctype.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tcpscript.h"
#include "wire/icmp.h"
#include "wire/tcp.h"

static int strcasecmp_ascii(const char *a, const char *b);

struct lx {
  const char *p;
  int line;
  char *err;
  size_t cap;
};

static int fail(struct lx *l, const char *fmt, ...)
{
  va_list ap;
  int n = snprintf(l->err, l->cap, "line %d: ", l->line);

  va_start(ap, fmt);
  if (n > 0 && (size_t)n < l->cap)
    vsnprintf(l->err + n, l->cap - (size_t)n, fmt, ap);
  va_end(ap);
  return -1;
}

static void ws(struct lx *l)
{
  while (*l->p == ' ' || *l->p == '\t')
    l->p++;
}

static int at_end(struct lx *l)
{
  ws(l);
  return *l->p == '\0';
}

static int lit(struct lx *l, char c)
{
  ws(l);
  if (*l->p != c)
    return 0;
  l->p++;
  return 1;
}

/* A word: a letter or '_', then letters, digits, '_' and '-'. */
static int word(struct lx *l, char *out, size_t cap)
{
  size_t n = 0;

  ws(l);
  if (!isalpha((unsigned char)*l->p) && *l->p != '_')
    return 0;
  while (isalnum((unsigned char)l->p[n]) || l->p[n] == '_' || l->p[n] == '-')
    n++;
  if (n >= cap)
    return 0;
  memcpy(out, l->p, n);
  out[n] = '\0';
  l->p += n;
  return 1;
}

/* Takes the word w if it comes next (any case). */
static int kw(struct lx *l, const char *w)
{
  const char *save = l->p;
  char buf[TS_WORD];

  if (word(l, buf, sizeof(buf)) && strcasecmp_ascii(buf, w) == 0)
    return 1;
  l->p = save;
  return 0;
}

static int need_word(struct lx *l, char *out, size_t cap, const char *what)
{
  if (!word(l, out, cap))
    return fail(l, "expected %s at '%s'", what, l->p);
  return 0;
}

/* A decimal or 0x number, maybe negative; `*` if wild is allowed. */
static int num(struct lx *l, struct ts_num *n, int wild, const char *what)
{
  const char *s;
  char *end;
  int neg = 0, base = 10;

  ws(l);
  n->wild = 0;
  n->v = 0;
  if (*l->p == '*') {
    if (!wild)
      return fail(l, "%s: '*' is only for segments weir sends", what);
    n->wild = 1;
    l->p++;
    return 0;
  }
  s = l->p;
  if (*s == '-') {
    neg = 1;
    s++;
  }
  if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
    base = 16;
    s += 2;
  }
  if (!isxdigit((unsigned char)*s) ||
      (base == 10 && !isdigit((unsigned char)*s)))
    return fail(l, "expected %s (a number) at '%s'", what, l->p);
  n->v = strtoll(s, &end, base);
  if (neg)
    n->v = -n->v;
  l->p = end;
  return 0;
}

static int num_range(struct lx *l, struct ts_num *n, int wild, int64_t lo,
                     int64_t hi, const char *what)
{
  if (num(l, n, wild, what) != 0)
    return -1;
  if (!n->wild && (n->v < lo || n->v > hi))
    return fail(l, "%s %lld out of range %lld..%lld", what, (long long)n->v,
                (long long)lo, (long long)hi);
  return 0;
}

/* Seconds with up to six decimals, as microseconds. */
static int seconds(struct lx *l, int64_t *us)
{
  int64_t v = 0, frac = 0;
  int digits = 0;

  ws(l);
  if (!isdigit((unsigned char)*l->p))
    return fail(l, "expected a time in seconds at '%s'", l->p);
  while (isdigit((unsigned char)*l->p) && v < 1000000000)
    v = v * 10 + (*l->p++ - '0');
  if (*l->p == '.') {
    l->p++;
    while (isdigit((unsigned char)*l->p)) {
      if (++digits > 6)
        return fail(l, "time: at most 6 decimals (microseconds)");
      frac = frac * 10 + (*l->p++ - '0');
    }
  }
  while (digits++ < 6)
    frac *= 10;
  *us = v * 1000000 + frac;
  return 0;
}

/* ------------------------------------------------------------ tables */

static const struct {
  const char *name;
  int code;
} errs[] = {
    {"EAGAIN", WEIR_EAGAIN},
    {"EINVAL", WEIR_EINVAL},
    {"ENOMEM", WEIR_ENOMEM},
    {"EADDRINUSE", WEIR_EADDRINUSE},
    {"EBADF", WEIR_EBADF},
    {"EMSGSIZE", WEIR_EMSGSIZE},
    {"ENETUNREACH", WEIR_ENETUNREACH},
    {"EHOSTUNREACH", WEIR_EHOSTUNREACH},
    {"ECONNREFUSED", WEIR_ECONNREFUSED},
    {"ENOBUFS", WEIR_ENOBUFS},
    {"ETIMEDOUT", WEIR_ETIMEDOUT},
    {"ECONNRESET", WEIR_ECONNRESET},
    {"ENOTCONN", WEIR_ENOTCONN},
    {"EMFILE", WEIR_EMFILE},
    {"EADDRNOTAVAIL", WEIR_EADDRNOTAVAIL},
    {"ENOPROTOOPT", WEIR_ENOPROTOOPT},
    {"EPROTO", WEIR_EPROTO},
    {"ETTL", WEIR_ETTL},
    {"EPIPE", WEIR_EPIPE},
    {"EISCONN", WEIR_EISCONN},
};

const char *ts_err_name(int64_t code)
{
  for (size_t i = 0; i < sizeof(errs) / sizeof(errs[0]); i++)
    if (errs[i].code == code)
      return errs[i].name;
  return NULL;
}

static const struct {
  const char *name;
  int opt;
} sockopts[] = {
    {"nodelay", WEIR_TCP_NODELAY},
    {"keepalive", WEIR_TCP_KEEPALIVE},
    {"keepidle_ms", WEIR_TCP_KEEPIDLE_MS},
    {"keepintvl_ms", WEIR_TCP_KEEPINTVL_MS},
    {"keepcnt", WEIR_TCP_KEEPCNT},
};

const char *ts_opt_name(int idx)
{
  return sockopts[idx].name;
}

int ts_opt_code(int idx)
{
  return sockopts[idx].opt;
}

#define INFO(f)                                                                \
  {                                                                            \
#f, offsetof(struct weir_tcp_info, f),                                     \
        sizeof(((struct weir_tcp_info *)0)->f)                                 \
  }
static const struct field {
  const char *name;
  size_t off, size;
} infos[] = {
    INFO(state),
    INFO(local_port),
    INFO(remote_port),
    INFO(snd_mss),
    INFO(snd_wnd),
    INFO(rcv_wnd),
    INFO(cwnd),
    INFO(ssthresh),
    INFO(srtt_us),
    INFO(rttvar_us),
    INFO(rto_us),
    INFO(bytes_sent),
    INFO(bytes_acked),
    INFO(bytes_received),
    INFO(segs_out),
    INFO(segs_in),
    INFO(retransmits),
    INFO(timeouts),
    INFO(fast_retransmits),
    INFO(dupacks_in),
    INFO(sack_blocks_in),
    INFO(unacked),
    INFO(unread),
    INFO(wscale_ok),
    INFO(ts_ok),
    INFO(sack_ok),
};

#define CFG(f)                                                                 \
  {                                                                            \
#f, offsetof(struct weir_config, f), sizeof(((struct weir_config *)0)->f)  \
  }
static const struct field cfgs[] = {
    CFG(mtu),
    CFG(ttl),
    CFG(tx_slots),
    CFG(max_sockets),
    CFG(icmp_rate_per_s),
    CFG(icmp_burst),
    CFG(tcp_max_conns),
    CFG(tcp_snd_buf),
    CFG(tcp_rcv_buf),
    CFG(tcp_syn_backlog),
    CFG(tcp_msl_us),
    CFG(tcp_rto_initial_us),
    CFG(tcp_rto_min_us),
    CFG(tcp_rto_max_us),
    CFG(tcp_user_timeout_us),
    CFG(tcp_syn_timeout_us),
    CFG(tcp_delack_us),
    CFG(tcp_timestamps),
    CFG(tcp_sack),
    CFG(tcp_wscale),
    CFG(tcp_cc),
    CFG(trace_entries),
};

/* Reads an unsigned field of 1, 2, 4 or 8 bytes at p, after writing
 * *set into it if set is not NULL. */
static uint64_t field_rw(void *p, size_t size, const uint64_t *set)
{
  union {
    uint8_t u8;
    uint16_t u16;
    uint32_t u32;
    uint64_t u64;
  } v;

  if (set != NULL) {
    if (size == 1)
      v.u8 = (uint8_t)*set;
    else if (size == 2)
      v.u16 = (uint16_t)*set;
    else if (size == 4)
      v.u32 = (uint32_t)*set;
    else
      v.u64 = *set;
    memcpy(p, &v, size);
  }
  memcpy(&v, p, size);
  return size == 1 ? v.u8 : size == 2 ? v.u16 : size == 4 ? v.u32 : v.u64;
}

const char *ts_info_name(int idx)
{
  return infos[idx].name;
}

uint64_t ts_info_get(const struct weir_tcp_info *in, int idx)
{
  return field_rw((uint8_t *)(uintptr_t)in + infos[idx].off, infos[idx].size,
                  NULL);
}

static const char *const evnames[] = {
    "READABLE",  "WRITABLE",    "ERROR",  "ACCEPT",
    "CONNECTED", "PEER_CLOSED", "CLOSED", "RESET",
};

void ts_sbf(struct ts_sb *b, const char *fmt, ...)
{
  va_list ap;
  int k;

  if (b->n + 1 >= b->cap)
    return;
  va_start(ap, fmt);
  k = vsnprintf(b->p + b->n, b->cap - b->n, fmt, ap);
  va_end(ap);
  if (k > 0)
    b->n = b->n + (size_t)k < b->cap ? b->n + (size_t)k : b->cap - 1;
}

void ts_bits_format(unsigned bits, char *buf, size_t cap)
{
  struct ts_sb b = {buf, cap, 0};

  buf[0] = '\0';
  if (bits == 0)
    ts_sbf(&b, "none");
  for (unsigned i = 0; i < 32; i++) {
    if (!(bits & (1u << i)))
      continue;
    if (i < sizeof(evnames) / sizeof(evnames[0]))
      ts_sbf(&b, "%s%s", b.n ? "|" : "", evnames[i]);
    else
      ts_sbf(&b, "%s0x%x", b.n ? "|" : "", 1u << i);
  }
}

static int strcasecmp_ascii(const char *a, const char *b)
{
  for (;; a++, b++) {
    int ca = tolower((unsigned char)*a), cb = tolower((unsigned char)*b);
    if (ca != cb || ca == 0)
      return ca - cb;
  }
}

/* The index of the entry named w (any case) in a table, or -1. Entries
 * are a `const char *` name, or structs that start with one. */
static int find(const char *w, const void *tab, size_t n, size_t stride)
{
  for (size_t i = 0; i < n; i++)
    if (strcasecmp_ascii(
            w, *(const char *const *)((const char *)tab + i * stride)) == 0)
      return (int)i;
  return -1;
}
#define FIND(w, tab)                                                           \
  find(w, tab, sizeof(tab) / sizeof((tab)[0]), sizeof((tab)[0]))

/* States match RFC 9293's names, with '_' for '-' and any case. */
static int state_code(const char *w)
{
  char norm[TS_WORD];
  size_t i;

  for (i = 0; w[i] && i + 1 < sizeof(norm); i++)
    norm[i] = w[i] == '_' ? '-' : w[i];
  norm[i] = '\0';
  for (int st = WEIR_TCP_CLOSED; st <= WEIR_TCP_TIME_WAIT; st++)
    if (strcasecmp_ascii(norm, weir_tcp_state_name(st)) == 0)
      return st;
  return -1;
}

/* ---------------------------------------------------------- segments */

static int flags(struct lx *l, uint8_t *f)
{
  static const char letters[] = "FSRP.UEW"; /* bit i is letters[i] */
  const char *start;

  ws(l);
  start = l->p;
  *f = 0;
  for (; *l->p && *l->p != ' ' && *l->p != '\t'; l->p++) {
    const char *c = strchr(letters, *l->p);
    if (c == NULL)
      return fail(l, "flags: unknown flag '%c' (use S F R P . U E W)", *l->p);
    *f |= (uint8_t)(1u << (c - letters));
  }
  if (l->p == start)
    return fail(l, "expected flags (S F R P . U E W)");
  return 0;
}

static int hexdig(int c)
{
  return isdigit(c) ? c - '0' : tolower(c) - 'a' + 10;
}

static int option(struct lx *l, struct ts_opt *o, int in)
{
  char w[TS_WORD];

  memset(o, 0, sizeof(*o));
  if (need_word(l, w, sizeof(w), "an option") != 0)
    return -1;
  if (strcasecmp_ascii(w, "mss") == 0) {
    o->kind = O_MSS;
    return num_range(l, &o->a, !in, 0, 65535, "mss");
  }
  if (strcasecmp_ascii(w, "wscale") == 0) {
    o->kind = O_WSCALE;
    return num_range(l, &o->a, !in, 0, 255, "wscale");
  }
  if (strcasecmp_ascii(w, "sackOK") == 0) {
    o->kind = O_SACKOK;
    return 0;
  }
  if (strcasecmp_ascii(w, "nop") == 0) {
    o->kind = O_NOP;
    return 0;
  }
  if (strcasecmp_ascii(w, "eol") == 0) {
    o->kind = O_EOL;
    return 0;
  }
  if (strcasecmp_ascii(w, "TS") == 0) {
    o->kind = O_TS;
    if (!kw(l, "val"))
      return fail(l, "TS: expected 'val'");
    if (num_range(l, &o->a, !in, 0, UINT32_MAX, "TS val") != 0)
      return -1;
    if (!kw(l, "ecr"))
      return fail(l, "TS: expected 'ecr'");
    if (in && kw(l, "last")) {
      o->ecr_last = 1;
      return 0;
    }
    return num_range(l, &o->b, !in, 0, UINT32_MAX, "TS ecr");
  }
  if (strcasecmp_ascii(w, "sack") == 0) {
    o->kind = O_SACK;
    do {
      if (o->nblk == 4)
        return fail(l, "sack: at most 4 blocks");
      if (num(l, &o->left[o->nblk], !in, "sack left edge") != 0)
        return -1;
      if (!lit(l, ':'))
        return fail(l, "sack: expected LEFT:RIGHT");
      if (num(l, &o->right[o->nblk], !in, "sack right edge") != 0)
        return -1;
      o->nblk++;
      ws(l);
    } while (*l->p != ',' && *l->p != '>' && *l->p != '\0');
    return 0;
  }
  if (strcasecmp_ascii(w, "bytes") == 0 && in) {
    o->kind = O_BYTES;
    for (;;) {
      ws(l);
      if (!isxdigit((unsigned char)l->p[0]))
        break;
      if (!isxdigit((unsigned char)l->p[1]) || o->nbytes == 40)
        return fail(l, "bytes: pairs of hex digits, at most 40 bytes");
      o->bytes[o->nbytes++] =
          (uint8_t)(hexdig(l->p[0]) << 4 | hexdig((unsigned char)l->p[1]));
      l->p += 2;
    }
    if (o->nbytes == 0)
      return fail(l, "bytes: expected hex digits");
    return 0;
  }
  return fail(l, "unknown option '%s'", w);
}

static int seg(struct lx *l, struct ts_seg *g, int in)
{
  struct ts_num end;
  char w[TS_WORD];

  memset(g, 0, sizeof(*g));
  g->abs = kw(l, "abs");
  if (flags(l, &g->flags) != 0 || num(l, &g->seq, !in, "seq") != 0)
    return -1;
  if (!lit(l, ':'))
    return fail(l, "expected SEQ:END(LEN)");
  if (num(l, &end, !in, "end") != 0)
    return -1;
  if (!lit(l, '('))
    return fail(l, "expected SEQ:END(LEN)");
  if (num_range(l, &g->len, !in, 0, 65535, "length") != 0)
    return -1;
  if (!lit(l, ')'))
    return fail(l, "expected SEQ:END(LEN)");
  if (!g->seq.wild && !end.wild && !g->len.wild &&
      (uint32_t)(end.v - g->seq.v) != (uint32_t)g->len.v)
    return fail(l, "END - SEQ must equal LEN");
  if (g->len.wild && !g->seq.wild && !end.wild)
    g->len = (struct ts_num){0, (uint32_t)(end.v - g->seq.v)};
  while (!at_end(l)) {
    if (lit(l, '<')) {
      g->opts_given = 1;
      if (lit(l, '*')) {
        if (in)
          return fail(l, "<*> is only for segments weir sends");
        g->opts_any = 1;
      } else {
        do {
          if (g->nopts == TS_MAX_OPTS)
            return fail(l, "too many options");
          if (option(l, &g->opt[g->nopts++], in) != 0)
            return -1;
        } while (lit(l, ','));
      }
      if (!lit(l, '>'))
        return fail(l, "options: expected ',' or '>' at '%s'", l->p);
      if (!at_end(l))
        return fail(l, "nothing may follow the options");
      break;
    }
    if (need_word(l, w, sizeof(w), "ack, win, urg, doff, badsum or <") != 0)
      return -1;
    if (strcasecmp_ascii(w, "ack") == 0) {
      g->has_ack = 1;
      if (num(l, &g->ack, !in, "ack") != 0)
        return -1;
    } else if (strcasecmp_ascii(w, "win") == 0) {
      g->has_win = 1;
      if (num_range(l, &g->win, !in, 0, 65535, "win") != 0)
        return -1;
    } else if (strcasecmp_ascii(w, "urg") == 0) {
      g->has_urg = 1;
      if (num_range(l, &g->urg, !in, 0, 65535, "urg") != 0)
        return -1;
    } else if (strcasecmp_ascii(w, "doff") == 0 && in) {
      struct ts_num d;
      g->has_doff = 1;
      if (num_range(l, &d, 0, 0, 15, "doff") != 0)
        return -1;
      g->doff = d.v;
    } else if (strcasecmp_ascii(w, "badsum") == 0 && in) {
      g->badsum = 1;
    } else {
      return fail(l, "unexpected '%s'", w);
    }
  }
  if (!in && (g->flags & WEIR_TCP_ACK) && !g->has_ack)
    return fail(l, "a segment with '.' (ACK) needs 'ack N' or 'ack *'");
  if (in && !g->has_win)
    g->win = (struct ts_num){0, 65535};
  return 0;
}

static int icmp(struct lx *l, struct ts_icmp *m)
{
  static const struct {
    const char *name;
    int code;
  } codes[] = {{"net", WEIR_ICMP_NET_UNREACH},
               {"host", WEIR_ICMP_HOST_UNREACH},
               {"proto", WEIR_ICMP_PROTO_UNREACH},
               {"port", WEIR_ICMP_PORT_UNREACH},
               {"frag", WEIR_ICMP_FRAG_NEEDED}};
  char w[TS_WORD];
  struct ts_num n;
  int i;

  memset(m, 0, sizeof(*m));
  if (!kw(l, "unreachable"))
    return fail(l, "icmp: expected 'unreachable'");
  if (need_word(l, w, sizeof(w), "net, host, proto, port or frag") != 0)
    return -1;
  i = FIND(w, codes);
  if (i < 0)
    return fail(l, "icmp: unknown code '%s'", w);
  m->code = codes[i].code;
  while (!at_end(l)) {
    if (kw(l, "mtu")) {
      if (num_range(l, &n, 0, 0, 65535, "mtu") != 0)
        return -1;
      m->mtu = n.v;
    } else if (kw(l, "seq")) {
      if (num(l, &n, 0, "seq") != 0)
        return -1;
      m->has_seq = 1;
      m->seq = n.v;
    } else {
      return fail(l, "icmp: unexpected '%s'", l->p);
    }
  }
  return 0;
}

/* ------------------------------------------------------ socket calls */

static const char *const verbs[] = {
    [V_SOCKET] = "socket",      [V_LISTEN] = "listen",
    [V_ACCEPT] = "accept",      [V_CONNECT] = "connect",
    [V_BIND] = "bind",          [V_SEND] = "send",
    [V_RECV] = "recv",          [V_SHUTDOWN] = "shutdown",
    [V_CLOSE] = "close",        [V_ABORT] = "abort",
    [V_SETOPT] = "setopt",      [V_EVENT] = "event",
    [V_EVENTS_NONE] = "events", [V_ERROR] = "error",
    [V_STATE] = "state",        [V_INFO] = "info",
    [V_STAT] = "stat",          [V_WAIT] = "wait",
};

static int verb_code(const char *w)
{
  return FIND(w, verbs);
}

static int handle(struct lx *l, char *h)
{
  if (!word(l, h, TS_NAME) || verb_code(h) >= 0)
    return fail(l, "expected a handle name at '%s'", l->p);
  return 0;
}

static int arg(struct lx *l, struct ts_call *c, int64_t lo, int64_t hi,
               const char *what)
{
  struct ts_num n;

  if (num_range(l, &n, 0, lo, hi, what) != 0)
    return -1;
  if (c->nargs++ == 0)
    c->n1 = n.v;
  else
    c->n2 = n.v;
  return 0;
}

static int is_num_next(struct lx *l)
{
  ws(l);
  return isdigit((unsigned char)*l->p) || *l->p == '-';
}

static int cmp_op(struct lx *l, int *cmp)
{
  static const struct {
    const char *s;
    int c;
  } ops[] = {{"==", CMP_EQ}, {"!=", CMP_NE}, {"<=", CMP_LE}, {">=", CMP_GE},
             {"=", CMP_EQ},  {"<", CMP_LT},  {">", CMP_GT}};

  ws(l);
  *cmp = CMP_EQ;
  for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
    size_t n = strlen(ops[i].s);
    if (strncmp(l->p, ops[i].s, n) == 0) {
      *cmp = ops[i].c;
      l->p += n;
      return 0;
    }
  }
  return 0;
}

static int errname(struct lx *l, int64_t *code)
{
  char w[TS_WORD];
  int i;

  if (!word(l, w, sizeof(w)))
    return fail(l, "expected an error name (EAGAIN, ...) at '%s'", l->p);
  if (strcasecmp_ascii(w, "none") == 0) {
    *code = 0;
    return 0;
  }
  i = FIND(w, errs);
  if (i < 0)
    return fail(l, "unknown error name '%s'", w);
  *code = errs[i].code;
  return 0;
}

static int bits(struct lx *l, unsigned *b)
{
  char w[TS_WORD];

  *b = 0;
  do {
    int i;
    if (need_word(l, w, sizeof(w), "event names (CONNECTED|WRITABLE ...)"))
      return -1;
    if (strcasecmp_ascii(w, "none") == 0)
      continue;
    i = FIND(w, evnames);
    if (i < 0)
      return fail(l, "unknown event '%s'", w);
    *b |= 1u << i;
  } while (lit(l, '|'));
  return 0;
}

static int call(struct lx *l, struct ts_call *c)
{
  char w[TS_WORD];
  struct ts_num n;

  memset(c, 0, sizeof(*c));
  if (need_word(l, w, sizeof(w), "<, > or a call") != 0)
    return -1;
  c->verb = verb_code(w);
  if (c->verb < 0) {
    if (strlen(w) >= TS_NAME || !lit(l, '='))
      return fail(l, "unknown statement '%s'", w);
    strcpy(c->res, w);
    if (need_word(l, w, sizeof(w), "a call") != 0)
      return -1;
    c->verb = verb_code(w);
    if (c->verb != V_SOCKET && c->verb != V_LISTEN && c->verb != V_ACCEPT &&
        c->verb != V_CONNECT)
      return fail(l, "'%s' gives no handle to name", w);
  }
  switch (c->verb) {
  case V_SOCKET:
    if (!c->res[0])
      return fail(l, "socket: write 'NAME = socket'");
    break;
  case V_LISTEN:
  case V_CONNECT:
    if (!c->res[0] && handle(l, c->h) != 0)
      return -1;
    if (arg(l, c, 0, 65535, "port") != 0)
      return -1;
    if (c->verb == V_LISTEN && is_num_next(l) &&
        arg(l, c, 0, UINT32_MAX, "backlog") != 0)
      return -1;
    break;
  case V_ACCEPT:
    if (!c->res[0])
      return fail(l, "accept: write 'NAME = accept LISTENER'");
    if (handle(l, c->h) != 0)
      return -1;
    break;
  case V_BIND:
    if (handle(l, c->h) != 0 || arg(l, c, 0, 65535, "port") != 0)
      return -1;
    break;
  case V_SEND:
  case V_RECV:
    if (handle(l, c->h) != 0 || arg(l, c, 0, 1 << 24, "byte count") != 0)
      return -1;
    break;
  case V_SHUTDOWN:
  case V_CLOSE:
  case V_ABORT:
    if (handle(l, c->h) != 0)
      return -1;
    break;
  case V_SETOPT:
    if (handle(l, c->h) != 0 || need_word(l, w, sizeof(w), "an option"))
      return -1;
    c->idx = FIND(w, sockopts);
    if (c->idx < 0)
      return fail(l, "unknown socket option '%s'", w);
    if (arg(l, c, 0, INT64_MAX, "option value") != 0)
      return -1;
    break;
  case V_EVENT:
    if (handle(l, c->h) != 0)
      return -1;
    c->exact = lit(l, '=');
    if (bits(l, &c->bits) != 0)
      return -1;
    break;
  case V_EVENTS_NONE:
    if (!kw(l, "none"))
      return fail(l, "expected 'events none'");
    break;
  case V_ERROR:
    if (handle(l, c->h) != 0 || errname(l, &c->ret) != 0)
      return -1;
    break;
  case V_STATE:
    if (handle(l, c->h) != 0 || need_word(l, w, sizeof(w), "a state") != 0)
      return -1;
    c->idx = state_code(w);
    if (c->idx < 0)
      return fail(l, "unknown state '%s' (use RFC 9293's names)", w);
    break;
  case V_INFO:
    if (handle(l, c->h) != 0 || need_word(l, w, sizeof(w), "a field") != 0)
      return -1;
    c->idx = FIND(w, infos);
    if (c->idx < 0)
      return fail(l, "unknown weir_tcp_info field '%s'", w);
    if (cmp_op(l, &c->cmp) != 0 || num(l, &n, 0, "value") != 0)
      return -1;
    c->ret = n.v;
    break;
  case V_STAT:
    if (need_word(l, w, sizeof(w), "a counter name") != 0)
      return -1;
    for (c->idx = 0; weir_stat_name(c->idx) != NULL; c->idx++)
      if (strcasecmp_ascii(w, weir_stat_name(c->idx)) == 0)
        break;
    if (weir_stat_name(c->idx) == NULL)
      return fail(l, "unknown counter '%s'", w);
    if (cmp_op(l, &c->cmp) != 0 || num(l, &n, 0, "value") != 0)
      return -1;
    c->ret = n.v;
    break;
  case V_WAIT:
    break;
  }
  if (c->verb <= V_SETOPT && lit(l, '=')) {
    ws(l);
    c->has_ret = 1;
    if (isalpha((unsigned char)*l->p)) {
      if (errname(l, &c->ret) != 0)
        return -1;
    } else if (num(l, &n, 0, "return value") != 0) {
      return -1;
    } else {
      c->ret = n.v;
    }
  }
  if (!at_end(l))
    return fail(l, "unexpected '%s'", l->p);
  return 0;
}

/* -------------------------------------------------------- directives */

static int set_cfg(struct lx *l, struct weir_config *cfg)
{
  char w[TS_WORD];
  struct ts_num n;
  const struct field *f;
  uint64_t v;
  int i;

  if (need_word(l, w, sizeof(w), "a config field") != 0)
    return -1;
  i = FIND(w, cfgs);
  if (i < 0)
    return fail(l, "unknown config field '%s'", w);
  f = &cfgs[i];
  if (num_range(l, &n, 0, 0,
                f->size == 8 ? INT64_MAX
                             : (int64_t)((1ull << (8 * f->size)) - 1),
                w) != 0)
    return -1;
  v = (uint64_t)n.v;
  field_rw((uint8_t *)cfg + f->off, f->size, &v);
  return 0;
}

static struct ts_stmt *add(struct ts_script *sc)
{
  if (sc->n == sc->cap) {
    int cap = sc->cap ? sc->cap * 2 : 64;
    struct ts_stmt *st = realloc(sc->st, (size_t)cap * sizeof(*st));
    if (st == NULL)
      return NULL;
    sc->st = st;
    sc->cap = cap;
  }
  memset(&sc->st[sc->n], 0, sizeof(sc->st[0]));
  return &sc->st[sc->n++];
}

static int directive(struct lx *l, struct ts_script *sc, int started, int64_t t)
{
  char w[TS_WORD];
  struct ts_num n;
  struct ts_stmt *st;
  int kind;

  if (need_word(l, w, sizeof(w), "a directive") != 0)
    return -1;
  if (strcasecmp_ascii(w, "skip") == 0) {
    ws(l);
    snprintf(sc->skip, sizeof(sc->skip), "%s", *l->p ? l->p : "skipped");
    return 0;
  }
  if (strcasecmp_ascii(w, "config") == 0 || strcasecmp_ascii(w, "seed") == 0 ||
      strcasecmp_ascii(w, "peer_isn") == 0) {
    if (started)
      return fail(l, "%%%s must come before the first timed line", w);
    if (strcasecmp_ascii(w, "config") == 0) {
      if (set_cfg(l, &sc->cfg) != 0)
        return -1;
    } else if (strcasecmp_ascii(w, "seed") == 0) {
      if (num_range(l, &n, 0, 0, INT64_MAX, "seed") != 0)
        return -1;
      weir_config_seed(&sc->cfg, (uint64_t)n.v);
    } else {
      if (num_range(l, &n, 0, 0, UINT32_MAX, "peer_isn") != 0)
        return -1;
      sc->peer_isn = (uint32_t)n.v;
    }
    return at_end(l) ? 0 : fail(l, "unexpected '%s'", l->p);
  }
  if (strcasecmp_ascii(w, "peer_port") == 0)
    kind = K_PEER_PORT;
  else if (strcasecmp_ascii(w, "local_port") == 0)
    kind = K_LOCAL_PORT;
  else if (strcasecmp_ascii(w, "tolerance") == 0)
    kind = K_TOLERANCE;
  else
    return fail(l, "unknown directive '%%%s'", w);
  st = add(sc);
  if (st == NULL)
    return fail(l, "out of memory");
  st->line = l->line;
  st->kind = kind;
  st->t = t;
  if (kind == K_TOLERANCE) {
    if (seconds(l, &st->v) != 0)
      return -1;
  } else {
    if (num_range(l, &n, 0, 1, 65535, "port") != 0)
      return -1;
    st->v = n.v;
  }
  return at_end(l) ? 0 : fail(l, "unexpected '%s'", l->p);
}

/* ------------------------------------------------------------ script */

static char *dup_text(const char *s)
{
  size_t n = strlen(s);
  char *d = malloc(n + 1);

  if (d != NULL)
    memcpy(d, s, n + 1);
  return d;
}

static int parse_line(struct lx *l, struct ts_script *sc, int *started,
                      int64_t *t)
{
  struct ts_stmt *st;
  int64_t when;
  int rel;

  ws(l);
  if (*l->p == '\0')
    return 0;
  if (*l->p == '%') {
    l->p++;
    return directive(l, sc, *started, *t);
  }
  rel = *l->p == '+';
  if (rel)
    l->p++;
  if (seconds(l, &when) != 0)
    return -1;
  if (rel)
    when += *t;
  else if (when < *t)
    return fail(l, "time %lld.%06lld is before the previous line's",
                (long long)(when / 1000000), (long long)(when % 1000000));
  if (*l->p != ' ' && *l->p != '\t')
    return fail(l, "expected a space after the time");
  *t = when;
  *started = 1;
  st = add(sc);
  if (st == NULL)
    return fail(l, "out of memory");
  st->line = l->line;
  st->t = when;
  st->repeat = 1;
  ws(l);
  st->text = dup_text(l->p);
  if (st->text == NULL)
    return fail(l, "out of memory");
  if (kw(l, "repeat")) {
    struct ts_num n;
    if (num_range(l, &n, 0, 1, 100000, "repeat count") != 0)
      return -1;
    st->repeat = (int)n.v;
  }
  if (lit(l, '<')) {
    if (kw(l, "icmp")) {
      st->kind = K_ICMP;
      return icmp(l, &st->icmp);
    }
    st->kind = K_IN;
    return seg(l, &st->seg, 1);
  }
  if (lit(l, '>')) {
    st->kind = K_OUT;
    return seg(l, &st->seg, 0);
  }
  st->kind = K_CALL;
  return call(l, &st->call);
}

int ts_parse(const char *path, struct ts_script *sc, char *err, size_t cap)
{
  char buf[1024];
  struct lx l = {.err = err, .cap = cap};
  FILE *f;
  int started = 0, rc = 0;
  int64_t t = 0;

  memset(sc, 0, sizeof(*sc));
  weir_config_default(&sc->cfg);
  sc->cfg.link = WEIR_LINK_IP;
  sc->cfg.ip = US_ADDR;
  sc->cfg.prefix_len = 24;
  sc->cfg.trace_entries = 32; /* shown when a script fails */
  weir_config_seed(&sc->cfg, 1);
  sc->peer_isn = 1000000;
  f = fopen(path, "r");
  if (f == NULL) {
    snprintf(err, cap, "line 0: cannot open %s", path);
    return -1;
  }
  while (rc == 0 && fgets(buf, sizeof(buf), f) != NULL) {
    size_t n = strcspn(buf, "#\r\n");
    l.line++;
    if (buf[strlen(buf) - 1] != '\n' && !feof(f)) {
      rc = fail(&l, "line longer than %zu bytes", sizeof(buf) - 2);
      break;
    }
    buf[n] = '\0';
    l.p = buf;
    rc = parse_line(&l, sc, &started, &t);
  }
  fclose(f);
  sc->last_line = l.line;
  return rc;
}

void ts_free(struct ts_script *sc)
{
  for (int i = 0; i < sc->n; i++)
    free(sc->st[i].text);
  free(sc->st);
  sc->st = NULL;
  sc->n = 0;
}
