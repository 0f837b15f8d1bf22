/* The pcapfile backend: a recording as the link, offline.
 *
 * Inbound frames come from a pcap file (classic or pcapng, any of the
 * formats libpcap reads; Ethernet, or bare IP as LINKTYPE_RAW/IPV4 gives
 * it), each at its recorded time; what the stack sends goes nowhere but
 * the capture (--pcap-out). There is no fd: the driver runs it on a
 * virtual clock (weir_driver_init_ex with virtual_time), stepping from
 * one recorded frame (or core timer) to the next with no real waiting, so
 * that the same recording gives the same run, bit for bit.
 *
 * The recording's timestamps ARE the virtual clock, as they are: a capture
 * that weir wrote (--pcap-out stamps frames with the `now` the core saw)
 * replays each frame at the very `now` it had, so that weir's ISNs and
 * TCP timestamps come out as they did. Frames weir itself sent in the
 * recording are skipped, not fed back: on Ethernet those from weir's MAC,
 * on bare IP those from weir's IPv4 address. Records cut short by the
 * snapshot length are skipped too (counted): they never were on a wire in
 * that shape. */
#ifndef WEIR_BACKENDS_PCAPFILE_H
#define WEIR_BACKENDS_PCAPFILE_H

#include <stdint.h>

#include "link.h"

/* The two faces of the backend, by the file's link type. */
extern const struct weir_link_ops weir_link_pcapfile_eth;
extern const struct weir_link_ops weir_link_pcapfile_ip;

struct weir_pcapfile_stats {
  uint64_t records;   /* read from the file */
  uint64_t fed;       /* handed to the driver as inbound frames */
  uint64_t own;       /* skipped: sent by weir */
  uint64_t truncated; /* skipped: cut by the snapshot length */
};

/* Opens path into l (as weir_link_open does) with the ops its link type
 * calls for. self_ip (host order) and self_mac say which recorded frames
 * were weir's own; mtu (0: 1500) is what the stack is told the link
 * carries. On failure returns a negative errno, l->fd stays -1 and
 * l->err has one line ("pcapfile: x.pcap: No such file or directory"). */
int weir_pcapfile_open(struct weir_link *l, const char *path, uint32_t self_ip,
                       const uint8_t self_mac[6], uint16_t mtu);

/* The recorded time (microseconds) of the frame recv() returns next, or
 * UINT64_MAX when the recording is over. */
uint64_t weir_pcapfile_next_at(struct weir_link *l);

/* The time of the recording's first record (of any direction), where the
 * virtual clock starts; 0 for an empty file. */
uint64_t weir_pcapfile_start(const struct weir_link *l);

const struct weir_pcapfile_stats *
weir_pcapfile_stats(const struct weir_link *l);

/* A read error that ended the recording early (a file cut short by a
 * crash, say), or "" if it ended cleanly. */
const char *weir_pcapfile_warning(const struct weir_link *l);

#endif
