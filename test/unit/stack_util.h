/* Helpers for the stack tests: a stack with known addresses, and builders
 * for the frames a peer would send. Builders use the wire emitters, which
 * have their own byte-level tests in test_wire_*.c. */
#ifndef WEIR_TEST_STACK_UTIL_H
#define WEIR_TEST_STACK_UTIL_H

#include <stddef.h>
#include <stdint.h>

#include "weir/weir.h"

/* Our side: 10.77.0.2/24 at 02:00:00:00:00:02, gateway 10.77.0.1. */
#define US_IP     0x0a4d0002u
#define GW_IP     0x0a4d0001u
#define PEER_IP   0x0a4d0009u /* on-link */
#define REMOTE_IP 0x0a4e0005u /* 10.78.0.5: off-link */
extern const uint8_t US_MAC[6], PEER_MAC[6], GW_MAC[6], BCAST_MAC[6];

#define FRAME_MAX 2048

/* A stack with the addresses above; cfg may be tweaked by `tweak`. */
struct weir_stack *mk_stack(enum weir_link_type link,
                            void (*tweak)(struct weir_config *));

/* An IPv4 packet into buf: a 20-byte header then `plen` bytes of payload.
 * Returns its length. */
size_t mk_ip(uint8_t *buf, uint32_t src, uint32_t dst, uint8_t proto,
             uint16_t id, int mf, uint16_t frag_off, const void *payload,
             size_t plen);

/* A UDP datagram (header + data) with a correct checksum. */
size_t mk_udp(uint8_t *buf, uint32_t src, uint32_t dst, uint16_t sport,
              uint16_t dport, const void *data, size_t len);

/* An ICMP echo request. */
size_t mk_echo(uint8_t *buf, uint16_t id, uint16_t seq, const void *data,
               size_t len);

/* An Ethernet frame around `payload`. */
size_t mk_eth(uint8_t *buf, const uint8_t *dst, const uint8_t *src,
              uint16_t type, const void *payload, size_t len);

/* An ARP packet in an Ethernet frame (to broadcast for requests). */
size_t mk_arp_frame(uint8_t *buf, uint16_t op, const uint8_t *sha, uint32_t spa,
                    const uint8_t *tha, uint32_t tpa);

/* Convenience: a UDP datagram from PEER to us, in a frame (Ethernet) or
 * bare (IP link). */
size_t mk_udp_in(uint8_t *buf, enum weir_link_type link, uint32_t src,
                 uint16_t sport, uint16_t dport, const void *data, size_t len);

/* The number of frames weir_output gives now (drained and discarded). */
int drain(struct weir_stack *s, uint64_t now);

#endif
