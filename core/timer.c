/* The stack's timer heap: a binary min-heap keyed on `when`. Each timer
 * knows its position, so cancelling or re-arming is O(log n) and nothing
 * ever scans the timers. Ties are broken by arming order only as far as
 * the heap keeps it; callers must not rely on an order among equal times
 * beyond determinism (the same operations give the same order). */
#include "internal.h"

static void set(struct weir__heap *h, uint32_t i, struct weir__timer *t)
{
  h->v[i] = t;
  t->pos = i + 1;
}

static void sift_up(struct weir__heap *h, uint32_t i)
{
  struct weir__timer *t = h->v[i];
  while (i > 0) {
    uint32_t parent = (i - 1) / 2;
    if (h->v[parent]->when <= t->when)
      break;
    set(h, i, h->v[parent]);
    i = parent;
  }
  set(h, i, t);
}

static void sift_down(struct weir__heap *h, uint32_t i)
{
  struct weir__timer *t = h->v[i];
  for (;;) {
    uint32_t c = 2 * i + 1;
    if (c >= h->n)
      break;
    if (c + 1 < h->n && h->v[c + 1]->when < h->v[c]->when)
      c++;
    if (t->when <= h->v[c]->when)
      break;
    set(h, i, h->v[c]);
    i = c;
  }
  set(h, i, t);
}

/* The heap has room for every timer-owning object, sized when the stack
 * was created, so arming cannot fail. */
void weir__timer_arm(struct weir__heap *h, struct weir__timer *t, uint64_t when)
{
  if (t->pos) {
    uint64_t old = t->when;
    t->when = when;
    if (when < old)
      sift_up(h, t->pos - 1);
    else
      sift_down(h, t->pos - 1);
    return;
  }
  t->when = when;
  h->v[h->n] = t;
  h->n++;
  sift_up(h, h->n - 1);
}

void weir__timer_cancel(struct weir__heap *h, struct weir__timer *t)
{
  uint32_t i;
  if (!t->pos)
    return;
  i = t->pos - 1;
  t->pos = 0;
  h->n--;
  if (i == h->n)
    return;
  {
    struct weir__timer *moved = h->v[h->n];
    set(h, i, moved);
    sift_down(h, i);
    sift_up(h, moved->pos - 1);
  }
}

struct weir__timer *weir__timer_pop_due(struct weir__heap *h, uint64_t now)
{
  struct weir__timer *t;
  if (h->n == 0 || h->v[0]->when > now)
    return NULL;
  t = h->v[0];
  weir__timer_cancel(h, t);
  return t;
}
