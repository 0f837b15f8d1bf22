/* rr: TCP request/response latency over kernel sockets, for bench/net.sh.
 *
 *   rr ADDR PORT SIZE COUNT   client: COUNT round trips of SIZE bytes each
 *                             way (after COUNT/20 unmeasured ones), then
 *                             one line: "p50 p99 min max" in microseconds
 *   rr -l PORT                server: echoes each connection in turn,
 *                             until killed
 *
 * Both ends set TCP_NODELAY: a request is one write and must leave at
 * once, as it would from any RPC client. The client gives up after 10 s
 * without an answer (SO_RCVTIMEO) and after 60 s in all (alarm), so that
 * a lost peer cannot hang the bench; the server runs under the script's
 * timeout. libc only. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "tool.h"

#define MAX_SIZE (1 << 20)

static void nodelay(int fd)
{
  int one = 1;

  if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) < 0)
    die("TCP_NODELAY");
}

static int cmp_u64(const void *a, const void *b)
{
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

  return (x > y) - (x < y);
}

static _Noreturn void serve(int port)
{
  static char buf[65536];
  struct sockaddr_in sa = {.sin_family = AF_INET,
                           .sin_port = htons((uint16_t)port),
                           .sin_addr.s_addr = htonl(INADDR_ANY)};
  int ls, one = 1;

  ls = socket(AF_INET, SOCK_STREAM, 0);
  if (ls < 0)
    die("socket");
  setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (bind(ls, (struct sockaddr *)&sa, sizeof(sa)) < 0)
    die("bind");
  if (listen(ls, 16) < 0)
    die("listen");
  for (;;) {
    int c = accept(ls, NULL, NULL);
    ssize_t n;

    if (c < 0) {
      if (errno == EINTR)
        continue;
      die("accept");
    }
    nodelay(c);
    while ((n = read(c, buf, sizeof(buf))) > 0) {
      ssize_t off = 0;

      while (off < n) {
        ssize_t w = write(c, buf + off, (size_t)(n - off));

        if (w <= 0)
          break;
        off += w;
      }
      if (off < n)
        break;
    }
    close(c);
  }
}

/* Reads exactly len bytes; 0 or -1. */
static int read_all(int fd, char *p, size_t len)
{
  while (len > 0) {
    ssize_t n = read(fd, p, len);

    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return -1;
    p += n;
    len -= (size_t)n;
  }
  return 0;
}

static int client(const char *addr, int port, size_t size, long count)
{
  static char req[MAX_SIZE], resp[MAX_SIZE];
  struct sockaddr_in sa = {.sin_family = AF_INET,
                           .sin_port = htons((uint16_t)port)};
  struct timeval tv = {.tv_sec = 10};
  long warm = count / 20, i;
  uint64_t *rtt, t0;
  int fd;

  if (inet_pton(AF_INET, addr, &sa.sin_addr) != 1) {
    fprintf(stderr, "rr: bad address %s\n", addr);
    return 2;
  }
  rtt = calloc((size_t)count, sizeof(*rtt));
  if (!rtt)
    die("calloc");
  memset(req, 'r', size);
  fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0)
    die("socket");
  nodelay(fd);
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
    die("connect");
  /* The first round trips warm caches, ARP and the peer's code paths. */
  for (i = -warm; i < count; i++) {
    t0 = now_ns();
    if (write(fd, req, size) != (ssize_t)size)
      die("write");
    if (read_all(fd, resp, size) < 0) {
      fprintf(stderr, "rr: round trip %ld: %s\n", i + warm,
              errno ? strerror(errno) : "the peer closed");
      return 1;
    }
    if (i >= 0)
      rtt[i] = now_ns() - t0;
  }
  close(fd);
  qsort(rtt, (size_t)count, sizeof(*rtt), cmp_u64);
  printf("%.1f %.1f %.1f %.1f\n", (double)rtt[count / 2] / 1e3,
         (double)rtt[count * 99 / 100] / 1e3, (double)rtt[0] / 1e3,
         (double)rtt[count - 1] / 1e3);
  free(rtt);
  return 0;
}

int main(int argc, char **argv)
{
  if (argc == 3 && strcmp(argv[1], "-l") == 0)
    serve(atoi(argv[2]));
  if (argc == 5) {
    long size = atol(argv[3]), count = atol(argv[4]);

    if (size < 1 || size > MAX_SIZE || count < 1) {
      fprintf(stderr, "rr: SIZE 1..%d, COUNT >= 1\n", MAX_SIZE);
      return 2;
    }
    alarm(60);
    return client(argv[1], atoi(argv[2]), (size_t)size, count);
  }
  fprintf(stderr, "usage: rr ADDR PORT SIZE COUNT | rr -l PORT\n");
  return 2;
}
