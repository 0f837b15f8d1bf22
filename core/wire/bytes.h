/* Big-endian field access over byte buffers.
 *
 * The core never casts packet bytes to structs: a buffer may sit at any
 * alignment and the host may be of either byte order. Every multi-byte
 * field goes through these helpers, which compile to one load and a byte
 * swap where the target allows it. */
#ifndef WEIR_WIRE_BYTES_H
#define WEIR_WIRE_BYTES_H

#include <stdint.h>

static inline uint16_t weir__get16(const uint8_t *p)
{
  return (uint16_t)((unsigned)p[0] << 8 | (unsigned)p[1]);
}

static inline uint32_t weir__get32(const uint8_t *p)
{
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 |
         (uint32_t)p[3];
}

static inline void weir__put16(uint8_t *p, uint16_t v)
{
  p[0] = (uint8_t)(v >> 8);
  p[1] = (uint8_t)v;
}

static inline void weir__put32(uint8_t *p, uint32_t v)
{
  p[0] = (uint8_t)(v >> 24);
  p[1] = (uint8_t)(v >> 16);
  p[2] = (uint8_t)(v >> 8);
  p[3] = (uint8_t)v;
}

#endif
