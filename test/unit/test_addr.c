/* Text forms of IPv4 and MAC addresses (core/addr.c documents the
 * accepted forms). */
#include <string.h>

#include "harness/test.h"
#include "weir/addr.h"
#include "weir/error.h"

TEST(test_addr_ipv4_parse_accepts_dotted_quads)
{
  uint32_t a = 0;
  CHECK_EQ(weir_ipv4_parse_text("10.77.0.1", &a), 0);
  CHECK_UEQ(a, 0x0a4d0001);
  CHECK_EQ(weir_ipv4_parse_text("0.0.0.0", &a), 0);
  CHECK_UEQ(a, 0);
  CHECK_EQ(weir_ipv4_parse_text("255.255.255.255", &a), 0);
  CHECK_UEQ(a, 0xffffffff);
  CHECK_EQ(weir_ipv4_parse_text("192.168.100.7", &a), 0);
  CHECK_UEQ(a, 0xc0a86407);
}

TEST(test_addr_ipv4_parse_rejects_malformed_text)
{
  static const char *const bad[] = {
      "",           "1.2.3",
      "1.2.3.4.5",  "256.1.1.1",
      "1.2.3.256",  "1.2.3.1000",
      "1..3.4",     ".1.2.3",
      "1.2.3.",     "1.2.3.4.",
      " 1.2.3.4",   "1.2.3.4 ",
      "1.2.3.4\n",  "+1.2.3.4",
      "1.+2.3.4",   "-1.2.3.4",
      "01.2.3.4",   "1.2.3.04",
      "1.2.3.00",   "0x1.2.3.4",
      "1.2.3.4/24", "1,2,3,4",
      "a.b.c.d",    "1 .2.3.4",
      "16843009",   "99999999999.1.1.1",
  };
  uint32_t a = 0x5a5a5a5a;
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    if (weir_ipv4_parse_text(bad[i], &a) != WEIR_EINVAL) {
      CHECK(!bad[i]); /* names the string in the failure line */
    }
  }
  CHECK_UEQ(a, 0x5a5a5a5a); /* never written on failure */
}

TEST(test_addr_ipv4_parse_rejects_null)
{
  uint32_t a;
  CHECK_EQ(weir_ipv4_parse_text(NULL, &a), WEIR_EINVAL);
  CHECK_EQ(weir_ipv4_parse_text("1.2.3.4", NULL), WEIR_EINVAL);
}

TEST(test_addr_ipv4_format_round_trips)
{
  static const uint32_t v[] = {0,          0xffffffff, 0x0a4d0001, 0x01020304,
                               0x7f000001, 0xc0a86407, 0x64096301, 0x0a0a0a0a};
  char buf[WEIR_IPV4_STRLEN];
  uint32_t a;
  CHECK(strcmp(weir_ipv4_format(0x0a4d0001, buf), "10.77.0.1") == 0);
  CHECK(strcmp(weir_ipv4_format(0xffffffff, buf), "255.255.255.255") == 0);
  CHECK_EQ(strlen(buf), WEIR_IPV4_STRLEN - 1);
  CHECK(strcmp(weir_ipv4_format(0, buf), "0.0.0.0") == 0);
  CHECK(strcmp(weir_ipv4_format(0x64096301, buf), "100.9.99.1") == 0);
  for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
    CHECK(weir_ipv4_format(v[i], buf) == buf);
    CHECK_EQ(weir_ipv4_parse_text(buf, &a), 0);
    CHECK_UEQ(a, v[i]);
  }
}

TEST(test_addr_cidr_parse_accepts_prefix_0_to_32)
{
  uint32_t a;
  uint8_t p;
  CHECK_EQ(weir_ipv4_parse_cidr("10.77.0.2/24", &a, &p), 0);
  CHECK_UEQ(a, 0x0a4d0002); /* host bits kept */
  CHECK_EQ(p, 24);
  CHECK_EQ(weir_ipv4_parse_cidr("0.0.0.0/0", &a, &p), 0);
  CHECK_EQ(p, 0);
  CHECK_EQ(weir_ipv4_parse_cidr("1.2.3.4/32", &a, &p), 0);
  CHECK_EQ(p, 32);
  CHECK_EQ(weir_ipv4_parse_cidr("1.2.3.4/8", &a, &p), 0);
  CHECK_EQ(p, 8);
}

TEST(test_addr_cidr_parse_rejects_malformed_text)
{
  static const char *const bad[] = {
      "1.2.3.4",      "1.2.3.4/",    "1.2.3.4/33",
      "1.2.3.4/100",  "1.2.3.4/-1",  "1.2.3.4/+8",
      "1.2.3.4/08",   "1.2.3.4/24 ", " 1.2.3.4/24",
      "1.2.3.4 /24",  "1.2.3.4/ 24", "1.2.3/24",
      "256.0.0.0/8",  "/24",         "",
      "1.2.3.4/24/1", "1.2.3.4/2a",  "01.2.3.4/24",
      "1.2.3.4/0x10",
  };
  uint32_t a = 7;
  uint8_t p = 7;
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    if (weir_ipv4_parse_cidr(bad[i], &a, &p) != WEIR_EINVAL) {
      CHECK(!bad[i]);
    }
  }
  CHECK_EQ(a, 7);
  CHECK_EQ(p, 7);
  CHECK_EQ(weir_ipv4_parse_cidr(NULL, &a, &p), WEIR_EINVAL);
  CHECK_EQ(weir_ipv4_parse_cidr("1.2.3.4/8", NULL, &p), WEIR_EINVAL);
  CHECK_EQ(weir_ipv4_parse_cidr("1.2.3.4/8", &a, NULL), WEIR_EINVAL);
}

TEST(test_addr_mac_parse_accepts_colons_dashes_and_either_case)
{
  static const uint8_t want[6] = {0x02, 0xab, 0xcd, 0xef, 0x00, 0x9f};
  uint8_t m[6];
  CHECK_EQ(weir_mac_parse("02:ab:cd:ef:00:9f", m), 0);
  CHECK_BYTES(m, 6, want, 6);
  memset(m, 0, 6);
  CHECK_EQ(weir_mac_parse("02-AB-Cd-eF-00-9F", m), 0);
  CHECK_BYTES(m, 6, want, 6);
}

TEST(test_addr_mac_parse_rejects_malformed_text)
{
  static const char *const bad[] = {
      "",
      "02:ab:cd:ef:00",
      "02:ab:cd:ef:00:9f:11",
      "02:ab:cd:ef:00:9f:",
      "02:ab:cd-ef:00:9f",  /* mixed separators */
      "2:ab:cd:ef:00:9f",   /* one digit */
      "002:ab:cd:ef:00:9f", /* three digits */
      "02:ab:cd:ef:00:9g",
      "02.ab.cd.ef.00.9f",
      "02abcdef009f",
      " 02:ab:cd:ef:00:9f",
      "02:ab:cd:ef:00:9f ",
      "02::ab:cd:ef:00",
      "0x:ab:cd:ef:00:9f",
      "11", /* found by fuzz_wire: once read past the NUL */
      "11:",
      "1122",
      "02:",
      "02:ab:cd:ef:00:9",
  };
  uint8_t m[6] = {1, 2, 3, 4, 5, 6};
  static const uint8_t untouched[6] = {1, 2, 3, 4, 5, 6};
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    if (weir_mac_parse(bad[i], m) != WEIR_EINVAL) {
      CHECK(!bad[i]);
    }
  }
  CHECK_BYTES(m, 6, untouched, 6);
  CHECK_EQ(weir_mac_parse(NULL, m), WEIR_EINVAL);
  CHECK_EQ(weir_mac_parse("02:ab:cd:ef:00:9f", NULL), WEIR_EINVAL);
}

TEST(test_addr_mac_format_round_trips)
{
  static const uint8_t mac[6] = {0x52, 0x54, 0x00, 0xab, 0xcd, 0xef};
  static const uint8_t ff[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
  char buf[WEIR_MAC_STRLEN];
  uint8_t m[6];
  CHECK(weir_mac_format(mac, buf) == buf);
  CHECK(strcmp(buf, "52:54:00:ab:cd:ef") == 0);
  CHECK_EQ(weir_mac_parse(buf, m), 0);
  CHECK_BYTES(m, 6, mac, 6);
  CHECK(strcmp(weir_mac_format(ff, buf), "ff:ff:ff:ff:ff:ff") == 0);
  CHECK_EQ(strlen(buf), WEIR_MAC_STRLEN - 1);
}

TEST(test_addr_netmask_of_each_prefix)
{
  CHECK_UEQ(weir_ipv4_netmask(0), 0);
  CHECK_UEQ(weir_ipv4_netmask(1), 0x80000000);
  CHECK_UEQ(weir_ipv4_netmask(8), 0xff000000);
  CHECK_UEQ(weir_ipv4_netmask(24), 0xffffff00);
  CHECK_UEQ(weir_ipv4_netmask(31), 0xfffffffe);
  CHECK_UEQ(weir_ipv4_netmask(32), 0xffffffff);
  CHECK_UEQ(weir_ipv4_netmask(33), 0xffffffff); /* taken as 32 */
  for (uint8_t p = 0; p <= 32; p++) {
    uint32_t m = weir_ipv4_netmask(p), n = 0;
    for (uint32_t x = m; x; x <<= 1)
      n++;
    CHECK_EQ(n, p);
  }
}
