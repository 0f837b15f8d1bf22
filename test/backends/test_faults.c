/* Tests of the fault injector (backends/faults.c), the capture writer
 * (backends/capture.c) and the driver's virtual clock (backends/driver.c
 * with a recording for a link), all offline: no device, no real waiting. */
#include <errno.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "capture.h"
#include "driver.h"
#include "faults.h"
#include "harness/test.h"
#include "wire/arp.h"
#include "wire/ethernet.h"
#include "wire/icmp.h"
#include "wire/ipv4.h"

/* ------------------------------------------------------ fault injector */

#define SEEN_MAX 512

/* What the injector let through, in order. */
struct seen {
  unsigned n;
  struct {
    enum weir_faults_dir dir;
    size_t len;
    uint8_t b[64];
  } f[SEEN_MAX];
};

static void record(void *ctx, enum weir_faults_dir dir, const uint8_t *frame,
                   size_t len)
{
  struct seen *s = ctx;

  if (s->n >= SEEN_MAX)
    return;
  s->f[s->n].dir = dir;
  s->f[s->n].len = len;
  memcpy(s->f[s->n].b, frame, len < 64 ? len : 64);
  s->n++;
}

/* Frame i: 32 bytes, the first two its number. */
static void mk_frame(uint8_t *b, unsigned i)
{
  memset(b, 0xa5, 32);
  b[0] = (uint8_t)(i >> 8);
  b[1] = (uint8_t)i;
}

static unsigned frame_no(const struct seen *s, unsigned k)
{
  return (unsigned)s->f[k].b[0] << 8 | s->f[k].b[1];
}

static int init(struct weir_faults *f, const struct weir_faults_params *p,
                uint64_t seed, size_t link_hdr, struct seen *s)
{
  memset(s, 0, sizeof(*s));
  return weir_faults_init(f, p, p, seed, link_hdr, 2048, record, s);
}

TEST(test_faults_off_pass_every_frame_at_once)
{
  struct weir_faults f;
  struct weir_faults_params none;
  static struct seen s;
  uint8_t b[32];
  unsigned i;

  memset(&none, 0, sizeof(none));
  CHECK_EQ(init(&f, &none, 1, 0, &s), 0);
  CHECK(!weir_faults_active(&f, WEIR_FAULTS_IN));
  CHECK(!weir_faults_active(&f, WEIR_FAULTS_OUT));
  for (i = 0; i < 100; i++) {
    mk_frame(b, i);
    weir_faults_frame(&f, i % 2 ? WEIR_FAULTS_OUT : WEIR_FAULTS_IN, b, 32, i);
  }
  CHECK_EQ(s.n, 100);
  for (i = 0; i < 100; i++)
    CHECK_EQ(frame_no(&s, i), i);
  CHECK_UEQ(weir_faults_next(&f), UINT64_MAX);
  weir_faults_free(&f);
}

/* n frames through dir with p; returns how many came out. */
static unsigned push(struct weir_faults *f, struct seen *s,
                     enum weir_faults_dir dir, unsigned n)
{
  uint8_t b[32];
  unsigned i;

  for (i = 0; i < n; i++) {
    mk_frame(b, i);
    weir_faults_frame(f, dir, b, 32, 1000 * (uint64_t)i);
  }
  return s->n;
}

TEST(test_faults_loss_rate_is_near_p_and_counted)
{
  struct weir_faults f;
  struct weir_faults_params p;
  static struct seen s;
  unsigned got;

  memset(&p, 0, sizeof(p));
  p.loss = 0.05;
  CHECK_EQ(init(&f, &p, 42, 0, &s), 0);
  /* More than SEEN_MAX frames: only the counts matter here. */
  got = push(&f, &s, WEIR_FAULTS_OUT, 10000);
  (void)got;
  CHECK_UEQ(f.side[WEIR_FAULTS_OUT].stats.frames, 10000);
  CHECK(f.side[WEIR_FAULTS_OUT].stats.lost > 400);
  CHECK(f.side[WEIR_FAULTS_OUT].stats.lost < 600);
  CHECK_UEQ(f.side[WEIR_FAULTS_IN].stats.frames, 0);
  weir_faults_free(&f);
}

TEST(test_faults_same_seed_same_fate_other_seed_other)
{
  struct weir_faults_params p;
  struct weir_faults f;
  static struct seen a, b, c;

  memset(&p, 0, sizeof(p));
  p.loss = 0.2;
  p.dup = 0.1;
  CHECK_EQ(init(&f, &p, 7, 0, &a), 0);
  push(&f, &a, WEIR_FAULTS_IN, 200);
  weir_faults_free(&f);
  CHECK_EQ(init(&f, &p, 7, 0, &b), 0);
  push(&f, &b, WEIR_FAULTS_IN, 200);
  weir_faults_free(&f);
  CHECK_EQ(init(&f, &p, 8, 0, &c), 0);
  push(&f, &c, WEIR_FAULTS_IN, 200);
  weir_faults_free(&f);
  CHECK_EQ(a.n, b.n);
  CHECK(memcmp(&a, &b, sizeof(a)) == 0);
  CHECK(a.n != c.n || memcmp(&a, &c, sizeof(a)) != 0);
}

/* The Nth frame of a direction meets the same fate whatever the other
 * direction carries. */
TEST(test_faults_directions_draw_from_streams_of_their_own)
{
  struct weir_faults_params p;
  struct weir_faults f;
  static struct seen a, b;
  uint8_t fr[32];
  unsigned i, k, na = 0, nb = 0;

  memset(&p, 0, sizeof(p));
  p.loss = 0.3;
  CHECK_EQ(init(&f, &p, 5, 0, &a), 0);
  push(&f, &a, WEIR_FAULTS_IN, 100);
  weir_faults_free(&f);
  CHECK_EQ(init(&f, &p, 5, 0, &b), 0);
  for (i = 0; i < 100; i++) {
    mk_frame(fr, i);
    weir_faults_frame(&f, WEIR_FAULTS_OUT, fr, 32, 0);
    weir_faults_frame(&f, WEIR_FAULTS_IN, fr, 32, 0);
  }
  weir_faults_free(&f);
  for (k = 0; k < b.n; k++)
    if (b.f[k].dir == WEIR_FAULTS_IN) {
      CHECK(na < a.n);
      CHECK_EQ(frame_no(&b, k), frame_no(&a, na));
      na++;
    } else {
      nb++;
    }
  CHECK_EQ(na, a.n);
  CHECK(nb > 50);
}

TEST(test_faults_corrupt_flips_one_bit_past_the_link_header)
{
  struct weir_faults_params p;
  struct weir_faults f;
  static struct seen s;
  uint8_t b[32];
  unsigned i, k, bits;

  memset(&p, 0, sizeof(p));
  p.corrupt = 1;
  CHECK_EQ(init(&f, &p, 3, 14, &s), 0);
  for (i = 0; i < 50; i++) {
    mk_frame(b, 0);
    weir_faults_frame(&f, WEIR_FAULTS_OUT, b, 32, 0);
  }
  CHECK_EQ(s.n, 50);
  CHECK_UEQ(f.side[WEIR_FAULTS_OUT].stats.corrupted, 50);
  mk_frame(b, 0);
  for (i = 0; i < s.n; i++) {
    CHECK_EQ(s.f[i].len, 32);
    CHECK(memcmp(s.f[i].b, b, 14) == 0); /* the link header is spared */
    bits = 0;
    for (k = 14; k < 32; k++)
      bits += (unsigned)__builtin_popcount(s.f[i].b[k] ^ b[k]);
    CHECK_EQ(bits, 1);
  }
  weir_faults_free(&f);
}

/* On bare IP, what tells a capture's frames apart (the version and the
 * source address) is never touched, and one bit still flips. */
TEST(test_faults_corrupt_spares_version_and_source_on_bare_ip)
{
  struct weir_faults_params p;
  struct weir_faults f;
  static struct seen s;
  uint8_t b[32];
  unsigned i, k, bits, hit[32] = {0};

  memset(&p, 0, sizeof(p));
  p.corrupt = 1;
  CHECK_EQ(init(&f, &p, 4, 0, &s), 0);
  for (i = 0; i < 400; i++) {
    mk_frame(b, 0);
    weir_faults_frame(&f, WEIR_FAULTS_IN, b, 32, 0);
  }
  mk_frame(b, 0);
  CHECK_EQ(s.n, 400);
  for (i = 0; i < s.n; i++) {
    bits = 0;
    for (k = 0; k < 32; k++) {
      bits += (unsigned)__builtin_popcount(s.f[i].b[k] ^ b[k]);
      hit[k] += s.f[i].b[k] != b[k];
    }
    CHECK_EQ(bits, 1);
  }
  CHECK_EQ(hit[0], 0);
  for (k = 12; k < 16; k++)
    CHECK_EQ(hit[k], 0);
  CHECK(hit[1] > 0 && hit[11] > 0 && hit[16] > 0 && hit[31] > 0);
  weir_faults_free(&f);
}

TEST(test_faults_dup_passes_a_frame_twice_back_to_back)
{
  struct weir_faults_params p;
  struct weir_faults f;
  static struct seen s;
  unsigned i;

  memset(&p, 0, sizeof(p));
  p.dup = 1;
  CHECK_EQ(init(&f, &p, 3, 0, &s), 0);
  push(&f, &s, WEIR_FAULTS_IN, 20);
  CHECK_EQ(s.n, 40);
  for (i = 0; i < 40; i++)
    CHECK_EQ(frame_no(&s, i), i / 2);
  CHECK_UEQ(f.side[WEIR_FAULTS_IN].stats.duplicated, 20);
  weir_faults_free(&f);
}

/* A reordered frame comes out after 1 to 3 later ones, never before and
 * never lost; frames not reordered keep their order among themselves. */
TEST(test_faults_reorder_lets_1_to_3_later_frames_pass)
{
  struct weir_faults_params p;
  struct weir_faults f;
  static struct seen s;
  unsigned pos[200], i, k, passed, moved = 0;

  memset(&p, 0, sizeof(p));
  p.reorder = 0.1;
  CHECK_EQ(init(&f, &p, 11, 0, &s), 0);
  push(&f, &s, WEIR_FAULTS_OUT, 200);
  /* The tail may still be held: release it by the deadline. */
  weir_faults_release(&f, UINT64_MAX - 1);
  CHECK_EQ(s.n, 200);
  for (k = 0; k < 200; k++)
    pos[frame_no(&s, k)] = k;
  for (i = 0; i < 200; i++) {
    /* Later frames that came out before frame i. */
    passed = 0;
    for (k = i + 1; k < 200; k++)
      passed += pos[k] < pos[i];
    CHECK(passed <= 3);
    moved += passed > 0;
  }
  CHECK(moved > 5);
  CHECK_UEQ(f.side[WEIR_FAULTS_OUT].stats.reordered, moved);
  weir_faults_free(&f);
}

TEST(test_faults_reordered_frame_alone_goes_at_its_deadline)
{
  struct weir_faults_params p;
  struct weir_faults f;
  static struct seen s;
  uint8_t b[32];

  memset(&p, 0, sizeof(p));
  p.reorder = 1;
  CHECK_EQ(init(&f, &p, 1, 0, &s), 0);
  mk_frame(b, 9);
  weir_faults_frame(&f, WEIR_FAULTS_IN, b, 32, 5000);
  CHECK_EQ(s.n, 0);
  CHECK_UEQ(weir_faults_next(&f), 5000 + WEIR_FAULTS_REORDER_MAX_US);
  weir_faults_release(&f, 5000 + WEIR_FAULTS_REORDER_MAX_US - 1);
  CHECK_EQ(s.n, 0);
  weir_faults_release(&f, 5000 + WEIR_FAULTS_REORDER_MAX_US);
  CHECK_EQ(s.n, 1);
  CHECK_EQ(frame_no(&s, 0), 9);
  CHECK_UEQ(weir_faults_next(&f), UINT64_MAX);
  weir_faults_free(&f);
}

TEST(test_faults_delay_holds_each_frame_its_time_in_order)
{
  struct weir_faults_params p;
  struct weir_faults f;
  static struct seen s;
  uint8_t b[32];
  unsigned i;

  memset(&p, 0, sizeof(p));
  p.delay_us = 20000;
  CHECK_EQ(init(&f, &p, 1, 0, &s), 0);
  for (i = 0; i < 10; i++) {
    mk_frame(b, i);
    weir_faults_frame(&f, WEIR_FAULTS_OUT, b, 32, 1000 * (uint64_t)i);
  }
  CHECK_EQ(s.n, 0);
  CHECK_UEQ(weir_faults_next(&f), 20000);
  weir_faults_release(&f, 24500);
  CHECK_EQ(s.n, 5); /* sent at 0..4 ms, due at 20..24 ms */
  weir_faults_release(&f, 40000);
  CHECK_EQ(s.n, 10);
  for (i = 0; i < 10; i++)
    CHECK_EQ(frame_no(&s, i), i);
  CHECK_UEQ(f.side[WEIR_FAULTS_OUT].stats.delayed, 10);
  weir_faults_free(&f);
}

TEST(test_faults_full_delay_line_drops_and_counts)
{
  struct weir_faults_params p;
  struct weir_faults f;
  static struct seen s;

  memset(&p, 0, sizeof(p));
  p.delay_us = 1000000;
  CHECK_EQ(init(&f, &p, 1, 0, &s), 0);
  push(&f, &s, WEIR_FAULTS_IN, WEIR_FAULTS_DELAY_SLOTS + 10);
  CHECK_UEQ(f.side[WEIR_FAULTS_IN].stats.overflow, 10);
  CHECK_UEQ(f.side[WEIR_FAULTS_IN].stats.delayed, WEIR_FAULTS_DELAY_SLOTS);
  /* Draining lets the held ones go at once, in order. */
  weir_faults_drain(&f, WEIR_FAULTS_IN);
  CHECK_EQ(s.n, SEEN_MAX);
  CHECK_EQ(frame_no(&s, 0), 0);
  CHECK_EQ(frame_no(&s, SEEN_MAX - 1), SEEN_MAX - 1);
  CHECK_UEQ(weir_faults_next(&f), UINT64_MAX);
  weir_faults_free(&f);
}

/* -------------------------------------------------------------- capture */

TEST(test_capture_file_reads_back_in_libpcap)
{
  char path[] = "/tmp/weir-test-capture.XXXXXX", err[160];
  char ebuf[PCAP_ERRBUF_SIZE];
  struct weir_capture c;
  struct pcap_pkthdr *h;
  const u_char *data;
  uint8_t a[60], b[1500];
  pcap_t *p;
  int fd;

  fd = mkstemp(path);
  CHECK(fd >= 0);
  close(fd);
  memset(a, 1, sizeof(a));
  memset(b, 2, sizeof(b));
  CHECK_EQ(weir_capture_open(&c, path, WEIR_LINK_ETHERNET, err, sizeof(err)),
           0);
  CHECK_EQ(weir_capture_write(&c, 12345678901ull, a, sizeof(a)), 0);
  CHECK_EQ(weir_capture_write(&c, 12345678902ull, b, sizeof(b)), 0);
  CHECK_UEQ(c.frames, 2);
  CHECK_EQ(weir_capture_close(&c), 0);

  p = pcap_open_offline(path, ebuf);
  unlink(path);
  CHECK(p != NULL);
  CHECK_EQ(pcap_datalink(p), DLT_EN10MB);
  CHECK_EQ(pcap_next_ex(p, &h, &data), 1);
  CHECK_EQ(h->ts.tv_sec, 12345);
  CHECK_EQ(h->ts.tv_usec, 678901);
  CHECK_EQ(h->caplen, sizeof(a));
  CHECK(memcmp(data, a, sizeof(a)) == 0);
  CHECK_EQ(pcap_next_ex(p, &h, &data), 1);
  CHECK_EQ(h->ts.tv_usec, 678902);
  CHECK_EQ(h->len, sizeof(b));
  CHECK(memcmp(data, b, sizeof(b)) == 0);
  CHECK_EQ(pcap_next_ex(p, &h, &data), PCAP_ERROR_BREAK);
  pcap_close(p);
}

TEST(test_capture_raw_ip_link_type_and_bad_path)
{
  char path[] = "/tmp/weir-test-capture.XXXXXX", err[160];
  char ebuf[PCAP_ERRBUF_SIZE];
  struct weir_capture c;
  pcap_t *p;
  int fd;

  fd = mkstemp(path);
  CHECK(fd >= 0);
  close(fd);
  CHECK_EQ(weir_capture_open(&c, path, WEIR_LINK_IP, err, sizeof(err)), 0);
  weir_capture_close(&c);
  p = pcap_open_offline(path, ebuf);
  unlink(path);
  CHECK(p != NULL);
  CHECK_EQ(pcap_datalink(p), DLT_RAW);
  pcap_close(p);

  CHECK_EQ(weir_capture_open(&c, "/nonexistent/dir/x.pcap", WEIR_LINK_IP, err,
                             sizeof(err)),
           -ENOENT);
  CHECK(strstr(err, "/nonexistent/dir/x.pcap") != NULL);
}

/* ---------------------------------------------- the driver, virtual time */

/* Us: 10.77.0.2/24 at 02:00:00:00:00:02, the peer 10.77.0.9. */
#define V_US_IP   0x0a4d0002u
#define V_PEER_IP 0x0a4d0009u
#define V_FRAMES  8
#define V_OUT     64

static const uint8_t V_US_MAC[6] = {0x02, 0, 0, 0, 0, 0x02};

/* A recording in memory: frames with their times; what the driver sends
 * is kept with weir_driver_now() at the time. */
struct tape {
  struct weir_driver *d;
  unsigned n, next;
  uint64_t at[V_FRAMES];
  size_t len[V_FRAMES];
  uint8_t frame[V_FRAMES][128];
  unsigned nout;
  uint64_t out_at[V_OUT];
  size_t out_len[V_OUT];
  uint8_t out[V_OUT][128];
  int eof;
  int closed;
};

static struct tape *tape_of(struct weir_link *l)
{
  return l->state;
}

static long tape_recv(struct weir_link *l, uint8_t *buf, size_t cap)
{
  struct tape *t = tape_of(l);

  if (t->next >= t->n || t->len[t->next] > cap)
    return 0;
  memcpy(buf, t->frame[t->next], t->len[t->next]);
  return (long)t->len[t->next++];
}

static int tape_send(struct weir_link *l, const uint8_t *buf, size_t len)
{
  struct tape *t = tape_of(l);

  if (t->nout < V_OUT && len <= sizeof(t->out[0])) {
    t->out_at[t->nout] = weir_driver_now(t->d);
    t->out_len[t->nout] = len;
    memcpy(t->out[t->nout], buf, len);
  }
  t->nout++;
  return 1;
}

static uint64_t tape_next_at(struct weir_link *l)
{
  struct tape *t = tape_of(l);

  return t->next < t->n ? t->at[t->next] : UINT64_MAX;
}

static int tape_open(struct weir_link *l, const struct weir_link_params *p)
{
  (void)l;
  (void)p;
  return 0;
}

static void tape_close(struct weir_link *l)
{
  l->fd = -1;
}

static const struct weir_link_ops tape_ip = {
    .name = "tape-ip",
    .type = WEIR_LINK_IP,
    .open = tape_open,
    .close = tape_close,
    .recv = tape_recv,
    .send = tape_send,
};

static const struct weir_link_ops tape_eth = {
    .name = "tape-eth",
    .type = WEIR_LINK_ETHERNET,
    .open = tape_open,
    .close = tape_close,
    .recv = tape_recv,
    .send = tape_send,
};

static void tape_eof(struct weir_driver *d, int err, void *user)
{
  struct tape *t = user;

  t->eof = err == UV_EOF ? 1 : -1;
  weir_driver_close(d, NULL);
}

/* An echo request from the peer, seq `seq`, as a bare IPv4 packet. */
static size_t v_echo(uint8_t *buf, uint16_t seq)
{
  uint8_t data[16];
  struct weir_icmp m;
  struct weir_ipv4 h;
  size_t n;

  memset(data, (int)seq, sizeof(data));
  memset(&m, 0, sizeof(m));
  m.type = WEIR_ICMP_ECHO_REQUEST;
  m.id = 0x5157;
  m.seq = seq;
  n = weir_icmp_emit(&m, data, sizeof(data), buf + WEIR_IPV4_HLEN, 100);
  memset(&h, 0, sizeof(h));
  h.total_len = (uint16_t)(WEIR_IPV4_HLEN + n);
  h.id = seq;
  h.ttl = 64;
  h.proto = WEIR_IP_PROTO_ICMP;
  h.src = V_PEER_IP;
  h.dst = V_US_IP;
  weir_ipv4_emit(&h, buf, WEIR_IPV4_HLEN);
  return WEIR_IPV4_HLEN + n;
}

/* Runs the driver over tape t (its frames set) until the recording is
 * over, with opts' faults and horizon; the stack is built on the tape's
 * link type. Returns the real time taken in microseconds, or -1. */
static long run_tape_ex(struct tape *t, const struct weir_link_ops *ops,
                        uint64_t start, uint64_t horizon,
                        void (*app)(struct weir_stack *, uint64_t),
                        struct weir_faults *faults, struct weir_capture *cap)
{
  struct weir_link_params lp;
  struct weir_driver_opts o;
  struct weir_driver d;
  struct weir_config cfg;
  struct weir_stack *s;
  struct weir_link link;
  uv_loop_t loop;
  uint64_t t0;
  int i;

  memset(&lp, 0, sizeof(lp));
  if (weir_link_open(&link, ops, &lp) < 0)
    return -1;
  link.state = t;
  link.mtu = 1500;
  weir_config_default(&cfg);
  cfg.link = ops->type;
  memcpy(cfg.mac, V_US_MAC, 6);
  cfg.ip = V_US_IP;
  cfg.prefix_len = 24;
  weir_config_seed(&cfg, 7);
  if (weir_stack_new(&cfg, &s) != 0)
    return -1;
  uv_loop_init(&loop);
  memset(&o, 0, sizeof(o));
  o.virtual_time = 1;
  o.virtual_start = start;
  o.next_at = tape_next_at;
  o.horizon_us = horizon;
  o.faults = faults;
  o.capture = cap;
  t->d = &d;
  t0 = uv_hrtime();
  if (weir_driver_init_ex(&d, &loop, s, &link, &o, NULL, tape_eof, t) != 0)
    return -1;
  if (app) {
    app(s, weir_driver_now(&d));
    weir_driver_kick(&d);
  }
  for (i = 0; i < 100000 && uv_loop_alive(&loop); i++)
    uv_run(&loop, UV_RUN_ONCE);
  t0 = (uv_hrtime() - t0) / 1000;
  uv_loop_close(&loop);
  weir_stack_free(s);
  weir_link_close(&link);
  return (long)t0;
}

static long run_tape(struct tape *t, const struct weir_link_ops *ops,
                     uint64_t start, uint64_t horizon,
                     void (*app)(struct weir_stack *, uint64_t))
{
  return run_tape_ex(t, ops, start, horizon, app, NULL, NULL);
}

TEST(test_driver_virtual_time_answers_at_the_recorded_times)
{
  static struct tape t;
  static const uint64_t at[4] = {5000000, 5000000, 5250000, 9000000};
  struct weir_ipv4 h;
  struct weir_icmp m;
  unsigned i;

  memset(&t, 0, sizeof(t));
  for (i = 0; i < 4; i++) {
    t.at[i] = at[i];
    t.len[i] = v_echo(t.frame[i], (uint16_t)i);
  }
  t.n = 4;
  CHECK(run_tape(&t, &tape_ip, 4000000, 10000000, NULL) >= 0);
  CHECK_EQ(t.eof, 1);
  CHECK_EQ(t.nout, 4);
  for (i = 0; i < 4; i++) {
    CHECK_UEQ(t.out_at[i], at[i]);
    CHECK_EQ(weir_ipv4_parse(&h, t.out[i], t.out_len[i]), 0);
    CHECK_EQ(weir_icmp_parse(&m, h.payload, h.payload_len), 0);
    CHECK_EQ(m.type, WEIR_ICMP_ECHO_REPLY);
    CHECK_EQ(m.seq, i);
  }
}

/* weir sends to a neighbour nobody answers for: its ARP retries run on
 * the core's timers, in virtual time, as fast as the CPU goes. */
static void send_to_nobody(struct weir_stack *s, uint64_t now)
{
  static const uint8_t hello[] = "hello";
  int sock = weir_udp_open(s);

  weir_udp_bind(s, sock, 0);
  weir_udp_sendto(s, sock, hello, sizeof(hello), V_PEER_IP, 7, now);
}

TEST(test_driver_virtual_time_runs_timers_without_waiting)
{
  static struct tape a, b;
  struct weir_config cfg;
  long took;
  unsigned i;

  weir_config_default(&cfg);
  memset(&a, 0, sizeof(a));
  took = run_tape(&a, &tape_eth, 1000000, 60000000, send_to_nobody);
  CHECK(took >= 0);
  CHECK_EQ(a.eof, 1);
  /* One request per retry, arp_retry_us apart, from the start. */
  CHECK_EQ(a.nout, cfg.arp_retries);
  for (i = 0; i < a.nout; i++)
    CHECK_UEQ(a.out_at[i], 1000000 + i * cfg.arp_retry_us);
  CHECK(took < 1000000); /* seconds of virtual time, not of real time */

  /* The same again: the same frames at the same times. */
  memset(&b, 0, sizeof(b));
  CHECK(run_tape(&b, &tape_eth, 1000000, 60000000, send_to_nobody) >= 0);
  CHECK_EQ(b.nout, a.nout);
  CHECK(memcmp(b.out_at, a.out_at, sizeof(a.out_at)) == 0);
  CHECK(memcmp(b.out, a.out, sizeof(a.out)) == 0);
}

TEST(test_driver_virtual_time_stops_at_the_horizon)
{
  static struct tape t;
  struct weir_config cfg;

  weir_config_default(&cfg);
  memset(&t, 0, sizeof(t));
  /* Past the recording's end, timers run for less than one retry. */
  CHECK(run_tape(&t, &tape_eth, 1000000, cfg.arp_retry_us - 1,
                 send_to_nobody) >= 0);
  CHECK_EQ(t.eof, 1);
  CHECK_EQ(t.nout, 1);
}

/* A delay line on the way out: the answers leave exactly --delay later,
 * on the virtual clock; the capture has both directions, stamped with
 * it, outbound frames when they really left. */
TEST(test_driver_virtual_time_delays_and_captures_on_its_clock)
{
  static struct tape t;
  static const uint64_t at[3] = {2000000, 2001000, 2500000};
  char path[] = "/tmp/weir-test-capture.XXXXXX", err[160];
  char ebuf[PCAP_ERRBUF_SIZE];
  struct weir_faults_params none, delay;
  struct weir_faults f;
  struct weir_capture c;
  struct pcap_pkthdr *h;
  const u_char *data;
  uint64_t stamp[6];
  unsigned i, n = 0;
  pcap_t *p;
  int fd;

  memset(&t, 0, sizeof(t));
  for (i = 0; i < 3; i++) {
    t.at[i] = at[i];
    t.len[i] = v_echo(t.frame[i], (uint16_t)i);
  }
  t.n = 3;
  memset(&none, 0, sizeof(none));
  memset(&delay, 0, sizeof(delay));
  delay.delay_us = 30000;
  CHECK_EQ(weir_faults_init(&f, &none, &delay, 1, 0, 65549, NULL, NULL), 0);
  fd = mkstemp(path);
  CHECK(fd >= 0);
  close(fd);
  CHECK_EQ(weir_capture_open(&c, path, WEIR_LINK_IP, err, sizeof(err)), 0);
  CHECK(run_tape_ex(&t, &tape_ip, at[0], 10000000, NULL, &f, &c) >= 0);
  weir_capture_close(&c);
  CHECK_UEQ(f.side[WEIR_FAULTS_OUT].stats.delayed, 3);
  weir_faults_free(&f);
  CHECK_EQ(t.eof, 1);
  CHECK_EQ(t.nout, 3);
  for (i = 0; i < 3; i++)
    CHECK_UEQ(t.out_at[i], at[i] + 30000);

  p = pcap_open_offline(path, ebuf);
  unlink(path);
  CHECK(p != NULL);
  while (n < 6 && pcap_next_ex(p, &h, &data) == 1)
    stamp[n++] = (uint64_t)h->ts.tv_sec * 1000000 + (uint64_t)h->ts.tv_usec;
  pcap_close(p);
  CHECK_EQ(n, 6);
  /* In, in, out (2.030 s), out (2.031 s), in (2.5 s), out (2.53 s). */
  CHECK_UEQ(stamp[0], at[0]);
  CHECK_UEQ(stamp[1], at[1]);
  CHECK_UEQ(stamp[2], at[0] + 30000);
  CHECK_UEQ(stamp[3], at[1] + 30000);
  CHECK_UEQ(stamp[4], at[2]);
  CHECK_UEQ(stamp[5], at[2] + 30000);
}
