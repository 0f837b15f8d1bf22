/* IPv4 and MAC addresses as text. IPv4 addresses are uint32_t in host
 * order throughout weir's API (10.77.0.1 is 0x0a4d0001). */
#ifndef WEIR_ADDR_H
#define WEIR_ADDR_H

#include <stddef.h>
#include <stdint.h>

#define WEIR_IPV4_STRLEN 16 /* "255.255.255.255" and its NUL */
#define WEIR_MAC_STRLEN  18 /* "aa:bb:cc:dd:ee:ff" and its NUL */

/* Parses dotted-quad text (exactly four decimal parts 0..255, no leading
 * '+', no trailing bytes). Returns 0, or WEIR_EINVAL. */
int weir_ipv4_parse_text(const char *s, uint32_t *addr);

/* Parses "A.B.C.D/N" (N in 0..32; "/N" required). Returns 0 or
 * WEIR_EINVAL. */
int weir_ipv4_parse_cidr(const char *s, uint32_t *addr, uint8_t *prefix);

/* Writes dotted-quad text with its NUL into buf (>= 16 bytes); returns buf. */
char *weir_ipv4_format(uint32_t addr, char *buf);

/* Parses "aa:bb:cc:dd:ee:ff" (hex, either case, ':' or '-'). Returns 0 or
 * WEIR_EINVAL. */
int weir_mac_parse(const char *s, uint8_t mac[6]);

/* Writes "aa:bb:cc:dd:ee:ff" and its NUL into buf (>= 18 bytes). */
char *weir_mac_format(const uint8_t mac[6], char *buf);

/* The netmask of a prefix length (0..32), host order. */
uint32_t weir_ipv4_netmask(uint8_t prefix);

#endif
