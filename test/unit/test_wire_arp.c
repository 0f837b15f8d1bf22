/* ARP for IPv4 over Ethernet (RFC 826). */
#include <string.h>

#include "harness/test.h"
#include "wire/arp.h"

/* The ARP part of a Linux request "who has 10.0.2.2? tell 10.0.2.1". */
static const uint8_t arp_req[28] = {
    0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x01, 0x52, 0x54,
    0x00, 0x12, 0x34, 0x56, 0x0a, 0x00, 0x02, 0x01, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x0a, 0x00, 0x02, 0x02,
};

/* The reply from 52:54:00:ab:cd:ef. */
static const uint8_t arp_rep[28] = {
    0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x02, 0x52, 0x54,
    0x00, 0xab, 0xcd, 0xef, 0x0a, 0x00, 0x02, 0x02, 0x52, 0x54,
    0x00, 0x12, 0x34, 0x56, 0x0a, 0x00, 0x02, 0x01,
};

TEST(test_arp_parse_request_fields)
{
  static const uint8_t sha[6] = {0x52, 0x54, 0x00, 0x12, 0x34, 0x56};
  static const uint8_t zero[6] = {0};
  struct weir_arp a;
  CHECK_EQ(weir_arp_parse(&a, arp_req, sizeof(arp_req)), WEIR_WIRE_OK);
  CHECK_EQ(a.op, WEIR_ARP_REQUEST);
  CHECK_BYTES(a.sha, 6, sha, 6);
  CHECK_UEQ(a.spa, 0x0a000201);
  CHECK_BYTES(a.tha, 6, zero, 6);
  CHECK_UEQ(a.tpa, 0x0a000202);
}

TEST(test_arp_emit_reply_is_byte_identical)
{
  struct weir_arp a = {
      .op = WEIR_ARP_REPLY,
      .sha = {0x52, 0x54, 0x00, 0xab, 0xcd, 0xef},
      .spa = 0x0a000202,
      .tha = {0x52, 0x54, 0x00, 0x12, 0x34, 0x56},
      .tpa = 0x0a000201,
  };
  uint8_t out[28];
  CHECK_EQ(weir_arp_emit(&a, out, sizeof(out)), 28);
  CHECK_BYTES(out, 28, arp_rep, 28);
}

TEST(test_arp_parse_then_emit_round_trips)
{
  struct weir_arp a;
  uint8_t out[28];
  CHECK_EQ(weir_arp_parse(&a, arp_req, sizeof(arp_req)), WEIR_WIRE_OK);
  CHECK_EQ(weir_arp_emit(&a, out, sizeof(out)), 28);
  CHECK_BYTES(out, 28, arp_req, 28);
}

TEST(test_arp_emit_refuses_buffer_below_28)
{
  struct weir_arp a;
  uint8_t out[27];
  memset(&a, 0, sizeof(a));
  CHECK_EQ(weir_arp_emit(&a, out, sizeof(out)), 0);
}

TEST(test_arp_parse_rejects_truncated_at_each_length)
{
  struct weir_arp a;
  for (size_t len = 0; len < 28; len++)
    CHECK_EQ(weir_arp_parse(&a, arp_req, len), WEIR_WIRE_TRUNCATED);
}

TEST(test_arp_parse_ignores_ethernet_padding)
{
  uint8_t b[46] = {0};
  struct weir_arp a;
  memcpy(b, arp_rep, sizeof(arp_rep));
  memset(b + 28, 0xee, sizeof(b) - 28);
  CHECK_EQ(weir_arp_parse(&a, b, sizeof(b)), WEIR_WIRE_OK);
  CHECK_EQ(a.op, WEIR_ARP_REPLY);
  CHECK_UEQ(a.tpa, 0x0a000201);
}

/* Sets one byte of a copy of the request and parses it. */
static int parse_with(size_t off, uint8_t v)
{
  uint8_t b[28];
  struct weir_arp a;
  memcpy(b, arp_req, sizeof(b));
  b[off] = v;
  return weir_arp_parse(&a, b, sizeof(b));
}

TEST(test_arp_parse_rejects_hardware_type_not_ethernet)
{
  CHECK_EQ(parse_with(1, 6), WEIR_WIRE_UNSUPPORTED); /* IEEE 802 */
  CHECK_EQ(parse_with(0, 1), WEIR_WIRE_UNSUPPORTED); /* 0x0101 */
}

TEST(test_arp_parse_rejects_protocol_type_not_ipv4)
{
  CHECK_EQ(parse_with(2, 0x86), WEIR_WIRE_UNSUPPORTED); /* 0x8600 */
  CHECK_EQ(parse_with(3, 0x06), WEIR_WIRE_UNSUPPORTED); /* 0x0806 */
}

TEST(test_arp_parse_rejects_hlen_not_6)
{
  CHECK_EQ(parse_with(4, 8), WEIR_WIRE_UNSUPPORTED);
  CHECK_EQ(parse_with(4, 0), WEIR_WIRE_UNSUPPORTED);
}

TEST(test_arp_parse_rejects_plen_not_4)
{
  CHECK_EQ(parse_with(5, 16), WEIR_WIRE_UNSUPPORTED);
  CHECK_EQ(parse_with(5, 0), WEIR_WIRE_UNSUPPORTED);
}

TEST(test_arp_parse_rejects_op_not_request_or_reply)
{
  CHECK_EQ(parse_with(7, 0), WEIR_WIRE_UNSUPPORTED);
  CHECK_EQ(parse_with(7, 3), WEIR_WIRE_UNSUPPORTED); /* RARP request */
  CHECK_EQ(parse_with(6, 1), WEIR_WIRE_UNSUPPORTED); /* 0x0101 */
  CHECK_EQ(parse_with(7, 2), WEIR_WIRE_OK);
}
