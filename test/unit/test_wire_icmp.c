/* ICMP (RFC 792): echo, errors with their quotes, RFC 1191 MTU. */
#include <string.h>

#include "harness/test.h"
#include "wire/checksum.h"
#include "wire/icmp.h"

/* The ICMP part of a Linux ping: id 0x1c2d, seq 1, 16 bytes of timeval
 * and the 0x10..0x37 pattern. */
static const uint8_t echo_req[64] = {
    0x08, 0x00, 0x86, 0xc6, 0x1c, 0x2d, 0x00, 0x01, 0x00, 0xf1, 0x53,
    0x65, 0x00, 0x00, 0x00, 0x00, 0x40, 0xe2, 0x01, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18,
    0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f, 0x20, 0x21, 0x22, 0x23,
    0x24, 0x25, 0x26, 0x27, 0x28, 0x29, 0x2a, 0x2b, 0x2c, 0x2d, 0x2e,
    0x2f, 0x30, 0x31, 0x32, 0x33, 0x34, 0x35, 0x36, 0x37,
};

/* The reply Linux sends back: type 0, the rest unchanged. */
static const uint8_t echo_reply[64] = {
    0x00, 0x00, 0x8e, 0xc6, 0x1c, 0x2d, 0x00, 0x01, 0x00, 0xf1, 0x53,
    0x65, 0x00, 0x00, 0x00, 0x00, 0x40, 0xe2, 0x01, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18,
    0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f, 0x20, 0x21, 0x22, 0x23,
    0x24, 0x25, 0x26, 0x27, 0x28, 0x29, 0x2a, 0x2b, 0x2c, 0x2d, 0x2e,
    0x2f, 0x30, 0x31, 0x32, 0x33, 0x34, 0x35, 0x36, 0x37,
};

/* A router's "fragmentation needed, next-hop MTU 1400" quoting our SYN
 * 10.0.2.1:40000 -> 10.0.2.2:5000, seq 0x12345678. */
static const uint8_t frag_needed[36] = {
    0x03, 0x04, 0xdf, 0x0e, 0x00, 0x00, 0x05, 0x78, 0x45, 0x00, 0x00, 0x3c,
    0xbe, 0xef, 0x40, 0x00, 0x40, 0x06, 0x63, 0xca, 0x0a, 0x00, 0x02, 0x01,
    0x0a, 0x00, 0x02, 0x02, 0x9c, 0x40, 0x13, 0x88, 0x12, 0x34, 0x56, 0x78,
};

TEST(test_icmp_parse_linux_echo_request)
{
  struct weir_icmp m;
  CHECK_EQ(weir_icmp_parse(&m, echo_req, sizeof(echo_req)), WEIR_WIRE_OK);
  CHECK_EQ(m.type, WEIR_ICMP_ECHO_REQUEST);
  CHECK_EQ(m.code, 0);
  CHECK_UEQ(m.id, 0x1c2d);
  CHECK_EQ(m.seq, 1);
  CHECK_EQ(m.mtu, 0);
  CHECK(m.payload == echo_req + 8);
  CHECK_EQ(m.payload_len, 56);
}

/* The usual way to answer a ping: build the reply over the request. */
TEST(test_icmp_emit_echo_reply_in_place_is_byte_identical)
{
  uint8_t b[64];
  struct weir_icmp m;
  memcpy(b, echo_req, sizeof(b));
  CHECK_EQ(weir_icmp_parse(&m, b, sizeof(b)), WEIR_WIRE_OK);
  m.type = WEIR_ICMP_ECHO_REPLY;
  CHECK_EQ(weir_icmp_emit(&m, m.payload, m.payload_len, b, sizeof(b)), 64);
  CHECK_BYTES(b, 64, echo_reply, 64);
}

/* The payload may also sit where the header goes (memmove). */
TEST(test_icmp_emit_moves_payload_overlapping_header)
{
  uint8_t b[64];
  struct weir_icmp m;
  memset(&m, 0, sizeof(m));
  m.type = WEIR_ICMP_ECHO_REPLY;
  m.id = 0x1c2d;
  m.seq = 1;
  memcpy(b, echo_req + 8, 56);
  CHECK_EQ(weir_icmp_emit(&m, b, 56, b, sizeof(b)), 64);
  CHECK_BYTES(b, 64, echo_reply, 64);
}

TEST(test_icmp_emit_frag_needed_puts_mtu_in_low_half_of_second_word)
{
  uint8_t b[64];
  struct weir_icmp m;
  memset(&m, 0, sizeof(m));
  m.type = WEIR_ICMP_DEST_UNREACH;
  m.code = WEIR_ICMP_FRAG_NEEDED;
  m.mtu = 1400;
  m.id = 0xdead; /* not an echo: ignored */
  m.seq = 0xbeef;
  CHECK_EQ(weir_icmp_emit(&m, frag_needed + 8, 28, b, sizeof(b)), 36);
  CHECK_BYTES(b, 36, frag_needed, 36);
}

TEST(test_icmp_emit_zeroes_second_word_of_other_types)
{
  uint8_t b[36];
  struct weir_icmp m, p;
  memset(&m, 0, sizeof(m));
  m.type = WEIR_ICMP_DEST_UNREACH;
  m.code = WEIR_ICMP_PORT_UNREACH;
  m.id = 0x1111;
  m.seq = 0x2222;
  m.mtu = 1400;
  CHECK_EQ(weir_icmp_emit(&m, frag_needed + 8, 28, b, sizeof(b)), 36);
  CHECK_UEQ(b[4] | b[5] | b[6] | b[7], 0);
  CHECK_EQ(weir_csum(b, sizeof(b)), 0);
  CHECK_EQ(weir_icmp_parse(&p, b, sizeof(b)), WEIR_WIRE_OK);
  CHECK_EQ(p.type, WEIR_ICMP_DEST_UNREACH);
  CHECK_EQ(p.code, WEIR_ICMP_PORT_UNREACH);
  CHECK_EQ(p.mtu, 0);
}

TEST(test_icmp_emit_refuses_when_message_exceeds_cap)
{
  uint8_t b[64];
  struct weir_icmp m;
  memset(&m, 0, sizeof(m));
  CHECK_EQ(weir_icmp_emit(&m, echo_req, 56, b, 63), 0);
  CHECK_EQ(weir_icmp_emit(&m, NULL, 0, b, 7), 0);
  CHECK_EQ(weir_icmp_emit(&m, NULL, 0, b, 8), 8);
  CHECK_EQ(weir_icmp_emit(&m, echo_req, (size_t)-4, b, sizeof(b)), 0);
}

TEST(test_icmp_parse_frag_needed_mtu)
{
  struct weir_icmp m;
  CHECK_EQ(weir_icmp_parse(&m, frag_needed, sizeof(frag_needed)), WEIR_WIRE_OK);
  CHECK_EQ(m.type, WEIR_ICMP_DEST_UNREACH);
  CHECK_EQ(m.code, WEIR_ICMP_FRAG_NEEDED);
  CHECK_EQ(m.mtu, 1400);
  CHECK_EQ(m.id, 0);
  CHECK_EQ(m.seq, 0);
  CHECK_EQ(m.payload_len, 28);
}

/* Only echo decodes id/seq and only code 4 decodes an MTU. */
TEST(test_icmp_parse_decodes_second_word_only_for_its_types)
{
  uint8_t b[36];
  uint16_t c;
  struct weir_icmp m;
  memcpy(b, frag_needed, sizeof(b));
  b[1] = WEIR_ICMP_HOST_UNREACH;
  b[2] = b[3] = 0;
  c = weir_csum(b, sizeof(b));
  b[2] = (uint8_t)(c >> 8);
  b[3] = (uint8_t)c;
  CHECK_EQ(weir_icmp_parse(&m, b, sizeof(b)), WEIR_WIRE_OK);
  CHECK_EQ(m.mtu, 0);
  CHECK_EQ(m.id, 0);
  CHECK_EQ(m.seq, 0);
}

TEST(test_icmp_parse_accepts_any_type)
{
  uint8_t b[8] = {42, 7, 0, 0, 1, 2, 3, 4};
  uint16_t c = weir_csum(b, sizeof(b));
  struct weir_icmp m;
  b[2] = (uint8_t)(c >> 8);
  b[3] = (uint8_t)c;
  CHECK_EQ(weir_icmp_parse(&m, b, sizeof(b)), WEIR_WIRE_OK);
  CHECK_EQ(m.type, 42);
  CHECK_EQ(m.code, 7);
  CHECK_EQ(m.payload_len, 0);
}

TEST(test_icmp_parse_rejects_truncated_header_at_each_length)
{
  struct weir_icmp m;
  for (size_t len = 0; len < 8; len++)
    CHECK_EQ(weir_icmp_parse(&m, echo_req, len), WEIR_WIRE_TRUNCATED);
}

TEST(test_icmp_parse_rejects_bad_checksum_over_header_and_data)
{
  uint8_t b[64];
  struct weir_icmp m;
  memcpy(b, echo_req, sizeof(b));
  b[63] ^= 0x40; /* last data byte: the checksum covers it */
  CHECK_EQ(weir_icmp_parse(&m, b, sizeof(b)), WEIR_WIRE_BAD_CHECKSUM);
  /* a message cut short no longer verifies */
  CHECK_EQ(weir_icmp_parse(&m, echo_req, 63), WEIR_WIRE_BAD_CHECKSUM);
}

TEST(test_icmp_parse_quote_of_our_syn)
{
  struct weir_icmp_quote q;
  CHECK_EQ(weir_icmp_parse_quote(&q, frag_needed + 8, 28), WEIR_WIRE_OK);
  CHECK_EQ(q.proto, 6);
  CHECK_UEQ(q.src, 0x0a000201);
  CHECK_UEQ(q.dst, 0x0a000202);
  CHECK_EQ(q.sport, 40000);
  CHECK_EQ(q.dport, 5000);
  CHECK_UEQ(q.tcp_seq, 0x12345678);
}

TEST(test_icmp_parse_quote_rejects_quote_too_short)
{
  struct weir_icmp_quote q;
  for (size_t len = 0; len < 28; len++)
    CHECK_EQ(weir_icmp_parse_quote(&q, frag_needed + 8, len),
             WEIR_WIRE_TRUNCATED);
}

TEST(test_icmp_parse_quote_rejects_bad_version)
{
  uint8_t b[28];
  struct weir_icmp_quote q;
  memcpy(b, frag_needed + 8, sizeof(b));
  b[0] = 0x65;
  CHECK_EQ(weir_icmp_parse_quote(&q, b, sizeof(b)), WEIR_WIRE_BAD_VERSION);
}

TEST(test_icmp_parse_quote_rejects_ihl_below_5)
{
  uint8_t b[28];
  struct weir_icmp_quote q;
  memcpy(b, frag_needed + 8, sizeof(b));
  b[0] = 0x44;
  CHECK_EQ(weir_icmp_parse_quote(&q, b, sizeof(b)), WEIR_WIRE_BAD_HLEN);
  b[0] = 0x40;
  CHECK_EQ(weir_icmp_parse_quote(&q, b, sizeof(b)), WEIR_WIRE_BAD_HLEN);
}

/* IHL 6 needs 24 + 8 bytes of quote. */
TEST(test_icmp_parse_quote_rejects_ihl_leaving_under_8_bytes)
{
  uint8_t b[32];
  struct weir_icmp_quote q;
  memcpy(b, frag_needed + 8, 20);
  b[0] = 0x46;
  memset(b + 20, 0, 4);
  memcpy(b + 24, frag_needed + 28, 8);
  CHECK_EQ(weir_icmp_parse_quote(&q, b, 31), WEIR_WIRE_BAD_HLEN);
  CHECK_EQ(weir_icmp_parse_quote(&q, b, 32), WEIR_WIRE_OK);
  CHECK_EQ(q.sport, 40000);
  CHECK_EQ(q.dport, 5000);
  CHECK_UEQ(q.tcp_seq, 0x12345678);
}

/* Routers may rewrite or cut the quoted datagram (RFC 1812 4.3.2.3). */
TEST(test_icmp_parse_quote_ignores_quoted_length_and_checksum)
{
  uint8_t b[28];
  struct weir_icmp_quote q;
  memcpy(b, frag_needed + 8, sizeof(b));
  b[2] = b[3] = 0xff;
  b[10] = b[11] = 0;
  CHECK_EQ(weir_icmp_parse_quote(&q, b, sizeof(b)), WEIR_WIRE_OK);
  CHECK_EQ(q.dport, 5000);
}
