/* The link's offloads (virtio-net's, as a TUN device has them): TCP
 * super-segments and partial checksums out (weir_output_meta), checksums
 * the link vouches for in (weir_input_flags).
 *
 * The output tests run two worlds in lockstep on one virtual clock: in
 * one, A and B are plain stacks; in the other, both have the offloads
 * and what they send is cut and completed here as the kernel would
 * (tcp_gso_segment, skb_checksum_help). The same app calls go to both,
 * and every frame on the wire must be the same, byte for byte, in both:
 * a super-segment carries exactly what a segment-at-a-time sender would
 * have sent at that moment, and nothing else changes. */
#include <stdlib.h>
#include <string.h>

#include "harness/test.h"
#include "stack_util.h"
#include "wire/bytes.h"
#include "wire/checksum.h"
#include "wire/ipv4.h"
#include "wire/tcp.h"
#include "wire/udp.h"

#define A_IP   US_IP
#define B_IP   0x0a4d0003u
#define PORT   5001
#define FMAX   1600 /* a wire frame: the MTU and some */
#define BIGMAX 65536
#define QMAX   8192

static uint64_t stat(struct weir_stack *s, enum weir_stat i)
{
  return weir_stats(s)->c[i];
}

/* Frames on the wire in one direction, in order. */
struct fq {
  uint8_t (*f)[FMAX];
  uint16_t *len;
  int n;
};

static int fq_init(struct fq *q)
{
  q->f = malloc(QMAX * sizeof(*q->f));
  q->len = malloc(QMAX * sizeof(*q->len));
  q->n = 0;
  return q->f && q->len;
}

static void fq_free(struct fq *q)
{
  free(q->f);
  free(q->len);
}

/* Room for one more frame, or NULL (the test fails then). */
static uint8_t *fq_add(struct fq *q, size_t len)
{
  if (q->n == QMAX || len > FMAX)
    return NULL;
  q->len[q->n] = (uint16_t)len;
  return q->f[q->n++];
}

/* What the offload side's output looked like. */
struct seen {
  int supers;     /* super-segments */
  int max_pieces; /* the most pieces in one */
  int partial;    /* frames with a partial checksum */
  int bad_meta;   /* a meta or a partial sum that was wrong */
  uint16_t gso;   /* the last gso_size */
};

/* The link's work on a frame from weir_output_meta (bare IPv4): checks
 * the partial sum, then completes the checksum or cuts the super-segment
 * into frames of gso_size data bytes with their own headers (IP ID
 * counting up, sequence numbers advancing, FIN and PSH on the last piece
 * only, fresh checksums), onto q. */
static int link_out(const uint8_t *f, size_t n, const struct weir_tx_meta *m,
                    struct fq *q, struct seen *sn)
{
  uint32_t src = weir__get32(f + 12), dst = weir__get32(f + 16);
  size_t cs = m->csum_start, hdr = m->hdr_len, data, off, chunk;
  uint8_t *g, flags = f[cs + 13];
  int k = 0;

  if (m->flags & WEIR_TX_CSUM_PARTIAL) {
    sn->partial++;
    if (cs != WEIR_IPV4_HLEN || m->csum_offset != WEIR_TCP_CSUM_OFF ||
        weir__get16(f + cs + WEIR_TCP_CSUM_OFF) !=
            weir_csum_pseudo(src, dst, WEIR_IP_PROTO_TCP, (uint16_t)(n - cs)))
      sn->bad_meta++;
  }
  if (!m->gso_size) {
    if (!(g = fq_add(q, n)))
      return -1;
    memcpy(g, f, n);
    if (m->flags & WEIR_TX_CSUM_PARTIAL)
      weir__put16(g + cs + WEIR_TCP_CSUM_OFF,
                  weir_csum_finish(weir_csum_add(0, g + cs, n - cs)));
    return 1;
  }
  if (!(m->flags & WEIR_TX_CSUM_PARTIAL) ||
      hdr != cs + (size_t)(f[cs + 12] >> 4) * 4 || hdr >= n)
    sn->bad_meta++;
  data = n - hdr;
  for (off = 0; off < data; off += chunk, k++) {
    chunk = data - off < m->gso_size ? data - off : m->gso_size;
    if (!(g = fq_add(q, hdr + chunk)))
      return -1;
    memcpy(g, f, hdr);
    memcpy(g + hdr, f + hdr + off, chunk);
    weir__put16(g + 2, (uint16_t)(hdr + chunk));
    weir__put16(g + 4, (uint16_t)(weir__get16(f + 4) + k));
    weir__put16(g + 10, 0);
    weir__put16(g + 10, weir_csum(g, WEIR_IPV4_HLEN));
    weir__put32(g + cs + 4, weir__get32(f + cs + 4) + (uint32_t)off);
    if (off + chunk < data)
      g[cs + 13] = (uint8_t)(flags & ~(WEIR_TCP_FIN | WEIR_TCP_PSH));
    weir__put16(g + cs + WEIR_TCP_CSUM_OFF, 0);
    weir__put16(g + cs + WEIR_TCP_CSUM_OFF,
                weir_csum_finish(weir_csum_add(
                    weir_csum_pseudo(src, dst, WEIR_IP_PROTO_TCP,
                                     (uint16_t)(hdr - cs + chunk)),
                    g + cs, hdr - cs + chunk)));
  }
  sn->supers++;
  if (k > sn->max_pieces)
    sn->max_pieces = k;
  sn->gso = m->gso_size;
  return k;
}

/* One world: A sends to B over a bare-IP link. */
struct world {
  struct weir_stack *a, *b;
  int offload;
  int ls, as, cs; /* B's listener and accepted socket, A's socket */
  struct fq ab, ba, next_ab, next_ba;
  struct seen seen;
  uint8_t *big;
};

static int g_nodelay, g_no_ts, g_no_sack;

static void tweak(struct weir_config *c, uint32_t ip, int offload)
{
  c->link = WEIR_LINK_IP;
  c->ip = ip;
  c->tcp_timestamps = !g_no_ts;
  c->tcp_sack = !g_no_sack;
  c->tcp_msl_us = 1000000;
  c->tx_csum_offload = (uint8_t)offload;
  c->tx_tso_max = offload ? 65535 : 0;
}

static void tweak_a(struct weir_config *c)
{
  tweak(c, A_IP, 0);
}
static void tweak_b(struct weir_config *c)
{
  tweak(c, B_IP, 0);
  c->secret[0] ^= 0xff;
}
static void tweak_a_off(struct weir_config *c)
{
  tweak(c, A_IP, 1);
}
static void tweak_b_off(struct weir_config *c)
{
  tweak(c, B_IP, 1);
  c->secret[0] ^= 0xff;
}

static int world_init(struct world *w, int offload, uint64_t now)
{
  memset(w, 0, sizeof(*w));
  w->offload = offload;
  w->a = mk_stack(WEIR_LINK_IP, offload ? tweak_a_off : tweak_a);
  w->b = mk_stack(WEIR_LINK_IP, offload ? tweak_b_off : tweak_b);
  w->big = malloc(BIGMAX);
  if (!w->a || !w->b || !w->big || !fq_init(&w->ab) || !fq_init(&w->ba) ||
      !fq_init(&w->next_ab) || !fq_init(&w->next_ba))
    return 0;
  w->ls = weir_tcp_open(w->b);
  w->cs = weir_tcp_open(w->a);
  w->as = -1;
  if (weir_tcp_listen(w->b, w->ls, PORT, 4) != 0 ||
      weir_tcp_connect(w->a, w->cs, B_IP, PORT, now) != 0)
    return 0;
  return !g_nodelay || weir_tcp_setopt(w->a, w->cs, WEIR_TCP_NODELAY, 1) == 0;
}

static void world_free(struct world *w)
{
  weir_stack_free(w->a);
  weir_stack_free(w->b);
  fq_free(&w->ab);
  fq_free(&w->ba);
  fq_free(&w->next_ab);
  fq_free(&w->next_ba);
  free(w->big);
}

/* What `from` sends now, onto q: whole frames, or, with the offloads,
 * what the link makes of them. Returns -1 if a frame was wrong. */
static int collect(struct world *w, struct weir_stack *from, struct fq *q,
                   uint64_t now)
{
  struct weir_tx_meta m;
  size_t n;
  uint8_t *g;

  for (;;) {
    if (w->offload) {
      n = weir_output_meta(from, w->big, BIGMAX, now, &m);
      if (n == 0)
        return 0;
      if (link_out(w->big, n, &m, q, &w->seen) < 0)
        return -1;
    } else {
      n = weir_output(from, w->big, BIGMAX, now);
      if (n == 0)
        return 0;
      if (!(g = fq_add(q, n)))
        return -1;
      memcpy(g, w->big, n);
    }
  }
}

static void deliver(struct weir_stack *to, struct fq *q, unsigned drop_every,
                    unsigned *count, uint64_t now)
{
  for (int i = 0; i < q->n; i++) {
    if (drop_every && ++*count % drop_every == 0)
      continue;
    weir_input(to, q->f[i], q->len[i], now);
  }
  q->n = 0;
}

static uint8_t pat(size_t i)
{
  return (uint8_t)(i * 151 + (i >> 9));
}

/* Both worlds, the same calls: A sends `total` bytes in writes of
 * `chunk`, then closes; B reads and closes at the end of the stream.
 * Every `drop_every`th A-to-B frame on the wire is lost (in both). */
struct lockstep {
  struct world w[2]; /* plain, offloads */
  uint64_t now;
  size_t total, chunk, sent[2], got[2];
  unsigned drop_every, dropped[2];
  int frames_a[2]; /* frames weir_output(_meta) gave A */
};

static const char *run_lockstep(struct lockstep *L)
{
  static uint8_t buf[65536];
  int steps, i, r, b_closed[2] = {0, 0}, a_shut[2] = {0, 0};

  for (i = 0; i < 2; i++)
    if (!world_init(&L->w[i], i, L->now))
      return "set-up failed";
  for (steps = 0; steps < 200000; steps++) {
    uint64_t before[2];
    for (i = 0; i < 2; i++) {
      struct world *w = &L->w[i];
      if (w->as < 0)
        w->as = weir_tcp_accept(w->b, w->ls, NULL, NULL);
      while (L->sent[i] < L->total) {
        size_t n = L->total - L->sent[i];
        if (n > L->chunk)
          n = L->chunk;
        for (size_t k = 0; k < n; k++)
          buf[k] = pat(L->sent[i] + k);
        r = weir_tcp_send(w->a, w->cs, buf, n, L->now);
        if (r <= 0)
          break;
        L->sent[i] += (size_t)r;
        if ((size_t)r < n || L->chunk < 65536)
          break; /* one short write a step: tails for Nagle */
      }
      if (L->sent[i] == L->total && !a_shut[i] &&
          weir_tcp_close(w->a, w->cs, L->now) == 0)
        a_shut[i] = 1;
      while (w->as >= 0 && !b_closed[i]) {
        r = weir_tcp_recv(w->b, w->as, buf, sizeof(buf), L->now);
        if (r == 0) {
          weir_tcp_close(w->b, w->as, L->now);
          b_closed[i] = 1;
        }
        if (r <= 0)
          break;
        for (int k = 0; k < r; k++)
          if (buf[k] != pat(L->got[i] + (size_t)k))
            return "B read bytes that A never sent";
        L->got[i] += (size_t)r;
      }
      before[i] = stat(w->a, WEIR_STAT_FRAMES_OUT);
      if (collect(w, w->a, &w->next_ab, L->now) < 0 ||
          collect(w, w->b, &w->next_ba, L->now) < 0)
        return "a frame too large or a queue overflowed";
      L->frames_a[i] += (int)(stat(w->a, WEIR_STAT_FRAMES_OUT) - before[i]);
      if (w->seen.bad_meta)
        return "a wrong meta or partial checksum";
    }
    /* The same frames on the wire in both worlds, in both directions. */
    for (int d = 0; d < 2; d++) {
      struct fq *p = d ? &L->w[0].next_ba : &L->w[0].next_ab;
      struct fq *o = d ? &L->w[1].next_ba : &L->w[1].next_ab;
      if (p->n != o->n)
        return "the worlds sent different numbers of frames";
      for (int k = 0; k < p->n; k++)
        if (p->len[k] != o->len[k] || memcmp(p->f[k], o->f[k], p->len[k]))
          return "the worlds sent different frames";
    }
    /* 100 us later they arrive; timers run first, as the driver does. */
    L->now += 100;
    for (i = 0; i < 2; i++) {
      struct world *w = &L->w[i];
      struct fq t;
      weir_timers(w->a, L->now);
      weir_timers(w->b, L->now);
      deliver(w->b, &w->ab, L->drop_every, &L->dropped[i], L->now);
      deliver(w->a, &w->ba, 0, NULL, L->now);
      t = w->ab, w->ab = w->next_ab, w->next_ab = t;
      t = w->ba, w->ba = w->next_ba, w->next_ba = t;
    }
    if (b_closed[0] && b_closed[1] && !L->w[0].ab.n && !L->w[0].ba.n &&
        weir_deadline(L->w[0].b) == UINT64_MAX)
      break;
    /* Nothing in flight: on to the next timer. */
    if (!L->w[0].ab.n && !L->w[0].ba.n && !L->w[1].ab.n && !L->w[1].ba.n) {
      uint64_t d = weir_deadline(L->w[0].a), e = weir_deadline(L->w[0].b);
      d = e < d ? e : d;
      if (d != UINT64_MAX && d > L->now)
        L->now = d;
    }
  }
  if (L->got[0] != L->total || L->got[1] != L->total)
    return "B did not get everything";
  return NULL;
}

static void free_lockstep(struct lockstep *L)
{
  world_free(&L->w[0]);
  world_free(&L->w[1]);
}

static void lockstep_check(size_t total, size_t chunk, unsigned drop_every)
{
  struct lockstep *L = calloc(1, sizeof(*L));
  const char *err;

  CHECK(L);
  L->now = 1000000;
  L->total = total;
  L->chunk = chunk;
  L->drop_every = drop_every;
  err = run_lockstep(L);
  if (err) {
    wt_fail(__FILE__, __LINE__, "%s (at %llu us)", err,
            (unsigned long long)L->now);
    free_lockstep(L);
    free(L);
    return;
  }
  /* Super-segments were used, and spared frames. */
  if (L->w[1].seen.supers == 0 || L->w[1].seen.max_pieces < 4 ||
      L->frames_a[1] * 2 > L->frames_a[0]) {
    wt_fail(__FILE__, __LINE__,
            "%d super-segments, at most %d pieces, %d frames vs %d",
            L->w[1].seen.supers, L->w[1].seen.max_pieces, L->frames_a[1],
            L->frames_a[0]);
  } else if (L->w[1].seen.partial == 0) {
    wt_fail(__FILE__, __LINE__, "no partial checksum");
  } else if (stat(L->w[0].a, WEIR_STAT_TCP_SEGS_OUT) !=
                 stat(L->w[1].a, WEIR_STAT_TCP_SEGS_OUT) ||
             stat(L->w[0].a, WEIR_STAT_IP_OUT) !=
                 stat(L->w[1].a, WEIR_STAT_IP_OUT)) {
    wt_fail(__FILE__, __LINE__, "segment counts differ");
  }
  free_lockstep(L);
  free(L);
}

TEST(test_tso_super_segments_carry_what_segments_would)
{
  lockstep_check(4 << 20, 65536, 0);
}

TEST(test_tso_short_writes_keep_nagle_and_tails)
{
  lockstep_check(1 << 20, 10000, 0);
}

TEST(test_tso_nodelay_short_writes)
{
  g_nodelay = 1;
  lockstep_check(1 << 20, 10001, 0);
  g_nodelay = 0;
}

TEST(test_tso_loss_recovery_with_sack_same_segments)
{
  lockstep_check(2 << 20, 65536, 97);
}

TEST(test_tso_loss_recovery_newreno_no_timestamps_same_segments)
{
  g_no_sack = g_no_ts = 1;
  lockstep_check(2 << 20, 65536, 89);
  g_no_sack = g_no_ts = 0;
}

TEST(test_tso_config_needs_checksum_offload_and_fits_ipv4)
{
  struct weir_config c;
  struct weir_stack *s = NULL;

  weir_config_default(&c);
  c.link = WEIR_LINK_IP;
  c.ip = A_IP;
  c.prefix_len = 24;
  c.tx_tso_max = 65535;
  CHECK_EQ(weir_stack_new(&c, &s), WEIR_EINVAL);
  c.tx_csum_offload = 1;
  c.tx_tso_max = 65536;
  CHECK_EQ(weir_stack_new(&c, &s), WEIR_EINVAL);
  c.tx_tso_max = 65535;
  CHECK_EQ(weir_stack_new(&c, &s), 0);
  weir_stack_free(s);
}

/* ----------------------------------------------------------- input */

/* Runs an offload world (A's output cut as usual) until A offers a
 * super-segment of at least `min` data bytes, which is left in w->big,
 * whole and not delivered; returns its length, or 0. */
static size_t grab_super(struct world *w, uint64_t *now, size_t min)
{
  static uint8_t buf[65536];
  struct weir_tx_meta m;
  size_t n;

  for (int steps = 0; steps < 10000; steps++) {
    if (w->as < 0)
      w->as = weir_tcp_accept(w->b, w->ls, NULL, NULL);
    memset(buf, 0x5a, sizeof(buf));
    while (weir_tcp_send(w->a, w->cs, buf, sizeof(buf), *now) > 0)
      ;
    while (w->as >= 0 && weir_tcp_recv(w->b, w->as, buf, sizeof(buf), *now) > 0)
      ;
    while ((n = weir_output_meta(w->a, w->big, BIGMAX, *now, &m)) > 0) {
      if (m.gso_size && n - m.hdr_len >= min)
        return n;
      if (link_out(w->big, n, &m, &w->next_ab, &w->seen) < 0)
        return 0;
    }
    if (collect(w, w->b, &w->next_ba, *now) < 0)
      return 0;
    *now += 100;
    deliver(w->b, &w->next_ab, 0, NULL, *now);
    deliver(w->a, &w->next_ba, 0, NULL, *now);
    weir_timers(w->a, *now);
    weir_timers(w->b, *now);
  }
  return 0;
}

/* The TCP data bytes of a bare IPv4 packet. */
static size_t data_len(const uint8_t *ip)
{
  return weir__get16(ip + 2) - WEIR_IPV4_HLEN -
         (size_t)(ip[WEIR_IPV4_HLEN + 12] >> 4) * 4;
}

static uint64_t received(struct world *w)
{
  struct weir_tcp_info ti;
  if (weir_tcp_info(w->b, w->as, &ti) != 0)
    return 0;
  return ti.bytes_received;
}

TEST(test_rx_partial_checksum_64k_segment_taken_only_with_flag)
{
  struct world w;
  uint64_t now = 1000000, before, drops;
  size_t n;

  CHECK(world_init(&w, 1, now));
  n = grab_super(&w, &now, 60000);
  if (n == 0) {
    world_free(&w);
    CHECK(!"no 60000-byte super-segment");
  }
  before = received(&w);
  drops = stat(w.b, WEIR_STAT_DROP_TCP_CHECKSUM);
  /* As the host hands it over: one segment, checksum not computed. */
  weir_input(w.b, w.big, n, now);
  CHECK_EQ(stat(w.b, WEIR_STAT_DROP_TCP_CHECKSUM), drops + 1);
  CHECK_EQ(received(&w), before);
  weir_input_flags(w.b, w.big, n, now, WEIR_RX_CSUM_PARTIAL);
  CHECK_EQ(stat(w.b, WEIR_STAT_DROP_TCP_CHECKSUM), drops + 1);
  CHECK_UEQ(received(&w), before + data_len(w.big));
  world_free(&w);
}

TEST(test_rx_coalesced_segment_with_full_checksum_taken_without_flag)
{
  struct world w;
  uint64_t now = 1000000, before;
  size_t n, l4;

  CHECK(world_init(&w, 1, now));
  n = grab_super(&w, &now, 30000);
  if (n == 0) {
    world_free(&w);
    CHECK(!"no super-segment");
  }
  /* Complete the checksum, as GRO leaves it: nothing else to know. */
  l4 = n - WEIR_IPV4_HLEN;
  weir__put16(w.big + WEIR_IPV4_HLEN + WEIR_TCP_CSUM_OFF,
              weir_csum_finish(weir_csum_add(0, w.big + WEIR_IPV4_HLEN, l4)));
  before = received(&w);
  weir_input(w.b, w.big, n, now);
  CHECK_UEQ(received(&w), before + data_len(w.big));
  world_free(&w);
}

TEST(test_rx_csum_valid_skips_a_wrong_checksum)
{
  struct world w;
  uint64_t now = 1000000, before;
  size_t n;

  CHECK(world_init(&w, 1, now));
  n = grab_super(&w, &now, 20000); /* past the initial window */
  if (n == 0) {
    world_free(&w);
    CHECK(!"no super-segment");
  }
  weir__put16(w.big + WEIR_IPV4_HLEN + WEIR_TCP_CSUM_OFF, 0xdead);
  before = received(&w);
  weir_input_flags(w.b, w.big, n, now, WEIR_RX_CSUM_VALID);
  CHECK_UEQ(received(&w), before + data_len(w.big));
  world_free(&w);
}

TEST(test_rx_flags_never_cover_reassembled_datagrams)
{
  struct weir_stack *s = mk_stack(WEIR_LINK_IP, NULL);
  uint8_t l4[WEIR_UDP_HLEN + 2000], data[2000], f[FRAME_MAX];
  int sock;
  size_t len, n;

  CHECK(s);
  sock = weir_udp_open(s);
  CHECK_EQ(weir_udp_bind(s, sock, 7), 0);
  memset(data, 0x33, sizeof(data));
  len = mk_udp(l4, PEER_IP, US_IP, 4000, 7, data, sizeof(data));
  weir__put16(l4 + 6,
              (uint16_t)(weir__get16(l4 + 6) ^ 0x0101)); /* a wrong checksum */
  /* In two fragments, each "vouched for": the datagram is still checked. */
  n = mk_ip(f, PEER_IP, US_IP, WEIR_IP_PROTO_UDP, 77, 1, 0, l4, 1480);
  weir_input_flags(s, f, n, 1000, WEIR_RX_CSUM_VALID);
  n = mk_ip(f, PEER_IP, US_IP, WEIR_IP_PROTO_UDP, 77, 0, 1480, l4 + 1480,
            len - 1480);
  weir_input_flags(s, f, n, 1000, WEIR_RX_CSUM_VALID);
  CHECK_EQ(stat(s, WEIR_STAT_REASM_OK), 1);
  CHECK_EQ(stat(s, WEIR_STAT_DROP_UDP_CHECKSUM), 1);
  CHECK_EQ(stat(s, WEIR_STAT_UDP_IN), 0);
  /* Whole, the link's word is taken; without it, the datagram is not. */
  n = mk_ip(f, PEER_IP, US_IP, WEIR_IP_PROTO_UDP, 78, 0, 0, l4, 1400);
  weir__put16(f + WEIR_IPV4_HLEN + 4, 1400);
  weir_input(s, f, n, 1000);
  CHECK_EQ(stat(s, WEIR_STAT_DROP_UDP_CHECKSUM), 2);
  weir_input_flags(s, f, n, 1000, WEIR_RX_CSUM_PARTIAL);
  CHECK_EQ(stat(s, WEIR_STAT_DROP_UDP_CHECKSUM), 2);
  CHECK_EQ(stat(s, WEIR_STAT_UDP_IN), 1);
  weir_stack_free(s);
}
