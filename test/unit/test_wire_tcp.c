/* TCP headers and options (RFC 9293 3.1, RFC 7323, RFC 2018). */
#include <string.h>

#include "harness/test.h"
#include "wire/ipv4.h"
#include "wire/tcp.h"

#define CLIENT 0x0a000201u /* 10.0.2.1 */
#define SERVER 0x0a000202u /* 10.0.2.2 */

/* A Linux SYN 10.0.2.1:40000 -> 10.0.2.2:5000: MSS 1460, SACK-perm,
 * TS, NOP, WS 7. */
static const uint8_t syn[40] = {
    0x9c, 0x40, 0x13, 0x88, 0x12, 0x34, 0x56, 0x78, 0x00, 0x00,
    0x00, 0x00, 0xa0, 0x02, 0xfa, 0xf0, 0x45, 0xec, 0x00, 0x00,
    0x02, 0x04, 0x05, 0xb4, 0x04, 0x02, 0x08, 0x0a, 0x0b, 0xad,
    0xca, 0xfe, 0x00, 0x00, 0x00, 0x00, 0x01, 0x03, 0x03, 0x07,
};

/* The server's PSH|ACK with "abc", TS and two SACK blocks, laid out as
 * Linux lays them out (NOP NOP TS, NOP NOP SACK). */
static const uint8_t ack_sack[55] = {
    0x13, 0x88, 0x9c, 0x40, 0x9a, 0xbc, 0xde, 0xf0, 0x12, 0x34, 0x56,
    0x79, 0xd0, 0x18, 0x01, 0xf6, 0xf4, 0xf7, 0x00, 0x00, 0x01, 0x01,
    0x08, 0x0a, 0x0b, 0xad, 0xcb, 0x00, 0x11, 0x22, 0x33, 0x44, 0x01,
    0x01, 0x05, 0x12, 0x00, 0x00, 0x10, 0x00, 0x00, 0x00, 0x20, 0x00,
    0x00, 0x00, 0x30, 0x00, 0x00, 0x00, 0x40, 0x00, 0x61, 0x62, 0x63,
};

/* Builds a 20-byte header followed by `n` option bytes (n % 4 == 0) and
 * returns the segment length. */
static size_t with_opts(uint8_t *b, const uint8_t *opts, size_t n)
{
  memcpy(b, syn, 20);
  memcpy(b + 20, opts, n);
  b[12] = (uint8_t)((20 + n) / 4 << 4);
  return 20 + n;
}

static int parse_opts(struct weir_tcp *t, const uint8_t *opts, size_t n)
{
  uint8_t b[60];
  return weir_tcp_parse(t, b, with_opts(b, opts, n));
}

TEST(test_tcp_parse_linux_syn_with_options)
{
  struct weir_tcp t;
  CHECK_EQ(weir_tcp_parse(&t, syn, sizeof(syn)), WEIR_WIRE_OK);
  CHECK_EQ(t.sport, 40000);
  CHECK_EQ(t.dport, 5000);
  CHECK_UEQ(t.seq, 0x12345678);
  CHECK_UEQ(t.ack, 0);
  CHECK_EQ(t.hlen, 40);
  CHECK_UEQ(t.flags, WEIR_TCP_SYN);
  CHECK_EQ(t.win, 64240);
  CHECK_UEQ(t.csum, 0x45ec);
  CHECK_EQ(t.urg, 0);
  CHECK_EQ(t.opt.has_mss, 1);
  CHECK_EQ(t.opt.mss, 1460);
  CHECK_EQ(t.opt.sack_perm, 1);
  CHECK_EQ(t.opt.has_ts, 1);
  CHECK_UEQ(t.opt.ts_val, 0x0badcafe);
  CHECK_UEQ(t.opt.ts_ecr, 0);
  CHECK_EQ(t.opt.has_wscale, 1);
  CHECK_EQ(t.opt.wscale, 7);
  CHECK_EQ(t.opt.nsack, 0);
  CHECK(t.payload == syn + 40);
  CHECK_EQ(t.payload_len, 0);
  CHECK(
      weir_l4_checksum_ok(WEIR_IP_PROTO_TCP, syn, sizeof(syn), CLIENT, SERVER));
}

TEST(test_tcp_emit_syn_is_byte_identical_to_linux)
{
  struct weir_tcp t;
  uint8_t b[40];
  memset(&t, 0, sizeof(t));
  t.sport = 40000;
  t.dport = 5000;
  t.seq = 0x12345678;
  t.flags = WEIR_TCP_SYN;
  t.win = 64240;
  t.opt.has_mss = 1;
  t.opt.mss = 1460;
  t.opt.sack_perm = 1;
  t.opt.has_ts = 1;
  t.opt.ts_val = 0x0badcafe;
  t.opt.has_wscale = 1;
  t.opt.wscale = 7;
  CHECK_EQ(weir_tcp_header_len(&t.opt), 40);
  CHECK_EQ(weir_tcp_emit(&t, CLIENT, SERVER, b, sizeof(b)), 40);
  CHECK_BYTES(b, 40, syn, 40);
}

TEST(test_tcp_parse_ack_with_ts_sack_and_data)
{
  struct weir_tcp t;
  CHECK_EQ(weir_tcp_parse(&t, ack_sack, sizeof(ack_sack)), WEIR_WIRE_OK);
  CHECK_EQ(t.hlen, 52);
  CHECK_UEQ(t.flags, WEIR_TCP_PSH | WEIR_TCP_ACK);
  CHECK_UEQ(t.ack, 0x12345679);
  CHECK_EQ(t.opt.has_mss, 0);
  CHECK_EQ(t.opt.sack_perm, 0);
  CHECK_EQ(t.opt.has_wscale, 0);
  CHECK_EQ(t.opt.has_ts, 1);
  CHECK_UEQ(t.opt.ts_val, 0x0badcb00);
  CHECK_UEQ(t.opt.ts_ecr, 0x11223344);
  CHECK_EQ(t.opt.nsack, 2);
  CHECK_UEQ(t.opt.sack[0].left, 0x1000);
  CHECK_UEQ(t.opt.sack[0].right, 0x2000);
  CHECK_UEQ(t.opt.sack[1].left, 0x3000);
  CHECK_UEQ(t.opt.sack[1].right, 0x4000);
  CHECK(t.payload == ack_sack + 52);
  CHECK_EQ(t.payload_len, 3);
  CHECK(weir_l4_checksum_ok(WEIR_IP_PROTO_TCP, ack_sack, sizeof(ack_sack),
                            SERVER, CLIENT));
}

TEST(test_tcp_emit_ack_with_ts_sack_and_data_is_byte_identical)
{
  struct weir_tcp t;
  uint8_t b[64];
  CHECK_EQ(weir_tcp_parse(&t, ack_sack, sizeof(ack_sack)), WEIR_WIRE_OK);
  memcpy(b + 52, "abc", 3);
  t.payload_len = 3;
  CHECK_EQ(weir_tcp_emit(&t, SERVER, CLIENT, b, sizeof(b)), 55);
  CHECK_BYTES(b, 55, ack_sack, 55);
}

TEST(test_tcp_emit_refuses_cap_below_header_plus_payload)
{
  struct weir_tcp t;
  uint8_t b[64];
  CHECK_EQ(weir_tcp_parse(&t, ack_sack, sizeof(ack_sack)), WEIR_WIRE_OK);
  t.payload_len = 3;
  CHECK_EQ(weir_tcp_emit(&t, SERVER, CLIENT, b, 54), 0);
  t.payload_len = 0;
  CHECK_EQ(weir_tcp_emit(&t, SERVER, CLIENT, b, 51), 0);
  t.payload_len = (size_t)-1;
  CHECK_EQ(weir_tcp_emit(&t, SERVER, CLIENT, b, sizeof(b)), 0);
}

TEST(test_tcp_emit_bare_header_is_20_bytes_and_verifies)
{
  struct weir_tcp t, p;
  uint8_t b[20];
  memset(&t, 0, sizeof(t));
  t.sport = 1;
  t.dport = 2;
  t.seq = 3;
  t.ack = 4;
  t.flags = WEIR_TCP_RST | WEIR_TCP_ACK;
  t.urg = 0x55aa;
  CHECK_EQ(weir_tcp_header_len(&t.opt), 20);
  CHECK_EQ(weir_tcp_emit(&t, CLIENT, SERVER, b, sizeof(b)), 20);
  CHECK_UEQ(b[12], 0x50);
  CHECK(weir_l4_checksum_ok(WEIR_IP_PROTO_TCP, b, sizeof(b), CLIENT, SERVER));
  CHECK_EQ(weir_tcp_parse(&p, b, sizeof(b)), WEIR_WIRE_OK);
  CHECK_UEQ(p.flags, WEIR_TCP_RST | WEIR_TCP_ACK);
  CHECK_UEQ(p.urg, 0x55aa);
}

/* Linux: NOP NOP TS when SACK is not permitted. */
TEST(test_tcp_emit_ts_without_sack_perm_uses_nop_nop)
{
  static const uint8_t want[12] = {1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2};
  struct weir_tcp t;
  uint8_t b[32];
  memset(&t, 0, sizeof(t));
  t.opt.has_ts = 1;
  t.opt.ts_val = 1;
  t.opt.ts_ecr = 2;
  CHECK_EQ(weir_tcp_emit(&t, CLIENT, SERVER, b, sizeof(b)), 32);
  CHECK_BYTES(b + 20, 12, want, 12);
}

/* Linux: NOP NOP SACK-perm when there are no timestamps. */
TEST(test_tcp_emit_sack_perm_without_ts_uses_nop_nop)
{
  static const uint8_t want[12] = {2, 4, 0x05, 0xb4, 1, 1, 4, 2, 1, 3, 3, 7};
  struct weir_tcp t;
  uint8_t b[32];
  memset(&t, 0, sizeof(t));
  t.opt.has_mss = 1;
  t.opt.mss = 1460;
  t.opt.sack_perm = 1;
  t.opt.has_wscale = 1;
  t.opt.wscale = 7;
  CHECK_EQ(weir_tcp_header_len(&t.opt), 32);
  CHECK_EQ(weir_tcp_emit(&t, CLIENT, SERVER, b, sizeof(b)), 32);
  CHECK_BYTES(b + 20, 12, want, 12);
}

/* 40 option bytes: 4 blocks alone, 3 with TS, 2 with everything. */
TEST(test_tcp_emit_sends_only_the_sack_blocks_that_fit)
{
  struct weir_tcp t, p;
  uint8_t b[60];
  memset(&t, 0, sizeof(t));
  t.opt.nsack = 4;
  for (uint32_t i = 0; i < 4; i++) {
    t.opt.sack[i].left = 100 * i + 1;
    t.opt.sack[i].right = 100 * i + 50;
  }
  CHECK_EQ(weir_tcp_header_len(&t.opt), 56);
  CHECK_EQ(weir_tcp_emit(&t, CLIENT, SERVER, b, sizeof(b)), 56);
  CHECK_EQ(weir_tcp_parse(&p, b, 56), WEIR_WIRE_OK);
  CHECK_EQ(p.opt.nsack, 4);
  CHECK_UEQ(p.opt.sack[3].right, 350);

  t.opt.has_ts = 1;
  CHECK_EQ(weir_tcp_header_len(&t.opt), 60);
  CHECK_EQ(weir_tcp_emit(&t, CLIENT, SERVER, b, sizeof(b)), 60);
  CHECK_EQ(weir_tcp_parse(&p, b, 60), WEIR_WIRE_OK);
  CHECK_EQ(p.opt.nsack, 3);
  CHECK_UEQ(p.opt.sack[2].left, 201);

  t.opt.has_mss = t.opt.has_wscale = t.opt.sack_perm = 1;
  CHECK_EQ(weir_tcp_header_len(&t.opt), 60);
  CHECK_EQ(weir_tcp_emit(&t, CLIENT, SERVER, b, sizeof(b)), 60);
  CHECK_EQ(weir_tcp_parse(&p, b, 60), WEIR_WIRE_OK);
  CHECK_EQ(p.opt.nsack, 2);
  CHECK_EQ(p.opt.has_mss, 1);
  CHECK_EQ(p.opt.has_wscale, 1);
  CHECK_EQ(p.opt.sack_perm, 1);
  CHECK(weir_l4_checksum_ok(WEIR_IP_PROTO_TCP, b, 60, CLIENT, SERVER));
}

TEST(test_tcp_emit_clamps_nsack_above_4)
{
  struct weir_tcp t;
  memset(&t, 0, sizeof(t));
  t.opt.nsack = 200;
  CHECK_EQ(weir_tcp_header_len(&t.opt), 56);
}

TEST(test_tcp_emit_clamps_wscale_above_14)
{
  struct weir_tcp t, p;
  uint8_t b[24];
  memset(&t, 0, sizeof(t));
  t.opt.has_wscale = 1;
  t.opt.wscale = 200;
  CHECK_EQ(weir_tcp_emit(&t, CLIENT, SERVER, b, sizeof(b)), 24);
  CHECK_EQ(b[23], 14);
  CHECK_EQ(weir_tcp_parse(&p, b, sizeof(b)), WEIR_WIRE_OK);
  CHECK_EQ(p.opt.wscale, 14);
}

TEST(test_tcp_parse_rejects_truncated_header_at_each_length)
{
  struct weir_tcp t;
  for (size_t len = 0; len < 20; len++)
    CHECK_EQ(weir_tcp_parse(&t, syn, len), WEIR_WIRE_TRUNCATED);
}

TEST(test_tcp_parse_rejects_data_offset_below_5)
{
  uint8_t b[40];
  struct weir_tcp t;
  memcpy(b, syn, sizeof(b));
  for (uint8_t off = 0; off < 5; off++) {
    b[12] = (uint8_t)(off << 4);
    CHECK_EQ(weir_tcp_parse(&t, b, sizeof(b)), WEIR_WIRE_BAD_HLEN);
  }
}

TEST(test_tcp_parse_rejects_data_offset_past_buffer)
{
  struct weir_tcp t;
  uint8_t b[60];
  memset(b, 1, sizeof(b)); /* NOP options */
  memcpy(b, syn, 20);
  CHECK_EQ(weir_tcp_parse(&t, syn, 39), WEIR_WIRE_BAD_HLEN);
  CHECK_EQ(weir_tcp_parse(&t, syn, 20), WEIR_WIRE_BAD_HLEN);
  b[12] = 0xf0;
  CHECK_EQ(weir_tcp_parse(&t, b, 59), WEIR_WIRE_BAD_HLEN);
  CHECK_EQ(weir_tcp_parse(&t, b, 60), WEIR_WIRE_OK);
  CHECK_EQ(t.hlen, 60);
}

/* TCP has no length field: everything after the header is payload. */
TEST(test_tcp_parse_payload_is_rest_of_buffer)
{
  struct weir_tcp t;
  uint8_t b[30];
  memcpy(b, syn, 20);
  b[12] = 0x50;
  memset(b + 20, 'x', 10);
  CHECK_EQ(weir_tcp_parse(&t, b, sizeof(b)), WEIR_WIRE_OK);
  CHECK(t.payload == b + 20);
  CHECK_EQ(t.payload_len, 10);
  CHECK_EQ(t.opt.has_mss, 0);
}

TEST(test_tcp_parse_rejects_option_length_0)
{
  static const uint8_t o[4] = {30, 0, 0, 0};
  struct weir_tcp t;
  CHECK_EQ(parse_opts(&t, o, 4), WEIR_WIRE_BAD_OPTION);
}

TEST(test_tcp_parse_rejects_option_length_1)
{
  static const uint8_t o[4] = {30, 1, 1, 1};
  struct weir_tcp t;
  CHECK_EQ(parse_opts(&t, o, 4), WEIR_WIRE_BAD_OPTION);
}

TEST(test_tcp_parse_rejects_option_overrunning_header)
{
  static const uint8_t o1[4] = {1, 30, 4, 0}; /* needs 4, 3 left */
  static const uint8_t o2[8] = {2, 4, 5, 0xb4, 8, 10, 0, 0};
  struct weir_tcp t;
  CHECK_EQ(parse_opts(&t, o1, 4), WEIR_WIRE_BAD_OPTION);
  CHECK_EQ(parse_opts(&t, o2, 8), WEIR_WIRE_BAD_OPTION);
}

/* The length byte itself must lie within the header. */
TEST(test_tcp_parse_rejects_option_kind_in_last_header_byte)
{
  static const uint8_t o[4] = {1, 1, 1, 2};
  struct weir_tcp t;
  uint8_t b[61];
  CHECK_EQ(parse_opts(&t, o, 4), WEIR_WIRE_BAD_OPTION);
  /* even when the buffer goes on past the header */
  with_opts(b, o, 4);
  b[24] = 4;
  CHECK_EQ(weir_tcp_parse(&t, b, 25), WEIR_WIRE_BAD_OPTION);
}

TEST(test_tcp_parse_rejects_mss_with_wrong_length)
{
  static const uint8_t o3[4] = {2, 3, 5, 1};
  static const uint8_t o5[8] = {2, 5, 5, 0xb4, 0, 1, 1, 1};
  struct weir_tcp t;
  CHECK_EQ(parse_opts(&t, o3, 4), WEIR_WIRE_BAD_OPTION);
  CHECK_EQ(parse_opts(&t, o5, 8), WEIR_WIRE_BAD_OPTION);
}

TEST(test_tcp_parse_rejects_wscale_with_wrong_length)
{
  static const uint8_t o2[4] = {3, 2, 1, 1};
  static const uint8_t o4[4] = {3, 4, 7, 0};
  struct weir_tcp t;
  CHECK_EQ(parse_opts(&t, o2, 4), WEIR_WIRE_BAD_OPTION);
  CHECK_EQ(parse_opts(&t, o4, 4), WEIR_WIRE_BAD_OPTION);
}

TEST(test_tcp_parse_rejects_sack_perm_with_wrong_length)
{
  static const uint8_t o3[4] = {4, 3, 0, 1};
  static const uint8_t o4[4] = {4, 4, 0, 0};
  struct weir_tcp t;
  CHECK_EQ(parse_opts(&t, o3, 4), WEIR_WIRE_BAD_OPTION);
  CHECK_EQ(parse_opts(&t, o4, 4), WEIR_WIRE_BAD_OPTION);
}

TEST(test_tcp_parse_rejects_timestamps_with_wrong_length)
{
  static const uint8_t o8[8] = {8, 8, 0, 0, 0, 1, 0, 0};
  static const uint8_t o12[12] = {8, 12, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0};
  struct weir_tcp t;
  CHECK_EQ(parse_opts(&t, o8, 8), WEIR_WIRE_BAD_OPTION);
  CHECK_EQ(parse_opts(&t, o12, 12), WEIR_WIRE_BAD_OPTION);
}

TEST(test_tcp_parse_rejects_sack_with_wrong_length)
{
  uint8_t o[40];
  struct weir_tcp t;
  static const uint8_t bad[] = {2, 3, 9, 11, 17, 19, 33};
  for (size_t i = 0; i < sizeof(bad); i++) {
    memset(o, 1, sizeof(o));
    o[0] = 5;
    o[1] = bad[i];
    CHECK_EQ(parse_opts(&t, o, 40), WEIR_WIRE_BAD_OPTION);
  }
}

/* Five blocks need 42 bytes: more than the 40 a header can hold, so the
 * option always overruns. */
TEST(test_tcp_parse_rejects_more_than_4_sack_blocks)
{
  uint8_t o[40];
  struct weir_tcp t;
  memset(o, 0, sizeof(o));
  o[0] = 5;
  o[1] = 2 + 8 * 5;
  CHECK_EQ(parse_opts(&t, o, 40), WEIR_WIRE_BAD_OPTION);
}

TEST(test_tcp_parse_accepts_4_sack_blocks)
{
  uint8_t o[36];
  struct weir_tcp t;
  memset(o, 0, sizeof(o));
  o[0] = o[1] = 1;
  o[2] = 5;
  o[3] = 2 + 8 * 4;
  o[35] = 0x44; /* right edge of block 4 */
  CHECK_EQ(parse_opts(&t, o, 36), WEIR_WIRE_OK);
  CHECK_EQ(t.opt.nsack, 4);
  CHECK_UEQ(t.opt.sack[3].right, 0x44);
}

/* RFC 7323 2.3: a shift above 14 is used as 14. */
TEST(test_tcp_parse_clamps_wscale_above_14)
{
  static const uint8_t o14[4] = {1, 3, 3, 14};
  static const uint8_t o15[4] = {1, 3, 3, 15};
  static const uint8_t o255[4] = {1, 3, 3, 255};
  struct weir_tcp t;
  CHECK_EQ(parse_opts(&t, o14, 4), WEIR_WIRE_OK);
  CHECK_EQ(t.opt.wscale, 14);
  CHECK_EQ(parse_opts(&t, o15, 4), WEIR_WIRE_OK);
  CHECK_EQ(t.opt.has_wscale, 1);
  CHECK_EQ(t.opt.wscale, 14);
  CHECK_EQ(parse_opts(&t, o255, 4), WEIR_WIRE_OK);
  CHECK_EQ(t.opt.wscale, 14);
}

TEST(test_tcp_parse_skips_unknown_options)
{
  /* MPTCP (30), TCP-AO-ish (29) and an experimental (254) option between
   * known ones. */
  static const uint8_t o[20] = {30,   4, 0xaa, 0xbb, 2, 4,  0x23, 0x28, 254, 3,
                                0xcc, 1, 3,    3,    2, 29, 2,    0,    0,   0};
  struct weir_tcp t;
  CHECK_EQ(parse_opts(&t, o, 20), WEIR_WIRE_OK);
  CHECK_EQ(t.opt.has_mss, 1);
  CHECK_EQ(t.opt.mss, 9000);
  CHECK_EQ(t.opt.has_wscale, 1);
  CHECK_EQ(t.opt.wscale, 2);
}

/* RFC 9293 3.1: EOL ends the list; what follows is padding, even bytes
 * that would be malformed as options. */
TEST(test_tcp_parse_stops_at_eol)
{
  static const uint8_t o[8] = {1, 0, 2, 4, 5, 0xb4, 30, 0};
  struct weir_tcp t;
  CHECK_EQ(parse_opts(&t, o, 8), WEIR_WIRE_OK);
  CHECK_EQ(t.opt.has_mss, 0);
}

TEST(test_tcp_parse_accepts_header_of_nops)
{
  uint8_t o[40];
  struct weir_tcp t;
  memset(o, 1, sizeof(o));
  CHECK_EQ(parse_opts(&t, o, 40), WEIR_WIRE_OK);
  CHECK_EQ(t.hlen, 60);
  CHECK_EQ(t.opt.has_mss + t.opt.has_ts + t.opt.has_wscale, 0);
}

/* Options not at 4-byte alignment parse all the same. */
TEST(test_tcp_parse_reads_unaligned_option_values)
{
  static const uint8_t o[16] = {1, 8, 10, 0xde, 0xad, 0xbe, 0xef, 1,
                                2, 3, 4,  2,    4,    0x05, 0x78, 0};
  struct weir_tcp t;
  CHECK_EQ(parse_opts(&t, o, 16), WEIR_WIRE_OK);
  CHECK_EQ(t.opt.has_ts, 1);
  CHECK_UEQ(t.opt.ts_val, 0xdeadbeef);
  CHECK_UEQ(t.opt.ts_ecr, 0x01020304);
  CHECK_EQ(t.opt.mss, 1400);
}

TEST(test_tcp_parse_keeps_all_eight_flag_bits)
{
  uint8_t b[20];
  struct weir_tcp t;
  memcpy(b, syn, 20);
  b[12] = 0x51; /* the old NS bit (RFC 3540, historic) is not a flag */
  b[13] = 0xff;
  CHECK_EQ(weir_tcp_parse(&t, b, sizeof(b)), WEIR_WIRE_OK);
  CHECK_UEQ(t.flags, 0xff);
  CHECK_EQ(t.hlen, 20);
}
