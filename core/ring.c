/* The byte ring shared by UDP's receive queues and TCP's buffers. */
#include <string.h>

#include "internal.h"

void weir__ring_write(struct weir__ring *r, uint32_t at, const uint8_t *src,
                      uint32_t n)
{
  uint32_t pos = (r->head + at) % r->cap, first = r->cap - pos;
  if (first > n)
    first = n;
  memcpy(r->buf + pos, src, first);
  memcpy(r->buf, src + first, n - first);
}

void weir__ring_read(const struct weir__ring *r, uint32_t at, uint8_t *dst,
                     uint32_t n)
{
  uint32_t pos = (r->head + at) % r->cap, first = r->cap - pos;
  if (first > n)
    first = n;
  memcpy(dst, r->buf + pos, first);
  memcpy(dst + first, r->buf, n - first);
}

void weir__ring_consume(struct weir__ring *r, uint32_t n)
{
  r->head = (r->head + n) % r->cap;
  r->len -= n;
}
