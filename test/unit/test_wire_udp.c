/* UDP (RFC 768) and its pseudo-header checksum. */
#include <string.h>

#include "harness/test.h"
#include "wire/checksum.h"
#include "wire/ipv4.h"
#include "wire/tcp.h"
#include "wire/udp.h"

#define SRC 0x0a000201u /* 10.0.2.1 */
#define DST 0x0a000202u /* 10.0.2.2 */

/* "hello\n" from 10.0.2.1:54321 to 10.0.2.2:7, as `nc -u` sends it. */
static const uint8_t udp_hello[14] = {
    0xd4, 0x31, 0x00, 0x07, 0x00, 0x0e, 0xcf,
    0xba, 0x68, 0x65, 0x6c, 0x6c, 0x6f, 0x0a,
};

TEST(test_udp_parse_hello_fields)
{
  struct weir_udp u;
  CHECK_EQ(weir_udp_parse(&u, udp_hello, sizeof(udp_hello)), WEIR_WIRE_OK);
  CHECK_EQ(u.sport, 54321);
  CHECK_EQ(u.dport, 7);
  CHECK_EQ(u.len, 14);
  CHECK_UEQ(u.csum, 0xcfba);
  CHECK(u.payload == udp_hello + 8);
  CHECK_EQ(u.payload_len, 6);
  CHECK_BYTES(u.payload, u.payload_len, "hello\n", 6);
}

TEST(test_udp_emit_is_byte_identical)
{
  uint8_t b[14];
  struct weir_udp u;
  memset(&u, 0, sizeof(u));
  u.sport = 54321;
  u.dport = 7;
  u.len = 999; /* ignored: emit sets it */
  u.payload_len = 6;
  memcpy(b + 8, "hello\n", 6);
  CHECK_EQ(weir_udp_emit(&u, SRC, DST, b, sizeof(b)), 14);
  CHECK_BYTES(b, 14, udp_hello, 14);
}

TEST(test_udp_emit_refuses_cap_too_small)
{
  uint8_t b[14];
  struct weir_udp u;
  memset(&u, 0, sizeof(u));
  u.payload_len = 6;
  CHECK_EQ(weir_udp_emit(&u, SRC, DST, b, 13), 0);
  u.payload_len = 0;
  CHECK_EQ(weir_udp_emit(&u, SRC, DST, b, 7), 0);
  CHECK_EQ(weir_udp_emit(&u, SRC, DST, b, 8), 8);
}

TEST(test_udp_emit_refuses_datagram_over_65535)
{
  static uint8_t b[70000];
  struct weir_udp u;
  memset(&u, 0, sizeof(u));
  u.payload_len = 65535 - 8 + 1;
  CHECK_EQ(weir_udp_emit(&u, SRC, DST, b, sizeof(b)), 0);
  u.payload_len = 65535 - 8;
  CHECK_EQ(weir_udp_emit(&u, SRC, DST, b, sizeof(b)), 65535);
  CHECK(weir_l4_checksum_ok(WEIR_IP_PROTO_UDP, b, 65535, SRC, DST));
}

/* RFC 768: a computed checksum of 0 is transmitted as all ones. */
TEST(test_udp_emit_sends_zero_checksum_as_ffff)
{
  uint8_t b[10];
  struct weir_udp u;
  uint16_t c;
  memset(&u, 0, sizeof(u));
  u.sport = 1;
  u.dport = 2;
  u.payload_len = 2;
  /* Choose the two payload bytes so that everything sums to -0. */
  b[8] = b[9] = 0;
  CHECK_EQ(weir_udp_emit(&u, SRC, DST, b, sizeof(b)), 10);
  c = (uint16_t)(b[6] << 8 | b[7]);
  b[8] = (uint8_t)(c >> 8);
  b[9] = (uint8_t)c;
  CHECK_EQ(weir_udp_emit(&u, SRC, DST, b, sizeof(b)), 10);
  CHECK_UEQ(b[6], 0xff);
  CHECK_UEQ(b[7], 0xff);
  CHECK(weir_l4_checksum_ok(WEIR_IP_PROTO_UDP, b, sizeof(b), SRC, DST));
}

TEST(test_udp_parse_rejects_truncated_header_at_each_length)
{
  struct weir_udp u;
  for (size_t len = 0; len < 8; len++)
    CHECK_EQ(weir_udp_parse(&u, udp_hello, len), WEIR_WIRE_TRUNCATED);
}

TEST(test_udp_parse_rejects_length_field_below_8)
{
  uint8_t b[14];
  struct weir_udp u;
  memcpy(b, udp_hello, sizeof(b));
  for (uint8_t l = 0; l < 8; l++) {
    b[5] = l;
    CHECK_EQ(weir_udp_parse(&u, b, sizeof(b)), WEIR_WIRE_BAD_LENGTH);
  }
}

TEST(test_udp_parse_rejects_length_field_beyond_buffer)
{
  uint8_t b[14];
  struct weir_udp u;
  memcpy(b, udp_hello, sizeof(b));
  CHECK_EQ(weir_udp_parse(&u, b, 13), WEIR_WIRE_BAD_LENGTH);
  b[4] = 0xff;
  CHECK_EQ(weir_udp_parse(&u, b, sizeof(b)), WEIR_WIRE_BAD_LENGTH);
}

TEST(test_udp_parse_ignores_bytes_past_length_field)
{
  uint8_t b[26];
  struct weir_udp u;
  memset(b, 0xee, sizeof(b));
  memcpy(b, udp_hello, sizeof(udp_hello));
  CHECK_EQ(weir_udp_parse(&u, b, sizeof(b)), WEIR_WIRE_OK);
  CHECK_EQ(u.payload_len, 6);
  CHECK(weir_l4_checksum_ok(WEIR_IP_PROTO_UDP, b, u.len, SRC, DST));
}

TEST(test_udp_parse_accepts_empty_datagram)
{
  static const uint8_t b[8] = {0, 1, 0, 2, 0, 8, 0, 0};
  struct weir_udp u;
  CHECK_EQ(weir_udp_parse(&u, b, sizeof(b)), WEIR_WIRE_OK);
  CHECK_EQ(u.payload_len, 0);
}

TEST(test_l4_checksum_ok_verifies_udp_hello)
{
  uint8_t b[14];
  memcpy(b, udp_hello, sizeof(b));
  CHECK(weir_l4_checksum_ok(WEIR_IP_PROTO_UDP, b, sizeof(b), SRC, DST));
  /* the pseudo-header counts: wrong address, wrong protocol */
  CHECK(!weir_l4_checksum_ok(WEIR_IP_PROTO_UDP, b, sizeof(b), SRC, DST + 1));
  CHECK(!weir_l4_checksum_ok(WEIR_IP_PROTO_TCP, b, sizeof(b), SRC, DST));
  b[13] ^= 1;
  CHECK(!weir_l4_checksum_ok(WEIR_IP_PROTO_UDP, b, sizeof(b), SRC, DST));
}

/* RFC 768: a stored UDP checksum of 0 means "none" and passes. */
TEST(test_l4_checksum_ok_accepts_udp_checksum_zero)
{
  uint8_t b[14];
  memcpy(b, udp_hello, sizeof(b));
  b[6] = b[7] = 0;
  CHECK(weir_l4_checksum_ok(WEIR_IP_PROTO_UDP, b, sizeof(b), SRC, DST));
  b[13] ^= 1; /* the data is not checked at all */
  CHECK(weir_l4_checksum_ok(WEIR_IP_PROTO_UDP, b, sizeof(b), SRC, DST));
}

/* TCP has no such exception (RFC 9293 3.1: the checksum is mandatory). */
TEST(test_l4_checksum_ok_rejects_tcp_checksum_zero)
{
  uint8_t b[20] = {0, 1, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0x50, 0x10};
  CHECK(!weir_l4_checksum_ok(WEIR_IP_PROTO_TCP, b, sizeof(b), SRC, DST));
}
