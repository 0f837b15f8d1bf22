/* IPv4 and MAC addresses as text.
 *
 * The accepted forms are strict on purpose: these parse command-line flags
 * and configuration, where a typo should be an error, not an address.
 *   - IPv4: exactly four decimal parts 0..255 separated by '.', no sign,
 *     no spaces, and no leading zeros ("01.2.3.4" is rejected, as glibc's
 *     inet_pton does, because inet_aton would read it as octal).
 *   - CIDR: an IPv4 address, '/', and a prefix 0..32 without leading
 *     zeros. Host bits are kept: "10.0.0.2/24" is an interface address.
 *   - MAC: six parts of exactly two hex digits, either case, all separated
 *     by ':' or all by '-'.
 * NULL arguments give WEIR_EINVAL. */
#include "weir/addr.h"
#include "weir/error.h"

/* Parses one decimal number 0..max without sign or leading zeros; returns
 * a pointer past it, or NULL. */
static const char *parse_dec(const char *s, unsigned max, unsigned *out)
{
  unsigned v = 0;
  int n = 0;

  while (*s >= '0' && *s <= '9') {
    if (n > 0 && v == 0)
      return NULL; /* leading zero */
    v = v * 10 + (unsigned)(*s - '0');
    if (v > max)
      return NULL;
    s++;
    n++;
  }
  if (n == 0)
    return NULL;
  *out = v;
  return s;
}

/* Parses a dotted quad; returns a pointer past it, or NULL. */
static const char *parse_quad(const char *s, uint32_t *addr)
{
  uint32_t a = 0;

  for (int i = 0; i < 4; i++) {
    unsigned part;
    if (i > 0) {
      if (*s != '.')
        return NULL;
      s++;
    }
    s = parse_dec(s, 255, &part);
    if (!s)
      return NULL;
    a = a << 8 | part;
  }
  *addr = a;
  return s;
}

int weir_ipv4_parse_text(const char *s, uint32_t *addr)
{
  uint32_t a;

  if (!s || !addr)
    return WEIR_EINVAL;
  s = parse_quad(s, &a);
  if (!s || *s != '\0')
    return WEIR_EINVAL;
  *addr = a;
  return 0;
}

int weir_ipv4_parse_cidr(const char *s, uint32_t *addr, uint8_t *prefix)
{
  uint32_t a;
  unsigned p;

  if (!s || !addr || !prefix)
    return WEIR_EINVAL;
  s = parse_quad(s, &a);
  if (!s || *s != '/')
    return WEIR_EINVAL;
  s = parse_dec(s + 1, 32, &p);
  if (!s || *s != '\0')
    return WEIR_EINVAL;
  *addr = a;
  *prefix = (uint8_t)p;
  return 0;
}

static char *put_dec(char *p, unsigned v)
{
  if (v >= 100)
    *p++ = (char)('0' + v / 100);
  if (v >= 10)
    *p++ = (char)('0' + v / 10 % 10);
  *p++ = (char)('0' + v % 10);
  return p;
}

char *weir_ipv4_format(uint32_t addr, char *buf)
{
  char *p = buf;

  for (int shift = 24; shift >= 0; shift -= 8) {
    p = put_dec(p, (addr >> shift) & 0xff);
    if (shift)
      *p++ = '.';
  }
  *p = '\0';
  return buf;
}

static int hex_val(char c)
{
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

int weir_mac_parse(const char *s, uint8_t mac[6])
{
  uint8_t m[6];
  char sep = 0;

  if (!s || !mac)
    return WEIR_EINVAL;
  for (int i = 0; i < 6; i++) {
    int hi, lo;
    if (i > 0) {
      if (i == 1)
        sep = *s;
      /* Checked on every part: a '\0' here must stop the scan. */
      if ((sep != ':' && sep != '-') || *s != sep)
        return WEIR_EINVAL;
      s++;
    }
    hi = hex_val(s[0]);
    if (hi < 0)
      return WEIR_EINVAL;
    lo = hex_val(s[1]);
    if (lo < 0)
      return WEIR_EINVAL;
    m[i] = (uint8_t)(hi << 4 | lo);
    s += 2;
  }
  if (*s != '\0')
    return WEIR_EINVAL;
  for (int i = 0; i < 6; i++)
    mac[i] = m[i];
  return 0;
}

char *weir_mac_format(const uint8_t mac[6], char *buf)
{
  static const char hex[] = "0123456789abcdef";
  char *p = buf;

  for (int i = 0; i < 6; i++) {
    if (i > 0)
      *p++ = ':';
    *p++ = hex[mac[i] >> 4];
    *p++ = hex[mac[i] & 0x0f];
  }
  *p = '\0';
  return buf;
}

/* Prefixes above 32 are taken as 32. */
uint32_t weir_ipv4_netmask(uint8_t prefix)
{
  if (prefix == 0)
    return 0;
  if (prefix >= 32)
    return 0xffffffffu;
  return 0xffffffffu << (32 - prefix);
}
