/* Numbered slots (socket handles, TCB ids), the lowest free one taken
 * first as POSIX does with file descriptors. A bitmap of the taken ones
 * is searched from the lowest word that can hold a free bit, so taking a
 * slot costs one word test in the common case and n/64 at worst, never a
 * walk over the table (100,000 sockets are a normal load). */
#include "internal.h"

int weir__slots_init(struct weir_stack *s, struct weir__slots *m, uint32_t n)
{
  m->n = n;
  m->low = 0;
  m->bits = weir__alloc(s, ((size_t)n / 64 + 1) * sizeof(*m->bits));
  return m->bits ? 0 : WEIR_ENOMEM;
}

void weir__slots_free(struct weir_stack *s, struct weir__slots *m)
{
  weir__free(s, m->bits);
  m->bits = NULL;
}

/* The index of the lowest clear bit of x, which has one. Portable: no
 * compiler builtin, which may become a libgcc call on small targets. */
static uint32_t lowest_clear(uint64_t x)
{
  uint32_t i = 0;
  x = ~x;
  if ((x & 0xffffffffu) == 0) {
    x >>= 32;
    i += 32;
  }
  if ((x & 0xffffu) == 0) {
    x >>= 16;
    i += 16;
  }
  if ((x & 0xffu) == 0) {
    x >>= 8;
    i += 8;
  }
  while ((x & 1) == 0) {
    x >>= 1;
    i++;
  }
  return i;
}

uint32_t weir__slot_take(struct weir__slots *m)
{
  uint32_t words = (m->n + 63) / 64;
  for (uint32_t w = m->low; w < words; w++) {
    if (m->bits[w] != UINT64_MAX) {
      uint32_t i = w * 64 + lowest_clear(m->bits[w]);
      if (i >= m->n)
        break; /* the last word's bits past n are never taken */
      m->bits[w] |= (uint64_t)1 << (i % 64);
      m->low = w;
      return i;
    }
  }
  m->low = words;
  return WEIR__NONE;
}

void weir__slot_put(struct weir__slots *m, uint32_t i)
{
  m->bits[i / 64] &= ~((uint64_t)1 << (i % 64));
  if (i / 64 < m->low)
    m->low = i / 64;
}
