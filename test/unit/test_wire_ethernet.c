/* Ethernet II framing. */
#include <string.h>

#include "harness/test.h"
#include "wire/ethernet.h"

/* A Linux ARP request frame (broadcast), padded to the 60-byte minimum. */
static const uint8_t arp_frame[60] = {
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x52, 0x54, 0x00, 0x12, 0x34,
    0x56, 0x08, 0x06, 0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x01,
    0x52, 0x54, 0x00, 0x12, 0x34, 0x56, 0x0a, 0x00, 0x02, 0x01, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x0a, 0x00, 0x02, 0x02,
};

TEST(test_eth_parse_arp_frame_fields_and_padded_payload)
{
  static const uint8_t bcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
  static const uint8_t src[6] = {0x52, 0x54, 0x00, 0x12, 0x34, 0x56};
  struct weir_eth e;
  CHECK_EQ(weir_eth_parse(&e, arp_frame, sizeof(arp_frame)), WEIR_WIRE_OK);
  CHECK_BYTES(e.dst, 6, bcast, 6);
  CHECK_BYTES(e.src, 6, src, 6);
  CHECK_UEQ(e.type, WEIR_ETHERTYPE_ARP);
  CHECK(e.payload == arp_frame + 14);
  CHECK_EQ(e.payload_len, 46); /* padding is left to the upper layer */
}

TEST(test_eth_emit_is_byte_identical_to_parsed_header)
{
  struct weir_eth e;
  uint8_t out[14];
  CHECK_EQ(weir_eth_parse(&e, arp_frame, sizeof(arp_frame)), WEIR_WIRE_OK);
  CHECK_EQ(weir_eth_emit(&e, out, sizeof(out)), 14);
  CHECK_BYTES(out, 14, arp_frame, 14);
}

TEST(test_eth_emit_refuses_buffer_below_14)
{
  struct weir_eth e;
  uint8_t out[13];
  memset(&e, 0, sizeof(e));
  CHECK_EQ(weir_eth_emit(&e, out, sizeof(out)), 0);
}

TEST(test_eth_parse_rejects_truncated_header_at_each_length)
{
  struct weir_eth e;
  for (size_t len = 0; len < 14; len++)
    CHECK_EQ(weir_eth_parse(&e, arp_frame, len), WEIR_WIRE_TRUNCATED);
}

TEST(test_eth_parse_accepts_bare_header_with_empty_payload)
{
  struct weir_eth e;
  CHECK_EQ(weir_eth_parse(&e, arp_frame, 14), WEIR_WIRE_OK);
  CHECK_EQ(e.payload_len, 0);
}

/* IEEE 802.3: a type field below 0x0600 is a length. */
TEST(test_eth_parse_rejects_8023_length_field_as_unsupported)
{
  struct weir_eth e;
  uint8_t f[60];
  memcpy(f, arp_frame, sizeof(f));
  f[12] = 0x05;
  f[13] = 0xff;
  CHECK_EQ(weir_eth_parse(&e, f, sizeof(f)), WEIR_WIRE_UNSUPPORTED);
  f[12] = 0x00;
  f[13] = 0x2e;
  CHECK_EQ(weir_eth_parse(&e, f, sizeof(f)), WEIR_WIRE_UNSUPPORTED);
  f[12] = 0x06;
  f[13] = 0x00;
  CHECK_EQ(weir_eth_parse(&e, f, sizeof(f)), WEIR_WIRE_OK);
}

TEST(test_eth_parse_passes_other_ethertypes_through)
{
  struct weir_eth e;
  uint8_t f[20];
  memcpy(f, arp_frame, sizeof(f));
  f[12] = 0x86;
  f[13] = 0xdd;
  CHECK_EQ(weir_eth_parse(&e, f, sizeof(f)), WEIR_WIRE_OK);
  CHECK_UEQ(e.type, WEIR_ETHERTYPE_IPV6);
}

TEST(test_eth_address_classes)
{
  static const uint8_t bcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
  static const uint8_t mcast[6] = {0x01, 0x00, 0x5e, 0x00, 0x00, 0x01};
  static const uint8_t ucast[6] = {0x52, 0x54, 0x00, 0x12, 0x34, 0x56};
  static const uint8_t nearly[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xfe};
  static const uint8_t zero[6] = {0};
  CHECK(weir_eth_is_broadcast(bcast));
  CHECK(!weir_eth_is_broadcast(nearly));
  CHECK(!weir_eth_is_broadcast(mcast));
  CHECK(weir_eth_is_multicast(bcast));
  CHECK(weir_eth_is_multicast(mcast));
  CHECK(!weir_eth_is_multicast(ucast));
  CHECK(!weir_eth_is_multicast(zero));
  CHECK(weir_eth_is_zero(zero));
  CHECK(!weir_eth_is_zero(ucast));
}
