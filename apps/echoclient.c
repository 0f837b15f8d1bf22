/* echoclient: connects to a TCP echo server through weir, sends stdin and
 * writes the echo to stdout, like `nc -N`; with -u, sends stdin as UDP
 * datagrams and writes their echoes. Exits once everything came back. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common.h"

static const char usage[] =
    "usage: echoclient [flags] ADDR PORT\n"
    "\n"
    "TCP (the default): connects to ADDR:PORT through weir, sends stdin\n"
    "and writes what comes back to stdout, as `nc -N` would. At the end of\n"
    "stdin it closes its sending side (FIN). It exits 0 once every byte\n"
    "sent has come back and the connection has closed with FINs both\n"
    "ways; 1, with one line on stderr, if the connection is refused, reset\n"
    "or times out, or the echo falls short. Input of any size streams\n"
    "through bounded buffers: no more of stdin is read than the connection\n"
    "takes, and no more of the connection than stdout takes.\n"
    "The exchange complete, stdout is closed at once (a pipeline goes on)\n"
    "and the process stays for 2 x MSL in TIME-WAIT (2 s by default, see\n"
    "--msl), to answer the server should it send its FIN again: weir's TCP\n"
    "lives in this process, and TIME-WAIT with it.\n"
    "\n"
    "With -u: sends stdin to ADDR:PORT as UDP datagrams, one per line (or\n"
    "per 1400 bytes, less if the MTU is smaller), and writes each echo to\n"
    "stdout in the order sent. Exits 0 once every datagram has been echoed\n"
    "and stdin is at its end. Unanswered datagrams are sent again (after\n"
    "1 s, doubling up to 4 s); duplicate echoes are dropped.\n"
    "\n"
    "  --port N            the port, instead of PORT\n"
    "  --timeout SEC       give up (status 1) after SEC seconds (default\n"
    "                      5): TCP, if the connection is not established by\n"
    "                      then, or nothing moved for that long while data,\n"
    "                      its echo or the server's FIN were outstanding;\n"
    "                      UDP, when echoes are outstanding and none has\n"
    "                      come for that long. Waiting for stdin has no\n"
    "                      deadline.\n"
    "\n"
    "-v prints on stderr; each TCP line names the connection by its local\n"
    "endpoint, e.g. `10.77.0.2:43512 SYN-SENT -> ESTABLISHED`.\n"
    "\n"
    "Example: echo hello | echoclient --if weir1 --ip 10.77.3.2/24 \\\n"
    "             --kernel-ip 10.77.3.1/24 10.77.3.1 7\n";

static struct weir_app App;

/* ---------------------------------------------------------------- UDP */

#define WINDOW    64 /* datagrams in flight: far below any receive queue */
#define MAX_DGRAM 1400
/* RFC 6298's initial RTO for TCP, a safe guess when nothing is known of
 * the path (a Linux `socat ...,fork` peer forks per datagram: slow). */
#define RTO_INIT_US 1000000u
#define RTO_MAX_US  4000000u

struct slot {
  size_t len;
  int sent;     /* the stack took it at least once */
  int answered; /* its echo came back */
  uint64_t sent_at;
  uint64_t rto;
  uint8_t data[MAX_DGRAM];
};

static struct udp_client {
  int sock;
  uint16_t lport;
  size_t maxlen;

  /* Datagrams sent and not yet written to stdout, oldest at head. */
  struct slot win[WINDOW];
  unsigned head, n;
  /* How many may be in flight: WINDOW once the peer has answered. Before
   * that, on Ethernet, no more than the stack holds for an unresolved
   * neighbour (arp_queue_per_entry): the rest would be dropped while ARP
   * resolves and cost a retransmission timeout. */
  unsigned wnd;

  /* stdin: bytes read and not yet sent (less than one datagram). */
  uint8_t acc[MAX_DGRAM];
  size_t acc_len;
  int eof;
  int in_pollable, in_active, in_flags;
  uv_poll_t in;

  uv_timer_t timer;
  uint64_t progress_at; /* last new datagram sent or echo received */
  uint64_t sent, echoed, resent, dups;
  uint8_t rbuf[65536];
} C;

static uint64_t udp_now(void)
{
  return weir_driver_now(&App.drv);
}

static void udp_done(int code)
{
  if (App.stopping)
    return;
  if (C.in_pollable)
    uv_close((uv_handle_t *)&C.in, NULL);
  uv_close((uv_handle_t *)&C.timer, NULL);
  /* The exchange is over: let a pipeline behind us go on now. */
  close(STDOUT_FILENO);
  weir_app_stop(&App, code);
}

static void udp_verbose(const char *what, size_t len, int inbound)
{
  char us[24], them[24];

  if (!App.o.verbose)
    return;
  weir_app_endpoint(App.o.ip, C.lport, us);
  weir_app_endpoint(App.o.addr, App.o.port, them);
  fprintf(stderr, "%s -> %s %zu bytes %s\n", inbound ? them : us,
          inbound ? us : them, len, what);
}

/* stdout may share its file with stdin (a socketpair from socat, a tty),
 * which uv_poll made non-blocking: wait for room, but not forever. */
static int udp_write_all(const uint8_t *p, size_t len)
{
  struct pollfd pfd = {.fd = STDOUT_FILENO, .events = POLLOUT};
  int ms = (int)(App.o.timeout_us / 1000) + 1;
  ssize_t w;

  while (len > 0) {
    w = write(STDOUT_FILENO, p, len);
    if (w > 0) {
      p += w;
      len -= (size_t)w;
    } else if (w < 0 && errno == EINTR) {
      continue;
    } else if (w < 0 && errno == EAGAIN) {
      if (poll(&pfd, 1, ms) <= 0)
        return -ETIMEDOUT;
    } else {
      return w < 0 ? -errno : -EIO;
    }
  }
  return 0;
}

static void udp_send_slot(struct slot *s)
{
  struct weir_app *a = &App;
  int r;

  r = weir_udp_sendto(a->stack, C.sock, s->data, s->len, a->o.addr, a->o.port,
                      udp_now());
  if (r == WEIR_EAGAIN)
    return; /* the transmit queue is full: WEIR_EV_WRITABLE resends it */
  if (r < 0) {
    char them[24];
    weir_app_err(a, "%s: %s", weir_app_endpoint(a->o.addr, a->o.port, them),
                 weir_strerror(r));
    udp_done(WEIR_APP_FAIL);
    return;
  }
  udp_verbose(s->sent ? "resent" : "sent", s->len, 0);
  if (s->sent)
    C.resent++;
  else
    C.sent++;
  s->sent = 1;
  s->sent_at = udp_now();
}

static void udp_timer_cb(uv_timer_t *t);

/* One timer for both the next retransmission and the give-up time. */
static void udp_arm_timer(void)
{
  uint64_t t = udp_now(), next, due;
  unsigned i;

  if (App.stopping)
    return;
  if (C.n == 0) {
    uv_timer_stop(&C.timer); /* waiting for stdin only: no deadline */
    return;
  }
  next = C.progress_at + App.o.timeout_us;
  for (i = 0; i < C.n; i++) {
    struct slot *s = &C.win[(C.head + i) % WINDOW];
    if (s->sent && !s->answered) {
      due = s->sent_at + s->rto;
      if (due < next)
        next = due;
    }
  }
  uv_timer_start(&C.timer, udp_timer_cb, next > t ? (next - t + 999) / 1000 : 0,
                 0);
}

static void udp_check_done(void)
{
  if (C.eof && C.acc_len == 0 && C.n == 0) {
    if (App.o.verbose)
      fprintf(stderr, "echoclient: %llu datagrams echoed\n",
              (unsigned long long)C.echoed);
    udp_done(WEIR_APP_OK);
  }
}

/* Turns whole lines (or full datagrams, or the tail at EOF) of C.acc into
 * datagrams while the window has room. */
static void udp_emit(void)
{
  struct slot *s;
  uint8_t *nl;
  size_t take;

  while (!App.stopping && C.n < C.wnd && C.acc_len > 0) {
    nl = memchr(C.acc, '\n', C.acc_len);
    if (nl)
      take = (size_t)(nl - C.acc) + 1;
    else if (C.acc_len == C.maxlen || C.eof)
      take = C.acc_len;
    else
      break;
    s = &C.win[(C.head + C.n) % WINDOW];
    C.n++;
    memcpy(s->data, C.acc, take);
    s->len = take;
    s->sent = s->answered = 0;
    s->rto = RTO_INIT_US;
    memmove(C.acc, C.acc + take, C.acc_len - take);
    C.acc_len -= take;
    C.progress_at = udp_now();
    udp_send_slot(s);
  }
}

/* Reads what stdin has (once). Returns 0, or -1 after giving up. */
static int udp_read_stdin(void)
{
  ssize_t r;

  if (C.acc_len == C.maxlen)
    return 0; /* a read of 0 bytes would look like EOF */
  do
    r = read(STDIN_FILENO, C.acc + C.acc_len, C.maxlen - C.acc_len);
  while (r < 0 && errno == EINTR);
  if (r > 0)
    C.acc_len += (size_t)r;
  else if (r == 0)
    C.eof = 1;
  else if (errno != EAGAIN) {
    weir_app_err(&App, "stdin: %s", strerror(errno));
    udp_done(WEIR_APP_FAIL);
    return -1;
  }
  return 0;
}

static void udp_in_cb(uv_poll_t *p, int status, int events);

static void udp_set_in(int on)
{
  if (!C.in_pollable || on == C.in_active)
    return;
  C.in_active = on;
  if (on)
    uv_poll_start(&C.in, UV_READABLE, udp_in_cb);
  else
    uv_poll_stop(&C.in);
}

/* Sends as much of stdin as the window allows. A pipe, socket or tty is
 * read when poll says so; a regular file (or /dev/null), which epoll
 * refuses, never blocks and is read right here. */
static void udp_pump(void)
{
  for (;;) {
    udp_emit();
    if (App.stopping)
      return;
    if (C.eof || C.n >= C.wnd) {
      udp_set_in(0);
      break;
    }
    if (C.in_pollable) {
      udp_set_in(1);
      break;
    }
    if (udp_read_stdin() < 0)
      return;
  }
  udp_check_done();
  if (!App.stopping) {
    weir_driver_kick(&App.drv);
    udp_arm_timer();
  }
}

static void udp_in_cb(uv_poll_t *p, int status, int events)
{
  (void)p;
  (void)events;
  if (status < 0) {
    weir_app_err(&App, "stdin: %s", uv_strerror(status));
    udp_done(WEIR_APP_FAIL);
    return;
  }
  if (udp_read_stdin() == 0)
    udp_pump();
}

/* The oldest unanswered datagram with these bytes gets the echo; one
 * that matches none is a duplicate (we sent the datagram twice) or
 * not an echo at all. */
static int udp_match(const uint8_t *p, size_t len)
{
  unsigned i;

  for (i = 0; i < C.n; i++) {
    struct slot *s = &C.win[(C.head + i) % WINDOW];
    if (s->sent && !s->answered && s->len == len &&
        memcmp(s->data, p, len) == 0) {
      s->answered = 1;
      return 1;
    }
  }
  return 0;
}

/* Echoes go to stdout in the order their datagrams were sent, so that
 * stdout equals stdin even if the network reorders. */
static void udp_write_answered(void)
{
  struct slot *s;
  int err;

  while (C.n > 0 && C.win[C.head].answered) {
    s = &C.win[C.head];
    err = udp_write_all(s->data, s->len);
    if (err < 0) {
      weir_app_err(&App, "stdout: %s", strerror(-err));
      udp_done(WEIR_APP_FAIL);
      return;
    }
    C.head = (C.head + 1) % WINDOW;
    C.n--;
  }
}

static void udp_receive(void)
{
  struct weir_app *a = &App;
  uint32_t addr;
  uint16_t port;
  int n;

  while (!a->stopping) {
    n = weir_udp_recvfrom(a->stack, C.sock, C.rbuf, sizeof(C.rbuf), &addr,
                          &port);
    if (n < 0)
      break;
    if (addr != a->o.addr || port != a->o.port) {
      udp_verbose("ignored: not from the peer", (size_t)n, 1);
      continue;
    }
    if (!udp_match(C.rbuf, (size_t)n)) {
      C.dups++;
      udp_verbose("ignored: duplicate or unknown", (size_t)n, 1);
      continue;
    }
    C.echoed++;
    C.wnd = WINDOW;
    C.progress_at = udp_now();
    udp_verbose("echoed", (size_t)n, 1);
  }
  udp_write_answered();
}

static void udp_on_event(struct weir_driver *d, int sock, unsigned events,
                         void *user)
{
  struct weir_app *a = &App;
  char ep[24];
  uint32_t addr = 0;
  uint16_t port = 0;
  unsigned i;
  int err;

  (void)d;
  (void)user;
  if (sock != C.sock || a->stopping)
    return;
  if (events & WEIR_EV_ERROR) {
    err = weir_sock_error(a->stack, sock, &addr, &port);
    if (err < 0) {
      /* As nc: ICMP port unreachable is "connection refused". */
      weir_app_err(a, "%s: %s", weir_app_endpoint(addr, port, ep),
                   weir_strerror(err));
      udp_done(WEIR_APP_FAIL);
      return;
    }
  }
  if (events & WEIR_EV_READABLE)
    udp_receive();
  if (events & WEIR_EV_WRITABLE)
    for (i = 0; i < C.n && !a->stopping; i++)
      if (!C.win[(C.head + i) % WINDOW].sent)
        udp_send_slot(&C.win[(C.head + i) % WINDOW]);
  udp_pump();
}

static void udp_timer_cb(uv_timer_t *t)
{
  struct weir_app *a = &App;
  uint64_t tnow = udp_now();
  unsigned i, missing = 0;

  (void)t;
  for (i = 0; i < C.n; i++)
    missing += !C.win[(C.head + i) % WINDOW].answered;
  if (C.n > 0 && tnow >= C.progress_at + a->o.timeout_us) {
    weir_app_err(a, "timeout: %u datagram%s not echoed within %.3f s", missing,
                 missing == 1 ? "" : "s", (double)a->o.timeout_us / 1e6);
    udp_done(WEIR_APP_FAIL);
    return;
  }
  for (i = 0; i < C.n && !a->stopping; i++) {
    struct slot *s = &C.win[(C.head + i) % WINDOW];
    if (s->sent && !s->answered && tnow >= s->sent_at + s->rto) {
      s->rto = s->rto * 2 > RTO_MAX_US ? RTO_MAX_US : s->rto * 2;
      udp_send_slot(s);
    }
  }
  if (!a->stopping) {
    weir_driver_kick(&a->drv);
    udp_arm_timer();
  }
}

static void udp_on_signal(struct weir_app *a, int signum)
{
  (void)a;
  (void)signum;
  weir_app_err(&App, "interrupted");
  udp_done(WEIR_APP_FAIL);
}

/* ---------------------------------------------------------------- TCP */

/* stdin read and not yet taken by the stack; the echo received and not
 * yet written to stdout. The connection's own buffers (cfg.tcp_snd_buf,
 * tcp_rcv_buf) hold the rest: nothing here grows with the input. */
#define IN_CAP  65536
#define OUT_CAP 65536

static struct tcp_client {
  int sock; /* -1 once closed */
  int connected;
  int complete; /* the exchange is over and right: lingering */
  uint8_t in[IN_CAP];
  size_t in_len, in_off; /* in[in_off, in_len) not yet sent */
  int eof;               /* stdin is at its end */
  int shut;              /* our FIN is queued */
  uint8_t out[OUT_CAP];
  size_t out_len, out_off; /* out[out_off, out_len) not yet written */
  int fin;                 /* recv returned 0: the server's FIN */
  uv_poll_t inp, outp;
  int in_pollable, in_active, in_flags;
  int out_pollable, out_active, out_flags, out_closed;
  uint64_t sent, echoed;
  uv_timer_t tick, linger;
  double t_start, t_conn, t_last; /* connect, established, last progress */
  double shown_at;
  uint64_t shown_sent, shown_echoed;
} K;

static uint64_t tcp_now(void)
{
  return weir_driver_now(&App.drv);
}

static char *peer(char *buf)
{
  return weir_app_endpoint(App.o.addr, App.o.port, buf);
}

/* The exchange is over: stdout goes at once (a pipeline behind us goes
 * on); its flags, shared with whoever gave it to us, are put back. */
static void close_stdout(void)
{
  if (K.out_closed)
    return;
  K.out_closed = 1;
  if (K.out_pollable)
    uv_close((uv_handle_t *)&K.outp, NULL);
  if (K.in_pollable)
    uv_close((uv_handle_t *)&K.inp, NULL);
  K.out_pollable = K.in_pollable = 0;
  if (K.in_flags >= 0)
    fcntl(STDIN_FILENO, F_SETFL, K.in_flags);
  if (K.out_flags >= 0)
    fcntl(STDOUT_FILENO, F_SETFL, K.out_flags);
  close(STDOUT_FILENO);
}

static void tcp_done(int code)
{
  if (App.stopping)
    return;
  close_stdout();
  uv_close((uv_handle_t *)&K.tick, NULL);
  uv_close((uv_handle_t *)&K.linger, NULL);
  weir_app_stop(&App, code);
}

/* Prints "echoclient: ADDR:PORT: why" and exits 1 once the RST (if the
 * connection still stands) has gone. */
static void fail(int reset, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void fail(int reset, const char *fmt, ...)
{
  char ep[24], msg[256];
  va_list ap;

  if (App.stopping)
    return;
  weir_app_drain_trace(&App);
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  weir_app_err(&App, "%s: %s", peer(ep), msg);
  if (K.sock >= 0) {
    if (reset)
      weir_tcp_abort(App.stack, K.sock, tcp_now());
    else
      weir_tcp_close(App.stack, K.sock, tcp_now());
    K.sock = -1;
  }
  tcp_done(WEIR_APP_FAIL);
}

static void throughput(void)
{
  double secs = weir_app_seconds() - K.t_conn;

  if (!App.o.verbose && secs < 1.0)
    return;
  fprintf(stderr,
          "echoclient: %" PRIu64 " bytes sent and echoed in %.3f s: %.1f "
          "Mbit/s each way\n",
          K.sent, secs, weir_app_mbits(K.sent, secs));
}

static void linger_cb(uv_timer_t *t)
{
  (void)t;
  weir_app_drain_trace(&App);
  tcp_done(WEIR_APP_OK);
}

/* Done when stdin was all sent, our FIN and the server's both went, and
 * every byte came back and was written; a FIN before that is a short
 * echo. Called after anything that may have changed it. */
static void check_complete(void)
{
  struct weir_tcp_info info;
  char ep[24];
  uint64_t linger_ms;

  if (!K.connected || K.complete || App.stopping)
    return;
  if (K.echoed > K.sent) {
    fail(1,
         "received %" PRIu64 " bytes, more than the %" PRIu64
         " sent: not an echo",
         K.echoed, K.sent);
    return;
  }
  /* What came is written first, even if it falls short. */
  if (!K.fin || K.out_off < K.out_len)
    return;
  if (!K.eof) {
    fail(1,
         "short echo: the server closed before the end of stdin (%" PRIu64
         " bytes echoed)",
         K.echoed);
    return;
  }
  if (K.in_len > K.in_off || K.echoed < K.sent) {
    fail(1,
         "short echo: the server closed after %" PRIu64 " of %" PRIu64 " bytes",
         K.echoed, K.sent + (K.in_len - K.in_off));
    return;
  }
  if (!K.shut)
    return;
  if (weir_tcp_info(App.stack, K.sock, &info) < 0)
    return;
  if (info.state != WEIR_TCP_TIME_WAIT && info.state != WEIR_TCP_CLOSED)
    return; /* our FIN is not yet acknowledged */
  K.complete = 1;
  if (App.o.verbose)
    fprintf(stderr, "echoclient: %s: exchange complete\n", peer(ep));
  throughput();
  close_stdout();
  uv_timer_stop(&K.tick);
  weir_tcp_close(App.stack, K.sock, tcp_now());
  K.sock = -1;
  if (info.state == WEIR_TCP_CLOSED) { /* we closed second: no TIME-WAIT */
    tcp_done(WEIR_APP_OK);
    return;
  }
  /* The core holds TIME-WAIT for 2 x MSL from now; stay that long, and a
   * little more to see it end. */
  linger_ms = 2 * App.o.msl_us / 1000 + 50;
  uv_timer_start(&K.linger, linger_cb, linger_ms, 0);
}

/* Reads stdin once. Returns 0, or -1 after failing. */
static int tcp_read_stdin(void)
{
  ssize_t r;

  do
    r = read(STDIN_FILENO, K.in, IN_CAP);
  while (r < 0 && errno == EINTR);
  if (r > 0) {
    K.in_off = 0;
    K.in_len = (size_t)r;
  } else if (r == 0) {
    K.eof = 1;
  } else if (errno != EAGAIN) {
    fail(1, "stdin: %s", strerror(errno));
    return -1;
  }
  return 0;
}

static void tcp_in_cb(uv_poll_t *p, int status, int events);
static void tcp_out_cb(uv_poll_t *p, int status, int events);

static void set_in(int on)
{
  if (!K.in_pollable || on == K.in_active)
    return;
  K.in_active = on;
  if (on)
    uv_poll_start(&K.inp, UV_READABLE, tcp_in_cb);
  else
    uv_poll_stop(&K.inp);
}

/* Writes what the echo holds. Returns 1 if bytes moved, 0 if stdout is
 * full (K.out_active: its poll says when to go on), -1 after failing. */
static int flush_stdout(void)
{
  struct pollfd pfd = {.fd = STDOUT_FILENO, .events = POLLOUT};
  int moved = 0;
  ssize_t w;

  while (K.out_off < K.out_len) {
    w = write(STDOUT_FILENO, K.out + K.out_off, K.out_len - K.out_off);
    if (w > 0) {
      K.out_off += (size_t)w;
      moved = 1;
    } else if (w < 0 && errno == EINTR) {
      continue;
    } else if (w < 0 && errno == EAGAIN && K.out_pollable) {
      K.out_active = 1;
      uv_poll_start(&K.outp, UV_WRITABLE, tcp_out_cb);
      break;
    } else if (w < 0 && errno == EAGAIN) {
      /* Non-blocking but not pollable by libuv: wait, not forever. */
      if (poll(&pfd, 1, (int)(App.o.timeout_us / 1000) + 1) <= 0) {
        fail(1, "stdout: no room for %.3f s", (double)App.o.timeout_us / 1e6);
        return -1;
      }
    } else {
      fail(1, "stdout: %s", w < 0 ? strerror(errno) : "short write");
      return -1;
    }
  }
  if (K.out_off == K.out_len) {
    K.out_off = K.out_len = 0;
  } else if (K.out_off > 0) {
    memmove(K.out, K.out + K.out_off, K.out_len - K.out_off);
    K.out_len -= K.out_off;
    K.out_off = 0;
  }
  return moved;
}

/* Moves what can move: stdin to the stack while it takes it, the stack
 * to stdout while stdout takes it. Each side stops where the other
 * pushes back, so buffers stay bounded and nothing is lost. */
static void tcp_pump(void)
{
  struct weir_app *a = &App;
  int r, moved;

  if (!K.connected || K.complete || a->stopping || K.sock < 0)
    return;
  do {
    moved = 0;
    while (K.in_off < K.in_len) {
      r = weir_tcp_send(a->stack, K.sock, K.in + K.in_off, K.in_len - K.in_off,
                        tcp_now());
      if (r == WEIR_EAGAIN)
        break; /* WEIR_EV_WRITABLE follows */
      if (r < 0) {
        fail(1, "%s", weir_strerror(r));
        return;
      }
      K.in_off += (size_t)r;
      K.sent += (uint64_t)r;
      moved = 1;
    }
    if (K.in_off == K.in_len)
      K.in_off = K.in_len = 0;
    if (!K.eof && K.in_len == 0 && !K.in_pollable) {
      /* A regular file or /dev/null: epoll refuses them, and they never
       * block. */
      if (tcp_read_stdin() < 0)
        return;
      moved |= K.in_len > 0 || K.eof;
    }
    if (K.eof && K.in_len == 0 && !K.shut) {
      K.shut = 1;
      r = weir_tcp_shutdown(a->stack, K.sock, tcp_now());
      if (r < 0) {
        fail(1, "%s", weir_strerror(r));
        return;
      }
    }
    while (!K.fin && !K.out_active && K.out_len < OUT_CAP) {
      r = weir_tcp_recv(a->stack, K.sock, K.out + K.out_len,
                        OUT_CAP - K.out_len, tcp_now());
      if (r == WEIR_EAGAIN)
        break; /* WEIR_EV_READABLE follows */
      if (r == 0) {
        K.fin = 1;
        break;
      }
      if (r < 0) {
        fail(1, "%s", weir_strerror(r));
        return;
      }
      K.out_len += (size_t)r;
      K.echoed += (uint64_t)r;
      moved = 1;
    }
    if (!K.out_active && K.out_off < K.out_len) {
      r = flush_stdout();
      if (r < 0)
        return;
      moved |= r;
    }
    if (moved)
      K.t_last = weir_app_seconds();
  } while (moved && !a->stopping);
  set_in(!K.eof && K.in_len == 0);
  check_complete();
}

static void tcp_in_cb(uv_poll_t *p, int status, int events)
{
  (void)p;
  (void)events;
  if (status < 0) {
    fail(1, "stdin: %s", uv_strerror(status));
    return;
  }
  if (K.in_len == 0 && !K.eof && tcp_read_stdin() < 0)
    return;
  tcp_pump();
  weir_driver_kick(&App.drv);
}

static void tcp_out_cb(uv_poll_t *p, int status, int events)
{
  (void)p;
  (void)events;
  if (status < 0) {
    fail(1, "stdout: %s", uv_strerror(status));
    return;
  }
  K.out_active = 0;
  uv_poll_stop(&K.outp);
  K.t_last = weir_app_seconds(); /* waiting for stdout is not the peer's */
  tcp_pump();
  weir_driver_kick(&App.drv);
}

static void tcp_on_event(struct weir_driver *d, int sock, unsigned events,
                         void *user)
{
  struct weir_app *a = &App;
  struct weir_tcp_info info;
  char ep[24];
  int err;

  (void)d;
  (void)user;
  weir_app_drain_trace(a);
  if (a->stopping || sock != K.sock || K.sock < 0)
    return;
  if (events & (WEIR_EV_RESET | WEIR_EV_ERROR)) {
    err = weir_sock_error(a->stack, sock, NULL, NULL);
    if ((events & WEIR_EV_RESET) ||
        (weir_tcp_info(a->stack, sock, &info) == 0 &&
         info.state == WEIR_TCP_CLOSED)) {
      /* Refused, reset, or the core gave up (timed out). */
      fail(0, "%s", weir_strerror(err < 0 ? err : WEIR_ECONNRESET));
      return;
    }
    if (err < 0 && a->o.verbose) /* soft: an ICMP error; TCP goes on */
      fprintf(stderr, "echoclient: %s: %s\n", peer(ep), weir_strerror(err));
  }
  if ((events & WEIR_EV_CONNECTED) && !K.connected) {
    K.connected = 1;
    K.t_conn = K.t_last = K.shown_at = weir_app_seconds();
  }
  tcp_pump();
}

static void tcp_on_check(struct weir_app *a)
{
  (void)a;
  check_complete();
}

/* Ten times a second: deadlines and progress. */
static void tcp_tick_cb(uv_timer_t *t)
{
  double now = weir_app_seconds(), tmo = (double)App.o.timeout_us / 1e6;
  char s[16], e[16];

  (void)t;
  if (App.stopping || K.complete)
    return;
  if (!K.connected) {
    if (now - K.t_start >= tmo)
      fail(1, "connect timed out after %.3f s", tmo);
    return;
  }
  if (K.out_active)
    K.t_last = now;
  /* Waiting for stdin has no deadline; waiting for the network has. */
  if ((K.in_len > K.in_off || K.sent > K.echoed || (K.shut && !K.fin)) &&
      now - K.t_last >= tmo) {
    fail(1,
         "timed out: nothing moved for %.3f s (%" PRIu64 " of %" PRIu64
         " bytes echoed%s)",
         tmo, K.echoed, K.sent,
         K.shut && K.echoed == K.sent ? ", no FIN from the server" : "");
    return;
  }
  if (now - K.shown_at >= 1.0 && now - K.t_conn >= 1.0) {
    if (K.sent != K.shown_sent || K.echoed != K.shown_echoed)
      fprintf(stderr, "echoclient: %s sent, %s echoed, %.1f s, %.1f Mbit/s\n",
              weir_app_bytes(K.sent, s), weir_app_bytes(K.echoed, e),
              now - K.t_conn,
              weir_app_mbits(K.echoed - K.shown_echoed, now - K.shown_at));
    K.shown_at = now;
    K.shown_sent = K.sent;
    K.shown_echoed = K.echoed;
  }
}

static void tcp_on_signal(struct weir_app *a, int signum)
{
  (void)a;
  (void)signum;
  if (K.complete) {
    tcp_done(WEIR_APP_OK); /* only TIME-WAIT was left */
    return;
  }
  fail(1, "interrupted");
}

static int tcp_main(void)
{
  struct weir_app *a = &App;
  char ep[24];
  int err;

  /* A reader that leaves early is an error to report (EPIPE), not a
   * reason to die silently with the connection open. */
  signal(SIGPIPE, SIG_IGN);
  a->on_signal = tcp_on_signal;
  a->on_check = tcp_on_check;
  weir_app_start(a, tcp_on_event);

  uv_timer_init(a->loop, &K.tick);
  uv_timer_init(a->loop, &K.linger);
  /* uv_poll_init makes the fds non-blocking; close_stdout puts their
   * flags back, since a shell shares them. */
  K.in_flags = fcntl(STDIN_FILENO, F_GETFL);
  K.out_flags = fcntl(STDOUT_FILENO, F_GETFL);
  K.in_pollable = uv_poll_init(a->loop, &K.inp, STDIN_FILENO) == 0;
  K.out_pollable = uv_poll_init(a->loop, &K.outp, STDOUT_FILENO) == 0;

  K.sock = weir_tcp_open(a->stack);
  err = K.sock;
  if (err >= 0)
    err = weir_tcp_connect(a->stack, K.sock, a->o.addr, a->o.port,
                           weir_driver_now(&a->drv));
  if (err < 0) {
    weir_app_err(a, "%s: %s", peer(ep), weir_strerror(err));
    close_stdout();
    exit(WEIR_APP_FAIL);
  }
  K.t_start = weir_app_seconds();
  uv_timer_start(&K.tick, tcp_tick_cb, 100, 100);
  weir_driver_kick(&a->drv);

  uv_run(a->loop, UV_RUN_DEFAULT);
  close_stdout();
  return weir_app_finish(a, stderr);
}

static int udp_main(void)
{
  struct weir_app *a = &App;
  int err;

  a->on_signal = udp_on_signal;
  weir_app_start(a, udp_on_event);

  C.maxlen = a->link.mtu - 28u; /* IPv4 and UDP headers */
  if (C.maxlen > MAX_DGRAM)
    C.maxlen = MAX_DGRAM;
  C.sock = weir_udp_open(a->stack);
  err = C.sock < 0 ? C.sock : weir_udp_bind(a->stack, C.sock, 0);
  if (err < 0) {
    weir_app_err(a, "cannot open a UDP socket: %s", weir_strerror(err));
    exit(WEIR_APP_FAIL);
  }
  C.lport = (uint16_t)weir_udp_local_port(a->stack, C.sock);
  C.wnd = WINDOW;
  if (a->link.ops->type == WEIR_LINK_ETHERNET &&
      weir_stack_config(a->stack)->arp_queue_per_entry < WINDOW)
    C.wnd = weir_stack_config(a->stack)->arp_queue_per_entry;
  if (C.wnd == 0)
    C.wnd = 1;
  uv_timer_init(a->loop, &C.timer);

  /* uv_poll_init makes the fd non-blocking; put it back at exit, since a
   * shell shares it. */
  C.in_flags = fcntl(STDIN_FILENO, F_GETFL);
  C.in_pollable = uv_poll_init(a->loop, &C.in, STDIN_FILENO) == 0;
  udp_pump();

  uv_run(a->loop, UV_RUN_DEFAULT);
  if (C.in_flags >= 0)
    fcntl(STDIN_FILENO, F_SETFL, C.in_flags);
  weir_udp_close(a->stack, C.sock);
  if (a->o.verbose)
    fprintf(stderr,
            "echoclient: sent %llu, resent %llu, echoed %llu, duplicates "
            "%llu\n",
            (unsigned long long)C.sent, (unsigned long long)C.resent,
            (unsigned long long)C.echoed, (unsigned long long)C.dups);
  return weir_app_finish(a, stderr);
}

int main(int argc, char **argv)
{
  weir_app_parse(&App, argc, argv, WEIR_APP_CLIENT, usage, 5000000);
  return App.o.udp ? udp_main() : tcp_main();
}
