/* Tests of the libuv driver (backends/driver.c) over a fake link.
 *
 * The fake link is a SOCK_SEQPACKET socketpair: frames are real datagrams
 * on a real fd that the driver's uv_poll watches, and the link refuses a
 * send (EAGAIN) exactly when the kernel does. The test plays the peer on
 * the other end, reading what the driver sent between loop iterations.
 *
 * Every run of the loop is bounded: run_until() gives up after a
 * watchdog timer (and the test fails), pause_for() after its alarm. Times
 * are checked only from below ("not earlier than"): the machine may be
 * slow, never fast. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "driver.h"
#include "harness/test.h"
#include "wire/arp.h"
#include "wire/ethernet.h"
#include "wire/icmp.h"
#include "wire/ipv4.h"
#include "wire/tcp.h"
#include "wire/udp.h"

/* Our side: 10.77.0.2/24 at 02:00:00:00:00:02; the peer 10.77.0.9. */
#define US_IP    0x0a4d0002u
#define PEER_IP  0x0a4d0009u
#define ECHO_ID  0x5157
#define WATCHDOG 5000 /* ms: a loop run that takes longer fails the test */

static const uint8_t US_MAC[6] = {0x02, 0, 0, 0, 0, 0x02};

static uint64_t now_us(void)
{
  return uv_hrtime() / 1000; /* weir_driver_now's time base */
}

/* ------------------------------------------------------------ fake link */

#define SENT_MAX 64

struct fake {
  int peer;                 /* the test's end of the socketpair */
  long fail_recv;           /* nonzero: recv fails with it (-errno) */
  struct weir_stack *stack; /* to note the deadline at each send */
  unsigned recv_calls;
  unsigned send_calls;
  unsigned refused; /* sends answered "again" */
  unsigned recv_many_calls, send_many_calls;
  /* Offloads: the WEIR_RX_* the link says of every frame it receives;
   * the calls that carried flags or metas. */
  unsigned rx_flags;
  unsigned recv_meta_calls, send_meta_calls;
  unsigned recv_many_flagged, send_many_metas;
  unsigned nsent;
  uint64_t deadline[SENT_MAX]; /* weir_deadline() as the link took each */
};

static int fake_open(struct weir_link *l, const struct weir_link_params *p)
{
  struct fake *f = calloc(1, sizeof(*f));
  int sv[2], err;

  if (!f)
    return -ENOMEM;
  f->peer = -1;
  l->state = f;
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0,
                 sv) < 0) {
    err = -errno;
    snprintf(l->err, sizeof(l->err), "fake: socketpair: %s", strerror(-err));
    return err;
  }
  l->fd = sv[0];
  f->peer = sv[1];
  l->mtu = p->mtu ? p->mtu : 1500;
  snprintf(l->ifname, sizeof(l->ifname), "fake0");
  if (l->ops->send_meta) {
    l->tx_csum_offload = 1;
    l->tx_tso_max = 65535;
  }
  return 0;
}

static void fake_close(struct weir_link *l)
{
  struct fake *f = l->state;

  if (l->fd >= 0)
    close(l->fd);
  l->fd = -1;
  if (f) {
    if (f->peer >= 0)
      close(f->peer);
    free(f);
  }
  l->state = NULL;
}

static long fake_recv(struct weir_link *l, uint8_t *buf, size_t cap)
{
  struct fake *f = l->state;
  ssize_t n;

  f->recv_calls++;
  if (f->fail_recv) {
    /* The frame stays queued: the fd stays readable. */
    snprintf(l->err, sizeof(l->err), "fake: injected receive error");
    return f->fail_recv;
  }
  n = recv(l->fd, buf, cap, MSG_DONTWAIT);
  if (n < 0)
    return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -errno;
  return n;
}

static int fake_send(struct weir_link *l, const uint8_t *buf, size_t len)
{
  struct fake *f = l->state;
  ssize_t n;

  f->send_calls++;
  n = send(l->fd, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL);
  if (n < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      f->refused++;
      return 0;
    }
    return -errno;
  }
  if (f->nsent < SENT_MAX)
    f->deadline[f->nsent] = f->stack ? weir_deadline(f->stack) : 0;
  f->nsent++;
  return 1;
}

static const struct weir_link_ops fake_ip = {
    .name = "fake-ip",
    .type = WEIR_LINK_IP,
    .open = fake_open,
    .close = fake_close,
    .recv = fake_recv,
    .send = fake_send,
};

/* The batched forms, as recvmmsg/sendmmsg behave: as many as are ready
 * or taken, an error only if the first fails. */
static int fake_recv_many(struct weir_link *l, uint8_t *const *bufs,
                          const size_t *caps, size_t *lens, unsigned *flags,
                          int n)
{
  struct fake *f = l->state;
  long r;
  int i;

  f->recv_many_calls++;
  if (flags)
    f->recv_many_flagged++;
  for (i = 0; i < n; i++) {
    r = fake_recv(l, bufs[i], caps[i]);
    if (r <= 0)
      return i > 0 ? i : (int)r;
    lens[i] = (size_t)r;
    if (flags)
      flags[i] = f->rx_flags;
  }
  return n;
}

static int fake_send_many(struct weir_link *l, const uint8_t *const *bufs,
                          const size_t *lens, const struct weir_tx_meta *metas,
                          int n)
{
  struct fake *f = l->state;
  int i, r;

  f->send_many_calls++;
  if (metas)
    f->send_many_metas++;
  for (i = 0; i < n; i++) {
    r = fake_send(l, bufs[i], lens[i]);
    if (r <= 0)
      return i > 0 ? i : r;
  }
  return n;
}

static const struct weir_link_ops fake_ip_many = {
    .name = "fake-ip-many",
    .type = WEIR_LINK_IP,
    .open = fake_open,
    .close = fake_close,
    .recv = fake_recv,
    .send = fake_send,
    .recv_many = fake_recv_many,
    .send_many = fake_send_many,
};

/* A link with offloads: what it receives comes with rx_flags. */
static long fake_recv_meta(struct weir_link *l, uint8_t *buf, size_t cap,
                           unsigned *flags)
{
  struct fake *f = l->state;

  f->recv_meta_calls++;
  *flags = f->rx_flags;
  return fake_recv(l, buf, cap);
}

static int fake_send_meta(struct weir_link *l, const uint8_t *buf, size_t len,
                          const struct weir_tx_meta *m)
{
  struct fake *f = l->state;

  (void)m;
  f->send_meta_calls++;
  return fake_send(l, buf, len);
}

static const struct weir_link_ops fake_ip_meta = {
    .name = "fake-ip-meta",
    .type = WEIR_LINK_IP,
    .open = fake_open,
    .close = fake_close,
    .recv = fake_recv,
    .send = fake_send,
    .recv_meta = fake_recv_meta,
    .send_meta = fake_send_meta,
};

static const struct weir_link_ops fake_ip_many_meta = {
    .name = "fake-ip-many-meta",
    .type = WEIR_LINK_IP,
    .open = fake_open,
    .close = fake_close,
    .recv = fake_recv,
    .send = fake_send,
    .recv_many = fake_recv_many,
    .send_many = fake_send_many,
    .recv_meta = fake_recv_meta,
    .send_meta = fake_send_meta,
};

static const struct weir_link_ops fake_eth = {
    .name = "fake-eth",
    .type = WEIR_LINK_ETHERNET,
    .open = fake_open,
    .close = fake_close,
    .recv = fake_recv,
    .send = fake_send,
};

/* ------------------------------------------------- the test's world */

#define RX_MAX   256
#define RX_FRAME 2048

struct env {
  uv_loop_t loop;
  uv_timer_t watchdog;
  uv_timer_t alarm;
  int timed_out;
  int alarm_fired;
  uint64_t iterations; /* uv_run(UV_RUN_ONCE) calls */

  struct weir_link link;
  struct fake *fake;
  struct weir_stack *stack;
  struct weir_driver d;
  int started;
  int close_called;
  int closed; /* the close callback ran */

  /* What the driver's callbacks saw. */
  unsigned nevents;
  unsigned ev_mask; /* every WEIR_EV_* bit seen */
  int sock_err;     /* weir_sock_error() on WEIR_EV_ERROR */
  uint32_t err_addr;
  uint16_t err_port;
  uint64_t err_at;
  int echo_udp;            /* on_event: send every datagram back */
  uint64_t ev_now[RX_MAX]; /* weir_driver_now() in on_event, by event */
  unsigned link_errors;
  int link_err;

  /* The peer: frames the driver sent, as read. */
  int peer_reading; /* 0: the peer does not read (a full link) */
  unsigned nrx;
  struct {
    uint64_t at; /* now_us() when the peer read it */
    size_t len;
    uint8_t b[RX_FRAME];
  } rx[RX_MAX];
};

static void on_event(struct weir_driver *d, int sock, unsigned events,
                     void *user)
{
  struct env *e = user;
  uint8_t buf[2048];
  uint32_t addr;
  uint16_t port;
  int n;

  if (e->nevents < RX_MAX)
    e->ev_now[e->nevents] = weir_driver_now(d);
  e->nevents++;
  e->ev_mask |= events;
  if (events & WEIR_EV_ERROR) {
    e->err_at = now_us();
    e->sock_err = weir_sock_error(d->stack, sock, &e->err_addr, &e->err_port);
  }
  if (e->echo_udp && (events & WEIR_EV_READABLE)) {
    /* No weir_driver_kick here: inside on_event it is implied. */
    while ((n = weir_udp_recvfrom(d->stack, sock, buf, sizeof(buf), &addr,
                                  &port)) >= 0)
      weir_udp_sendto(d->stack, sock, buf, (size_t)n, addr, port,
                      weir_driver_now(d));
  }
}

static void on_link_error(struct weir_driver *d, int err, void *user)
{
  struct env *e = user;

  (void)d;
  e->link_errors++;
  e->link_err = err;
}

static void on_closed(struct weir_driver *d)
{
  struct env *e = d->user;

  e->closed++;
}

static void watchdog_cb(uv_timer_t *t)
{
  struct env *e = t->data;

  e->timed_out = 1;
}

static void alarm_cb(uv_timer_t *t)
{
  struct env *e = t->data;

  e->alarm_fired = 1;
}

/* Closes the test's timers and runs the loop until nothing is left on
 * it, without ever blocking (a handle left active would otherwise hang
 * the test). Returns 0 if the loop could be closed. */
static int loop_end(struct env *e)
{
  int i;

  uv_close((uv_handle_t *)&e->watchdog, NULL);
  uv_close((uv_handle_t *)&e->alarm, NULL);
  for (i = 0; i < 100 && uv_loop_alive(&e->loop); i++)
    uv_run(&e->loop, UV_RUN_NOWAIT);
  return uv_loop_close(&e->loop);
}

/* A loop, a fake link of type `ops` and a stack at US_IP on it (cfg
 * adjusted by `tweak`); the driver is not started yet. NULL on failure. */
static struct env *env_new(const struct weir_link_ops *ops,
                           void (*tweak)(struct weir_config *))
{
  struct weir_link_params params;
  struct weir_config cfg;
  struct env *e = calloc(1, sizeof(*e));

  if (!e)
    return NULL;
  if (uv_loop_init(&e->loop) != 0) {
    free(e);
    return NULL;
  }
  uv_timer_init(&e->loop, &e->watchdog);
  uv_timer_init(&e->loop, &e->alarm);
  e->watchdog.data = e->alarm.data = e;
  e->peer_reading = 1;

  memset(&params, 0, sizeof(params));
  weir_config_default(&cfg);
  cfg.link = ops->type;
  memcpy(cfg.mac, US_MAC, 6);
  cfg.ip = US_IP;
  cfg.prefix_len = 24;
  weir_config_seed(&cfg, 7);
  if (tweak)
    tweak(&cfg);
  if (weir_link_open(&e->link, ops, &params) == 0 &&
      weir_stack_new(&cfg, &e->stack) == 0) {
    e->fake = e->link.state;
    e->fake->stack = e->stack;
    return e;
  }
  printf("     env_new: %s\n", weir_link_error(&e->link));
  weir_link_close(&e->link);
  loop_end(e);
  free(e);
  return NULL;
}

static int env_start(struct env *e)
{
  int err = weir_driver_init(&e->d, &e->loop, e->stack, &e->link, on_event,
                             on_link_error, e);

  e->started = err == 0;
  return err;
}

static void env_close_driver(struct env *e)
{
  e->close_called = 1;
  weir_driver_close(&e->d, on_closed);
}

/* Tears everything down, whatever state the test left it in; fails the
 * test if the driver does not let the loop end. */
static void env_free(struct env *e)
{
  if (e->started && !e->close_called)
    env_close_driver(e);
  if (loop_end(e) != 0)
    wt_fail(__FILE__, __LINE__, "the driver left handles on the loop");
  if (e->started && e->closed != 1)
    wt_fail(__FILE__, __LINE__, "close callback ran %d times", e->closed);
  weir_stack_free(e->stack);
  weir_link_close(&e->link);
  free(e);
}

/* The peer reads everything the driver has sent (unless it is told not
 * to read, as a stuck receiver would). */
static void peer_drain(struct env *e)
{
  uint8_t scratch[RX_FRAME];
  ssize_t n;

  while (e->peer_reading) {
    if (e->nrx < RX_MAX) {
      n = recv(e->fake->peer, e->rx[e->nrx].b, RX_FRAME, MSG_DONTWAIT);
      if (n < 0)
        return;
      e->rx[e->nrx].at = now_us();
      e->rx[e->nrx].len = (size_t)n;
    } else {
      n = recv(e->fake->peer, scratch, sizeof(scratch), MSG_DONTWAIT);
      if (n < 0)
        return;
    }
    e->nrx++;
  }
}

/* Returns 1 if the whole frame was written to the driver's side. */
static int peer_send(struct env *e, const uint8_t *buf, size_t len)
{
  return send(e->fake->peer, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL) ==
         (ssize_t)len;
}

/* Runs the loop, one iteration at a time, until done(e) holds; returns
 * whether it does (0: the watchdog fired first). */
static int run_until(struct env *e, int (*done)(const struct env *))
{
  e->timed_out = 0;
  uv_timer_start(&e->watchdog, watchdog_cb, WATCHDOG, 0);
  peer_drain(e);
  while (!done(e) && !e->timed_out) {
    uv_run(&e->loop, UV_RUN_ONCE);
    e->iterations++;
    peer_drain(e);
  }
  uv_timer_stop(&e->watchdog);
  return done(e);
}

/* Runs the loop for `ms` milliseconds, whatever happens. */
static void pause_for(struct env *e, uint64_t ms)
{
  e->alarm_fired = 0;
  uv_timer_start(&e->alarm, alarm_cb, ms, 0);
  while (!e->alarm_fired) {
    uv_run(&e->loop, UV_RUN_ONCE);
    e->iterations++;
    peer_drain(e);
  }
}

/* -------------------------------------------------- frames of the peer */

static void fill(uint8_t *p, size_t len, unsigned seed)
{
  size_t i;

  for (i = 0; i < len; i++)
    p[i] = (uint8_t)(seed * 31 + i);
}

static size_t mk_ip(uint8_t *buf, uint8_t proto, uint16_t id, size_t plen)
{
  struct weir_ipv4 h;

  memset(&h, 0, sizeof(h));
  h.total_len = (uint16_t)(WEIR_IPV4_HLEN + plen);
  h.id = id;
  h.ttl = 64;
  h.proto = proto;
  h.src = PEER_IP;
  h.dst = US_IP;
  weir_ipv4_emit(&h, buf, WEIR_IPV4_HLEN);
  return WEIR_IPV4_HLEN + plen;
}

/* An echo request from the peer (bare IP) with `plen` bytes of data that
 * depend on seq. */
static size_t mk_echo(uint8_t *buf, size_t cap, uint16_t seq, size_t plen)
{
  uint8_t data[1024];
  struct weir_icmp m;
  size_t n;

  if (plen > sizeof(data))
    return 0;
  fill(data, plen, seq);
  memset(&m, 0, sizeof(m));
  m.type = WEIR_ICMP_ECHO_REQUEST;
  m.id = ECHO_ID;
  m.seq = seq;
  n = weir_icmp_emit(&m, data, plen, buf + WEIR_IPV4_HLEN,
                     cap - WEIR_IPV4_HLEN);
  return n ? mk_ip(buf, WEIR_IP_PROTO_ICMP, seq, n) : 0;
}

/* Writes echo requests seq 0..n-1; returns how many the socket took. */
static int peer_send_echoes(struct env *e, int n, size_t plen)
{
  uint8_t buf[RX_FRAME];
  size_t len;
  int i;

  for (i = 0; i < n; i++) {
    len = mk_echo(buf, sizeof(buf), (uint16_t)i, plen);
    if (len == 0 || !peer_send(e, buf, len))
      break;
  }
  return i;
}

/* The sequence number of the echo reply in rx[i], if it is the answer
 * to one of mk_echo's requests with plen bytes (from us, to the peer,
 * data intact); -1 otherwise. */
static int reply_seq(const struct env *e, unsigned i, size_t plen)
{
  struct weir_ipv4 h;
  struct weir_icmp m;
  uint8_t want[1024];

  if (i >= e->nrx || i >= RX_MAX || plen > sizeof(want))
    return -1;
  if (weir_ipv4_parse(&h, e->rx[i].b, e->rx[i].len) != 0 ||
      h.proto != WEIR_IP_PROTO_ICMP || h.src != US_IP || h.dst != PEER_IP)
    return -1;
  if (weir_icmp_parse(&m, h.payload, h.payload_len) != 0 ||
      m.type != WEIR_ICMP_ECHO_REPLY || m.code != 0 || m.id != ECHO_ID ||
      m.payload_len != plen)
    return -1;
  fill(want, plen, m.seq);
  return memcmp(m.payload, want, plen) == 0 ? m.seq : -1;
}

/* ------------------------------------------------------------ the tests */

/* A test body runs between env_new and env_free, so that a failed CHECK
 * (which returns from the body) still tears the loop down. */
#define DRIVER_TEST(name, ops, tweak)                                          \
  static void name##_body(struct env *e);                                      \
  TEST(name)                                                                   \
  {                                                                            \
    struct env *e = env_new(ops, tweak);                                       \
    CHECK(e != NULL);                                                          \
    name##_body(e);                                                            \
    env_free(e);                                                               \
  }                                                                            \
  static void name##_body(struct env *e)

static int got_1(const struct env *e)
{
  return e->nrx >= 1;
}

DRIVER_TEST(test_driver_answers_ping_over_link, &fake_ip, NULL)
{
  CHECK_EQ(env_start(e), 0);
  CHECK_EQ(peer_send_echoes(e, 1, 56), 1);
  CHECK(run_until(e, got_1));
  CHECK_EQ(e->nrx, 1);
  CHECK_EQ(reply_seq(e, 0, 56), 0);
  CHECK_UEQ(e->d.stats.frames_in, 1);
  CHECK_UEQ(e->d.stats.frames_out, 1);
  CHECK_UEQ(weir_stats(e->stack)->c[WEIR_STAT_ICMP_ECHO_IN], 1);
}

static int got_20(const struct env *e)
{
  return e->nrx >= 20;
}

DRIVER_TEST(test_driver_drains_every_ready_frame_per_wakeup, &fake_ip, NULL)
{
  int i;

  /* All 20 are ready before the loop first polls the fd. */
  CHECK_EQ(peer_send_echoes(e, 20, 56), 20);
  CHECK_EQ(env_start(e), 0);
  CHECK(run_until(e, got_20));
  CHECK_UEQ(e->d.stats.wakeups, 1);
  CHECK_UEQ(e->d.stats.frames_in, 20);
  CHECK_UEQ(e->d.stats.batch_full, 0);
  CHECK_UEQ(e->d.stats.frames_out, 20);
  CHECK_EQ(e->nrx, 20);
  for (i = 0; i < 20; i++)
    CHECK_EQ(reply_seq(e, (unsigned)i, 56), i);
}

/* recv_many takes what is ready in one call; each frame is still
 * answered before the next goes in, and the answers one flush finds go
 * out together. */
DRIVER_TEST(test_driver_batched_link_drains_in_one_call, &fake_ip_many, NULL)
{
  int i;

  CHECK_EQ(peer_send_echoes(e, 20, 56), 20);
  CHECK_EQ(env_start(e), 0);
  CHECK(run_until(e, got_20));
  CHECK_UEQ(e->d.stats.wakeups, 1);
  CHECK_EQ(e->fake->recv_many_calls, 1);
  CHECK_UEQ(e->d.stats.frames_in, 20);
  CHECK_UEQ(e->d.stats.frames_out, 20);
  CHECK(e->fake->send_many_calls >= 1);
  CHECK_EQ(e->fake->send_calls, 20);
  CHECK_EQ(e->nrx, 20);
  for (i = 0; i < 20; i++)
    CHECK_EQ(reply_seq(e, (unsigned)i, 56), i);
}

#define OVER_BATCH (WEIR_DRIVER_BATCH + 36)

static int read_some(const struct env *e)
{
  return e->d.stats.frames_in > 0;
}

static int got_batch(const struct env *e)
{
  return e->nrx >= WEIR_DRIVER_BATCH;
}

static int got_over_batch(const struct env *e)
{
  return e->nrx >= OVER_BATCH;
}

DRIVER_TEST(test_driver_batch_cap_defers_but_loses_nothing, &fake_ip, NULL)
{
  int i;

  CHECK_EQ(peer_send_echoes(e, OVER_BATCH, 8), OVER_BATCH);
  CHECK_EQ(env_start(e), 0);
  /* The first wake-up stops at the cap and leaves the rest in the
   * socket for the next loop iteration... */
  CHECK(run_until(e, read_some));
  CHECK_UEQ(e->d.stats.frames_in, WEIR_DRIVER_BATCH);
  CHECK_UEQ(e->d.stats.batch_full, 1);
  /* ...which takes them, and every one is answered, in order. */
  CHECK(run_until(e, got_over_batch));
  CHECK_UEQ(e->d.stats.wakeups, 2);
  CHECK_UEQ(e->d.stats.batch_full, 1);
  CHECK_UEQ(e->d.stats.frames_in, OVER_BATCH);
  CHECK_UEQ(e->d.stats.frames_out, OVER_BATCH);
  CHECK_EQ(e->nrx, OVER_BATCH);
  for (i = 0; i < OVER_BATCH; i++)
    CHECK_EQ(reply_seq(e, (unsigned)i, 8), i);
}

DRIVER_TEST(test_driver_batched_link_batch_cap_defers_but_loses_nothing,
            &fake_ip_many, NULL)
{
  int i;

  CHECK_EQ(peer_send_echoes(e, OVER_BATCH, 8), OVER_BATCH);
  CHECK_EQ(env_start(e), 0);
  CHECK(run_until(e, read_some));
  CHECK_UEQ(e->d.stats.frames_in, WEIR_DRIVER_BATCH);
  CHECK_UEQ(e->d.stats.batch_full, 1);
  CHECK(run_until(e, got_over_batch));
  CHECK_UEQ(e->d.stats.wakeups, 2);
  CHECK_UEQ(e->d.stats.frames_in, OVER_BATCH);
  CHECK_UEQ(e->d.stats.frames_out, OVER_BATCH);
  CHECK_EQ(e->nrx, OVER_BATCH);
  for (i = 0; i < OVER_BATCH; i++)
    CHECK_EQ(reply_seq(e, (unsigned)i, 8), i);
}

#define HELD_N    40
#define HELD_PLEN 512

static int all_read_some_refused(const struct env *e)
{
  return e->d.stats.frames_in == HELD_N && e->d.stats.send_again > 0;
}

static int got_held_n(const struct env *e)
{
  return e->nrx >= HELD_N;
}

/* Starts the driver on a link that fills up: the smallest send buffer
 * the kernel allows holds a few replies, and the peer does not read. The
 * driver reads HELD_N echo requests, and the link refuses some replies.
 * Returns 0 (with a message) if that did not happen. */
static int fill_link(struct env *e)
{
  int one = 1;

  if (setsockopt(e->link.fd, SOL_SOCKET, SO_SNDBUF, &one, sizeof(one)) != 0) {
    wt_fail(__FILE__, __LINE__, "SO_SNDBUF: %s", strerror(errno));
    return 0;
  }
  e->peer_reading = 0;
  if (peer_send_echoes(e, HELD_N, HELD_PLEN) != HELD_N) {
    wt_fail(__FILE__, __LINE__, "the peer could not queue the requests");
    return 0;
  }
  if (env_start(e) != 0 || !run_until(e, all_read_some_refused)) {
    wt_fail(__FILE__, __LINE__, "the link never filled up");
    return 0;
  }
  return 1;
}

DRIVER_TEST(test_driver_holds_frame_when_link_refuses_send, &fake_ip, NULL)
{
  uint64_t iters, sends, wakeups;
  int i;

  CHECK(fill_link(e));
  CHECK(e->d.stats.frames_out < HELD_N);

  /* A link that stays full must leave the driver asleep: no retry loop,
   * no timer spinning. (A busy driver does thousands of both in 50 ms.) */
  iters = e->iterations;
  sends = e->fake->send_calls;
  wakeups = e->d.stats.wakeups;
  pause_for(e, 50);
  CHECK(e->iterations - iters <= 10);
  CHECK(e->fake->send_calls - sends <= 2);
  CHECK_UEQ(e->d.stats.wakeups, wakeups);

  /* The peer reads again: every reply arrives, none lost, in order. */
  e->peer_reading = 1;
  CHECK(run_until(e, got_held_n));
  CHECK_EQ(e->nrx, HELD_N);
  for (i = 0; i < HELD_N; i++)
    CHECK_EQ(reply_seq(e, (unsigned)i, HELD_PLEN), i);
  CHECK(e->d.stats.send_again > 0);
  CHECK(e->d.stats.send_again <= e->fake->refused);
  CHECK_UEQ(e->d.stats.frames_out, HELD_N);
  CHECK_UEQ(e->d.stats.send_errors, 0);

  /* Drained, the driver sleeps again: it no longer watches for a
   * writability that is now always there. */
  iters = e->iterations;
  pause_for(e, 30);
  CHECK(e->iterations - iters <= 10);
}

/* A batch the link takes only part of: the rest waits, in order. */
DRIVER_TEST(test_driver_batched_link_keeps_refused_frames_in_order,
            &fake_ip_many, NULL)
{
  int i;

  CHECK(fill_link(e));
  CHECK(e->d.stats.frames_out < HELD_N);
  e->peer_reading = 1;
  CHECK(run_until(e, got_held_n));
  CHECK_EQ(e->nrx, HELD_N);
  for (i = 0; i < HELD_N; i++)
    CHECK_EQ(reply_seq(e, (unsigned)i, HELD_PLEN), i);
  CHECK_UEQ(e->d.stats.frames_out, HELD_N);
  CHECK_UEQ(e->d.stats.send_errors, 0);
  CHECK(e->fake->send_many_calls > 0);
}

/* link.h: a send that returns 0 means "keep it and wait for the fd to be
 * writable": a full link must not cost one refused send per frame
 * received. */
DRIVER_TEST(test_driver_waits_for_writable_before_retrying_held_frame, &fake_ip,
            NULL)
{
  CHECK(fill_link(e));
  /* The peer has not read, so the fd never became writable: the link was
   * asked once for the frame it refused. */
  CHECK_EQ(e->fake->refused, 1);
}

/* driver.h: send_again counts every send the link refused for now,
 * retries of the held frame included. */
DRIVER_TEST(test_driver_send_again_counts_every_refused_send, &fake_ip, NULL)
{
  CHECK(fill_link(e));
  e->peer_reading = 1;
  CHECK(run_until(e, got_held_n));
  CHECK_UEQ(e->d.stats.send_again, e->fake->refused);
}

#define ARP_RETRY_US 20000

static void arp_fast(struct weir_config *c)
{
  c->arp_retry_us = ARP_RETRY_US;
  c->arp_retries = 3;
}

static int sock_failed(const struct env *e)
{
  return e->sock_err != 0;
}

/* Checks that rx[i] is our ARP request for PEER_IP, broadcast. */
static int is_arp_request(const struct env *e, unsigned i)
{
  static const uint8_t bcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
  struct weir_eth eth;
  struct weir_arp a;

  return i < e->nrx && i < RX_MAX &&
         weir_eth_parse(&eth, e->rx[i].b, e->rx[i].len) == 0 &&
         eth.type == WEIR_ETHERTYPE_ARP && memcmp(eth.dst, bcast, 6) == 0 &&
         weir_arp_parse(&a, eth.payload, eth.payload_len) == 0 &&
         a.op == WEIR_ARP_REQUEST && a.tpa == PEER_IP && a.spa == US_IP &&
         memcmp(a.sha, US_MAC, 6) == 0;
}

DRIVER_TEST(test_driver_timer_drives_arp_retries_and_give_up, &fake_eth,
            arp_fast)
{
  int sock;
  unsigned i;

  CHECK_EQ(env_start(e), 0);
  sock = weir_udp_open(e->stack);
  CHECK(sock >= 0);
  CHECK_EQ(weir_udp_sendto(e->stack, sock, "x", 1, PEER_IP, 7,
                           weir_driver_now(&e->d)),
           1);
  weir_driver_kick(&e->d);
  CHECK(run_until(e, sock_failed));
  /* Long enough for a fourth request, if one were coming. */
  pause_for(e, 2 * ARP_RETRY_US / 1000);

  CHECK_EQ(e->nrx, 3);
  for (i = 0; i < 3; i++)
    CHECK(is_arp_request(e, i));
  CHECK_EQ(e->fake->nsent, 3);
  /* Each request comes no earlier than arp_retry_us after the core made
   * the one before: the link noted the deadline it armed then. (Receipt
   * to receipt would be shorter whenever the scheduler delayed the
   * peer's read of the earlier one, through no fault of the driver.) */
  for (i = 1; i < 3; i++)
    CHECK(e->rx[i].at >= e->fake->deadline[i - 1]);
  CHECK(e->err_at >= e->fake->deadline[2]);
  CHECK(e->ev_mask & WEIR_EV_ERROR);
  CHECK_EQ(e->sock_err, WEIR_EHOSTUNREACH);
  CHECK_UEQ(e->err_addr, PEER_IP);
  CHECK_EQ(e->err_port, 7);
  CHECK_UEQ(weir_stats(e->stack)->c[WEIR_STAT_ARP_GIVE_UP], 1);
  CHECK(e->d.stats.timer_fires <= 10);
  CHECK_UEQ(weir_deadline(e->stack), UINT64_MAX);
}

DRIVER_TEST(test_driver_timer_is_armed_at_deadline_rounded_up, &fake_eth,
            arp_fast)
{
  uint64_t now, dl, due, want;
  int sock;

  CHECK_EQ(env_start(e), 0);
  sock = weir_udp_open(e->stack);
  CHECK(sock >= 0);
  /* A deadline off the millisecond, so that rounding down would show. */
  do
    now = weir_driver_now(&e->d);
  while (now % 1000 == 0);
  CHECK_EQ(weir_udp_sendto(e->stack, sock, "x", 1, PEER_IP, 7, now), 1);
  dl = weir_deadline(e->stack);
  CHECK_UEQ(dl, now + ARP_RETRY_US);
  CHECK(dl % 1000 != 0);
  weir_driver_kick(&e->d);

  /* The uv timer (in loop milliseconds) is due at the deadline rounded
   * up, or now if that has passed already. */
  CHECK(uv_is_active((uv_handle_t *)&e->d.timer_));
  due = uv_now(&e->loop) + uv_timer_get_due_in(&e->d.timer_);
  want = dl / 1000 + 1;
  if (want < uv_now(&e->loop))
    want = uv_now(&e->loop);
  CHECK_UEQ(due, want);

  CHECK(run_until(e, sock_failed));
  CHECK_EQ(e->nrx, 3);
  CHECK(is_arp_request(e, 1));
  CHECK(e->rx[1].at >= dl);
  /* Three deadlines (two retries, the give-up), each served by the one
   * timer callback armed for it: none fired early and had to re-arm. */
  CHECK_UEQ(e->d.stats.timer_fires, 3);
}

static int link_failed(const struct env *e)
{
  return e->link_errors > 0;
}

static int closed(const struct env *e)
{
  return e->closed > 0;
}

DRIVER_TEST(test_driver_reports_link_failure, &fake_ip, NULL)
{
  unsigned recvs;
  uint64_t iters, wakeups;

  CHECK_EQ(env_start(e), 0);
  e->fake->fail_recv = -EIO;
  CHECK_EQ(peer_send_echoes(e, 1, 8), 1);
  CHECK(run_until(e, link_failed));
  CHECK_EQ(e->link_errors, 1);
  CHECK_EQ(e->link_err, -EIO);
  CHECK(strstr(weir_link_error(&e->link), "injected") != NULL);

  /* The frame is still queued, so the fd stays readable: a driver still
   * polling it would wake on every iteration. */
  recvs = e->fake->recv_calls;
  wakeups = e->d.stats.wakeups;
  iters = e->iterations;
  pause_for(e, 30);
  CHECK_EQ(e->fake->recv_calls, recvs);
  CHECK_UEQ(e->d.stats.wakeups, wakeups);
  CHECK(e->iterations - iters <= 10);
  CHECK_EQ(e->link_errors, 1);

  env_close_driver(e);
  CHECK(run_until(e, closed));
  CHECK_EQ(e->closed, 1);
}

/* The UDP datagram with `data` from us:port to the peer in rx[i]. */
static int is_udp_to_peer(const struct env *e, unsigned i, uint16_t sport,
                          uint16_t dport, const char *data)
{
  struct weir_ipv4 h;
  struct weir_udp u;
  size_t n = strlen(data);

  return i < e->nrx && i < RX_MAX &&
         weir_ipv4_parse(&h, e->rx[i].b, e->rx[i].len) == 0 &&
         h.proto == WEIR_IP_PROTO_UDP && h.src == US_IP && h.dst == PEER_IP &&
         weir_udp_parse(&u, h.payload, h.payload_len) == 0 &&
         u.sport == sport && u.dport == dport && u.payload_len == n &&
         memcmp(u.payload, data, n) == 0;
}

DRIVER_TEST(test_driver_close_sends_queued_output, &fake_ip, NULL)
{
  static const char *const msgs[] = {"one", "two", "three"};
  int sock, i;

  CHECK_EQ(env_start(e), 0);
  sock = weir_udp_open(e->stack);
  CHECK(sock >= 0);
  CHECK_EQ(weir_udp_bind(e->stack, sock, 4000), 0);
  /* No kick: the close is the driver's last chance to send them. */
  for (i = 0; i < 3; i++)
    CHECK_EQ(weir_udp_sendto(e->stack, sock, msgs[i], strlen(msgs[i]), PEER_IP,
                             5000, weir_driver_now(&e->d)),
             (int)strlen(msgs[i]));
  env_close_driver(e);
  CHECK(run_until(e, closed));
  CHECK_EQ(e->closed, 1);
  CHECK_EQ(e->nrx, 3);
  for (i = 0; i < 3; i++)
    CHECK(is_udp_to_peer(e, (unsigned)i, 4000, 5000, msgs[i]));
  CHECK_UEQ(e->d.stats.frames_out, 3);
}

DRIVER_TEST(test_driver_init_sends_output_queued_before_it, &fake_ip, NULL)
{
  int sock;

  sock = weir_udp_open(e->stack);
  CHECK(sock >= 0);
  CHECK_EQ(weir_udp_bind(e->stack, sock, 4000), 0);
  CHECK_EQ(weir_udp_sendto(e->stack, sock, "early", 5, PEER_IP, 5000,
                           weir_driver_now(&e->d)),
           5);
  CHECK_EQ(env_start(e), 0);
  CHECK(run_until(e, got_1));
  CHECK(is_udp_to_peer(e, 0, 4000, 5000, "early"));
}

DRIVER_TEST(test_driver_sends_what_on_event_queues_without_kick, &fake_ip, NULL)
{
  uint8_t buf[256];
  struct weir_udp u;
  size_t n;
  int sock;

  CHECK_EQ(env_start(e), 0);
  sock = weir_udp_open(e->stack);
  CHECK(sock >= 0);
  CHECK_EQ(weir_udp_bind(e->stack, sock, 7), 0);
  e->echo_udp = 1;

  memcpy(buf + WEIR_IPV4_HLEN + WEIR_UDP_HLEN, "hello", 5);
  memset(&u, 0, sizeof(u));
  u.sport = 40000;
  u.dport = 7;
  u.payload_len = 5;
  n = weir_udp_emit(&u, PEER_IP, US_IP, buf + WEIR_IPV4_HLEN,
                    sizeof(buf) - WEIR_IPV4_HLEN);
  CHECK(n > 0);
  n = mk_ip(buf, WEIR_IP_PROTO_UDP, 1, n);
  CHECK(peer_send(e, buf, n));

  CHECK(run_until(e, got_1));
  CHECK(e->ev_mask & WEIR_EV_READABLE);
  CHECK_EQ(e->nrx, 1);
  CHECK(is_udp_to_peer(e, 0, 7, 40000, "hello"));
}

/* A UDP datagram from the peer's port 40000 to our `dport` with `data`,
 * its checksum spoilt if `bad`; returns 1 if the link took it. */
static int peer_send_udp(struct env *e, uint16_t dport, const char *data,
                         int bad)
{
  uint8_t buf[256];
  struct weir_udp u;
  size_t n = strlen(data);

  memcpy(buf + WEIR_IPV4_HLEN + WEIR_UDP_HLEN, data, n);
  memset(&u, 0, sizeof(u));
  u.sport = 40000;
  u.dport = dport;
  u.payload_len = n;
  n = weir_udp_emit(&u, PEER_IP, US_IP, buf + WEIR_IPV4_HLEN,
                    sizeof(buf) - WEIR_IPV4_HLEN);
  if (n == 0)
    return 0;
  if (bad)
    buf[WEIR_IPV4_HLEN + 6] ^= 0x5a;
  n = mk_ip(buf, WEIR_IP_PROTO_UDP, 1, n);
  return peer_send(e, buf, n);
}

static void offloads(struct weir_config *c)
{
  c->tx_csum_offload = 1;
  c->tx_tso_max = 65535;
}

/* The link's word on a checksum reaches the core: a datagram with a bad
 * one is dropped, unless the link says it verified it. */
static void rx_flags_reach_the_core(struct env *e)
{
  int sock;

  CHECK_EQ(env_start(e), 0);
  sock = weir_udp_open(e->stack);
  CHECK(sock >= 0);
  CHECK_EQ(weir_udp_bind(e->stack, sock, 7), 0);
  e->echo_udp = 1;

  CHECK(peer_send_udp(e, 7, "unvouched", 1));
  pause_for(e, 50);
  CHECK_EQ(e->nrx, 0);
  CHECK_UEQ(e->d.stats.frames_in, 1);

  e->fake->rx_flags = WEIR_RX_CSUM_VALID;
  CHECK(peer_send_udp(e, 7, "vouched", 1));
  CHECK(run_until(e, got_1));
  CHECK_EQ(e->nrx, 1);
  CHECK(is_udp_to_peer(e, 0, 7, 40000, "vouched"));
}

DRIVER_TEST(test_driver_offload_link_moves_frames_with_meta, &fake_ip_meta,
            offloads)
{
  rx_flags_reach_the_core(e);
  CHECK(e->fake->recv_meta_calls > 0);
  CHECK(e->fake->send_meta_calls + e->fake->send_calls > 0);
}

DRIVER_TEST(test_driver_batched_offload_link_moves_batches_with_meta,
            &fake_ip_many_meta, offloads)
{
  rx_flags_reach_the_core(e);
  CHECK_EQ(e->fake->recv_meta_calls, 0);
  CHECK_EQ(e->fake->recv_many_flagged, e->fake->recv_many_calls);
  CHECK(e->fake->recv_many_calls > 0);
  CHECK_EQ(e->fake->send_many_metas, e->fake->send_many_calls);
  CHECK(e->fake->send_many_calls > 0);
}

/* Without offloads in the config, a link that has them still gets its
 * batches, plain: no flags asked for, no metas given. */
DRIVER_TEST(test_driver_batched_link_without_offloads_moves_plain_batches,
            &fake_ip_many, NULL)
{
  CHECK_EQ(env_start(e), 0);
  CHECK_EQ(peer_send_echoes(e, 3, 56), 3);
  CHECK(run_until(e, got_1));
  CHECK_EQ(e->fake->recv_many_flagged, 0);
  CHECK_EQ(e->fake->send_many_metas, 0);
}

static int got_10(const struct env *e)
{
  return e->nrx >= 10;
}

/* Frames that one wake-up takes in share the time it read: the clock is
 * read per wake-up, not per frame or per event. */
DRIVER_TEST(test_driver_frames_of_one_wakeup_share_now, &fake_ip_many, NULL)
{
  uint64_t before;
  int sock, i;

  sock = weir_udp_open(e->stack);
  CHECK(sock >= 0);
  CHECK_EQ(weir_udp_bind(e->stack, sock, 7), 0);
  e->echo_udp = 1;
  for (i = 0; i < 10; i++)
    CHECK(peer_send_udp(e, 7, "tick", 0));
  before = now_us();
  CHECK_EQ(env_start(e), 0);
  CHECK(run_until(e, got_10));
  CHECK_UEQ(e->d.stats.wakeups, 1);
  CHECK_EQ(e->nevents, 10);
  CHECK(e->ev_now[0] >= before);
  for (i = 1; i < 10; i++)
    CHECK_UEQ(e->ev_now[i], e->ev_now[0]);
  /* Outside a wake-up, the clock itself. */
  CHECK(weir_driver_now(&e->d) >= e->ev_now[0]);
}

/* The smallest transmit slot pool a stack may have (8): a batch of 64
 * pings still gets every reply out, as output is flushed every
 * FLUSH_EVERY frames of a batch, not only at its end. */
static void few_slots(struct weir_config *c)
{
  c->tx_slots = 8;
}

DRIVER_TEST(test_driver_held_output_never_overflows_the_slots, &fake_ip_many,
            few_slots)
{
  int i;

  CHECK_EQ(peer_send_echoes(e, WEIR_DRIVER_BATCH, 8), WEIR_DRIVER_BATCH);
  CHECK_EQ(env_start(e), 0);
  CHECK(run_until(e, got_batch));
  CHECK_UEQ(e->d.stats.wakeups, 1);
  CHECK_EQ(e->nrx, WEIR_DRIVER_BATCH);
  for (i = 0; i < WEIR_DRIVER_BATCH; i++)
    CHECK_EQ(reply_seq(e, (unsigned)i, 8), i);
  CHECK_UEQ(weir_stats(e->stack)->c[WEIR_STAT_DROP_TX_FULL], 0);
}

/* A TCP segment from the peer (port 5000) to weir's port 7. */
static size_t mk_tcp(uint8_t *buf, uint32_t seq, uint32_t ack, uint8_t flags,
                     size_t plen)
{
  struct weir_tcp t;

  memset(&t, 0, sizeof(t));
  t.sport = 5000;
  t.dport = 7;
  t.seq = seq;
  t.ack = ack;
  t.flags = flags;
  t.win = 65535;
  t.payload_len = plen;
  if (flags & WEIR_TCP_SYN)
    t.opt.mss = 1460;
  fill(buf + WEIR_IPV4_HLEN + weir_tcp_header_len(&t.opt), plen, seq);
  return mk_ip(buf, WEIR_IP_PROTO_TCP, (uint16_t)seq,
               weir_tcp_emit(&t, PEER_IP, US_IP, buf + WEIR_IPV4_HLEN,
                             RX_FRAME - WEIR_IPV4_HLEN));
}

/* The last frame the peer read, as TCP: 0, or -1 if it is not. */
static int last_tcp(const struct env *e, struct weir_tcp *t)
{
  struct weir_ipv4 h;
  unsigned i = e->nrx - 1;

  if (e->nrx == 0 || i >= RX_MAX ||
      weir_ipv4_parse(&h, e->rx[i].b, e->rx[i].len) != 0 ||
      h.proto != WEIR_IP_PROTO_TCP)
    return -1;
  return weir_tcp_parse(t, h.payload, h.payload_len);
}

static int got_data_acked(const struct env *e)
{
  struct weir_tcp t;
  return last_tcp(e, &t) == 0 && t.ack == 1 + 32 * 1460;
}

static void tcp_listener(struct env *e)
{
  int ls = weir_tcp_open(e->stack);
  weir_tcp_listen(e->stack, ls, 7, 4);
}

/* Within one received batch, output waits for the batch to end (or for
 * FLUSH_EVERY = 8 frames): the handshake's ACK and 32 full segments in
 * one batch draw at most 33 / 8 + 1 = 5 ACKs, not the 16 that one ACK
 * every second segment would send. */
DRIVER_TEST(test_driver_acks_a_received_batch_with_few_acks, &fake_ip_many,
            NULL)
{
  uint8_t buf[RX_FRAME];
  struct weir_tcp t;
  unsigned before;
  size_t n;
  int i;

  tcp_listener(e);
  CHECK_EQ(env_start(e), 0);
  n = mk_tcp(buf, 0, 0, WEIR_TCP_SYN, 0);
  CHECK(peer_send(e, buf, n));
  CHECK(run_until(e, got_1));
  CHECK_EQ(last_tcp(e, &t), 0);
  CHECK_EQ(t.flags, WEIR_TCP_SYN | WEIR_TCP_ACK);
  n = mk_tcp(buf, 1, t.seq + 1, WEIR_TCP_ACK, 0);
  CHECK(peer_send(e, buf, n));
  for (i = 0; i < 32; i++) {
    n = mk_tcp(buf, 1 + (uint32_t)i * 1460, t.seq + 1, WEIR_TCP_ACK, 1460);
    CHECK(peer_send(e, buf, n));
  }
  before = e->nrx;
  CHECK(run_until(e, got_data_acked));
  CHECK_UEQ(e->d.stats.wakeups, 2);
  CHECK(e->nrx - before <= 5);
}
