/* The test runner: runs every registered test (or those whose name
 * contains argv[1]) in file and name order. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness/test.h"

struct wt_test {
  const char *name;
  const char *file;
  wt_fn fn;
};

static struct wt_test *tests;
static size_t ntests, captests;
static int cur_failed, cur_skipped;
static const char *cur_name;

void wt_register(const char *name, const char *file, wt_fn fn)
{
  if (ntests == captests) {
    captests = captests ? captests * 2 : 64;
    tests = realloc(tests, captests * sizeof(*tests));
    if (!tests) {
      fprintf(stderr, "test runner: out of memory\n");
      exit(2);
    }
  }
  tests[ntests].name = name;
  tests[ntests].file = file;
  tests[ntests].fn = fn;
  ntests++;
}

void wt_fail(const char *file, int line, const char *fmt, ...)
{
  va_list ap;
  if (!cur_failed)
    printf("FAIL %s\n", cur_name);
  cur_failed = 1;
  printf("     %s:%d: ", file, line);
  va_start(ap, fmt);
  vprintf(fmt, ap);
  va_end(ap);
  printf("\n");
}

void wt_skip(const char *reason)
{
  cur_skipped = 1;
  printf("skip %s: %s\n", cur_name, reason);
}

int wt_failed(void)
{
  return cur_failed;
}

void wt_hexdiff(const uint8_t *got, size_t got_len, const uint8_t *want,
                size_t want_len)
{
  size_t n = got_len > want_len ? got_len : want_len;
  printf("     got %zu bytes, want %zu bytes\n", got_len, want_len);
  for (size_t off = 0; off < n; off += 16) {
    int differs = 0;
    for (size_t i = off; i < off + 16 && i < n; i++)
      if (i >= got_len || i >= want_len || got[i] != want[i])
        differs = 1;
    if (!differs)
      continue;
    printf("     %04zx got :", off);
    for (size_t i = off; i < off + 16 && i < got_len; i++)
      printf(" %02x", got[i]);
    printf("\n     %04zx want:", off);
    for (size_t i = off; i < off + 16 && i < want_len; i++)
      printf(" %02x", want[i]);
    printf("\n");
  }
}

static int by_file_then_name(const void *a, const void *b)
{
  const struct wt_test *x = a, *y = b;
  int c = strcmp(x->file, y->file);
  return c ? c : strcmp(x->name, y->name);
}

int main(int argc, char **argv)
{
  const char *filter = argc > 1 ? argv[1] : NULL;
  int passed = 0, failed = 0, skipped = 0;

  setvbuf(stdout, NULL, _IOLBF, 0);
  qsort(tests, ntests, sizeof(*tests), by_file_then_name);
  for (size_t i = 0; i < ntests; i++) {
    if (filter && !strstr(tests[i].name, filter))
      continue;
    cur_name = tests[i].name;
    cur_failed = cur_skipped = 0;
    tests[i].fn();
    if (cur_failed)
      failed++;
    else if (cur_skipped)
      skipped++;
    else {
      passed++;
      printf("ok   %s\n", cur_name);
    }
  }
  free(tests);
  printf("%d passed, %d failed, %d skipped\n", passed, failed, skipped);
  return failed ? 1 : 0;
}
