/* The stack: one interface, its addresses, and everything above it.
 *
 * weir's core is pure: it does no I/O and reads no clock. The caller
 * passes frames in with weir_input, pulls frames out with weir_output,
 * asks weir_deadline when it next needs a call, and calls weir_timers at or
 * after that time. Every call that can act takes `now`, a monotonic time in
 * microseconds chosen by the caller (it need not start at 0, must never go
 * backwards). The same calls with the same arguments give the same results.
 *
 * A stack is not thread-safe: one thread at a time. */
#ifndef WEIR_STACK_H
#define WEIR_STACK_H

#include <stddef.h>
#include <stdint.h>

#include "weir/stats.h"

enum weir_link_type {
  WEIR_LINK_ETHERNET = 1, /* frames with Ethernet II headers (TAP, AF_PACKET) */
  WEIR_LINK_IP = 2,       /* bare IPv4 packets (TUN) */
};

/* Memory comes from here. alloc returns NULL on failure; weir then fails
 * the call with WEIR_ENOMEM and stays consistent. Leave both NULL for
 * malloc/free. */
struct weir_allocator {
  void *(*alloc)(void *ctx, size_t size);
  void (*free)(void *ctx, void *ptr);
  void *ctx;
};

struct weir_config {
  enum weir_link_type link;
  uint8_t mac[6];     /* WEIR_LINK_ETHERNET: our address (unicast) */
  uint32_t ip;        /* our address, host order */
  uint8_t prefix_len; /* on-link subnet, 0..32 */
  uint32_t gateway;   /* 0: none (off-link destinations are unreachable) */
  uint16_t mtu;       /* IP MTU, 576..65535; 1500 by default */
  uint8_t ttl;        /* for packets we originate; 64 by default */
  uint8_t secret[16]; /* keys ISNs and IP IDs: give each stack a random one */

  /* Buffers and queues. Everything is allocated when the stack (or a
   * socket) is created; none of these grow. */
  uint32_t tx_slots;     /* frames queued for weir_output or for ARP */
  uint32_t max_sockets;  /* UDP (and later TCP) sockets */
  uint32_t udp_rx_bytes; /* per UDP socket receive queue, in bytes */

  /* ARP (Ethernet links only). */
  uint32_t arp_entries;         /* cache size */
  uint32_t arp_queue_per_entry; /* packets held per unresolved address */
  uint64_t arp_ttl_us;          /* a resolved entry lives this long */
  uint64_t arp_retry_us;        /* between requests while unresolved */
  uint32_t arp_retries;         /* requests sent before giving up */

  /* IPv4 reassembly (RFC 791 / 815). */
  uint32_t reasm_datagrams;  /* datagrams reassembled at once */
  uint32_t reasm_max_size;   /* largest datagram accepted, <= 65535 */
  uint32_t reasm_max_bytes;  /* fragment bytes held in all, at most */
  uint32_t reasm_max_frags;  /* fragments per datagram */
  uint64_t reasm_timeout_us; /* from the first fragment */

  /* TCP. Times in microseconds. */
  uint32_t tcp_max_conns;       /* connections at once, all states */
  uint32_t tcp_snd_buf;         /* send buffer per connection, bytes */
  uint32_t tcp_rcv_buf;         /* receive buffer (and max window), bytes */
  uint32_t tcp_syn_backlog;     /* SYN-RECEIVED entries per listener */
  uint64_t tcp_msl_us;          /* TIME-WAIT lasts 2 x MSL */
  uint64_t tcp_rto_initial_us;  /* RFC 6298: 1 s */
  uint64_t tcp_rto_min_us;      /* floor of the RTO (see stack.c) */
  uint64_t tcp_rto_max_us;      /* ceiling of the backed-off RTO, >= 60 s */
  uint64_t tcp_user_timeout_us; /* give up on unacknowledged data (R2) */
  uint64_t tcp_syn_timeout_us;  /* give up on a connect (R2 for SYN) */
  uint64_t tcp_delack_us;       /* delayed ACK, <= 200 ms */
  uint8_t tcp_timestamps;       /* offer RFC 7323 timestamps (default 1) */
  uint8_t tcp_sack;             /* offer RFC 2018 SACK (default 1) */
  uint8_t tcp_wscale;           /* offer RFC 7323 window scale (default 1) */
  uint8_t tcp_cc;               /* enum weir_tcp_cc (tcp.h): default CUBIC */
  uint32_t trace_entries;       /* weir_next_trace ring size; 0: no trace */

  /* Offloads of the link (virtio-net's, as a TUN device with
   * IFF_VNET_HDR has them), used by weir_output_meta only: weir_output
   * always returns complete frames within the MTU. Both 0 by default. */
  uint8_t tx_csum_offload; /* the link completes TCP checksums that
                              weir_output_meta leaves partial */
  uint32_t tx_tso_max;     /* the largest IPv4 packet, <= 65535, that the
                              link cuts into MSS-sized TCP segments (TSO,
                              GSO); needs tx_csum_offload. 0: none */

  /* ICMP errors we send: a token bucket (RFC 1812 4.3.2.8). */
  uint32_t icmp_rate_per_s; /* tokens per second; 0 disables errors */
  uint32_t icmp_burst;      /* bucket size */

  struct weir_allocator alloc;
};

/* Fills `cfg` with the defaults (documented in each field's comment and in
 * stack.c) and link type Ethernet; address fields zero. */
void weir_config_default(struct weir_config *cfg);

/* Fills cfg->secret from a 64-bit seed, deterministically (splitmix64).
 * For tests and reproducible runs only: a deployed stack wants a secret
 * from a real random source, which weir leaves to the caller. */
void weir_config_seed(struct weir_config *cfg, uint64_t seed);

struct weir_stack;

/* Creates a stack. Returns 0 and sets *out, or WEIR_EINVAL for a bad
 * configuration (no address, prefix > 32, MTU out of range, multicast
 * MAC, ...) or WEIR_ENOMEM. `cfg` is copied. */
int weir_stack_new(const struct weir_config *cfg, struct weir_stack **out);

/* Frees the stack and all its sockets. NULL is ignored. */
void weir_stack_free(struct weir_stack *s);

/* Handles one received frame (Ethernet) or packet (IP link). The buffer
 * is only read during the call. Malformed or unwanted input is counted and
 * dropped; this never fails. */
void weir_input(struct weir_stack *s, const uint8_t *frame, size_t len,
                uint64_t now);

/* Flags for weir_input_flags: what the link already knows about a
 * packet's TCP or UDP checksum (virtio-net's header says it). Neither is
 * taken for an IP fragment: a reassembled datagram is always verified.
 *   VALID    verified by the link (virtio DATA_VALID)
 *   PARTIAL  never computed: the field holds the pseudo-header's sum, and
 *            the packet came from the host's own stack with nothing in
 *            between to corrupt it (virtio NEEDS_CSUM) */
#define WEIR_RX_CSUM_VALID   0x1u
#define WEIR_RX_CSUM_PARTIAL 0x2u

/* weir_input, for a link that vouches for checksums (flags above; 0 is
 * weir_input). A segment larger than the MTU (the host's GRO or TSO
 * merged several) is taken like any other, with or without flags. */
void weir_input_flags(struct weir_stack *s, const uint8_t *frame, size_t len,
                      uint64_t now, unsigned flags);

/* Writes the next frame to transmit into buf and returns its length, or 0
 * when there is nothing to send. A frame never exceeds the MTU plus the
 * link header (14 bytes on Ethernet); if cap is smaller than the next
 * frame, returns 0 and leaves it queued. Call until it returns 0. */
size_t weir_output(struct weir_stack *s, uint8_t *buf, size_t cap,
                   uint64_t now);

/* What the link must do to a frame from weir_output_meta before it goes
 * on the wire: the fields of a virtio_net_hdr.
 *   CSUM_PARTIAL  complete the checksum at csum_start + csum_offset (it
 *                 holds the pseudo-header's sum) over csum_start..end */
#define WEIR_TX_CSUM_PARTIAL 0x1u

struct weir_tx_meta {
  unsigned flags;       /* WEIR_TX_* */
  uint16_t csum_start;  /* from the frame's start: the TCP header */
  uint16_t csum_offset; /* of the checksum field, from csum_start */
  uint16_t gso_size;    /* 0, or: a TCP super-segment, to be cut into
                           segments of this many data bytes (the last may
                           be shorter), each with a copy of its headers,
                           the IP ID counting up, FIN and PSH on the last
                           only (virtio GSO_TCPV4) */
  uint16_t hdr_len;     /* super-segment: link + IP + TCP header bytes */
};

/* weir_output for a link with the offloads cfg.tx_csum_offload and
 * cfg.tx_tso_max describe: a TCP frame may be a super-segment of up to
 * tx_tso_max bytes of IP (if cap allows) and may leave its checksum
 * partial; *m (always filled) says so. A super-segment carries what
 * successive weir_output calls at the same `now` would have sent, and
 * the link's cut gives their very bytes; nothing else in the stack
 * differs (retransmissions always go one segment at a time). */
size_t weir_output_meta(struct weir_stack *s, uint8_t *buf, size_t cap,
                        uint64_t now, struct weir_tx_meta *m);

/* The earliest time at which weir_timers must be called, or UINT64_MAX if
 * no timer is pending. Cheap: reads the head of a heap. */
uint64_t weir_deadline(const struct weir_stack *s);

/* Runs every timer due at `now` (ARP retries and expiry, reassembly
 * timeouts, ...). May queue frames for weir_output and events. */
void weir_timers(struct weir_stack *s, uint64_t now);

/* The stack's counters. The pointer stays valid for the stack's life. */
const struct weir_stats *weir_stats(const struct weir_stack *s);

/* The configuration in force (after defaults were applied). */
const struct weir_config *weir_stack_config(const struct weir_stack *s);

#endif
