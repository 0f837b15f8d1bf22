/* The Internet checksum (RFC 1071) and its incremental update (RFC 1624).
 *
 * RFC 1071 2(B): the one's complement sum is independent of byte order up
 * to a final byte swap. So the body sums the data as native 64-bit words
 * (loaded with memcpy, so any alignment is fine and the compiler picks the
 * widest safe load for the target), folds to 16 bits, and swaps once at
 * the end on a little-endian host to get the network-order meaning that
 * callers carry between calls. */
#include <string.h>

#include "wire/checksum.h"

/* Folds to a constant: 1 on a little-endian host, 0 on a big-endian one. */
static inline int host_is_le(void)
{
  const uint16_t one = 1;
  uint8_t first;
  memcpy(&first, &one, 1);
  return first == 1;
}

/* Folds a one's complement sum of any width down to 16 bits (0..0xffff).
 * Each step keeps the end-around carry. */
static inline uint32_t fold64(uint64_t s)
{
  s = (s & 0xffffffffu) + (s >> 32);
  s = (s & 0xffffffffu) + (s >> 32);
  s = (s & 0xffffu) + (s >> 16);
  s = (s & 0xffffu) + (s >> 16);
  s = (s & 0xffffu) + (s >> 16);
  return (uint32_t)s;
}

/* Adds w to a 64-bit one's complement sum: the carry out of the top bit
 * comes back in at the bottom (end-around carry). */
static inline uint64_t add1c(uint64_t acc, uint64_t w)
{
  acc += w;
  return acc + (acc < w);
}

/* The native-order one's complement sum of `len` bytes, folded to 16
 * bits. Because 0xffff divides 2^64 - 1, a 64-bit end-around-carry sum
 * folds to the same value as a 16-bit one over the same lanes, and sums
 * of parts may be added in any order. Four accumulators make four
 * independent carry chains: one chain makes every add wait for the last
 * one's carry, which cost 3-4x the time over a full-size segment. */
static uint32_t sum_native(const uint8_t *p, size_t len)
{
  uint64_t s0 = 0, s1 = 0, s2 = 0, s3 = 0, w;

  while (len >= 32) {
    uint64_t a, b, c, d;
    memcpy(&a, p, 8);
    memcpy(&b, p + 8, 8);
    memcpy(&c, p + 16, 8);
    memcpy(&d, p + 24, 8);
    s0 = add1c(s0, a);
    s1 = add1c(s1, b);
    s2 = add1c(s2, c);
    s3 = add1c(s3, d);
    p += 32;
    len -= 32;
  }
  while (len >= 8) {
    memcpy(&w, p, 8);
    s0 = add1c(s0, w);
    p += 8;
    len -= 8;
  }
  if (len) {
    /* The tail keeps its byte positions within the word; an odd last byte
     * is padded with a zero on its right (RFC 1071 4.1). */
    uint8_t tail[8] = {0};
    memcpy(tail, p, len);
    memcpy(&w, tail, 8);
    s1 = add1c(s1, w);
  }
  return fold64(add1c(add1c(s0, s1), add1c(s2, s3)));
}

uint32_t weir_csum_add(uint32_t sum, const void *buf, size_t len)
{
  uint32_t s = sum_native(buf, len);

  if (host_is_le())
    s = ((s >> 8) | (s << 8)) & 0xffffu;
  return fold64((uint64_t)sum + s);
}

uint16_t weir_csum_finish(uint32_t sum)
{
  return (uint16_t)~fold64(sum);
}

uint32_t weir_csum_pseudo(uint32_t src, uint32_t dst, uint8_t proto,
                          uint16_t len)
{
  uint64_t s = (uint64_t)(src >> 16) + (src & 0xffffu) + (dst >> 16) +
               (dst & 0xffffu) + proto + len;
  return fold64(s);
}

uint16_t weir_csum(const void *buf, size_t len)
{
  return weir_csum_finish(weir_csum_add(0, buf, len));
}

/* RFC 1624 eqn. 3: HC' = ~(~HC + ~m + m'). Unlike eqn. 2 it cannot turn a
 * checksum into the -0 (0xffff) that a full recomputation never gives for
 * non-zero data. */
uint16_t weir_csum_update16(uint16_t csum, uint16_t old_word, uint16_t new_word)
{
  uint32_t s = (uint32_t)(uint16_t)~csum + (uint16_t)~old_word + new_word;
  return (uint16_t)~fold64(s);
}

uint16_t weir_csum_update32(uint16_t csum, uint32_t old_val, uint32_t new_val)
{
  uint32_t s = (uint32_t)(uint16_t)~csum + (uint16_t) ~(old_val >> 16) +
               (uint16_t)~old_val + (new_val >> 16) + (new_val & 0xffffu);
  return (uint16_t)~fold64(s);
}
