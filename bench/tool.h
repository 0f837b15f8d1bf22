/* What the bench's small tools (netxfer, rr, linkrate) share. */
#ifndef WEIR_BENCH_TOOL_H
#define WEIR_BENCH_TOOL_H

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* "prog: what: strerror(errno)" and exit 1 (program_invocation_short_name
 * is glibc's; the tools build with _GNU_SOURCE). */
static inline void die(const char *what)
{
  fprintf(stderr, "%s: %s: %s\n", program_invocation_short_name, what,
          strerror(errno));
  exit(1);
}

static inline uint64_t now_ns(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static inline double now_s(void)
{
  return (double)now_ns() / 1e9;
}

#endif
