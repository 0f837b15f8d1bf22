/* Tests of the backends' shared helpers for a virtio-net header
 * (backends/link.c): the header asked of the kernel for a frame from
 * weir_output_meta, and what a received header says of a checksum. */
#include <linux/virtio_net.h>
#include <string.h>

#include "harness/test.h"
#include "link.h"
#include "wire/bytes.h"
#include "wire/checksum.h"

#define SRC 0x0a4de002u /* 10.77.224.2 */
#define DST 0x0a4de001u

/* At l3 (after an Ethernet header if l3 is 14): an IPv4 packet with a
 * 20-byte TCP header and `data` bytes, its TCP checksum field holding
 * the pseudo-header's sum, as the host leaves it partial. Returns the
 * frame's length. */
static size_t mk_partial_tcp(uint8_t *f, size_t l3, size_t data)
{
  uint8_t *ip = f + l3, *th = ip + 20;
  size_t i, tcp_len = 20 + data;

  memset(f, 0, l3 + 20 + tcp_len);
  if (l3 == 14)
    weir__put16(f + 12, 0x0800);
  ip[0] = 0x45;
  weir__put16(ip + 2, (uint16_t)(20 + tcp_len));
  ip[8] = 64;
  ip[9] = 6;
  weir__put32(ip + 12, SRC);
  weir__put32(ip + 16, DST);
  weir__put16(ip + 10, weir_csum(ip, 20));
  weir__put16(th, 7);
  weir__put16(th + 2, 40000);
  th[12] = 5 << 4;
  th[13] = 0x10;
  for (i = 0; i < data; i++)
    th[20 + i] = (uint8_t)(i * 7 + 1);
  weir__put16(th + 16,
              (uint16_t)weir_csum_pseudo(SRC, DST, 6, (uint16_t)tcp_len));
  return l3 + 20 + tcp_len;
}

/* Whether the TCP checksum of the packet at l3 is right. */
static int tcp_csum_ok(const uint8_t *f, size_t l3)
{
  const uint8_t *ip = f + l3;
  uint16_t tcp_len = (uint16_t)((ip[2] << 8 | ip[3]) - 20);

  return weir_csum_finish(weir_csum_add(weir_csum_pseudo(SRC, DST, 6, tcp_len),
                                        ip + 20, tcp_len)) == 0;
}

static void needs_csum(struct virtio_net_hdr *vh, size_t start, size_t off)
{
  memset(vh, 0, sizeof(*vh));
  vh->flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
  vh->csum_start = (uint16_t)start;
  vh->csum_offset = (uint16_t)off;
}

TEST(test_link_vnet_tx_asks_for_the_cut_and_checksum_meta_says)
{
  struct weir_tx_meta m;
  struct virtio_net_hdr vh;

  memset(&m, 0, sizeof(m));
  m.flags = WEIR_TX_CSUM_PARTIAL;
  m.csum_start = 34; /* Ethernet + IPv4: from the frame's start */
  m.csum_offset = 16;
  m.gso_size = 1448;
  m.hdr_len = 66;
  weir_link_vnet_tx(&vh, &m);
  CHECK_EQ(vh.flags, VIRTIO_NET_HDR_F_NEEDS_CSUM);
  CHECK_EQ(vh.csum_start, 34);
  CHECK_EQ(vh.csum_offset, 16);
  CHECK_EQ(vh.gso_type, VIRTIO_NET_HDR_GSO_TCPV4);
  CHECK_EQ(vh.gso_size, 1448);
  CHECK_EQ(vh.hdr_len, 66);
}

TEST(test_link_vnet_tx_plain_frame_gets_an_empty_header)
{
  static const struct virtio_net_hdr zero;
  struct weir_tx_meta m;
  struct virtio_net_hdr vh;

  memset(&vh, 0xa5, sizeof(vh));
  weir_link_vnet_tx(&vh, NULL);
  CHECK(memcmp(&vh, &zero, sizeof(vh)) == 0);
  memset(&m, 0, sizeof(m));
  memset(&vh, 0xa5, sizeof(vh));
  weir_link_vnet_tx(&vh, &m);
  CHECK(memcmp(&vh, &zero, sizeof(vh)) == 0);
}

/* Where the core looks (TCP right behind the IPv4 header), a partial
 * checksum is passed on untouched: the core skips it. Ethernet offsets
 * count from the frame's start. */
TEST(test_link_vnet_rx_partial_tcp_checksum_is_passed_on_as_is)
{
  uint8_t f[256], before[256];
  struct virtio_net_hdr vh;
  unsigned flags = 99;
  size_t l3, n;

  for (l3 = 0; l3 <= 14; l3 += 14) {
    n = mk_partial_tcp(f, l3, 100);
    memcpy(before, f, n);
    needs_csum(&vh, l3 + 20, 16);
    CHECK_EQ(weir_link_vnet_rx(&vh, f, n, l3, &flags), 0);
    CHECK_EQ(flags, WEIR_RX_CSUM_PARTIAL);
    CHECK(memcmp(f, before, n) == 0);
  }
}

/* A partial checksum anywhere but where the core looks (a field other
 * than TCP's; TCP behind IP options) is completed here, where the header
 * says, and the core checks the frame itself (no flag). */
TEST(test_link_vnet_rx_partial_checksum_elsewhere_is_completed)
{
  uint8_t f[256];
  struct virtio_net_hdr vh;
  unsigned flags = 99;
  size_t n;

  n = mk_partial_tcp(f, 14, 101);
  needs_csum(&vh, 34, 16);
  vh.csum_start = 14 + 20 + 20; /* the data's first two bytes */
  vh.csum_offset = 0;
  CHECK_EQ(weir_link_vnet_rx(&vh, f, n, 14, &flags), 0);
  CHECK_EQ(flags, 0);
  CHECK(!tcp_csum_ok(f, 14)); /* the field the core checks was left */

  n = mk_partial_tcp(f, 14, 101);
  needs_csum(&vh, 34, 16);
  f[14] = 0x46; /* an IP option: the core would look elsewhere */
  CHECK_EQ(weir_link_vnet_rx(&vh, f, n, 14, &flags), 0);
  CHECK_EQ(flags, 0);
  f[14] = 0x45;
  CHECK(tcp_csum_ok(f, 14));
}

TEST(test_link_vnet_rx_data_valid_is_vouched_for)
{
  uint8_t f[256];
  struct virtio_net_hdr vh;
  unsigned flags = 99;
  size_t n;

  n = mk_partial_tcp(f, 14, 10);
  memset(&vh, 0, sizeof(vh));
  vh.flags = VIRTIO_NET_HDR_F_DATA_VALID;
  CHECK_EQ(weir_link_vnet_rx(&vh, f, n, 14, &flags), 0);
  CHECK_EQ(flags, WEIR_RX_CSUM_VALID);
  memset(&vh, 0, sizeof(vh));
  CHECK_EQ(weir_link_vnet_rx(&vh, f, n, 14, &flags), 0);
  CHECK_EQ(flags, 0);
}

/* A checksum to complete outside the IPv4 datagram (Ethernet padding
 * does not count) cannot be: the frame is not one weir can take. */
TEST(test_link_vnet_rx_checksum_outside_the_datagram_fails)
{
  uint8_t f[256];
  struct virtio_net_hdr vh;
  unsigned flags;
  size_t n;

  n = mk_partial_tcp(f, 14, 10);
  memset(f + n, 0, 20); /* padding */
  needs_csum(&vh, n, 0);
  CHECK_EQ(weir_link_vnet_rx(&vh, f, n + 20, 14, &flags), -1);
  needs_csum(&vh, 34, 200);
  CHECK_EQ(weir_link_vnet_rx(&vh, f, n, 14, &flags), -1);
}

/* The completion covers the datagram, not the padding behind it. */
TEST(test_link_csum_complete_stops_at_the_ip_length)
{
  uint8_t f[256];
  size_t n;

  n = mk_partial_tcp(f, 14, 5);
  memset(f + n, 0xee, 30);
  CHECK_EQ(weir_link_csum_complete(f, n + 30, 14, 34, 16), 0);
  CHECK(tcp_csum_ok(f, 14));
}
