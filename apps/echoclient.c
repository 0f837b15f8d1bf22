/* echoclient: sends stdin as UDP datagrams through weir and writes the
 * echoes to stdout, like `nc -u`, then exits once everything came back. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common.h"

static const char usage[] =
    "usage: echoclient [flags] -u ADDR PORT\n"
    "\n"
    "Sends stdin to ADDR:PORT through weir, one datagram per line (or per\n"
    "1400 bytes, less if the MTU is smaller), and writes each echo to\n"
    "stdout in the order sent. Exits 0 once every datagram has been echoed\n"
    "and stdin is at its end. Unanswered datagrams are sent again (after\n"
    "1 s, doubling up to 4 s); duplicate echoes are dropped.\n"
    "\n"
    "  --port N            the port, instead of PORT\n"
    "  --timeout SEC       give up (status 1) when echoes are outstanding\n"
    "                      and none has come for SEC seconds (default 5)\n"
    "\n"
    "Example: echo hello | echoclient -u --if weir1 --ip 10.77.3.2/24 \\\n"
    "             --kernel-ip 10.77.3.1/24 10.77.3.1 7\n";

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

static struct client {
  struct weir_app app;
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

static uint64_t now(void)
{
  return weir_driver_now(&C.app.drv);
}

static void done(int code)
{
  if (C.app.stopping)
    return;
  if (C.in_pollable)
    uv_close((uv_handle_t *)&C.in, NULL);
  uv_close((uv_handle_t *)&C.timer, NULL);
  /* The exchange is over: let a pipeline behind us go on now. */
  close(STDOUT_FILENO);
  weir_app_stop(&C.app, code);
}

static void verbose(const char *what, size_t len, int inbound)
{
  char us[24], them[24];

  if (!C.app.o.verbose)
    return;
  weir_app_endpoint(C.app.o.ip, C.lport, us);
  weir_app_endpoint(C.app.o.addr, C.app.o.port, them);
  fprintf(stderr, "%s -> %s %zu bytes %s\n", inbound ? them : us,
          inbound ? us : them, len, what);
}

/* stdout may share its file with stdin (a socketpair from socat, a tty),
 * which uv_poll made non-blocking: wait for room, but not forever. */
static int write_all(const uint8_t *p, size_t len)
{
  struct pollfd pfd = {.fd = STDOUT_FILENO, .events = POLLOUT};
  int ms = (int)(C.app.o.timeout_us / 1000) + 1;
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

static void send_slot(struct slot *s)
{
  struct weir_app *a = &C.app;
  int r;

  r = weir_udp_sendto(a->stack, C.sock, s->data, s->len, a->o.addr, a->o.port,
                      now());
  if (r == WEIR_EAGAIN)
    return; /* the transmit queue is full: WEIR_EV_WRITABLE resends it */
  if (r < 0) {
    char them[24];
    weir_app_err(a, "%s: %s", weir_app_endpoint(a->o.addr, a->o.port, them),
                 weir_strerror(r));
    done(WEIR_APP_FAIL);
    return;
  }
  verbose(s->sent ? "resent" : "sent", s->len, 0);
  if (s->sent)
    C.resent++;
  else
    C.sent++;
  s->sent = 1;
  s->sent_at = now();
}

static void timer_cb(uv_timer_t *t);

/* One timer for both the next retransmission and the give-up time. */
static void arm_timer(void)
{
  uint64_t t = now(), next, due;
  unsigned i;

  if (C.app.stopping)
    return;
  if (C.n == 0) {
    uv_timer_stop(&C.timer); /* waiting for stdin only: no deadline */
    return;
  }
  next = C.progress_at + C.app.o.timeout_us;
  for (i = 0; i < C.n; i++) {
    struct slot *s = &C.win[(C.head + i) % WINDOW];
    if (s->sent && !s->answered) {
      due = s->sent_at + s->rto;
      if (due < next)
        next = due;
    }
  }
  uv_timer_start(&C.timer, timer_cb, next > t ? (next - t + 999) / 1000 : 0, 0);
}

static void check_done(void)
{
  if (C.eof && C.acc_len == 0 && C.n == 0) {
    if (C.app.o.verbose)
      fprintf(stderr, "echoclient: %llu datagrams echoed\n",
              (unsigned long long)C.echoed);
    done(WEIR_APP_OK);
  }
}

/* Turns whole lines (or full datagrams, or the tail at EOF) of C.acc into
 * datagrams while the window has room. */
static void emit(void)
{
  struct slot *s;
  uint8_t *nl;
  size_t take;

  while (!C.app.stopping && C.n < C.wnd && C.acc_len > 0) {
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
    C.progress_at = now();
    send_slot(s);
  }
}

/* Reads what stdin has (once). Returns 0, or -1 after giving up. */
static int read_stdin(void)
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
    weir_app_err(&C.app, "stdin: %s", strerror(errno));
    done(WEIR_APP_FAIL);
    return -1;
  }
  return 0;
}

static void in_cb(uv_poll_t *p, int status, int events);

static void set_in(int on)
{
  if (!C.in_pollable || on == C.in_active)
    return;
  C.in_active = on;
  if (on)
    uv_poll_start(&C.in, UV_READABLE, in_cb);
  else
    uv_poll_stop(&C.in);
}

/* Sends as much of stdin as the window allows. A pipe, socket or tty is
 * read when poll says so; a regular file (or /dev/null), which epoll
 * refuses, never blocks and is read right here. */
static void pump(void)
{
  for (;;) {
    emit();
    if (C.app.stopping)
      return;
    if (C.eof || C.n >= C.wnd) {
      set_in(0);
      break;
    }
    if (C.in_pollable) {
      set_in(1);
      break;
    }
    if (read_stdin() < 0)
      return;
  }
  check_done();
  if (!C.app.stopping) {
    weir_driver_kick(&C.app.drv);
    arm_timer();
  }
}

static void in_cb(uv_poll_t *p, int status, int events)
{
  (void)p;
  (void)events;
  if (status < 0) {
    weir_app_err(&C.app, "stdin: %s", uv_strerror(status));
    done(WEIR_APP_FAIL);
    return;
  }
  if (read_stdin() == 0)
    pump();
}

/* The oldest unanswered datagram with these bytes gets the echo; one
 * that matches none is a duplicate (we sent the datagram twice) or
 * not an echo at all. */
static int match(const uint8_t *p, size_t len)
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
static void write_answered(void)
{
  struct slot *s;
  int err;

  while (C.n > 0 && C.win[C.head].answered) {
    s = &C.win[C.head];
    err = write_all(s->data, s->len);
    if (err < 0) {
      weir_app_err(&C.app, "stdout: %s", strerror(-err));
      done(WEIR_APP_FAIL);
      return;
    }
    C.head = (C.head + 1) % WINDOW;
    C.n--;
  }
}

static void receive(void)
{
  struct weir_app *a = &C.app;
  uint32_t addr;
  uint16_t port;
  int n;

  while (!a->stopping) {
    n = weir_udp_recvfrom(a->stack, C.sock, C.rbuf, sizeof(C.rbuf), &addr,
                          &port);
    if (n < 0)
      break;
    if (addr != a->o.addr || port != a->o.port) {
      verbose("ignored: not from the peer", (size_t)n, 1);
      continue;
    }
    if (!match(C.rbuf, (size_t)n)) {
      C.dups++;
      verbose("ignored: duplicate or unknown", (size_t)n, 1);
      continue;
    }
    C.echoed++;
    C.wnd = WINDOW;
    C.progress_at = now();
    verbose("echoed", (size_t)n, 1);
  }
  write_answered();
}

static void on_event(struct weir_driver *d, int sock, unsigned events,
                     void *user)
{
  struct weir_app *a = &C.app;
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
      done(WEIR_APP_FAIL);
      return;
    }
  }
  if (events & WEIR_EV_READABLE)
    receive();
  if (events & WEIR_EV_WRITABLE)
    for (i = 0; i < C.n && !a->stopping; i++)
      if (!C.win[(C.head + i) % WINDOW].sent)
        send_slot(&C.win[(C.head + i) % WINDOW]);
  pump();
}

static void timer_cb(uv_timer_t *t)
{
  struct weir_app *a = &C.app;
  uint64_t tnow = now();
  unsigned i, missing = 0;

  (void)t;
  for (i = 0; i < C.n; i++)
    missing += !C.win[(C.head + i) % WINDOW].answered;
  if (C.n > 0 && tnow >= C.progress_at + a->o.timeout_us) {
    weir_app_err(a, "timeout: %u datagram%s not echoed within %.3f s", missing,
                 missing == 1 ? "" : "s", (double)a->o.timeout_us / 1e6);
    done(WEIR_APP_FAIL);
    return;
  }
  for (i = 0; i < C.n && !a->stopping; i++) {
    struct slot *s = &C.win[(C.head + i) % WINDOW];
    if (s->sent && !s->answered && tnow >= s->sent_at + s->rto) {
      s->rto = s->rto * 2 > RTO_MAX_US ? RTO_MAX_US : s->rto * 2;
      send_slot(s);
    }
  }
  if (!a->stopping) {
    weir_driver_kick(&a->drv);
    arm_timer();
  }
}

static void on_signal(struct weir_app *a, int signum)
{
  (void)a;
  (void)signum;
  weir_app_err(&C.app, "interrupted");
  done(WEIR_APP_FAIL);
}

int main(int argc, char **argv)
{
  struct weir_app *a = &C.app;
  int err;

  weir_app_parse(a, argc, argv, WEIR_APP_CLIENT, usage, 5000000);
  a->on_signal = on_signal;
  weir_app_start(a, on_event);

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
  pump();

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
