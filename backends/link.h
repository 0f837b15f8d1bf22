/* A link backend: where weir's frames come from and go to.
 *
 * As in lwIP's netif, a link is a small table of function pointers (the
 * backend) plus the state of one open device. The libuv driver polls
 * weir_link_fd() for readability and moves frames with recv/send; it never
 * knows which backend it holds. Backends do I/O and nothing else: no
 * protocol logic lives here.
 *
 * All functions return negative errno values on failure, like libuv. When
 * one fails, weir_link_error() has a one-line message for a human
 * ("tun: cannot open /dev/net/tun: No such file or directory"). */
#ifndef WEIR_BACKENDS_LINK_H
#define WEIR_BACKENDS_LINK_H

#include <stddef.h>
#include <stdint.h>

#include "weir/stack.h"

#define WEIR_LINK_IFNAMSIZ 16 /* IFNAMSIZ, with its NUL */
#define WEIR_LINK_ERRSIZE  160

/* How to open a link. Zero means "leave it as it is" for every field. */
struct weir_link_params {
  /* Device name; NULL or "" lets the backend pick one ("weir%d" for
   * tun/tap: the kernel replaces %d with the first free number). */
  const char *ifname;

  /* Nonzero: create the device if it does not exist (tun/tap devices made
   * this way vanish when the link is closed). Zero: it must exist already
   * (a persistent device made with `ip tuntap add`). */
  int create;

  /* The address to give the KERNEL's side of the device, so that the
   * host's own stack (ping, nc) reaches weir through it. 0: assign none. */
  uint32_t kernel_ip; /* host order */
  uint8_t kernel_prefix;

  /* The device's IP MTU; 0 keeps the device's own. */
  uint16_t mtu;

  /* Nonzero: no offloads (tun, tap: no virtio-net header, as before
   * them; raw: the header stays, but the backend cuts and checksums what
   * the kernel left undone, and asks nothing of it). Zero: what the
   * backend and the kernel support (see tx_csum_offload). */
  int no_offload;
};

struct weir_link;

/* One backend. Every pointer is required except the batched ones. */
struct weir_link_ops {
  const char *name;         /* "tun", "tap" */
  enum weir_link_type type; /* what the frames look like */

  /* Opens the device into l (whose ops pointer is already set). */
  int (*open)(struct weir_link *l, const struct weir_link_params *p);

  /* Releases everything open() acquired. Safe on a link that failed to
   * open, and twice. */
  void (*close)(struct weir_link *l);

  /* Receives one frame into buf. Returns its length, 0 when nothing is
   * ready (EAGAIN: the fd is non-blocking), or a negative errno. A frame
   * longer than cap is truncated by the kernel; the driver sizes buf so
   * that this never happens for the link's MTU. */
  long (*recv)(struct weir_link *l, uint8_t *buf, size_t cap);

  /* Sends one frame. Returns 1 if it was taken, 0 if the link cannot
   * take it now (EAGAIN: keep it and wait for the fd to be writable), or
   * a negative errno (the frame is lost). */
  int (*send)(struct weir_link *l, const uint8_t *buf, size_t len);

  /* Optional batched forms (recvmmsg/sendmmsg, PACKET_MMAP rings); NULL
   * when the backend has none and the driver loops over recv/send. They
   * return how many frames were received/taken (0: EAGAIN), or a negative
   * errno if none was. With flags (metas) NULL they move frames as recv
   * (send) does; otherwise, on a link with offloads only, as recv_meta
   * (send_meta) does: flags[i] is set for the frame in bufs[i], metas[i]
   * is what weir_output_meta said of bufs[i] (all zero: a plain frame). */
  int (*recv_many)(struct weir_link *l, uint8_t *const *bufs,
                   const size_t *caps, size_t *lens, unsigned *flags, int n);
  int (*send_many)(struct weir_link *l, const uint8_t *const *bufs,
                   const size_t *lens, const struct weir_tx_meta *metas, int n);

  /* Optional forms for a link with offloads (tx_csum_offload below),
   * which the driver then uses instead of recv/send. recv_meta is recv,
   * and sets *flags to the WEIR_RX_* for weir_input_flags (a frame may
   * then be longer than the MTU: the host merged segments). send_meta is
   * send for a frame from weir_output_meta, with what that said of it.
   * Plain recv and send still move complete frames (the backend
   * completes checksums, and on the way in either takes merged segments
   * as they are or cuts them, as it documents). */
  long (*recv_meta)(struct weir_link *l, uint8_t *buf, size_t cap,
                    unsigned *flags);
  int (*send_meta)(struct weir_link *l, const uint8_t *buf, size_t len,
                   const struct weir_tx_meta *m);
};

struct weir_link {
  const struct weir_link_ops *ops;
  int fd;                          /* to poll; -1 when closed */
  uint16_t mtu;                    /* IP MTU of the device */
  char ifname[WEIR_LINK_IFNAMSIZ]; /* the name the device really has */
  char err[WEIR_LINK_ERRSIZE];     /* the last failure, for humans */
  void *state;                     /* the backend's own, if any */
  /* The offloads the device took at open, for the stack's config
   * (weir_config's of the same names); 0: none. */
  uint8_t tx_csum_offload;
  uint32_t tx_tso_max;
};

extern const struct weir_link_ops weir_link_tun;
extern const struct weir_link_ops weir_link_tap;
extern const struct weir_link_ops weir_link_raw;  /* AF_PACKET */
extern const struct weir_link_ops weir_link_pcap; /* libpcap live */

/* In backends/link.c. The backend called `name`, or NULL. */
const struct weir_link_ops *weir_link_find(const char *name);

/* The names weir_link_find knows, for --help: "tun|tap". */
const char *weir_link_names(void);

/* Prepares l for ops and opens it. On failure l->fd is -1 and l->err
 * says why. */
int weir_link_open(struct weir_link *l, const struct weir_link_ops *ops,
                   const struct weir_link_params *p);

/* For backends: writes "NAME: " and the formatted text into l->err (the
 * one-line message the apps print) and returns err. */
int weir_link_fail(struct weir_link *l, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* For backends on an existing interface (raw, pcap): checks p->ifname
 * (given, not a tun/tap pattern, fits IFNAMSIZ) and that p asks for no
 * kernel address (an existing interface is weir's to share, not to
 * configure), and copies the name into l->ifname. 0, or a one-line
 * failure. */
int weir_link_existing_if(struct weir_link *l,
                          const struct weir_link_params *p);

/* For backends on an existing interface: sets l->mtu to the device's
 * MTU, or to `want` (--mtu) if given and not larger; fails with a
 * one-line error outside 576..65535. */
int weir_link_set_mtu(struct weir_link *l, const char *name, int dev_mtu,
                      uint16_t want);

/* Completes a TCP or UDP checksum a sender left partial (virtio-net's
 * NEEDS_CSUM): the field at start + off holds the pseudo-header's sum,
 * and the covered bytes run from `start` to the end of the IPv4 datagram
 * at `l3` (not of the frame: Ethernet may pad it). A sum of 0 is stored
 * as 0xffff, as the kernel does (UDP requires it). Returns 0, or -1 if
 * the offsets lie outside the datagram. */
int weir_link_csum_complete(uint8_t *frame, size_t len, size_t l3, size_t start,
                            size_t off);

struct virtio_net_hdr; /* <linux/virtio_net.h> */

/* For backends with a virtio-net header: the header that asks the
 * kernel for what m says of a frame from weir_output_meta (a partial
 * checksum, a TCPv4 super-segment to cut). Offsets in m count from the
 * frame's start, as the kernel's do: on Ethernet, the link header is in
 * them. m NULL, or all zero: an empty header, a complete frame. */
void weir_link_vnet_tx(struct virtio_net_hdr *vh, const struct weir_tx_meta *m);

/* For backends with a virtio-net header: what the header vh that came
 * with a received frame (its IPv4 header at l3) says of its checksum, as
 * WEIR_RX_* flags into *flags. A checksum the kernel left partial is
 * passed on as WEIR_RX_CSUM_PARTIAL only where the core would look for
 * it (the TCP or UDP field right behind the IPv4 header); one anywhere
 * else is completed here. Returns 0, or -1 if it could not be (the frame
 * is not one weir can take). */
int weir_link_vnet_rx(const struct virtio_net_hdr *vh, uint8_t *frame,
                      size_t len, size_t l3, unsigned *flags);

/* Closes l (again is harmless). */
void weir_link_close(struct weir_link *l);

/* The size of the largest frame the link carries: the MTU plus the link
 * header (14 bytes for Ethernet, none for bare IP). */
size_t weir_link_frame_max(const struct weir_link *l);

static inline int weir_link_fd(const struct weir_link *l)
{
  return l->fd;
}

static inline enum weir_link_type weir_link_type(const struct weir_link *l)
{
  return l->ops->type;
}

static inline const char *weir_link_error(const struct weir_link *l)
{
  return l->err;
}

#endif
