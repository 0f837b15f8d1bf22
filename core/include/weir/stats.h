/* Counters kept per stack. Every packet that is not delivered is counted
 * under the reason it was dropped. */
#ifndef WEIR_STATS_H
#define WEIR_STATS_H

#include <stdint.h>

/* X(name, description). The order is the array's order; new counters go at
 * the end of their group. */
#define WEIR_STATS_LIST(X)                                                     \
  X(FRAMES_IN, "frames or packets given to weir_input")                        \
  X(FRAMES_OUT, "frames or packets returned by weir_output")                   \
  X(BYTES_IN, "bytes given to weir_input")                                     \
  X(BYTES_OUT, "bytes returned by weir_output")                                \
  X(DROP_RUNT, "dropped: frame shorter than its link header")                  \
  X(DROP_NOT_FOR_US, "dropped: link destination is another host")              \
  X(DROP_ETHERTYPE, "dropped: not IPv4 or ARP (EtherType, IP version)")        \
  X(DROP_ARP_MALFORMED, "dropped: ARP packet malformed or unsupported")        \
  X(DROP_ARP_BAD_SENDER, "dropped: ARP sender is broadcast/zero/ours")         \
  X(DROP_IP_MALFORMED, "dropped: IPv4 header malformed")                       \
  X(DROP_IP_CHECKSUM, "dropped: IPv4 header checksum")                         \
  X(DROP_IP_BAD_SRC, "dropped: IPv4 source broadcast/multicast/loopback")      \
  X(DROP_IP_NOT_FOR_US, "dropped: IPv4 destination is not ours")               \
  X(DROP_IP_PROTO, "dropped: IP protocol not handled (ICMP sent)")             \
  X(DROP_ICMP_MALFORMED, "dropped: ICMP message malformed or bad checksum")    \
  X(DROP_ICMP_RATELIMIT, "ICMP error not sent: rate limit")                    \
  X(DROP_UDP_MALFORMED, "dropped: UDP header malformed")                       \
  X(DROP_UDP_CHECKSUM, "dropped: UDP checksum")                                \
  X(DROP_UDP_NO_PORT, "dropped: UDP to a closed port (ICMP sent)")             \
  X(DROP_UDP_RXQ_FULL, "dropped: UDP socket receive queue full")               \
  X(DROP_TX_FULL, "dropped: transmit queue full")                              \
  X(DROP_TX_TOO_BIG, "dropped: reply larger than the MTU (no fragmentation)")  \
  X(DROP_NO_ROUTE, "dropped: no route to destination")                         \
  X(ARP_REQUESTS_IN, "ARP requests received")                                  \
  X(ARP_REPLIES_IN, "ARP replies received")                                    \
  X(ARP_REQUESTS_OUT, "ARP requests sent (including retries)")                 \
  X(ARP_REPLIES_OUT, "ARP replies sent")                                       \
  X(ARP_GRATUITOUS, "gratuitous ARP seen")                                     \
  X(ARP_CONFLICT, "ARP from another host claiming our address")                \
  X(ARP_CACHE_FULL, "ARP cache full: oldest entry evicted")                    \
  X(ARP_GIVE_UP, "ARP resolution abandoned after retries")                     \
  X(ARP_QUEUE_DROP, "dropped: too many packets waiting for ARP")               \
  X(IP_IN, "IPv4 packets accepted")                                            \
  X(IP_OUT, "IPv4 packets sent")                                               \
  X(REASM_FRAGS, "IPv4 fragments received")                                    \
  X(REASM_OK, "datagrams reassembled")                                         \
  X(REASM_TIMEOUT, "reassembly timed out (fragments dropped)")                 \
  X(REASM_OVERLAP, "reassembly dropped: overlapping fragments")                \
  X(REASM_DUP, "duplicate fragments ignored")                                  \
  X(REASM_OVERSIZE, "reassembly dropped: datagram over the size limit")        \
  X(REASM_NO_SLOT, "reassembly dropped: datagram or byte limit reached")       \
  X(REASM_TOO_MANY_FRAGS, "reassembly dropped: too many fragments")            \
  X(ICMP_IN, "ICMP messages received")                                         \
  X(ICMP_OUT, "ICMP messages sent")                                            \
  X(ICMP_ECHO_IN, "ICMP echo requests received")                               \
  X(ICMP_ERRORS_IN, "ICMP errors received")                                    \
  X(ICMP_UNREACH_OUT, "ICMP destination unreachable sent")                     \
  X(UDP_IN, "UDP datagrams delivered to a socket")                             \
  X(UDP_OUT, "UDP datagrams sent")                                             \
  X(TCP_SEGS_IN, "TCP segments received")                                      \
  X(TCP_SEGS_OUT, "TCP segments sent")                                         \
  X(DROP_TCP_MALFORMED, "dropped: TCP header or options malformed")            \
  X(DROP_TCP_CHECKSUM, "dropped: TCP checksum")                                \
  X(DROP_TCP_NO_CONN, "TCP segment for no connection (RST sent if allowed)")   \
  X(DROP_TCP_BACKLOG, "dropped: SYN while the listen backlog was full")        \
  X(DROP_TCP_NO_MEM, "dropped: SYN, connection table or memory full")          \
  X(DROP_TCP_PAWS, "dropped: TCP segment with an old timestamp (PAWS)")        \
  X(DROP_TCP_OUT_OF_WINDOW, "dropped: TCP segment outside the window")         \
  X(DROP_TCP_BAD_ACK, "dropped: TCP ACK of unsent or too-old data")            \
  X(DROP_TCP_OOO_FULL, "dropped: out-of-order TCP data past the range limit")  \
  X(TCP_RST_OUT, "TCP resets sent")                                            \
  X(TCP_RST_IN, "TCP resets accepted")                                         \
  X(TCP_CHALLENGE_ACK, "TCP challenge ACKs sent (RFC 5961)")                   \
  X(TCP_CHALLENGE_LIMITED, "TCP challenge ACKs not sent: rate limit")          \
  X(TCP_RETRANSMITS, "TCP segments retransmitted")                             \
  X(TCP_TIMEOUTS, "TCP retransmission timeouts")                               \
  X(TCP_FAST_RETRANSMITS, "TCP fast retransmits")                              \
  X(TCP_CONN_OPENED, "TCP connections established")                            \
  X(TCP_CONN_TIMEOUT, "TCP connections abandoned: timeout")

enum weir_stat {
#define WEIR__STAT_ENUM(name, desc) WEIR_STAT_##name,
  WEIR_STATS_LIST(WEIR__STAT_ENUM)
#undef WEIR__STAT_ENUM
      WEIR_STAT__COUNT
};

struct weir_stats {
  uint64_t c[WEIR_STAT__COUNT];
};

/* The name of a counter as in the enum ("DROP_IP_CHECKSUM"); NULL if out of
 * range. */
const char *weir_stat_name(int i);

/* One line describing a counter; NULL if out of range. */
const char *weir_stat_desc(int i);

#endif
