/* UDP sockets. Handles are small non-negative integers. */
#ifndef WEIR_UDP_H
#define WEIR_UDP_H

#include <stddef.h>
#include <stdint.h>

#include "weir/stack.h"

/* Opens a UDP socket with a receive queue of cfg.udp_rx_bytes. Returns a
 * handle >= 0, WEIR_EMFILE or WEIR_ENOMEM. */
int weir_udp_open(struct weir_stack *s);

/* Binds to a local port (1..65535) on our address, or 0 to take an
 * ephemeral port (49152..65535). Returns 0, WEIR_EADDRINUSE, WEIR_EINVAL
 * (already bound) or WEIR_EBADF. */
int weir_udp_bind(struct weir_stack *s, int sock, uint16_t port);

/* The bound local port, or 0 if unbound, or WEIR_EBADF. */
int weir_udp_local_port(const struct weir_stack *s, int sock);

/* Sends one datagram of len bytes (copied) to addr:port, binding an
 * ephemeral port first if unbound. Returns len, or:
 *   WEIR_EMSGSIZE     it does not fit the MTU (weir does not fragment)
 *   WEIR_ENETUNREACH  off-link with no gateway
 *   WEIR_EAGAIN       the transmit queue is full (WEIR_EV_WRITABLE follows)
 *   WEIR_EINVAL       port 0 or address 0
 * The datagram may still wait for ARP; if that fails the socket gets
 * WEIR_EHOSTUNREACH through weir_sock_error. */
int weir_udp_sendto(struct weir_stack *s, int sock, const void *data,
                    size_t len, uint32_t addr, uint16_t port, uint64_t now);

/* Receives one datagram into buf. Returns its length (truncated to cap;
 * the rest is discarded, as recvfrom does), WEIR_EAGAIN if none is queued,
 * or WEIR_EBADF. addr/port may be NULL. */
int weir_udp_recvfrom(struct weir_stack *s, int sock, void *buf, size_t cap,
                      uint32_t *addr, uint16_t *port);

/* Closes the socket; its queued datagrams are discarded. */
int weir_udp_close(struct weir_stack *s, int sock);

#endif
