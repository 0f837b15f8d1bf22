/* echoserver: a TCP echo (or discard, or sink) server through weir on a
 * tun or tap device, serving many connections at once; with -u, a UDP
 * echo server. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common.h"

static const char usage[] =
    "usage: echoserver [flags] [ADDR] PORT\n"
    "\n"
    "TCP (the default): accepts connections to weir's address on PORT,\n"
    "many at once, and echoes each one's bytes back to it. When a client\n"
    "closes its sending side (FIN), the server sends back what is left\n"
    "and closes its own. A client that sends faster than it reads is held\n"
    "back by TCP's flow control, not buffered here: the server reads no\n"
    "more of a connection while the stack cannot take its echo.\n"
    "With -u: echoes every UDP datagram back to its sender.\n"
    "ADDR, if given, is weir's address (the same as --ip).\n"
    "\n"
    "  --port N            the port, instead of PORT\n"
    "  --discard           TCP: read and drop what clients send\n"
    "  --sink FILE         TCP: append what clients send to FILE (created\n"
    "                      if missing, never truncated) instead of echoing.\n"
    "                      One connection at a time owns FILE, from its\n"
    "                      first byte read to its end, so each connection's\n"
    "                      bytes land in one piece, in order; the others\n"
    "                      wait their turn, in the order they first had\n"
    "                      data, held back by TCP's flow control (a client\n"
    "                      that neither sends nor closes holds them up until\n"
    "                      --timeout resets it)\n"
    "  --count N           exit after N connections have ended (TCP), or\n"
    "                      after echoing N datagrams (UDP)\n"
    "  --timeout SEC       TCP: reset a connection that moved no byte for\n"
    "                      SEC seconds, and exit once no connection has been\n"
    "                      open for SEC seconds; UDP: exit after SEC seconds\n"
    "                      without a datagram. Status 1 if --count was not\n"
    "                      reached. Default: run until SIGINT or SIGTERM,\n"
    "                      which exit 0 (open connections are reset)\n"
    "\n"
    "-v prints on stdout; each TCP line names the connection by its peer,\n"
    "e.g. `10.77.0.1:43512 SYN-RECEIVED -> ESTABLISHED`.\n"
    "\n"
    "Example, as root: weir answers ping and `nc 10.77.0.2 7` at once:\n"
    "  echoserver -v --if weir0 --ip 10.77.0.2/24 --kernel-ip 10.77.0.1/24 "
    "7\n";

static struct weir_app App;

/* ---------------------------------------------------------------- UDP */

static struct udp_server {
  int sock;
  uv_timer_t idle;
  uint64_t echoed;
  /* A datagram whose echo the stack could not take yet (its transmit
   * queue was full): kept until WEIR_EV_WRITABLE, and nothing more is
   * read until then, so the server never drops what it has read. */
  int held;
  size_t held_len;
  uint32_t held_addr;
  uint16_t held_port;
  uint8_t buf[65536]; /* any IPv4 datagram fits: none is truncated */
} S;

static void udp_done(int code)
{
  if (App.stopping)
    return;
  uv_close((uv_handle_t *)&S.idle, NULL);
  weir_app_stop(&App, code);
}

static void udp_idle_cb(uv_timer_t *t)
{
  (void)t;
  if (App.o.verbose)
    printf("echoserver: idle for %.3f s, %llu echoed\n",
           (double)App.o.timeout_us / 1e6, (unsigned long long)S.echoed);
  udp_done(App.o.count && S.echoed < App.o.count ? WEIR_APP_FAIL : WEIR_APP_OK);
}

static void udp_restart_idle(void)
{
  uint64_t ms = (App.o.timeout_us + 999) / 1000;

  if (App.o.timeout_us)
    uv_timer_start(&S.idle, udp_idle_cb, ms, 0);
}

/* Returns 1 if the echo was taken (or dropped for good), 0 if the
 * transmit queue is full. */
static int udp_echo(size_t len, uint32_t addr, uint16_t port)
{
  struct weir_app *a = &App;
  char from[24], to[24];
  int r;

  r = weir_udp_sendto(a->stack, S.sock, S.buf, len, addr, port,
                      weir_driver_now(&a->drv));
  if (r == WEIR_EAGAIN)
    return 0;
  weir_app_endpoint(addr, port, from);
  weir_app_endpoint(a->o.ip, a->o.port, to);
  if (r < 0) {
    if (a->o.verbose)
      printf("%s -> %s %zu bytes not echoed: %s\n", from, to, len,
             weir_strerror(r));
    return 1;
  }
  S.echoed++;
  if (a->o.verbose)
    printf("%s -> %s %zu bytes echoed\n", from, to, len);
  if (a->o.count && S.echoed >= a->o.count)
    udp_done(WEIR_APP_OK);
  return 1;
}

static void udp_pump(void)
{
  struct weir_app *a = &App;
  int n;

  if (S.held) {
    if (!udp_echo(S.held_len, S.held_addr, S.held_port))
      return;
    S.held = 0;
  }
  while (!a->stopping) {
    n = weir_udp_recvfrom(a->stack, S.sock, S.buf, sizeof(S.buf), &S.held_addr,
                          &S.held_port);
    if (n < 0)
      return;
    udp_restart_idle();
    if (!udp_echo((size_t)n, S.held_addr, S.held_port)) {
      S.held = 1;
      S.held_len = (size_t)n;
      return;
    }
  }
}

static void udp_on_signal(struct weir_app *a, int signum)
{
  (void)a;
  (void)signum;
  udp_done(WEIR_APP_OK);
}

static void udp_on_event(struct weir_driver *d, int sock, unsigned events,
                         void *user)
{
  char ip[WEIR_IPV4_STRLEN];
  uint32_t addr;
  uint16_t port;
  int err;

  (void)d;
  (void)user;
  if (sock != S.sock)
    return;
  if (events & WEIR_EV_ERROR) {
    /* An echo that could not be delivered (ARP gave up, ICMP came
     * back): the sender is gone; keep serving the others. */
    err = weir_sock_error(App.stack, sock, &addr, &port);
    if (err < 0 && App.o.verbose)
      printf("echoserver: %s:%u: %s\n", weir_ipv4_format(addr, ip),
             (unsigned)port, weir_strerror(err));
  }
  if (events & (WEIR_EV_READABLE | WEIR_EV_WRITABLE))
    udp_pump();
}

/* ---------------------------------------------------------------- TCP */

/* What one read takes from a connection, and (echo) what is held until
 * the stack takes it back. The core's buffers do the real buffering. */
#define CONN_BUF 65536

enum mode { MODE_ECHO, MODE_DISCARD, MODE_SINK };

struct conn {
  int sock;
  uint32_t addr;
  uint16_t port;
  uint8_t *buf;      /* echo only */
  size_t len, off;   /* echo: buf[off, len) read and not yet sent */
  int eof;           /* recv returned 0: the client sent FIN */
  int shut;          /* our FIN is queued */
  int queued;        /* sink: waiting for its turn */
  struct conn *next; /* sink: the queue */
  uint64_t in, out;  /* bytes received, bytes the stack took back */
  double start;      /* accepted, in weir_app_seconds() */
  double last;       /* last byte moved either way */
};

static struct tcp_server {
  enum mode mode;
  int listener;
  struct conn **conns; /* by handle: handles are small integers */
  uint32_t nslots;
  unsigned open;
  uint64_t ended; /* connections that ended, for --count */
  int sink_fd;
  struct conn *owner, *qhead, *qtail; /* sink: who writes, who waits */
  uv_timer_t tick;
  double quiet_since; /* when the last connection ended */
  /* Progress: totals, and what had been printed. */
  uint64_t in, out, shown_in;
  double shown_at;
  uint8_t scratch[CONN_BUF]; /* discard and sink reads */
} T;

static uint64_t now_us(void)
{
  return weir_driver_now(&App.drv);
}

static void tcp_done(int code)
{
  uint32_t i;

  if (App.stopping)
    return;
  /* Every connection ends with FIN or RST: those still open get a RST
   * (weir_app_stop's last flush sends it), never silence. */
  for (i = 0; i < T.nslots; i++)
    if (T.conns[i])
      weir_tcp_abort(App.stack, T.conns[i]->sock, now_us());
  /* Connections not yet accepted are reset too. */
  weir_tcp_close(App.stack, T.listener, now_us());
  T.listener = -1;
  uv_close((uv_handle_t *)&T.tick, NULL);
  weir_app_stop(&App, code);
}

static void conn_report(const struct conn *c, const char *how)
{
  char ep[24];
  double secs = weir_app_seconds() - c->start;

  /* Short exchanges say nothing unless asked: the server runs for long. */
  if (!App.o.verbose && secs < 1.0)
    return;
  fprintf(stderr,
          "echoserver: %s %s: %" PRIu64 " bytes in, %" PRIu64
          " out, %.3f s, %.1f Mbit/s in\n",
          weir_app_endpoint(c->addr, c->port, ep), how, c->in, c->out, secs,
          weir_app_mbits(c->in, secs));
}

static void accept_all(void);
static int serve(struct conn *c);

/* Takes the sink for c, or queues c for it. Returns 1 if c owns it.
 * (The sink is never free while connections wait: sink_release hands it
 * to the next at once.) */
static int sink_take(struct conn *c)
{
  if (T.owner == c)
    return 1;
  if (!T.owner) {
    T.owner = c;
    return 1;
  }
  if (!c->queued) {
    c->queued = 1;
    c->next = NULL;
    if (T.qtail)
      T.qtail->next = c;
    else
      T.qhead = c;
    T.qtail = c;
  }
  return 0;
}

/* c is done with the sink (its end, or it is leaving): the next in line
 * goes on. */
static void sink_release(struct conn *c)
{
  struct conn **pp;

  if (c->queued) {
    for (pp = &T.qhead; *pp; pp = &(*pp)->next)
      if (*pp == c) {
        *pp = c->next;
        break;
      }
    T.qtail = NULL;
    for (pp = &T.qhead; *pp; pp = &(*pp)->next)
      T.qtail = *pp;
    c->queued = 0;
  }
  if (T.owner != c)
    return;
  T.owner = NULL;
  if (T.qhead) {
    T.owner = T.qhead;
    T.qhead = T.owner->next;
    if (!T.qhead)
      T.qtail = NULL;
    T.owner->queued = 0;
    serve(T.owner);
  }
}

/* The connection is over: err 0 for a clean close (FINs both ways), else
 * why. abort: send a RST rather than finish politely. */
static void conn_end(struct conn *c, int err, int abort, const char *why)
{
  char ep[24], what[64];

  if (err)
    snprintf(what, sizeof(what), "ended: %s", weir_strerror(err));
  else
    snprintf(what, sizeof(what), "%s", why ? why : "closed");
  if (err || why)
    fprintf(App.vout, "echoserver: %s %s\n",
            weir_app_endpoint(c->addr, c->port, ep), what);
  conn_report(c, err || why ? "ended" : "closed");
  if (abort)
    weir_tcp_abort(App.stack, c->sock, now_us());
  else
    weir_tcp_close(App.stack, c->sock, now_us());
  T.conns[c->sock] = NULL;
  T.open--;
  T.ended++;
  if (T.open == 0)
    T.quiet_since = weir_app_seconds();
  sink_release(c);
  free(c->buf);
  free(c);
  if (App.o.count && T.ended >= App.o.count) {
    tcp_done(WEIR_APP_OK);
    return;
  }
  accept_all(); /* a slot is free: a connection refused for want of one
                   may be waiting */
}

static int write_sink(const uint8_t *p, size_t len)
{
  ssize_t w;

  while (len > 0) {
    w = write(T.sink_fd, p, len);
    if (w < 0 && errno == EINTR)
      continue;
    if (w <= 0)
      return -1;
    p += w;
    len -= (size_t)w;
  }
  return 0;
}

/* Moves what can move on c: sends back what is held, reads more only
 * once the echo is all taken, shuts down after the client's FIN. Returns
 * -1 if c is gone. */
static int serve(struct conn *c)
{
  struct weir_app *a = &App;
  uint8_t *buf;
  int r;

  for (;;) {
    if (a->stopping)
      return 0;
    if (c->off < c->len) {
      r = weir_tcp_send(a->stack, c->sock, c->buf + c->off, c->len - c->off,
                        now_us());
      if (r == WEIR_EAGAIN)
        return 0; /* WEIR_EV_WRITABLE follows; until then, read nothing */
      if (r < 0) {
        conn_end(c, r, 1, NULL);
        return -1;
      }
      c->off += (size_t)r;
      c->out += (uint64_t)r;
      T.out += (uint64_t)r;
      c->last = weir_app_seconds();
      continue;
    }
    c->off = c->len = 0;
    if (c->eof) {
      if (!c->shut) {
        c->shut = 1;
        r = weir_tcp_shutdown(a->stack, c->sock, now_us());
        if (r < 0) {
          conn_end(c, r, 1, NULL);
          return -1;
        }
      }
      return 0; /* WEIR_EV_CLOSED once the client ACKs our FIN */
    }
    if (T.mode == MODE_SINK && !sink_take(c))
      return 0; /* sink_release serves it when its turn comes */
    buf = T.mode == MODE_ECHO ? c->buf : T.scratch;
    r = weir_tcp_recv(a->stack, c->sock, buf, CONN_BUF, now_us());
    if (r == WEIR_EAGAIN)
      return 0;
    if (r == 0) {
      c->eof = 1;
      if (T.mode == MODE_SINK)
        sink_release(c);
      continue;
    }
    if (r < 0) {
      conn_end(c, r, 1, NULL);
      return -1;
    }
    c->in += (uint64_t)r;
    T.in += (uint64_t)r;
    c->last = weir_app_seconds();
    if (T.mode == MODE_ECHO) {
      c->len = (size_t)r;
    } else if (T.mode == MODE_SINK && write_sink(buf, (size_t)r) < 0) {
      weir_app_err(a, "%s: %s", a->o.sink, strerror(errno));
      tcp_done(WEIR_APP_FAIL);
      return 0;
    }
  }
}

static void accept_all(void)
{
  struct weir_app *a = &App;
  struct conn *c;
  uint32_t addr;
  uint16_t port;
  int h;

  while (!a->stopping) {
    h = weir_tcp_accept(a->stack, T.listener, &addr, &port);
    if (h == WEIR_EAGAIN)
      return;
    if (h < 0) {
      /* The socket table is full: the connection waits in the backlog
       * until one ends (conn_end calls us again). */
      if (a->o.verbose)
        fprintf(a->vout, "echoserver: accept: %s\n", weir_strerror(h));
      return;
    }
    c = calloc(1, sizeof(*c));
    if (c && T.mode == MODE_ECHO)
      c->buf = malloc(CONN_BUF);
    if (!c || (T.mode == MODE_ECHO && !c->buf) || (uint32_t)h >= T.nslots ||
        T.conns[h]) {
      weir_app_err(a, "cannot serve a connection: out of memory");
      if (c)
        free(c->buf);
      free(c);
      weir_tcp_abort(a->stack, h, now_us());
      continue;
    }
    c->sock = h;
    c->addr = addr;
    c->port = port;
    c->start = c->last = weir_app_seconds();
    T.conns[h] = c;
    T.open++;
    serve(c); /* data may have come with the handshake */
  }
}

static void tcp_on_event(struct weir_driver *d, int sock, unsigned events,
                         void *user)
{
  struct weir_app *a = &App;
  struct weir_tcp_info info;
  struct conn *c;
  char ep[24];
  int err;

  (void)d;
  (void)user;
  weir_app_drain_trace(a);
  if (a->stopping)
    return;
  if (sock == T.listener) {
    if (events & WEIR_EV_ACCEPT)
      accept_all();
    return;
  }
  if (sock < 0 || (uint32_t)sock >= T.nslots || !(c = T.conns[sock]))
    return;
  if (events & (WEIR_EV_RESET | WEIR_EV_ERROR)) {
    err = weir_sock_error(a->stack, sock, NULL, NULL);
    if ((events & WEIR_EV_RESET) ||
        (weir_tcp_info(a->stack, sock, &info) == 0 &&
         info.state == WEIR_TCP_CLOSED)) {
      conn_end(c, err < 0 ? err : WEIR_ECONNRESET, 0, NULL);
      return;
    }
    if (err < 0 && a->o.verbose) /* soft: ICMP, say; TCP goes on */
      fprintf(a->vout, "echoserver: %s %s\n",
              weir_app_endpoint(c->addr, c->port, ep), weir_strerror(err));
  }
  if (events & (WEIR_EV_READABLE | WEIR_EV_WRITABLE | WEIR_EV_PEER_CLOSED))
    if (serve(c) < 0)
      return;
  if (events & WEIR_EV_CLOSED)
    conn_end(c, 0, 0, NULL);
}

/* Ten times a second: idle connections, --timeout, progress. */
static void tick_cb(uv_timer_t *t)
{
  struct weir_app *a = &App;
  double now = weir_app_seconds(), tmo = (double)a->o.timeout_us / 1e6;
  char in[16], out[16];
  uint32_t i;
  struct conn *c;

  (void)t;
  for (i = 0; i < T.nslots && !a->stopping; i++) {
    if (!(c = T.conns[i]))
      continue;
    if (c->queued)
      c->last = now; /* waiting for the sink is not idleness */
    else if (a->o.timeout_us && now - c->last >= tmo)
      conn_end(c, 0, 1, "idle: reset");
  }
  if (a->stopping)
    return;
  weir_driver_kick(&a->drv);
  if (a->o.timeout_us && T.open == 0 && now - T.quiet_since >= tmo) {
    if (a->o.verbose)
      fprintf(a->vout,
              "echoserver: no connection for %.3f s, %" PRIu64 " served\n", tmo,
              T.ended);
    tcp_done(a->o.count && T.ended < a->o.count ? WEIR_APP_FAIL : WEIR_APP_OK);
    return;
  }
  /* Progress once a second, while bytes move on a connection that has
   * been open a second or more. */
  if (now - T.shown_at >= 1.0) {
    int longer = 0;
    for (i = 0; i < T.nslots; i++)
      if (T.conns[i] && now - T.conns[i]->start >= 1.0)
        longer = 1;
    if (longer && T.in != T.shown_in)
      fprintf(stderr, "echoserver: %u open, %s in, %s out, %.1f Mbit/s in\n",
              T.open, weir_app_bytes(T.in, in), weir_app_bytes(T.out, out),
              weir_app_mbits(T.in - T.shown_in, now - T.shown_at));
    T.shown_in = T.in;
    T.shown_at = now;
  }
}

static void tcp_on_signal(struct weir_app *a, int signum)
{
  (void)a;
  (void)signum;
  tcp_done(WEIR_APP_OK);
}

static int tcp_main(void)
{
  struct weir_app *a = &App;
  int err;

  T.mode = a->o.discard ? MODE_DISCARD : a->o.sink ? MODE_SINK : MODE_ECHO;
  T.sink_fd = -1;
  if (T.mode == MODE_SINK) {
    T.sink_fd =
        open(a->o.sink, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (T.sink_fd < 0) {
      weir_app_err(a, "%s: %s", a->o.sink, strerror(errno));
      return WEIR_APP_FAIL;
    }
  }
  a->on_signal = tcp_on_signal;
  a->trace_by_peer = 1;
  weir_app_start(a, tcp_on_event);

  T.nslots = weir_stack_config(a->stack)->max_sockets;
  T.conns = calloc(T.nslots, sizeof(*T.conns));
  T.listener = weir_tcp_open(a->stack);
  err = T.listener;
  if (err >= 0)
    err = weir_tcp_listen(a->stack, T.listener, a->o.port, 64);
  if (err < 0 || !T.conns) {
    weir_app_err(a, "cannot listen on TCP port %u: %s", (unsigned)a->o.port,
                 weir_strerror(err < 0 ? err : WEIR_ENOMEM));
    exit(WEIR_APP_FAIL);
  }
  weir_driver_kick(&a->drv);
  T.quiet_since = T.shown_at = weir_app_seconds();
  uv_timer_init(a->loop, &T.tick);
  uv_timer_start(&T.tick, tick_cb, 100, 100);
  if (a->o.verbose) {
    if (T.mode == MODE_SINK)
      printf("echoserver: TCP port %u into %s\n", (unsigned)a->o.port,
             a->o.sink);
    else
      printf("echoserver: %s TCP on port %u\n",
             T.mode == MODE_ECHO ? "echoing" : "discarding",
             (unsigned)a->o.port);
  }

  uv_run(a->loop, UV_RUN_DEFAULT);
  for (uint32_t i = 0; i < T.nslots; i++)
    if (T.conns[i]) {
      free(T.conns[i]->buf);
      free(T.conns[i]);
    }
  free(T.conns);
  if (T.sink_fd >= 0 && close(T.sink_fd) < 0 && a->exit_code == 0) {
    weir_app_err(a, "%s: %s", a->o.sink, strerror(errno));
    a->exit_code = WEIR_APP_FAIL;
  }
  return weir_app_finish(a, stdout);
}

static int udp_main(void)
{
  struct weir_app *a = &App;
  int err;

  a->on_signal = udp_on_signal;
  weir_app_start(a, udp_on_event);

  S.sock = weir_udp_open(a->stack);
  err = S.sock < 0 ? S.sock : weir_udp_bind(a->stack, S.sock, a->o.port);
  if (err < 0) {
    weir_app_err(a, "cannot bind UDP port %u: %s", (unsigned)a->o.port,
                 weir_strerror(err));
    exit(WEIR_APP_FAIL);
  }
  uv_timer_init(a->loop, &S.idle);
  udp_restart_idle();
  if (a->o.verbose)
    printf("echoserver: echoing UDP on port %u\n", (unsigned)a->o.port);

  uv_run(a->loop, UV_RUN_DEFAULT);
  weir_udp_close(a->stack, S.sock);
  return weir_app_finish(a, stdout);
}

int main(int argc, char **argv)
{
  weir_app_parse(&App, argc, argv, WEIR_APP_SERVER, usage, 0);
  setvbuf(stdout, NULL, _IOLBF, 0); /* -v lines appear as they happen */
  return App.o.udp ? udp_main() : tcp_main();
}
