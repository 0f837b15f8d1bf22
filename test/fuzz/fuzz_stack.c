/* Fuzzes the whole input path: a stack on either link type fed a series
 * of frames at advancing times, with timers run, sockets used and output
 * drained between them. Every frame weir emits must parse back cleanly,
 * fit the link, and come from our own addresses.
 *
 * Input: byte 0 picks the link type; then records of
 *   [op][len hi][len lo][len bytes]
 * op % 4: 0 a frame, 1 advance time by len ms and run timers,
 *         2 send a datagram of len bytes, 3 receive on the socket. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "weir/weir.h"
#include "wire/arp.h"
#include "wire/ethernet.h"
#include "wire/ipv4.h"

#define US_IP 0x0a4d0002u

static void check_frame(const struct weir_stack *s, const uint8_t *f, size_t n)
{
  const struct weir_config *c = weir_stack_config(s);
  struct weir_ipv4 ip;
  struct weir_eth e;
  if (c->link == WEIR_LINK_IP) {
    if (n > c->mtu || weir_ipv4_parse(&ip, f, n) != 0 || ip.src != US_IP)
      abort();
    return;
  }
  if (n > (size_t)c->mtu + WEIR_ETH_HLEN || weir_eth_parse(&e, f, n) != 0 ||
      memcmp(e.src, c->mac, 6) != 0)
    abort();
  if (e.type == WEIR_ETHERTYPE_ARP) {
    struct weir_arp a;
    if (weir_arp_parse(&a, e.payload, e.payload_len) != 0 || a.spa != US_IP)
      abort();
  } else if (e.type != WEIR_ETHERTYPE_IPV4 ||
             weir_ipv4_parse(&ip, e.payload, e.payload_len) != 0 ||
             ip.src != US_IP) {
    abort();
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  static const uint8_t mac[6] = {0x02, 0, 0, 0, 0, 0x02};
  struct weir_config c;
  struct weir_stack *s;
  struct weir_event ev;
  uint8_t out[2048], buf[2048];
  uint64_t now = 1000000;
  size_t i = 1;
  int sock;

  if (size < 1)
    return 0;
  weir_config_default(&c);
  c.link = data[0] & 1 ? WEIR_LINK_IP : WEIR_LINK_ETHERNET;
  memcpy(c.mac, mac, 6);
  c.ip = US_IP;
  c.prefix_len = 24;
  c.gateway = 0x0a4d0001u;
  /* Small limits reach the limit paths with short inputs. */
  c.tx_slots = 16;
  c.arp_entries = 4;
  c.reasm_datagrams = 2;
  c.reasm_max_frags = 8;
  c.udp_rx_bytes = 4096;
  if (weir_stack_new(&c, &s) != 0)
    abort();
  sock = weir_udp_open(s);
  if (sock < 0 || weir_udp_bind(s, sock, 7) != 0)
    abort();

  while (i + 3 <= size) {
    uint8_t op = data[i];
    size_t len = (size_t)data[i + 1] << 8 | data[i + 2];
    i += 3;
    if (len > size - i)
      len = size - i;
    switch (op % 4) {
    case 0:
      weir_input(s, data + i, len, now);
      i += len;
      break;
    case 1:
      now += (uint64_t)len * 1000;
      len = 0;
      break;
    case 2: {
      uint32_t dst = 0x0a4d0000u | (op >> 2); /* on-link, maybe broadcast */
      if (len > sizeof(buf))
        len = sizeof(buf);
      memcpy(buf, data + i, len);
      weir_udp_sendto(s, sock, buf, len, dst, 9, now);
      i += len;
      break;
    }
    default:
      while (weir_udp_recvfrom(s, sock, buf, sizeof(buf), NULL, NULL) >= 0)
        ;
      break;
    }
    if (weir_deadline(s) <= now)
      weir_timers(s, now);
    if (weir_deadline(s) <= now)
      abort(); /* timers(now) must clear everything due at now */
    for (size_t n; (n = weir_output(s, out, sizeof(out), now)) > 0;)
      check_frame(s, out, n);
    while (weir_next_event(s, &ev))
      weir_sock_error(s, ev.sock, NULL, NULL);
  }
  weir_stack_free(s);
  return 0;
}
