/* netxfer: one-way TCP bulk transfer over kernel sockets, the Linux end of
 * bench/net.sh's bulk figures against weir's echoserver and echoclient.
 *
 *   netxfer send ADDR PORT SECONDS
 *       connects, writes for SECONDS, closes its sending side and reads
 *       until the peer's FIN: the peer has then taken every byte (weir's
 *       echoserver --discard closes once it has read our FIN). Prints
 *       "BYTES SECONDS GBIT/S", timed from connect to that FIN.
 *   netxfer sink PORT SECONDS
 *       accepts one connection and reads it until its FIN or until
 *       SECONDS after its first byte, then closes; prints the same line,
 *       timed from the first read to the last. The sender may be
 *       endless (weir's echoclient reading /dev/zero) and is reset.
 *
 * Large writes and reads (256 KiB) keep the system-call cost of this end
 * small next to the stack under test. 10 s without progress, or SECONDS
 * plus 30 in all, end it with status 1. libc only. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "tool.h"

#define BUF (256 * 1024)

static char buf[BUF];

static void timeouts(int fd)
{
  struct timeval tv = {.tv_sec = 10};

  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

static void report(uint64_t bytes, double secs)
{
  if (secs <= 0)
    secs = 1e-9;
  printf("%llu %.3f %.3f\n", (unsigned long long)bytes, secs,
         (double)bytes * 8 / secs / 1e9);
}

static int do_send(const char *addr, int port, double secs)
{
  struct sockaddr_in sa = {.sin_family = AF_INET,
                           .sin_port = htons((uint16_t)port)};
  uint64_t bytes = 0;
  double t0, end;
  ssize_t n;
  int fd;

  if (inet_pton(AF_INET, addr, &sa.sin_addr) != 1) {
    fprintf(stderr, "netxfer: bad address %s\n", addr);
    return 2;
  }
  fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0)
    die("socket");
  timeouts(fd);
  if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
    die("connect");
  t0 = now_s();
  end = t0 + secs;
  memset(buf, 'x', sizeof(buf));
  while (now_s() < end) {
    n = write(fd, buf, sizeof(buf));
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      die("write");
    bytes += (uint64_t)n;
  }
  if (shutdown(fd, SHUT_WR) < 0)
    die("shutdown");
  /* The peer's FIN says it has read all: only then is the time known. */
  while ((n = read(fd, buf, sizeof(buf))) != 0) {
    if (n < 0 && errno != EINTR)
      die("waiting for the peer's FIN");
  }
  report(bytes, now_s() - t0);
  close(fd);
  return 0;
}

static int do_sink(int port, double secs)
{
  struct sockaddr_in sa = {.sin_family = AF_INET,
                           .sin_port = htons((uint16_t)port),
                           .sin_addr.s_addr = htonl(INADDR_ANY)};
  uint64_t bytes = 0;
  double t0 = 0, t1 = 0;
  int ls, fd, one = 1;
  ssize_t n;

  ls = socket(AF_INET, SOCK_STREAM, 0);
  if (ls < 0)
    die("socket");
  setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (bind(ls, (struct sockaddr *)&sa, sizeof(sa)) < 0)
    die("bind");
  if (listen(ls, 1) < 0)
    die("listen");
  fd = accept(ls, NULL, NULL);
  if (fd < 0)
    die("accept");
  close(ls);
  timeouts(fd);
  for (;;) {
    n = read(fd, buf, sizeof(buf));
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      die("read");
    if (n == 0)
      break;
    t1 = now_s();
    if (t0 == 0) {
      /* The clock starts at the first read; what it brought arrived
       * before, so it is not counted. */
      t0 = t1;
      continue;
    }
    bytes += (uint64_t)n;
    if (t1 - t0 >= secs)
      break;
  }
  report(bytes, t1 - t0);
  close(fd);
  return 0;
}

int main(int argc, char **argv)
{
  double secs;

  signal(SIGPIPE, SIG_IGN);
  if (argc == 5 && strcmp(argv[1], "send") == 0) {
    secs = atof(argv[4]);
    alarm((unsigned)secs + 30);
    return do_send(argv[2], atoi(argv[3]), secs);
  }
  if (argc == 4 && strcmp(argv[1], "sink") == 0) {
    secs = atof(argv[3]);
    alarm((unsigned)secs + 30);
    return do_sink(atoi(argv[2]), secs);
  }
  fprintf(stderr, "usage: netxfer send ADDR PORT SECONDS | "
                  "netxfer sink PORT SECONDS\n");
  return 2;
}
