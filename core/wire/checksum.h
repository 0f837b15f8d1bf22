/* The Internet checksum (RFC 1071) and its incremental update (RFC 1624).
 *
 * Sums are carried between calls as a 32-bit value already folded to
 * 16 bits (0..0xffff), in network order meaning: the sum of the data read
 * as big-endian 16-bit words. Chained calls must each start at an even
 * offset of the checksummed data; only the last chunk may have odd length.
 * The body accumulates 64 bits at a time (a 16-bit loop is several times
 * slower on full-size frames) and is correct on either byte order and at
 * any alignment. */
#ifndef WEIR_WIRE_CHECKSUM_H
#define WEIR_WIRE_CHECKSUM_H

#include <stddef.h>
#include <stdint.h>

/* Add `len` bytes at `buf` to the running folded sum `sum`. */
uint32_t weir_csum_add(uint32_t sum, const void *buf, size_t len);

/* Fold and complement: the value to store in a checksum field. */
uint16_t weir_csum_finish(uint32_t sum);

/* The folded sum of the IPv4 pseudo-header (RFC 9293 3.1, RFC 768):
 * addresses in host order, `len` the L4 length (header + data). */
uint32_t weir_csum_pseudo(uint32_t src, uint32_t dst, uint8_t proto,
                          uint16_t len);

/* weir_csum_finish(weir_csum_add(0, buf, len)). A buffer whose stored
 * checksum is right gives 0. */
uint16_t weir_csum(const void *buf, size_t len);

/* RFC 1624 eqn. 3: the new checksum field after one 16-bit word of the
 * covered data changes from `old_word` to `new_word`. */
uint16_t weir_csum_update16(uint16_t csum, uint16_t old_word,
                            uint16_t new_word);

/* The same for a 32-bit value (an address), as two 16-bit words. */
uint16_t weir_csum_update32(uint16_t csum, uint32_t old_val, uint32_t new_val);

#endif
