/* echoserver: echoes every UDP datagram back to its sender, through weir
 * on a tun or tap device. */
#include <stdlib.h>
#include <string.h>

#include "common.h"

static const char usage[] =
    "usage: echoserver [flags] -u [ADDR] PORT\n"
    "\n"
    "Echoes every datagram sent to weir's address on PORT back to its\n"
    "sender. ADDR, if given, is weir's address (the same as --ip).\n"
    "\n"
    "  --port N            the port, instead of PORT\n"
    "  --count N           exit after echoing N datagrams\n"
    "  --timeout SEC       exit after SEC seconds without a datagram (status\n"
    "                      1 if --count was not reached; default: run until\n"
    "                      SIGINT or SIGTERM, which exit 0)\n"
    "\n"
    "Example, as root: weir answers ping and `nc -u 10.77.0.2 7` at once:\n"
    "  echoserver -u -v --if weir0 --ip 10.77.0.2/24 --kernel-ip "
    "10.77.0.1/24 7\n";

static struct server {
  struct weir_app app;
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

static void done(int code)
{
  if (S.app.stopping)
    return;
  uv_close((uv_handle_t *)&S.idle, NULL);
  weir_app_stop(&S.app, code);
}

static void idle_cb(uv_timer_t *t)
{
  (void)t;
  if (S.app.o.verbose)
    printf("echoserver: idle for %.3f s, %llu echoed\n",
           (double)S.app.o.timeout_us / 1e6, (unsigned long long)S.echoed);
  done(S.app.o.count && S.echoed < S.app.o.count ? WEIR_APP_FAIL : WEIR_APP_OK);
}

static void restart_idle(void)
{
  uint64_t ms = (S.app.o.timeout_us + 999) / 1000;

  if (S.app.o.timeout_us)
    uv_timer_start(&S.idle, idle_cb, ms, 0);
}

/* Returns 1 if the echo was taken (or dropped for good), 0 if the
 * transmit queue is full. */
static int echo(size_t len, uint32_t addr, uint16_t port)
{
  struct weir_app *a = &S.app;
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
    done(WEIR_APP_OK);
  return 1;
}

static void pump(void)
{
  struct weir_app *a = &S.app;
  int n;

  if (S.held) {
    if (!echo(S.held_len, S.held_addr, S.held_port))
      return;
    S.held = 0;
  }
  while (!a->stopping) {
    n = weir_udp_recvfrom(a->stack, S.sock, S.buf, sizeof(S.buf), &S.held_addr,
                          &S.held_port);
    if (n < 0)
      return;
    restart_idle();
    if (!echo((size_t)n, S.held_addr, S.held_port)) {
      S.held = 1;
      S.held_len = (size_t)n;
      return;
    }
  }
}

static void on_signal(struct weir_app *a, int signum)
{
  (void)a;
  (void)signum;
  done(WEIR_APP_OK);
}

static void on_event(struct weir_driver *d, int sock, unsigned events,
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
    err = weir_sock_error(S.app.stack, sock, &addr, &port);
    if (err < 0 && S.app.o.verbose)
      printf("echoserver: %s:%u: %s\n", weir_ipv4_format(addr, ip),
             (unsigned)port, weir_strerror(err));
  }
  if (events & (WEIR_EV_READABLE | WEIR_EV_WRITABLE))
    pump();
}

int main(int argc, char **argv)
{
  struct weir_app *a = &S.app;
  int err;

  weir_app_parse(a, argc, argv, WEIR_APP_SERVER, usage, 0);
  setvbuf(stdout, NULL, _IOLBF, 0); /* -v lines appear as they happen */
  a->on_signal = on_signal;
  weir_app_start(a, on_event);

  S.sock = weir_udp_open(a->stack);
  err = S.sock < 0 ? S.sock : weir_udp_bind(a->stack, S.sock, a->o.port);
  if (err < 0) {
    weir_app_err(a, "cannot bind UDP port %u: %s", (unsigned)a->o.port,
                 weir_strerror(err));
    exit(WEIR_APP_FAIL);
  }
  uv_timer_init(a->loop, &S.idle);
  restart_idle();
  if (a->o.verbose)
    printf("echoserver: echoing UDP on port %u\n", (unsigned)a->o.port);

  uv_run(a->loop, UV_RUN_DEFAULT);
  weir_udp_close(a->stack, S.sock);
  return weir_app_finish(a, stdout);
}
