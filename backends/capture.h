/* The capture writer: every frame that crosses a link, in a classic pcap
 * file (the libpcap format of tcpdump -w) that tcpdump, tshark and
 * Wireshark read.
 *
 * Written by hand, not with pcap_dump: the format is a 24-byte file header
 * and a 16-byte header per record, and writing each record with one
 * writev(2) of its own (no stdio buffer) is what makes the file readable
 * up to the last frame whatever happens to the process: a crash or a
 * SIGKILL loses nothing the kernel already has (at worst, a SIGKILL that
 * lands in the middle of a write spanning pages cuts that one record).
 *
 * Timestamps are the driver's clock, the very `now` the core saw for the
 * frame (monotonic microseconds: dates near 1970, intervals exact). That
 * is what lets the pcapfile backend replay a capture at the times the core
 * saw it. */
#ifndef WEIR_BACKENDS_CAPTURE_H
#define WEIR_BACKENDS_CAPTURE_H

#include <stddef.h>
#include <stdint.h>

#include "weir/stack.h"

/* The link types in the file header (tcpdump.org/linktypes.html). */
#define WEIR_LINKTYPE_ETHERNET 1   /* DLT_EN10MB */
#define WEIR_LINKTYPE_RAW      101 /* LINKTYPE_RAW: bare IPv4 or IPv6 */

/* Records longer than this are cut (libpcap's MAXIMUM_SNAPLEN); a frame
 * of weir's is at most 65535 + 14 bytes, so none is. */
#define WEIR_CAPTURE_SNAPLEN 262144

struct weir_capture {
  int fd;          /* -1: closed, or writing failed */
  uint64_t frames; /* records written */
  uint64_t bytes;  /* frame bytes written */
  int error;       /* the first write error (negative errno), or 0 */
};

/* Creates (or truncates) path and writes the file header for frames of
 * link type `type`. Returns 0, or a negative errno with a one-line reason
 * in err ("capture: cannot create out.pcap: Permission denied"). */
int weir_capture_open(struct weir_capture *c, const char *path,
                      enum weir_link_type type, char *err, size_t errlen);

/* Appends one frame, stamped now_us (microseconds). A write that fails
 * closes the capture for good (a partial record would garble every later
 * one) and sets c->error; later calls do nothing. Returns 0 or c->error. */
int weir_capture_write(struct weir_capture *c, uint64_t now_us,
                       const uint8_t *frame, size_t len);

/* Closes the file. Returns c->error, or close's own error. Harmless on a
 * capture already closed. */
int weir_capture_close(struct weir_capture *c);

#endif
