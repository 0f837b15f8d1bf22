/* Sorted lists of sequence ranges: the out-of-order data a receiver
 * holds (RFC 2018) and the SACKed data a sender was told of (RFC 6675). */
#include <string.h>

#include "tcp/tcb.h"

/* Adds [left, right) to the sorted disjoint list v (n entries, at most
 * max), merging what it touches. Returns the number of bytes that were
 * not already covered. *slot is the index of the range now holding it, or
 * -1 if the list was full and the range was not added. */
uint32_t weir__range_add(struct weir__range *v, uint8_t *n, uint8_t max,
                         uint32_t left, uint32_t right, int *slot)
{
  uint32_t i = 0, j, covered = 0, added;
  while (i < *n && seq_lt(v[i].right, left))
    i++;
  /* v[i..j) touch or overlap [left, right). */
  j = i;
  while (j < *n && seq_leq(v[j].left, right)) {
    uint32_t l = seq_max(v[j].left, left), r = seq_min(v[j].right, right);
    if (seq_lt(l, r))
      covered += r - l;
    j++;
  }
  added = (right - left) - covered;
  if (j > i) {
    uint32_t nl = seq_min(v[i].left, left);
    uint32_t nr = seq_max(v[j - 1].right, right);
    v[i].left = nl;
    v[i].right = nr;
    memmove(&v[i + 1], &v[j], (*n - j) * sizeof(*v));
    *n = (uint8_t)(*n - (j - i - 1));
    *slot = (int)i;
    return added;
  }
  if (*n == max) {
    *slot = -1;
    return 0;
  }
  memmove(&v[i + 1], &v[i], (*n - i) * sizeof(*v));
  v[i].left = left;
  v[i].right = right;
  v[i].stamp = 0;
  (*n)++;
  *slot = (int)i;
  return added;
}
