/* tcpscript [-v] DIR|FILE [FILTER]
 *
 * Runs every *.wt script in DIR (in name order) or the one FILE, only
 * those whose name contains FILTER if given. Prints one line per script,
 * "ok   NAME", "skip NAME: reason" or "FAIL NAME: line N: reason" with
 * detail lines indented, and ends with "N passed, N failed, N skipped".
 * Exits 1 if any failed. -v prints every line and every segment weir
 * sends as the scripts run. */
#define _POSIX_C_SOURCE 200809L
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tcpscript.h"

static int by_name(const void *a, const void *b)
{
  return strcmp(*(char *const *)a, *(char *const *)b);
}

static int is_script(const char *name)
{
  size_t n = strlen(name);
  return n > 3 && strcmp(name + n - 3, ".wt") == 0;
}

/* The script files to run: DIR/x.wt for each x.wt in DIR, or FILE. */
static char **list(const char *path, int *count)
{
  DIR *d = opendir(path);
  struct dirent *e;
  char **v = NULL;
  int n = 0, cap = 0;

  *count = 0;
  if (d == NULL) {
    v = malloc(sizeof(*v));
    if (v == NULL || (v[0] = malloc(strlen(path) + 1)) == NULL) {
      free(v);
      return NULL;
    }
    strcpy(v[0], path);
    *count = 1;
    return v;
  }
  while ((e = readdir(d)) != NULL) {
    size_t len;
    if (!is_script(e->d_name))
      continue;
    if (n == cap) {
      char **nv = realloc(v, (size_t)(cap = cap ? cap * 2 : 64) * sizeof(*v));
      if (nv == NULL)
        break;
      v = nv;
    }
    len = strlen(path) + strlen(e->d_name) + 2;
    v[n] = malloc(len);
    if (v[n] == NULL)
      break;
    snprintf(v[n++], len, "%s/%s", path, e->d_name);
  }
  closedir(d);
  if (n > 1)
    qsort(v, (size_t)n, sizeof(*v), by_name);
  *count = n;
  return v;
}

/* "dir/rst_exact_seq.wt" -> "rst_exact_seq" */
static void name_of(const char *path, char *buf, size_t cap)
{
  const char *base = strrchr(path, '/');
  size_t n;

  base = base ? base + 1 : path;
  n = strlen(base);
  if (is_script(base))
    n -= 3;
  snprintf(buf, cap, "%.*s", (int)n, base);
}

int main(int argc, char **argv)
{
  static char err[TS_ERR];
  int verbose = 0, n, passed = 0, failed = 0, skipped = 0;
  const char *filter;
  char **files;

  if (argc > 1 && strcmp(argv[1], "-v") == 0) {
    verbose = 1;
    argv++;
    argc--;
  }
  if (argc < 2 || argc > 3) {
    fprintf(stderr, "usage: tcpscript [-v] DIR|FILE [FILTER]\n");
    return 2;
  }
  filter = argc > 2 ? argv[2] : NULL;
  files = list(argv[1], &n);
  for (int i = 0; i < n; i++) {
    struct ts_script sc;
    char name[256];
    int rc;
    name_of(files[i], name, sizeof(name));
    if (filter != NULL && strstr(name, filter) == NULL) {
      free(files[i]);
      continue;
    }
    if (verbose)
      printf("---- %s\n", name);
    rc = ts_parse(files[i], &sc, err, sizeof(err));
    if (rc == 0 && sc.skip[0]) {
      printf("skip %s: %s\n", name, sc.skip);
      skipped++;
    } else if (rc == 0 && ts_run(&sc, verbose, err, sizeof(err)) == 0) {
      printf("ok   %s\n", name);
      passed++;
    } else {
      printf("FAIL %s: %s\n", name, err);
      failed++;
    }
    ts_free(&sc);
    free(files[i]);
    fflush(stdout);
  }
  free(files);
  printf("%d passed, %d failed, %d skipped\n", passed, failed, skipped);
  return failed ? 1 : 0;
}
