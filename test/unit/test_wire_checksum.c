/* The Internet checksum (RFC 1071) and its incremental update (RFC 1624),
 * against published values and a plain 16-bit reference. */
#include <string.h>

#include "harness/test.h"
#include "wire/checksum.h"

/* The obvious RFC 1071 loop: big-endian 16-bit words, odd byte padded
 * with zero on the right, folded with end-around carry. */
static uint32_t ref_sum(const uint8_t *p, size_t len)
{
  uint32_t s = 0;
  for (size_t i = 0; i + 1 < len; i += 2) {
    s += (uint32_t)p[i] << 8 | p[i + 1];
    s = (s & 0xffff) + (s >> 16);
  }
  if (len & 1) {
    s += (uint32_t)p[len - 1] << 8;
    s = (s & 0xffff) + (s >> 16);
  }
  return s;
}

static uint32_t lcg(uint32_t *state)
{
  *state = *state * 1664525u + 1013904223u;
  return *state >> 8;
}

/* RFC 1071 3: the example bytes sum to ddf2 (in 16-bit big-endian
 * words). */
TEST(test_csum_rfc1071_example_sums_to_ddf2)
{
  static const uint8_t b[] = {0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7};
  CHECK_UEQ(weir_csum_add(0, b, sizeof(b)), 0xddf2);
  CHECK_UEQ(weir_csum(b, sizeof(b)), 0x220d);
}

/* The IPv4 header example of the Wikipedia article on the IPv4 header
 * checksum: stored checksum b861. */
TEST(test_csum_ipv4_header_example_gives_b861_and_verifies_to_zero)
{
  uint8_t h[] = {0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11,
                 0x00, 0x00, 0xc0, 0xa8, 0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7};
  CHECK_UEQ(weir_csum(h, sizeof(h)), 0xb861);
  h[10] = 0xb8;
  h[11] = 0x61;
  CHECK_UEQ(weir_csum(h, sizeof(h)), 0);
}

TEST(test_csum_empty_buffer_sums_to_zero)
{
  uint8_t b[1] = {0xaa};
  CHECK_UEQ(weir_csum_add(0, b, 0), 0);
  CHECK_UEQ(weir_csum_add(0x1234, b, 0), 0x1234);
  CHECK_UEQ(weir_csum(b, 0), 0xffff);
}

TEST(test_csum_odd_length_pads_last_byte_on_the_right)
{
  static const uint8_t one[] = {0xab};
  static const uint8_t three[] = {0x01, 0x02, 0x03};
  CHECK_UEQ(weir_csum_add(0, one, 1), 0xab00);
  CHECK_UEQ(weir_csum_add(0, three, 3), 0x0402);
}

TEST(test_csum_all_ones_stays_negative_zero_not_zero)
{
  static uint8_t b[65536];
  memset(b, 0xff, sizeof(b));
  CHECK_UEQ(weir_csum_add(0, b, sizeof(b)), 0xffff);
  CHECK_UEQ(weir_csum_add(0, b, sizeof(b) - 1), 0xff00); /* -0 + ff00 */
  CHECK_UEQ(weir_csum(b, sizeof(b)), 0);
}

TEST(test_csum_carries_are_folded_on_full_size_frames)
{
  static uint8_t b[9000];
  uint32_t st = 7;
  for (size_t i = 0; i < sizeof(b); i++)
    b[i] = (uint8_t)(0xf0 | lcg(&st));
  for (size_t len = 1400; len <= sizeof(b); len += 1201)
    CHECK_UEQ(weir_csum_add(0, b, len), ref_sum(b, len));
}

/* Every alignment of the start and every length up to 100 (covering the
 * 32-byte, 8-byte and tail paths), with and without a starting sum. */
TEST(test_csum_matches_reference_at_every_alignment_and_length)
{
  uint8_t b[128];
  uint32_t st = 12345;
  for (size_t i = 0; i < sizeof(b); i++)
    b[i] = (uint8_t)lcg(&st);
  for (size_t off = 0; off < 8; off++) {
    for (size_t len = 0; len <= 100; len++) {
      uint32_t want = ref_sum(b + off, len);
      uint32_t start = lcg(&st) & 0xffff;
      uint32_t want2 = start + want;
      want2 = (want2 & 0xffff) + (want2 >> 16);
      CHECK_UEQ(weir_csum_add(0, b + off, len), want);
      CHECK_UEQ(weir_csum_add(start, b + off, len), want2);
      CHECK_UEQ(weir_csum(b + off, len), (uint16_t)~want);
    }
  }
}

TEST(test_csum_chained_even_chunks_equal_one_pass)
{
  uint8_t b[101];
  uint32_t st = 99;
  for (size_t i = 0; i < sizeof(b); i++)
    b[i] = (uint8_t)lcg(&st);
  for (size_t cut = 0; cut <= sizeof(b); cut += 2) {
    uint32_t s = weir_csum_add(0, b, cut);
    s = weir_csum_add(s, b + cut, sizeof(b) - cut);
    CHECK_UEQ(s, weir_csum_add(0, b, sizeof(b)));
  }
}

TEST(test_csum_finish_folds_and_complements)
{
  CHECK_UEQ(weir_csum_finish(0), 0xffff);
  CHECK_UEQ(weir_csum_finish(0xffff), 0);
  CHECK_UEQ(weir_csum_finish(0xddf2), 0x220d);
  CHECK_UEQ(weir_csum_finish(0x1fffe), 0);
}

/* RFC 768 / RFC 9293 3.1: src, dst, zero, proto, length. */
TEST(test_csum_pseudo_header_matches_its_twelve_bytes)
{
  static const uint8_t ph[] = {10, 0, 2, 1, 10, 0, 2, 2, 0, 6, 0x05, 0xdc};
  CHECK_UEQ(weir_csum_pseudo(0x0a000201, 0x0a000202, 6, 1500),
            ref_sum(ph, sizeof(ph)));
  CHECK_UEQ(weir_csum_pseudo(0xffffffff, 0xffffffff, 255, 0xffff),
            ref_sum((const uint8_t[]){0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                                      0xff, 0, 0xff, 0xff, 0xff},
                    12));
}

/* RFC 1624: updating one word must give what a full recomputation
 * gives. */
TEST(test_csum_update16_equals_full_recomputation)
{
  uint32_t st = 4242;
  for (int round = 0; round < 2000; round++) {
    uint8_t b[40];
    /* At least two words: with a single word set to zero the data would
     * be all zero, the one input where eqn. 3 gives +0 and a full
     * recomputation -0 (no real header is all zero). */
    size_t len = 4 + 2 * (lcg(&st) % 18), w = 2 * (lcg(&st) % (len / 2));
    uint16_t old, nw, c;
    for (size_t i = 0; i < len; i++)
      b[i] = (uint8_t)lcg(&st);
    if (round % 7 == 0) /* exercise the 0x0000 / 0xffff edge words */
      b[w] = b[w + 1] = (round % 14) ? 0xff : 0x00;
    c = weir_csum(b, len);
    old = (uint16_t)(b[w] << 8 | b[w + 1]);
    nw = (uint16_t)lcg(&st);
    if (round % 5 == 0)
      nw = (round % 10) ? 0xffff : 0x0000;
    b[w] = (uint8_t)(nw >> 8);
    b[w + 1] = (uint8_t)nw;
    CHECK_UEQ(weir_csum_update16(c, old, nw), weir_csum(b, len));
  }
}

TEST(test_csum_update32_equals_full_recomputation)
{
  uint32_t st = 777;
  for (int round = 0; round < 2000; round++) {
    uint8_t b[20];
    uint32_t old, nw;
    uint16_t c;
    for (size_t i = 0; i < sizeof(b); i++)
      b[i] = (uint8_t)lcg(&st);
    c = weir_csum(b, sizeof(b));
    /* An address at offset 12, as NAT or a source rewrite changes it. */
    old = (uint32_t)b[12] << 24 | (uint32_t)b[13] << 16 | (uint32_t)b[14] << 8 |
          b[15];
    nw = lcg(&st) << 8 ^ lcg(&st);
    b[12] = (uint8_t)(nw >> 24);
    b[13] = (uint8_t)(nw >> 16);
    b[14] = (uint8_t)(nw >> 8);
    b[15] = (uint8_t)nw;
    CHECK_UEQ(weir_csum_update32(c, old, nw), weir_csum(b, sizeof(b)));
  }
}

/* An updated header still verifies to zero (the checksum field itself is
 * part of the data being checked). */
TEST(test_csum_update16_ttl_decrement_keeps_header_valid)
{
  uint8_t h[] = {0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11,
                 0xb8, 0x61, 0xc0, 0xa8, 0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7};
  for (int i = 0; i < 64; i++) {
    uint16_t old = (uint16_t)(h[8] << 8 | h[9]);
    uint16_t c = (uint16_t)(h[10] << 8 | h[11]);
    h[8]--;
    c = weir_csum_update16(c, old, (uint16_t)(h[8] << 8 | h[9]));
    h[10] = (uint8_t)(c >> 8);
    h[11] = (uint8_t)c;
    CHECK_UEQ(weir_csum(h, sizeof(h)), 0);
  }
}
