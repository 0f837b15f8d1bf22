/* The core's own benchmark: two weir stacks in one process, joined by an
 * in-memory link (bare IP) and driven on a virtual clock, so what is timed
 * is the protocol code and nothing else: no sockets, no libuv, no system
 * call inside a timed loop but the clock reads around it.
 *
 *   core bulk [MiB]     A sends MiB (default 1024) to B; goodput per core
 *   core bulk-offload [MiB]  the same over a link with Linux loopback's
 *                       offloads: 64 KiB segments, no checksums
 *   core segments N     N full-size segments in measured_phase(), for
 *                       callgrind --toggle-collect='measured_phase*'
 *   core scale N [MiB]  N idle connections: memory per connection, set-up
 *                       rate, per-segment cost at 1 vs N connections; MiB
 *                       caps what the two stacks may allocate (default 60%
 *                       of free memory)
 *
 * Figures go to stdout as CSV rows (section,case,value,unit,reference,
 * ref_value,goal), explanations to stderr. Any wrong byte, stall or error
 * exits 1.
 *
 * The link copies each frame from weir_output of one stack into weir_input
 * of the other and, like backends/driver.c, lets the receiver answer each
 * frame before the next one: B reads what arrived and its ACKs go back to
 * A at once. Within one pass of the link the clock stands still, so an RTT
 * is one tick of the virtual clock. */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "weir/weir.h"

#define A_IP 0x0a4d0002u /* 10.77.0.2, the sender / client */
#define B_IP 0x0a4d0003u /* 10.77.0.3, the receiver / server */

#define FRAME_CAP 65536  /* a super-segment (offload mode) fits */
#define CHUNK     65536u /* largest send or recv call */
/* Stream byte i is pat[i % PAT_LEN]. A prime length that is no multiple of
 * any segment size: data delivered twice, dropped or out of place no longer
 * matches the pattern at its offset. */
#define PAT_LEN 65521u

#define TICK_US       100u       /* virtual time per pass of the link */
#define STALL_US      60000000u  /* virtual time without progress: stalled */
#define PUMP_MAX      (1u << 22) /* frames per pass of the link */
#define SCALE_PORTS   8          /* server ports: 16384 ephemerals each */
#define SCALE_BATCH   256        /* connects between passes of the link */
#define SCALE_SAMPLE  1024       /* connections the per-segment phase uses */
#define BURST_SEGS    8          /* segments per burst: within IW10 */
#define SCALE_BURSTS  8192       /* bursts per timed per-segment run */
#define SCALE_REPEATS 3          /* timed runs; the fastest counts */

static uint8_t pat[PAT_LEN + CHUNK];

static void pat_init(void)
{
  uint64_t x = 0x9e3779b97f4a7c15u;
  for (uint32_t i = 0; i < PAT_LEN; i++) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    pat[i] = (uint8_t)(x >> 32);
  }
  /* The tail repeats the start so that any offset has CHUNK bytes ahead. */
  for (uint32_t i = PAT_LEN; i < sizeof(pat); i++)
    pat[i] = pat[i - PAT_LEN];
}

/* ---------------------------------------------------------- allocation */

/* Counts what each stack holds. A shared budget makes a core that wants
 * more than the machine has fail with WEIR_ENOMEM, which the bench reports,
 * rather than wake the OOM killer (buffers are zeroed, so touched). */
struct budget {
  size_t limit, used;
};

struct meter {
  size_t in_use, peak;
  struct budget *budget;
};

/* The size sits in front of each block; 16 bytes keep the block aligned. */
#define HDR 16

static void *meter_alloc(void *ctx, size_t n)
{
  struct meter *m = ctx;
  uint8_t *p;
  if (m->budget && n > m->budget->limit - m->budget->used)
    return NULL;
  p = malloc(n + HDR);
  if (!p)
    return NULL;
  memcpy(p, &n, sizeof(n));
  m->in_use += n;
  if (m->in_use > m->peak)
    m->peak = m->in_use;
  if (m->budget)
    m->budget->used += n;
  return p + HDR;
}

static void meter_free(void *ctx, void *ptr)
{
  struct meter *m = ctx;
  uint8_t *p = (uint8_t *)ptr - HDR;
  size_t n;
  memcpy(&n, p, sizeof(n));
  m->in_use -= n;
  if (m->budget)
    m->budget->used -= n;
  free(p);
}

/* ---------------------------------------------------------- the world */

/* One connection as both ends see it, and how far its stream has got. */
struct conn {
  int a, b;            /* handles on A (client) and B (server) */
  uint64_t sent, rcvd; /* stream bytes A's app sent and B's app checked */
};

struct world {
  struct weir_stack *a, *b;
  struct meter ma, mb;
  uint64_t now;
  int bad;     /* B read bytes that do not match the stream */
  int offload; /* the link as Linux's loopback: see bulk_offload_opts */
  uint8_t frame[FRAME_CAP];
  uint8_t rbuf[CHUNK];
};

struct options {
  uint32_t snd_buf, rcv_buf; /* 0: the defaults */
  uint32_t conns;            /* cfg.tcp_max_conns, max_sockets: 0 default */
  struct budget *budget;
  int offload; /* TSO and checksum offload on the link */
};

static int stack_new(struct meter *m, uint32_t ip, uint64_t seed,
                     const struct options *o, struct weir_stack **out)
{
  struct weir_config cfg;
  weir_config_default(&cfg);
  weir_config_seed(&cfg, seed);
  cfg.link = WEIR_LINK_IP;
  cfg.ip = ip;
  cfg.prefix_len = 24;
  cfg.mtu = 1500;
  if (o->snd_buf)
    cfg.tcp_snd_buf = o->snd_buf;
  if (o->rcv_buf)
    cfg.tcp_rcv_buf = o->rcv_buf;
  if (o->conns) {
    /* Room for the listeners and for connections still closing. */
    cfg.tcp_max_conns = o->conns + 64;
    cfg.max_sockets = o->conns + 64;
  }
  if (o->offload) {
    cfg.tx_csum_offload = 1;
    cfg.tx_tso_max = 65535;
  }
  m->budget = o->budget;
  cfg.alloc.alloc = meter_alloc;
  cfg.alloc.free = meter_free;
  cfg.alloc.ctx = m;
  return weir_stack_new(&cfg, out);
}

static int world_init(struct world *w, const struct options *o)
{
  int err;
  memset(w, 0, sizeof(*w));
  w->now = 1000000;
  w->offload = o->offload;
  err = stack_new(&w->ma, A_IP, 1, o, &w->a);
  if (!err)
    err = stack_new(&w->mb, B_IP, 2, o, &w->b);
  if (err)
    fprintf(stderr, "core: weir_stack_new: %s\n", weir_strerror(err));
  return err;
}

static void world_free(struct world *w)
{
  weir_stack_free(w->a);
  weir_stack_free(w->b);
}

/* B's application: takes everything c has for it and checks it. */
static void b_read(struct world *w, struct conn *c)
{
  for (;;) {
    int r = weir_tcp_recv(w->b, c->b, w->rbuf, sizeof(w->rbuf), w->now);
    if (r == WEIR_EAGAIN)
      return;
    if (r <= 0 || memcmp(w->rbuf, pat + c->rcvd % PAT_LEN, (size_t)r) != 0) {
      w->bad = 1;
      return;
    }
    c->rcvd += (uint64_t)r;
  }
}

/* A's application: hands the stream to the core up to byte `until`, as far
 * as the send buffer takes it. */
static int a_write(struct world *w, struct conn *c, uint64_t until)
{
  while (c->sent < until) {
    uint64_t left = until - c->sent;
    size_t n = left < CHUNK ? (size_t)left : CHUNK;
    int r = weir_tcp_send(w->a, c->a, pat + c->sent % PAT_LEN, n, w->now);
    if (r == WEIR_EAGAIN)
      return 0;
    if (r < 0) {
      fprintf(stderr, "core: weir_tcp_send: %s\n", weir_strerror(r));
      return -1;
    }
    c->sent += (uint64_t)r;
  }
  return 0;
}

/* Moves one frame from `from` to `to`, if `from` has one: its length.
 * With offloads the link is Linux's loopback: a super-segment arrives
 * whole and a checksum left partial is trusted, never computed. */
static size_t cross(struct world *w, struct weir_stack *from,
                    struct weir_stack *to)
{
  struct weir_tx_meta m;
  size_t n;
  if (!w->offload) {
    n = weir_output(from, w->frame, sizeof(w->frame), w->now);
    if (n)
      weir_input(to, w->frame, n, w->now);
    return n;
  }
  n = weir_output_meta(from, w->frame, sizeof(w->frame), w->now, &m);
  if (n)
    weir_input_flags(to, w->frame, n, w->now,
                     m.flags & WEIR_TX_CSUM_PARTIAL ? WEIR_RX_CSUM_PARTIAL : 0);
  return n;
}

/* One pass of the link: frames cross until neither stack has any. Each
 * frame A sends is read by B's app (when c is given) and answered before
 * the next, as the driver does. Returns the frames moved, or -1. */
static long pump(struct world *w, struct conn *c)
{
  long moved = 0;
  for (;;) {
    size_t n = cross(w, w->a, w->b);
    int any = n > 0;
    if (n) {
      if (c)
        b_read(w, c);
      moved++;
    }
    while (cross(w, w->b, w->a) > 0) {
      moved++;
      any = 1;
    }
    if (!any)
      return moved;
    if (moved > (long)PUMP_MAX) {
      fprintf(stderr, "core: the link never goes quiet\n");
      return -1;
    }
  }
}

/* The clock moves one tick, or to the next timer if nothing is moving. */
static void advance(struct world *w, int idle)
{
  uint64_t da = weir_deadline(w->a), db = weir_deadline(w->b);
  uint64_t d = da < db ? da : db;
  w->now += TICK_US;
  if (idle && d != UINT64_MAX && d > w->now)
    w->now = d;
  if (da <= w->now)
    weir_timers(w->a, w->now);
  if (db <= w->now)
    weir_timers(w->b, w->now);
}

static uint32_t unacked(struct world *w, struct conn *c)
{
  struct weir_tcp_info ti;
  return weir_tcp_info(w->a, c->a, &ti) == 0 ? ti.unacked : 0;
}

/* Moves c's stream on to byte `until`, delivered, checked and acknowledged.
 * Returns 0, or -1 on wrong bytes, an error or a stall. */
static int transfer(struct world *w, struct conn *c, uint64_t until)
{
  uint64_t last_progress = w->now, last_rcvd = c->rcvd;
  while (c->rcvd < until || unacked(w, c)) {
    long moved;
    if (a_write(w, c, until) < 0 || (moved = pump(w, c)) < 0)
      return -1;
    if (w->bad) {
      fprintf(stderr, "core: B read wrong bytes at stream offset %llu\n",
              (unsigned long long)c->rcvd);
      return -1;
    }
    if (c->rcvd != last_rcvd) {
      last_rcvd = c->rcvd;
      last_progress = w->now;
    } else if (w->now - last_progress > STALL_US) {
      fprintf(stderr, "core: stalled at %llu of %llu bytes\n",
              (unsigned long long)c->rcvd, (unsigned long long)until);
      return -1;
    }
    advance(w, moved == 0);
  }
  return 0;
}

/* Connects c (A to B's listener on `port`); A's side of it only. */
static int open_conn(struct world *w, struct conn *c, uint16_t port)
{
  memset(c, 0, sizeof(*c));
  c->b = -1;
  c->a = weir_tcp_open(w->a);
  if (c->a < 0)
    return c->a;
  return weir_tcp_connect(w->a, c->a, B_IP, port, w->now);
}

/* One connection, A to B port 5000, handshake done. */
static int one_conn(struct world *w, struct conn *c)
{
  int ls = weir_tcp_open(w->b);
  if (ls < 0 || weir_tcp_listen(w->b, ls, 5000, 8) != 0 ||
      open_conn(w, c, 5000) != 0) {
    fprintf(stderr, "core: cannot open a connection\n");
    return -1;
  }
  for (int i = 0; i < 100 && c->b < 0; i++) {
    if (pump(w, NULL) < 0)
      return -1;
    c->b = weir_tcp_accept(w->b, ls, NULL, NULL);
    advance(w, 0);
  }
  if (c->b < 0) {
    fprintf(stderr, "core: the handshake did not complete\n");
    return -1;
  }
  return 0;
}

static double mono_s(clockid_t id)
{
  struct timespec ts;
  clock_gettime(id, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void row(const char *section, const char *what, double value,
                const char *unit, const char *ref, double ref_value,
                const char *goal)
{
  printf("%s,%s,%.*f,%s,%s,", section, what, value < 100 ? 2 : 0, value, unit,
         ref ? ref : "");
  if (ref)
    printf("%.*f", ref_value < 100 ? 2 : 0, ref_value);
  printf(",%s\n", goal ? goal : "");
}

/* ---------------------------------------------------------------- bulk */

/* Big buffers so that the window, not the buffers, sets the pace. */
static const struct options bulk_opts = {4u << 20, 4u << 20, 0, NULL, 0};
/* And with the offloads of Linux's loopback device: segments of up to
 * 64 KiB, checksums neither computed nor verified. What is left is the
 * per-byte cost of the copies in and out of the buffers. */
static const struct options bulk_offload_opts = {4u << 20, 4u << 20, 0, NULL,
                                                 1};

static int bulk(uint64_t mib, const struct options *o)
{
  struct world *w = malloc(sizeof(*w));
  struct conn c;
  uint64_t total = mib << 20;
  double t0, c0, wall, cpu;
  int err = 1;

  if (!w || world_init(w, o) != 0 || one_conn(w, &c) != 0)
    goto out;
  t0 = mono_s(CLOCK_MONOTONIC);
  c0 = mono_s(CLOCK_PROCESS_CPUTIME_ID);
  if (transfer(w, &c, total) != 0)
    goto out;
  wall = mono_s(CLOCK_MONOTONIC) - t0;
  cpu = mono_s(CLOCK_PROCESS_CPUTIME_ID) - c0;
  fprintf(stderr,
          "bulk%s: %llu MiB A->B in %.3f s wall, %.3f s CPU: %.2f Gbit/s "
          "(%.2f per CPU-second); both stacks share the one core\n",
          o->offload ? " (offloads)" : "", (unsigned long long)mib, wall, cpu,
          (double)total * 8 / wall / 1e9, (double)total * 8 / cpu / 1e9);
  if (o->offload) {
    row("core", "bulk A->B (1 core; 64 KiB segments and no checksums)",
        (double)total * 8 / wall / 1e9, "Gbit/s", NULL, 0, NULL);
  } else {
    row("core", "bulk A->B (1 core; MTU 1500)", (double)total * 8 / wall / 1e9,
        "Gbit/s", NULL, 0, ">=40");
    row("core", "bulk A->B per CPU-second (MTU 1500)",
        (double)total * 8 / cpu / 1e9, "Gbit/s", NULL, 0, NULL);
  }
  err = 0;
out:
  if (w)
    world_free(w);
  free(w);
  return err;
}

/* ------------------------------------------------------------ segments */

/* The phase callgrind measures (--toggle-collect='measured_phase*': GCC
 * may name a clone of it measured_phase.constprop.0). */
__attribute__((noinline)) int measured_phase(struct world *w, struct conn *c,
                                             uint64_t until)
{
  return transfer(w, c, until);
}

static int segments(uint64_t n)
{
  struct world *w = malloc(sizeof(*w));
  struct conn c;
  struct weir_tcp_info a0, b0, a1, b1;
  int err = 1;

  if (!w || world_init(w, &bulk_opts) != 0 || one_conn(w, &c) != 0)
    goto out;
  /* Warm-up: past slow start, so the measured segments are steady state. */
  if (transfer(w, &c, 16u << 20) != 0)
    goto out;
  weir_tcp_info(w->a, c.a, &a0);
  weir_tcp_info(w->b, c.b, &b0);
  if (measured_phase(w, &c, c.sent + n * a0.snd_mss) != 0)
    goto out;
  weir_tcp_info(w->a, c.a, &a1);
  weir_tcp_info(w->b, c.b, &b1);
  fprintf(stderr,
          "segments: %llu bytes in %llu segments of %u bytes, %llu ACKs "
          "back, cwnd %u\n",
          (unsigned long long)(b1.bytes_received - b0.bytes_received),
          (unsigned long long)(a1.segs_out - a0.segs_out), a1.snd_mss,
          (unsigned long long)(b1.segs_out - b0.segs_out), a1.cwnd);
  printf("segments_sent %llu\nsegments_received %llu\nacks %llu\n",
         (unsigned long long)(a1.segs_out - a0.segs_out),
         (unsigned long long)(b1.segs_in - b0.segs_in),
         (unsigned long long)(b1.segs_out - b0.segs_out));
  err = 0;
out:
  if (w)
    world_free(w);
  free(w);
  return err;
}

/* --------------------------------------------------------------- scale */

/* Sets up n connections in batches (a SYN flood of n would only measure
 * the SYN backlog). c[i] goes to port 5000 + i % SCALE_PORTS. Returns 0 or
 * -1 with the reason printed. */
static int connect_all(struct world *w, struct conn *c, uint32_t n,
                       const int *listener)
{
  /* B's handle for A's connection, by (listener, A's port). */
  int32_t *by_port = malloc(sizeof(int32_t) * SCALE_PORTS * 65536);
  uint32_t done = 0;
  int err = -1;

  if (!by_port)
    return -1;
  while (done < n) {
    uint32_t k = n - done < SCALE_BATCH ? n - done : SCALE_BATCH, got = 0;
    for (uint32_t i = done; i < done + k; i++) {
      struct weir_tcp_info ti;
      int r = open_conn(w, &c[i], (uint16_t)(5000 + i % SCALE_PORTS));
      if (r < 0) {
        fprintf(stderr, "scale: connection %u of %u: %s\n", i + 1, n,
                weir_strerror(r));
        goto out;
      }
      weir_tcp_info(w->a, c[i].a, &ti);
      by_port[(i % SCALE_PORTS) * 65536 + ti.local_port] = (int32_t)i;
    }
    for (int tries = 0; got < k && tries < 50; tries++) {
      struct weir_event ev;
      if (pump(w, NULL) < 0)
        goto out;
      for (int p = 0; p < SCALE_PORTS; p++) {
        uint16_t rport;
        int s;
        while ((s = weir_tcp_accept(w->b, listener[p], NULL, &rport)) >= 0) {
          c[by_port[p * 65536 + rport]].b = s;
          got++;
        }
        if (s != WEIR_EAGAIN) {
          fprintf(stderr, "scale: accept after %u connections: %s\n",
                  done + got, weir_strerror(s));
          goto out;
        }
      }
      /* The apps would look at these; both queues must not grow. */
      while (weir_next_event(w->a, &ev))
        if (ev.events & (WEIR_EV_RESET | WEIR_EV_ERROR)) {
          fprintf(stderr, "scale: connection reset or failed: %s\n",
                  weir_strerror(weir_sock_error(w->a, ev.sock, NULL, NULL)));
          goto out;
        }
      while (weir_next_event(w->b, &ev))
        ;
      advance(w, got < k);
    }
    if (got < k) {
      fprintf(stderr, "scale: the handshakes did not complete\n");
      goto out;
    }
    done += k;
  }
  err = 0;
out:
  if (err) {
    const struct weir_stats *st = weir_stats(w->b);
    fprintf(stderr,
            "scale: %u of %u connections made; the core's allocations reached "
            "%zu of the %zu MiB allowed; the server dropped %llu SYNs for "
            "lack of memory, %llu for a full backlog\n",
            done, n, (w->ma.in_use + w->mb.in_use) >> 20,
            w->ma.budget ? w->ma.budget->limit >> 20 : 0,
            (unsigned long long)st->c[WEIR_STAT_DROP_TCP_NO_MEM],
            (unsigned long long)st->c[WEIR_STAT_DROP_TCP_BACKLOG]);
  }
  free(by_port);
  return err;
}

/* Bursts of BURST_SEGS segments, round-robin over c[0..n): each delivered,
 * checked and acknowledged before the next, and the apps' events taken. */
static int bursts(struct world *w, struct conn *c, uint32_t n, uint32_t count)
{
  struct weir_event ev;
  for (uint32_t i = 0; i < count; i++) {
    struct conn *x = &c[i % n];
    if (transfer(w, x, x->sent + BURST_SEGS * 1448u) != 0)
      return -1;
    while (weir_next_event(w->a, &ev))
      ;
    while (weir_next_event(w->b, &ev))
      ;
  }
  return 0;
}

/* One function per timed run, so that under callgrind the inclusive cost
 * of each (callgrind_annotate --inclusive=yes) divided by its segments is
 * its Ir per segment. */
typedef int segcost_fn(struct world *w, struct conn *c, uint32_t n);

__attribute__((noinline)) int segcost_1_of_1(struct world *w, struct conn *c,
                                             uint32_t n)
{
  return bursts(w, c, n, SCALE_BURSTS);
}

__attribute__((noinline)) int segcost_1_of_n(struct world *w, struct conn *c,
                                             uint32_t n)
{
  return bursts(w, c, n, SCALE_BURSTS);
}

__attribute__((noinline)) int segcost_s_of_s(struct world *w, struct conn *c,
                                             uint32_t n)
{
  return bursts(w, c, n, SCALE_BURSTS);
}

__attribute__((noinline)) int segcost_s_of_n(struct world *w, struct conn *c,
                                             uint32_t n)
{
  return bursts(w, c, n, SCALE_BURSTS);
}

/* The wall-clock cost of a segment, bursts round-robin over c[0..n): the
 * fastest of a few runs, after a pass that warms every connection up
 * (its first data allocates its buffers). Returns ns, or -1. */
static double ns_per_segment(struct world *w, struct conn *c, uint32_t n,
                             segcost_fn *run, const char *name)
{
  double best = 0;
  uint64_t segs = 0;
  if (bursts(w, c, n, n) != 0)
    return -1;
  for (int r = 0; r < SCALE_REPEATS; r++) {
    uint64_t s0 = weir_stats(w->a)->c[WEIR_STAT_TCP_SEGS_OUT];
    double t0 = mono_s(CLOCK_MONOTONIC), ns;
    if (run(w, c, n) != 0)
      return -1;
    segs = weir_stats(w->a)->c[WEIR_STAT_TCP_SEGS_OUT] - s0;
    ns = (mono_s(CLOCK_MONOTONIC) - t0) * 1e9 / (double)segs;
    if (r == 0 || ns < best)
      best = ns;
  }
  /* core.sh reads this line when it runs the bench under callgrind. */
  fprintf(stderr, "scale: %s: %.1f ns per segment, %d runs of %llu segments\n",
          name, best, SCALE_REPEATS, (unsigned long long)segs);
  return best;
}

static int listen_all(struct world *w, int *listener)
{
  for (int p = 0; p < SCALE_PORTS; p++) {
    listener[p] = weir_tcp_open(w->b);
    if (listener[p] < 0 ||
        weir_tcp_listen(w->b, listener[p], (uint16_t)(5000 + p), 4096) != 0) {
      fprintf(stderr, "scale: cannot listen\n");
      return -1;
    }
  }
  return 0;
}

/* A reference world holding n connections, all idle but those measured:
 * the cost per segment of bursts over c[0..active). */
static double reference(const struct options *o, uint32_t n, uint32_t active,
                        segcost_fn *run, const char *name)
{
  struct world *w = malloc(sizeof(*w));
  struct conn *c = calloc(n, sizeof(*c));
  int listener[SCALE_PORTS];
  double ns = -1;
  if (w && c && world_init(w, o) == 0) {
    if (listen_all(w, listener) == 0 && connect_all(w, c, n, listener) == 0)
      ns = ns_per_segment(w, c, active, run, name);
    world_free(w);
  }
  free(w);
  free(c);
  return ns;
}

static int scale(uint32_t n, uint64_t budget_mib)
{
  struct budget budget = {0, 0};
  struct options o = {0, 0, n, &budget, 0};
  struct world *w = malloc(sizeof(*w));
  struct conn *c = calloc(n, sizeof(*c)), *sample = NULL;
  uint32_t ns = n < SCALE_SAMPLE ? n : SCALE_SAMPLE;
  int listener[SCALE_PORTS], err = 1;
  size_t base_a, base_b;
  double t0, setup, per_a, per_b, one_ref, one_n, s_ref = 0, s_n = 0;
  char what[128], ref[128];

  if (budget_mib)
    budget.limit = (size_t)budget_mib << 20;
  else
    budget.limit = (size_t)sysconf(_SC_AVPHYS_PAGES) / 10 * 6 *
                   (size_t)sysconf(_SC_PAGESIZE);
  if (!w || !c || world_init(w, &o) != 0)
    goto out0;
  fprintf(stderr,
          "scale: tcp_snd_buf %u, tcp_rcv_buf %u (defaults), "
          "tcp_max_conns = max_sockets = %u; core allocations capped at "
          "%zu MiB\n",
          weir_stack_config(w->a)->tcp_snd_buf,
          weir_stack_config(w->a)->tcp_rcv_buf, n + 64, budget.limit >> 20);
  if (listen_all(w, listener) != 0)
    goto out;
  base_a = w->ma.in_use;
  base_b = w->mb.in_use;
  fprintf(stderr,
          "scale: with 0 connections the client stack holds %zu bytes, the "
          "server %zu (tables sized for %u)\n",
          base_a, base_b, n + 64);

  t0 = mono_s(CLOCK_MONOTONIC);
  if (connect_all(w, c, n, listener) != 0) {
    fprintf(stderr,
            "scale: FAILED to set up %u connections; the stacks hold %zu + "
            "%zu bytes\n",
            n, w->ma.in_use, w->mb.in_use);
    goto out;
  }
  setup = mono_s(CLOCK_MONOTONIC) - t0;
  per_a = (double)(w->ma.in_use - base_a) / n;
  per_b = (double)(w->mb.in_use - base_b) / n;
  fprintf(stderr,
          "scale: %u connections set up in %.3f s (%.0f conn/s); idle, "
          "client %.0f + server %.0f bytes each; in all %zu + %zu bytes "
          "(peaks %zu, %zu)\n",
          n, setup, n / setup, per_a, per_b, w->ma.in_use, w->mb.in_use,
          w->ma.peak, w->mb.peak);

  /* Per segment: one active connection, then a sample spread over the
   * whole table, each against a world holding only what is active. The
   * sample's buffers are what make it dearer than one connection; the
   * comparison shows what the idle ones add. */
  sample = malloc(sizeof(*sample) * ns);
  if (!sample)
    goto out;
  for (uint32_t i = 0; i < ns; i++)
    sample[i] = c[(uint64_t)i * n / ns];
  snprintf(what, sizeof(what), "1 active of %u", n);
  if ((one_n = ns_per_segment(w, &c[n / 2], 1, segcost_1_of_n, what)) < 0)
    goto out;
  if (ns < n) {
    snprintf(what, sizeof(what), "%u active of %u", ns, n);
    if ((s_n = ns_per_segment(w, sample, ns, segcost_s_of_n, what)) < 0)
      goto out;
  }
  /* The big world goes first: the references need little memory. */
  world_free(w);
  free(w);
  w = NULL;
  if ((one_ref = reference(&o, 1, 1, segcost_1_of_1, "1 active of 1")) < 0)
    goto out0;
  if (ns < n) {
    snprintf(what, sizeof(what), "%u active of %u", ns, ns);
    if ((s_ref = reference(&o, ns, ns, segcost_s_of_s, what)) < 0)
      goto out0;
  }

  snprintf(what, sizeof(what), "memory per connection (%u idle)", n);
  row("scale", what, per_a + per_b, "bytes", NULL, 0, "<=10737");
  snprintf(what, sizeof(what), "memory per connection, client stack (%u idle)",
           n);
  row("scale", what, per_a, "bytes", NULL, 0, NULL);
  snprintf(what, sizeof(what), "memory per connection, server stack (%u idle)",
           n);
  row("scale", what, per_b, "bytes", NULL, 0, NULL);
  snprintf(what, sizeof(what), "set-up rate (%u conns)", n);
  row("scale", what, n / setup, "conn/s", NULL, 0, ">=100000");
  snprintf(what, sizeof(what), "ns per segment at %u conns", n);
  row("scale", what, one_n, "ns", "ns per segment at 1 conn", one_ref,
      "<=1.10");
  if (ns < n) {
    snprintf(what, sizeof(what), "ns per segment at %u conns (%u active)", n,
             ns);
    snprintf(ref, sizeof(ref), "ns per segment at %u conns (%u active)", ns,
             ns);
    row("scale", what, s_n, "ns", ref, s_ref, "<=1.10");
  }
  err = 0;
out:
  if (w)
    world_free(w);
out0:
  if (err)
    fprintf(stderr, "scale: FAILED\n");
  free(sample);
  free(c);
  free(w);
  return err;
}

/* ---------------------------------------------------------------- main */

static int usage(void)
{
  fprintf(stderr, "usage: core bulk [MiB] | bulk-offload [MiB] | segments N | "
                  "scale N [MiB]\n");
  return 2;
}

static int number(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
  char *end;
  unsigned long long v;
  errno = 0;
  v = strtoull(s, &end, 10);
  if (errno || end == s || *end || *s == '-' || v < min || v > max)
    return -1;
  *out = v;
  return 0;
}

int main(int argc, char **argv)
{
  uint64_t n = 0, mib = 0;
  pat_init();
  if (argc < 2)
    return usage();
  if ((strcmp(argv[1], "bulk") == 0 || strcmp(argv[1], "bulk-offload") == 0) &&
      argc <= 3) {
    n = 1024;
    if (argc == 3 && number(argv[2], 1, 1u << 20, &n) != 0)
      return usage();
    return bulk(n, argv[1][4] ? &bulk_offload_opts : &bulk_opts);
  }
  if (strcmp(argv[1], "segments") == 0 && argc == 3) {
    if (number(argv[2], 1, 1u << 24, &n) != 0)
      return usage();
    return segments(n);
  }
  if (strcmp(argv[1], "scale") == 0 && (argc == 3 || argc == 4)) {
    if (number(argv[2], 1, 1000000, &n) != 0 ||
        (argc == 4 && number(argv[3], 1, 1u << 30, &mib) != 0))
      return usage();
    return scale((uint32_t)n, mib);
  }
  return usage();
}
