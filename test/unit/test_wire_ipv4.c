/* IPv4 headers (RFC 791): every validation rule of weir_ipv4_parse, in
 * its order, and emit. */
#include <string.h>

#include "harness/test.h"
#include "wire/checksum.h"
#include "wire/ipv4.h"

/* A Linux ping: 10.0.2.1 -> 10.0.2.2, DF, TTL 64, echo request with 56
 * bytes of data. */
static const uint8_t ping_req[84] = {
    0x45, 0x00, 0x00, 0x54, 0x5a, 0x3b, 0x40, 0x00, 0x40, 0x01, 0xc8, 0x6b,
    0x0a, 0x00, 0x02, 0x01, 0x0a, 0x00, 0x02, 0x02, 0x08, 0x00, 0x86, 0xc6,
    0x1c, 0x2d, 0x00, 0x01, 0x00, 0xf1, 0x53, 0x65, 0x00, 0x00, 0x00, 0x00,
    0x40, 0xe2, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x10, 0x11, 0x12, 0x13,
    0x14, 0x15, 0x16, 0x17, 0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f,
    0x20, 0x21, 0x22, 0x23, 0x24, 0x25, 0x26, 0x27, 0x28, 0x29, 0x2a, 0x2b,
    0x2c, 0x2d, 0x2e, 0x2f, 0x30, 0x31, 0x32, 0x33, 0x34, 0x35, 0x36, 0x37,
};

/* Recomputes the header checksum after a test edits a field, so that the
 * edit, not the checksum, is what the parser sees. */
static void fix_csum(uint8_t *h, size_t hlen)
{
  uint16_t c;
  h[10] = h[11] = 0;
  c = weir_csum(h, hlen);
  h[10] = (uint8_t)(c >> 8);
  h[11] = (uint8_t)c;
}

static void set16(uint8_t *p, uint16_t v)
{
  p[0] = (uint8_t)(v >> 8);
  p[1] = (uint8_t)v;
}

TEST(test_ipv4_parse_linux_ping_fields)
{
  struct weir_ipv4 h;
  CHECK_EQ(weir_ipv4_parse(&h, ping_req, sizeof(ping_req)), WEIR_WIRE_OK);
  CHECK_EQ(h.hlen, 20);
  CHECK_EQ(h.tos, 0);
  CHECK_EQ(h.total_len, 84);
  CHECK_UEQ(h.id, 0x5a3b);
  CHECK_EQ(h.df, 1);
  CHECK_EQ(h.mf, 0);
  CHECK_EQ(h.frag_off, 0);
  CHECK_EQ(h.ttl, 64);
  CHECK_EQ(h.proto, WEIR_IP_PROTO_ICMP);
  CHECK_UEQ(h.src, 0x0a000201);
  CHECK_UEQ(h.dst, 0x0a000202);
  CHECK_EQ(h.options_len, 0);
  CHECK(h.payload == ping_req + 20);
  CHECK_EQ(h.payload_len, 64);
}

TEST(test_ipv4_emit_is_byte_identical_to_linux_header)
{
  struct weir_ipv4 h;
  uint8_t out[20];
  CHECK_EQ(weir_ipv4_parse(&h, ping_req, sizeof(ping_req)), WEIR_WIRE_OK);
  CHECK_EQ(weir_ipv4_emit(&h, out, sizeof(out)), 20);
  CHECK_BYTES(out, 20, ping_req, 20);
}

/* The IPv4 header example of the Wikipedia checksum article, built from a
 * representation. */
TEST(test_ipv4_emit_fills_known_checksum)
{
  static const uint8_t want[20] = {0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40,
                                   0x00, 0x40, 0x11, 0xb8, 0x61, 0xc0, 0xa8,
                                   0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7};
  struct weir_ipv4 h;
  uint8_t out[20];
  memset(&h, 0, sizeof(h));
  h.total_len = 0x73;
  h.df = 1;
  h.ttl = 64;
  h.proto = WEIR_IP_PROTO_UDP;
  h.src = 0xc0a80001;
  h.dst = 0xc0a800c7;
  h.hlen = 24; /* ignored: emit writes no options */
  CHECK_EQ(weir_ipv4_emit(&h, out, sizeof(out)), 20);
  CHECK_BYTES(out, 20, want, 20);
}

TEST(test_ipv4_emit_encodes_mf_and_offset_in_8_byte_units)
{
  struct weir_ipv4 h, p;
  uint8_t out[20 + 8] = {0};
  memset(&h, 0, sizeof(h));
  h.total_len = 28;
  h.id = 0x4242;
  h.mf = 1;
  h.frag_off = 1480;
  h.ttl = 1;
  h.proto = WEIR_IP_PROTO_UDP;
  CHECK_EQ(weir_ipv4_emit(&h, out, sizeof(out)), 20);
  CHECK_UEQ(out[6], 0x20); /* MF, offset 185 = 0x0b9 */
  CHECK_UEQ(out[7], 0xb9);
  CHECK_EQ(weir_ipv4_parse(&p, out, sizeof(out)), WEIR_WIRE_OK);
  CHECK_EQ(p.mf, 1);
  CHECK_EQ(p.df, 0);
  CHECK_EQ(p.frag_off, 1480);
}

TEST(test_ipv4_emit_refuses_buffer_below_20)
{
  struct weir_ipv4 h;
  uint8_t out[19];
  memset(&h, 0, sizeof(h));
  CHECK_EQ(weir_ipv4_emit(&h, out, sizeof(out)), 0);
}

TEST(test_ipv4_parse_rejects_truncated_header_at_each_length)
{
  struct weir_ipv4 h;
  for (size_t len = 0; len < 20; len++)
    CHECK_EQ(weir_ipv4_parse(&h, ping_req, len), WEIR_WIRE_TRUNCATED);
}

TEST(test_ipv4_parse_rejects_version_not_4)
{
  uint8_t b[84];
  struct weir_ipv4 h;
  static const uint8_t versions[] = {0x0, 0x1, 0x5, 0x6, 0xf};
  for (size_t i = 0; i < sizeof(versions); i++) {
    memcpy(b, ping_req, sizeof(b));
    b[0] = (uint8_t)(versions[i] << 4 | 5);
    fix_csum(b, 20);
    CHECK_EQ(weir_ipv4_parse(&h, b, sizeof(b)), WEIR_WIRE_BAD_VERSION);
  }
}

TEST(test_ipv4_parse_rejects_ihl_below_5)
{
  uint8_t b[84];
  struct weir_ipv4 h;
  for (uint8_t ihl = 0; ihl < 5; ihl++) {
    memcpy(b, ping_req, sizeof(b));
    b[0] = (uint8_t)(0x40 | ihl);
    CHECK_EQ(weir_ipv4_parse(&h, b, sizeof(b)), WEIR_WIRE_BAD_HLEN);
  }
}

TEST(test_ipv4_parse_rejects_ihl_past_buffer)
{
  uint8_t b[84];
  struct weir_ipv4 h;
  memcpy(b, ping_req, sizeof(b));
  b[0] = 0x46; /* 24 bytes of header in a 20-byte buffer */
  CHECK_EQ(weir_ipv4_parse(&h, b, 20), WEIR_WIRE_BAD_HLEN);
  CHECK_EQ(weir_ipv4_parse(&h, b, 23), WEIR_WIRE_BAD_HLEN);
  b[0] = 0x4f; /* 60 */
  CHECK_EQ(weir_ipv4_parse(&h, b, 59), WEIR_WIRE_BAD_HLEN);
}

TEST(test_ipv4_parse_rejects_total_length_below_header_length)
{
  uint8_t b[84];
  struct weir_ipv4 h;
  memcpy(b, ping_req, sizeof(b));
  set16(b + 2, 19);
  fix_csum(b, 20);
  CHECK_EQ(weir_ipv4_parse(&h, b, sizeof(b)), WEIR_WIRE_BAD_LENGTH);
  set16(b + 2, 0);
  fix_csum(b, 20);
  CHECK_EQ(weir_ipv4_parse(&h, b, sizeof(b)), WEIR_WIRE_BAD_LENGTH);
  /* 24-byte header with a total of 23 */
  memcpy(b, ping_req, sizeof(b));
  b[0] = 0x46;
  set16(b + 2, 23);
  fix_csum(b, 24);
  CHECK_EQ(weir_ipv4_parse(&h, b, sizeof(b)), WEIR_WIRE_BAD_LENGTH);
}

TEST(test_ipv4_parse_accepts_total_length_equal_to_header)
{
  uint8_t b[20];
  struct weir_ipv4 h;
  memcpy(b, ping_req, sizeof(b));
  set16(b + 2, 20);
  fix_csum(b, 20);
  CHECK_EQ(weir_ipv4_parse(&h, b, sizeof(b)), WEIR_WIRE_OK);
  CHECK_EQ(h.payload_len, 0);
}

TEST(test_ipv4_parse_rejects_total_length_beyond_buffer)
{
  struct weir_ipv4 h;
  CHECK_EQ(weir_ipv4_parse(&h, ping_req, sizeof(ping_req) - 1),
           WEIR_WIRE_BAD_LENGTH);
  CHECK_EQ(weir_ipv4_parse(&h, ping_req, 20), WEIR_WIRE_BAD_LENGTH);
}

TEST(test_ipv4_parse_rejects_bad_header_checksum)
{
  uint8_t b[84];
  struct weir_ipv4 h;
  memcpy(b, ping_req, sizeof(b));
  b[8] = 63; /* TTL changed without updating the checksum */
  CHECK_EQ(weir_ipv4_parse(&h, b, sizeof(b)), WEIR_WIRE_BAD_CHECKSUM);
  memcpy(b, ping_req, sizeof(b));
  b[11] ^= 1;
  CHECK_EQ(weir_ipv4_parse(&h, b, sizeof(b)), WEIR_WIRE_BAD_CHECKSUM);
}

/* The checksum covers the header only (RFC 791): payload bytes may be
 * anything. */
TEST(test_ipv4_parse_ignores_payload_for_header_checksum)
{
  uint8_t b[84];
  struct weir_ipv4 h;
  memcpy(b, ping_req, sizeof(b));
  b[40] ^= 0xff;
  CHECK_EQ(weir_ipv4_parse(&h, b, sizeof(b)), WEIR_WIRE_OK);
}

/* A fragment that would end past byte 65535 of the datagram. */
TEST(test_ipv4_parse_rejects_ping_of_death_fragment)
{
  uint8_t b[20 + 4];
  struct weir_ipv4 h;
  memcpy(b, ping_req, sizeof(b));
  set16(b + 2, 20 + 4);
  set16(b + 6, 8189); /* offset 65512: 65512 + 4 > 65515 */
  fix_csum(b, 20);
  CHECK_EQ(weir_ipv4_parse(&h, b, sizeof(b)), WEIR_WIRE_BAD_FRAGMENT);
  /* the largest offset, as the classic attack sends it */
  set16(b + 6, 0x2000 | 0x1fff);
  fix_csum(b, 20);
  CHECK_EQ(weir_ipv4_parse(&h, b, sizeof(b)), WEIR_WIRE_BAD_FRAGMENT);
}

TEST(test_ipv4_parse_accepts_fragment_ending_at_65535)
{
  uint8_t b[20 + 3];
  struct weir_ipv4 h;
  memcpy(b, ping_req, sizeof(b));
  set16(b + 2, 20 + 3);
  set16(b + 6, 8189); /* 20 + 65512 + 3 == 65535 */
  fix_csum(b, 20);
  CHECK_EQ(weir_ipv4_parse(&h, b, sizeof(b)), WEIR_WIRE_OK);
  CHECK_EQ(h.frag_off, 65512);
  CHECK_EQ(h.mf, 0);
  CHECK_EQ(h.df, 0);
}

/* With options the limit shrinks by the header length. */
TEST(test_ipv4_parse_fragment_limit_counts_options)
{
  uint8_t b[24 + 3];
  struct weir_ipv4 h;
  memcpy(b, ping_req, 20);
  b[0] = 0x46;
  memset(b + 20, 1, 7); /* NOP options, then payload */
  set16(b + 2, 24 + 3);
  set16(b + 6, 8189); /* 24 + 65512 + 3 > 65535 */
  fix_csum(b, 24);
  CHECK_EQ(weir_ipv4_parse(&h, b, sizeof(b)), WEIR_WIRE_BAD_FRAGMENT);
}

/* Ethernet pads short frames to 60 bytes; total_len delimits. */
TEST(test_ipv4_parse_ignores_trailing_link_padding)
{
  uint8_t b[46];
  struct weir_ipv4 h;
  memset(b, 0, sizeof(b));
  memcpy(b, ping_req, 28);
  set16(b + 2, 28);
  fix_csum(b, 20);
  CHECK_EQ(weir_ipv4_parse(&h, b, sizeof(b)), WEIR_WIRE_OK);
  CHECK_EQ(h.total_len, 28);
  CHECK(h.payload == b + 20);
  CHECK_EQ(h.payload_len, 8);
}

TEST(test_ipv4_parse_exposes_options_and_payload_after_them)
{
  /* Router Alert (RFC 2113) makes IHL 6. */
  uint8_t b[24 + 8];
  struct weir_ipv4 h;
  memcpy(b, ping_req, 20);
  b[0] = 0x46;
  set16(b + 2, sizeof(b));
  b[20] = 0x94;
  b[21] = 0x04;
  b[22] = b[23] = 0;
  memcpy(b + 24, ping_req + 20, 8);
  fix_csum(b, 24);
  CHECK_EQ(weir_ipv4_parse(&h, b, sizeof(b)), WEIR_WIRE_OK);
  CHECK_EQ(h.hlen, 24);
  CHECK(h.options == b + 20);
  CHECK_EQ(h.options_len, 4);
  CHECK(h.payload == b + 24);
  CHECK_EQ(h.payload_len, 8);
}

/* The header's order of checks: a header that breaks two rules reports
 * the first. */
TEST(test_ipv4_parse_reports_first_failing_rule)
{
  uint8_t b[84];
  struct weir_ipv4 h;
  memcpy(b, ping_req, sizeof(b));
  b[0] = 0x64; /* version 6 and IHL 4 */
  CHECK_EQ(weir_ipv4_parse(&h, b, sizeof(b)), WEIR_WIRE_BAD_VERSION);
  memcpy(b, ping_req, sizeof(b));
  set16(b + 2, 200); /* too long, and the checksum is now wrong */
  CHECK_EQ(weir_ipv4_parse(&h, b, sizeof(b)), WEIR_WIRE_BAD_LENGTH);
}

TEST(test_ipv4_address_classes)
{
  CHECK(weir_ipv4_is_multicast(0xe0000001));
  CHECK(weir_ipv4_is_multicast(0xefffffff));
  CHECK(!weir_ipv4_is_multicast(0xdfffffff));
  CHECK(!weir_ipv4_is_multicast(0xf0000000));
  CHECK(!weir_ipv4_is_multicast(0xffffffff));
  CHECK(weir_ipv4_is_loopback(0x7f000001));
  CHECK(weir_ipv4_is_loopback(0x7fffffff));
  CHECK(!weir_ipv4_is_loopback(0x80000000));
  CHECK(!weir_ipv4_is_loopback(0x0a000201));
}
