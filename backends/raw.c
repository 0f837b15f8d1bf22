/* The raw backend: an AF_PACKET socket on an existing Ethernet interface
 * (a veth end in a namespace, a NIC), non-blocking.
 *
 * weir has its own MAC and IP on that segment, so the host kernel, which
 * sees the same frames, never answers for it (see README: "Raw sockets and
 * the host's own address" for what goes wrong when they are shared).
 *
 * Three things the kernel does to frames on the way to a packet socket
 * that a TUN or TAP reader never sees, and how each is undone here:
 *
 *   - Frames that leave the interface (the kernel's own, another socket's)
 *     are delivered too, as PACKET_OUTGOING. They are not for weir:
 *     PACKET_IGNORE_OUTGOING keeps them out (Linux 4.20+), the socket's
 *     BPF filter drops them on older kernels, and recv checks sll_pkttype
 *     all the same. (A socket never sees what it sent itself.)
 *
 *   - Offloads. A local sender on the other end of a veth hands over its
 *     TCP data as one "super-frame" of up to 64 KiB (TSO/GSO) whose
 *     checksum is left for hardware to fill (CHECKSUM_PARTIAL); a NIC with
 *     GRO merges received segments the same way. With PACKET_VNET_HDR
 *     each frame comes with a virtio_net_hdr saying what was left undone.
 *     With offloads on (the default: the link reports them, and the
 *     driver moves frames with their WEIR_RX_* flags and weir_tx_meta),
 *     weir's core takes a TCP super-frame whole, with the header's word
 *     on its checksum as flags (NEEDS_CSUM: left partial by the host's
 *     own stack; DATA_VALID: verified), and weir's own super-segments go
 *     out behind a header that asks the kernel to cut and checksum them
 *     (GSO TCPV4 and NEEDS_CSUM, offsets from the Ethernet header;
 *     packet_snd takes them as from a virtio guest, a veth passes them on
 *     whole, a NIC or the kernel's software GSO cuts them). With
 *     --no-offload, and for what the core cannot take whole (UDP
 *     super-frames, TCP ones past 64 KiB whose IP length is 0), the
 *     backend does here what was left undone, before weir sees the frame:
 *     the missing checksum is computed and a super-frame is cut into the
 *     segments it stands for, as the kernel's own software GSO would.
 *     Nothing needs to be switched off on either end.
 *
 *   - The interface's MAC filter. weir's MAC is not the interface's, so a
 *     NIC would drop unicast frames for weir in hardware. The backend is
 *     not told weir's MAC; it learns it from the source address of the
 *     first frame weir sends (weir speaks before anyone can know its MAC:
 *     its ARP reply or request; only a peer with a static ARP entry for
 *     weir could send to it earlier, and on a NIC those frames would be
 *     lost until then), and only then, if it differs from the
 *     interface's, adds it to the interface's unicast filter with
 *     PACKET_MR_UNICAST (devices without such a filter, veth among them,
 *     are put in promiscuous mode by the kernel instead; either is undone
 *     when the socket closes, even if weir crashes). At the same moment
 *     the BPF filter narrows to frames for weir's MAC and broadcast, all
 *     that weir takes, so that a busy segment costs no copies to user
 *     space for frames weir would drop.
 *
 * What the driver polls is not the packet socket but an epoll set of
 * three: the socket's input, a bell (an eventfd) rung while segments of a
 * super-frame are still waiting, and, while frames refused by a full
 * socket buffer are queued here, the socket's output. A super-frame is
 * cut lazily, one segment per recv, and the driver takes at most
 * WEIR_DRIVER_BATCH frames per wake-up: without the bell, the rest of one
 * that straddles that cap would wait for the next frame from the network,
 * which at the end of a transfer comes only when the sender gives up
 * waiting for an ACK and retransmits. An epoll set never reports itself
 * writable, so send never asks the driver to wait for POLLOUT: a frame
 * the socket refuses (EAGAIN) is kept here, in order, and sent when the
 * socket's output wakes the driver, which then calls recv; past
 * RAW_TXQ_MAX of them a frame is dropped, as a full NIC queue would.
 *
 * recv_many and send_many move up to RAW_BATCH frames per system call
 * (recvmmsg/sendmmsg), with or without offloads. */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/filter.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <linux/virtio_net.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "link.h"
#include "wire/bytes.h"
#include "wire/checksum.h"

#ifndef PACKET_IGNORE_OUTGOING
#define PACKET_IGNORE_OUTGOING 23
#endif
#ifndef VIRTIO_NET_HDR_GSO_UDP_L4
#define VIRTIO_NET_HDR_GSO_UDP_L4 5
#endif

#define RAW_BATCH   64
#define RAW_TXQ_MAX 1024
#define VNET_HLEN   sizeof(struct virtio_net_hdr)

/* The largest IPv4 packet weir sends for the kernel to cut. */
#define RAW_TSO_MAX 65535

/* Received frames are queued in the socket while weir is busy: a burst
 * of super-frames (64 KiB each, more in kernel accounting) would overflow
 * the default 208 KiB and be dropped before weir saw it. */
#define RAW_RCVBUF (4 * 1024 * 1024)

/* A received frame not handed to weir yet: a super-frame being cut into
 * segments, or a frame that arrived behind one in the same batch. */
struct raw_held {
  struct raw_held *next;
  size_t len;   /* of data */
  size_t hlen;  /* super-frame: Ethernet + IPv4 + TCP/UDP headers */
  size_t mss;   /* super-frame: payload bytes per segment; 0: plain */
  size_t off;   /* super-frame: where the next segment's payload starts */
  uint16_t seg; /* super-frame: segments handed out so far */
  uint8_t data[];
};

/* A frame the socket refused for now, and its header. */
struct raw_frame {
  struct raw_frame *next;
  struct virtio_net_hdr vh;
  size_t len;
  uint8_t data[];
};

struct raw {
  int sock;      /* the packet socket */
  int bell;      /* eventfd, readable while held frames wait */
  int ep;        /* the epoll set the driver polls (l->fd) */
  int bell_on;   /* the bell has been rung and not cleared */
  int watch_out; /* the socket's output is in the epoll set */
  int ifindex;
  uint8_t if_mac[6]; /* the interface's own */
  uint8_t mac[6];    /* weir's, once learnt */
  int mac_known;
  struct raw_held *held, *held_tail;
  struct raw_frame *txq, *txq_tail;
  size_t txq_len;
};

/* ------------------------------------------------------------ filters */

/* Outgoing frames always go; with weir's MAC known, so does every frame
 * that is neither for it nor broadcast. */
static int set_filter(struct weir_link *l, const uint8_t *mac)
{
  enum { OUT_ONLY = 4, BY_MAC = 11 };
  struct sock_filter prog[BY_MAC];
  struct sock_fprog fp;
  const struct sock_filter ld_type =
      BPF_STMT(BPF_LD | BPF_B | BPF_ABS, SKF_AD_OFF + SKF_AD_PKTTYPE);

  if (!mac) {
    prog[0] = ld_type;
    prog[1] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K,
                                           PACKET_OUTGOING, 1, 0);
    prog[2] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, 0xffffffffu);
    prog[3] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, 0);
    fp.len = OUT_ONLY;
  } else {
    /* Jump offsets count from the next instruction: 9 accepts, 10
     * drops, 6 tests for broadcast. */
    prog[0] = ld_type;
    prog[1] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K,
                                           PACKET_OUTGOING, 8, 0);
    prog[2] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, 0);
    prog[3] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K,
                                           weir__get32(mac), 0, 2);
    prog[4] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_H | BPF_ABS, 4);
    prog[5] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K,
                                           weir__get16(mac + 4), 3, 4);
    prog[6] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K,
                                           0xffffffffu, 0, 3);
    prog[7] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_H | BPF_ABS, 4);
    prog[8] =
        (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0xffff, 0, 1);
    prog[9] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, 0xffffffffu);
    prog[10] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, 0);
    fp.len = BY_MAC;
  }
  fp.filter = prog;
  if (setsockopt(((struct raw *)l->state)->sock, SOL_SOCKET, SO_ATTACH_FILTER,
                 &fp, sizeof(fp)) < 0)
    return -errno;
  return 0;
}

/* Called with every frame weir sends until it knows weir's MAC. */
static void learn_mac(struct weir_link *l, const uint8_t *frame, size_t len)
{
  struct raw *r = l->state;
  struct packet_mreq mr;
  const uint8_t *src = frame + 6;

  if (len < ETH_HLEN || (src[0] & 1) || !memcmp(src, "\0\0\0\0\0\0", 6))
    return;
  memcpy(r->mac, src, 6);
  r->mac_known = 1;
  if (memcmp(r->mac, r->if_mac, 6) != 0) {
    memset(&mr, 0, sizeof(mr));
    mr.mr_ifindex = r->ifindex;
    mr.mr_type = PACKET_MR_UNICAST;
    mr.mr_alen = 6;
    memcpy(mr.mr_address, r->mac, 6);
    if (setsockopt(r->sock, SOL_PACKET, PACKET_ADD_MEMBERSHIP, &mr,
                   sizeof(mr)) < 0) {
      /* No unicast filter to add to: take everything instead. */
      mr.mr_type = PACKET_MR_PROMISC;
      mr.mr_alen = 0;
      setsockopt(r->sock, SOL_PACKET, PACKET_ADD_MEMBERSHIP, &mr, sizeof(mr));
    }
  }
  /* Should it fail, the open-time filter stays: more copies, nothing
   * lost. */
  set_filter(l, r->mac);
}

/* ---------------------------------------------------- undoing offloads */

/* The header length of an IPv4 TCP or UDP super-frame, or 0 if it is not
 * one we can cut (anything else is dropped: weir speaks IPv4 only). */
static size_t gso_hlen(const struct virtio_net_hdr *vh, const uint8_t *f,
                       size_t len)
{
  size_t ihl, l4;
  uint8_t proto;

  if (len < ETH_HLEN + 20 || weir__get16(f + 12) != ETH_P_IP ||
      f[ETH_HLEN] >> 4 != 4)
    return 0;
  ihl = (size_t)(f[ETH_HLEN] & 15) * 4;
  proto = f[ETH_HLEN + 9];
  l4 = ETH_HLEN + ihl;
  /* The IP total length is the super-frame's (0 past 64 KiB). */
  if (ihl < 20 || l4 + 8 > len ||
      (weir__get16(f + ETH_HLEN + 2) != 0 &&
       ETH_HLEN + (size_t)weir__get16(f + ETH_HLEN + 2) != len))
    return 0;
  switch (vh->gso_type & ~VIRTIO_NET_HDR_GSO_ECN) {
  case VIRTIO_NET_HDR_GSO_TCPV4:
    if (proto != IPPROTO_TCP || l4 + 20 > len)
      return 0;
    l4 += (size_t)(f[l4 + 12] >> 4) * 4;
    break;
  case VIRTIO_NET_HDR_GSO_UDP_L4:
    if (proto != IPPROTO_UDP)
      return 0;
    l4 += 8;
    break;
  default:
    return 0;
  }
  return l4 < len ? l4 : 0;
}

/* Writes the next segment of super-frame h into out: its headers with the
 * lengths, IP ID, sequence number and flags that segment would have had
 * on the wire (as the kernel's tcp_gso_segment sets them: FIN and PSH on
 * the last segment only, CWR on the first only), and fresh checksums. */
static size_t gso_next(struct raw_held *h, uint8_t *out)
{
  size_t chunk = h->len - h->off < h->mss ? h->len - h->off : h->mss;
  uint8_t *ip = out + ETH_HLEN, *l4;
  size_t ihl, l4len;
  uint8_t flags;
  uint16_t c;

  memcpy(out, h->data, h->hlen);
  memcpy(out + h->hlen, h->data + h->off, chunk);
  ihl = (size_t)(ip[0] & 15) * 4;
  l4 = ip + ihl;
  l4len = h->hlen - ETH_HLEN - ihl + chunk;

  weir__put16(ip + 2, (uint16_t)(ihl + l4len));
  weir__put16(ip + 4, (uint16_t)(weir__get16(ip + 4) + h->seg));
  weir__put16(ip + 10, 0);
  weir__put16(ip + 10, weir_csum(ip, ihl));

  if (ip[9] == IPPROTO_TCP) {
    weir__put32(l4 + 4, weir__get32(l4 + 4) + (uint32_t)(h->off - h->hlen));
    flags = l4[13];
    if (h->off + chunk < h->len)
      flags &= (uint8_t) ~(0x01 | 0x08); /* FIN, PSH */
    if (h->seg > 0)
      flags &= (uint8_t)~0x80; /* CWR */
    l4[13] = flags;
    weir__put16(l4 + 16, 0);
    c = weir_csum_finish(weir_csum_add(
        weir_csum_pseudo(weir__get32(ip + 12), weir__get32(ip + 16),
                         IPPROTO_TCP, (uint16_t)l4len),
        l4, l4len));
    weir__put16(l4 + 16, c);
  } else {
    weir__put16(l4 + 4, (uint16_t)l4len);
    weir__put16(l4 + 6, 0);
    c = weir_csum_finish(weir_csum_add(
        weir_csum_pseudo(weir__get32(ip + 12), weir__get32(ip + 16),
                         IPPROTO_UDP, (uint16_t)l4len),
        l4, l4len));
    weir__put16(l4 + 6, c ? c : 0xffff);
  }
  h->off += chunk;
  h->seg++;
  return h->hlen + chunk;
}

/* Queues a copy of a received frame (mss 0: plain) behind the held ones.
 * Without memory it is dropped, as on a wire. */
static void hold(struct raw *r, const uint8_t *f, size_t len, size_t hlen,
                 size_t mss)
{
  struct raw_held *h = malloc(sizeof(*h) + len);

  if (!h)
    return;
  h->next = NULL;
  h->len = len;
  h->hlen = hlen;
  h->mss = mss;
  h->off = hlen;
  h->seg = 0;
  memcpy(h->data, f, len);
  if (r->held_tail)
    r->held_tail->next = h;
  else
    r->held = h;
  r->held_tail = h;
}

/* The next held frame or segment into buf: its length, or 0 if it did
 * not fit (then it is gone). */
static size_t take_held(struct raw *r, uint8_t *buf, size_t cap)
{
  struct raw_held *h = r->held;
  size_t n = 0;

  if (!h->mss) {
    if (h->len <= cap) {
      memcpy(buf, h->data, h->len);
      n = h->len;
    }
  } else if (h->hlen + h->mss <= cap) {
    n = gso_next(h, buf);
    if (h->off < h->len)
      return n;
  }
  r->held = h->next;
  if (!r->held)
    r->held_tail = NULL;
  free(h);
  return n;
}

/* What to do with a frame just received into f. */
enum verdict { DROP, READY, HELD };

/* Whether the core takes super-frame f whole: TCP, with an IP length
 * that says how long it is (past 64 KiB it is 0). */
static int take_whole(const struct virtio_net_hdr *vh, const uint8_t *f)
{
  return (vh->gso_type & ~VIRTIO_NET_HDR_GSO_ECN) == VIRTIO_NET_HDR_GSO_TCPV4 &&
         weir__get16(f + ETH_HLEN + 2) != 0;
}

/* flags NULL: the frame must leave as recv gives them, super-frames cut
 * and checksums complete; else as recv_meta does, *flags its WEIR_RX_*. */
static enum verdict classify(struct weir_link *l,
                             const struct virtio_net_hdr *vh, int pkttype,
                             int truncated, uint8_t *f, size_t len,
                             unsigned *flags)
{
  struct raw *r = l->state;
  size_t hlen;

  if (flags)
    *flags = 0;
  /* A frame longer than the buffer would be misread as a shorter one. */
  if (pkttype == PACKET_OUTGOING || truncated)
    return DROP;
  if (vh->gso_type != VIRTIO_NET_HDR_GSO_NONE) {
    hlen = gso_hlen(vh, f, len);
    if (!hlen || vh->gso_size == 0)
      return DROP;
    if (!flags || !take_whole(vh, f)) {
      hold(r, f, len, hlen, vh->gso_size);
      return HELD;
    }
  }
  if (flags && !r->held)
    return weir_link_vnet_rx(vh, f, len, ETH_HLEN, flags) == 0 ? READY : DROP;
  if ((vh->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) &&
      weir_link_csum_complete(f, len, ETH_HLEN, vh->csum_start,
                              vh->csum_offset) != 0)
    return DROP;
  /* Behind a super-frame still being cut, to keep the order; a held
   * frame has no flags, so its checksum was completed above. */
  if (r->held) {
    hold(r, f, len, 0, 0);
    return HELD;
  }
  return READY;
}

/* ----------------------------------------------------- the poll set */

/* Rings the bell while held frames wait, silences it when none do. */
static void sync_bell(struct raw *r)
{
  uint64_t v = 1;

  if (!!r->held == r->bell_on)
    return;
  if (r->held) {
    if (write(r->bell, &v, sizeof(v)) == (ssize_t)sizeof(v))
      r->bell_on = 1;
  } else {
    if (read(r->bell, &v, sizeof(v)) == (ssize_t)sizeof(v) || errno == EAGAIN)
      r->bell_on = 0;
  }
}

/* Puts the socket's output in the set (while frames are queued) or takes
 * it out (a writable socket would otherwise wake the driver in a loop). */
static void watch_out(struct raw *r, int on)
{
  struct epoll_event ev;

  if (on == r->watch_out)
    return;
  memset(&ev, 0, sizeof(ev));
  ev.events = EPOLLIN | (on ? EPOLLOUT : 0);
  ev.data.fd = r->sock;
  if (epoll_ctl(r->ep, EPOLL_CTL_MOD, r->sock, &ev) == 0)
    r->watch_out = on;
}

static int poll_set(struct weir_link *l)
{
  struct raw *r = l->state;
  struct epoll_event ev;

  r->bell = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (r->bell < 0)
    return weir_link_fail(l, -errno, "eventfd: %s", strerror(errno));
  r->ep = epoll_create1(EPOLL_CLOEXEC);
  if (r->ep < 0)
    return weir_link_fail(l, -errno, "epoll_create1: %s", strerror(errno));
  memset(&ev, 0, sizeof(ev));
  ev.events = EPOLLIN;
  ev.data.fd = r->sock;
  if (epoll_ctl(r->ep, EPOLL_CTL_ADD, r->sock, &ev) < 0)
    return weir_link_fail(l, -errno, "epoll_ctl: %s", strerror(errno));
  ev.data.fd = r->bell;
  if (epoll_ctl(r->ep, EPOLL_CTL_ADD, r->bell, &ev) < 0)
    return weir_link_fail(l, -errno, "epoll_ctl: %s", strerror(errno));
  l->fd = r->ep;
  return 0;
}

/* --------------------------------------------------------------- open */

static int raw_open(struct weir_link *l, const struct weir_link_params *p)
{
  const char *name = p->ifname ? p->ifname : "";
  struct sockaddr_ll sll;
  struct ifreq ifr;
  struct raw *r;
  int fd, one = 1, size = RAW_RCVBUF, mtu, err;

  err = weir_link_existing_if(l, p);
  if (err < 0)
    return err;

  r = calloc(1, sizeof(*r));
  if (!r)
    return weir_link_fail(l, -ENOMEM, "out of memory");
  r->sock = r->bell = r->ep = -1;
  l->state = r;
  r->ifindex = (int)if_nametoindex(name);
  if (r->ifindex == 0)
    return weir_link_fail(l, -ENODEV, "no interface '%s'", name);

  /* Protocol 0: no frame is queued until bind(), after the options and
   * the filter are in place. */
  fd = socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return weir_link_fail(
        l, -errno, "cannot open a packet socket: %s%s", strerror(errno),
        errno == EPERM || errno == EACCES ? " (run as root or with CAP_NET_RAW)"
                                          : "");
  r->sock = fd;

  memset(&ifr, 0, sizeof(ifr));
  memcpy(ifr.ifr_name, name, strlen(name));
  if (ioctl(fd, SIOCGIFHWADDR, &ifr) < 0)
    return weir_link_fail(l, -errno, "%s: cannot read its address: %s", name,
                          strerror(errno));
  if (ifr.ifr_hwaddr.sa_family != ARPHRD_ETHER)
    return weir_link_fail(l, -EINVAL,
                          "%s is not an Ethernet interface (type %u)", name,
                          (unsigned)ifr.ifr_hwaddr.sa_family);
  memcpy(r->if_mac, ifr.ifr_hwaddr.sa_data, 6);
  if (ioctl(fd, SIOCGIFFLAGS, &ifr) < 0)
    return weir_link_fail(l, -errno, "%s: cannot read its flags: %s", name,
                          strerror(errno));
  if (!(ifr.ifr_flags & IFF_UP))
    return weir_link_fail(l, -ENETDOWN, "%s is down (ip link set %s up)", name,
                          name);
  if (ioctl(fd, SIOCGIFMTU, &ifr) < 0)
    return weir_link_fail(l, -errno, "%s: cannot read its MTU: %s", name,
                          strerror(errno));
  mtu = ifr.ifr_mtu;
  err = weir_link_set_mtu(l, name, mtu, p->mtu);
  if (err < 0)
    return err;
  if (!p->no_offload) {
    l->tx_csum_offload = 1;
    l->tx_tso_max = RAW_TSO_MAX;
  }

  if (setsockopt(fd, SOL_PACKET, PACKET_VNET_HDR, &one, sizeof(one)) < 0)
    return weir_link_fail(l, -errno, "PACKET_VNET_HDR: %s", strerror(errno));
  /* Older kernels lack it; the filter and recv drop those frames then. */
  setsockopt(fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof(one));
  if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size)) < 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
  if (set_filter(l, NULL) < 0)
    return weir_link_fail(l, -errno, "cannot attach a filter: %s",
                          strerror(errno));

  memset(&sll, 0, sizeof(sll));
  sll.sll_family = AF_PACKET;
  sll.sll_protocol = htons(ETH_P_ALL);
  sll.sll_ifindex = r->ifindex;
  if (bind(fd, (struct sockaddr *)&sll, sizeof(sll)) < 0)
    return weir_link_fail(l, -errno, "cannot bind to %s: %s", name,
                          strerror(errno));
  return poll_set(l);
}

static void raw_close(struct weir_link *l)
{
  struct raw *r = l->state;
  struct raw_held *h;
  struct raw_frame *f;

  l->fd = -1;
  if (!r)
    return;
  /* Closing the socket also drops its filter membership (the interface
   * leaves promiscuous mode if weir put it there). */
  if (r->ep >= 0)
    close(r->ep);
  if (r->bell >= 0)
    close(r->bell);
  if (r->sock >= 0)
    close(r->sock);
  while ((h = r->held)) {
    r->held = h->next;
    free(h);
  }
  while ((f = r->txq)) {
    r->txq = f->next;
    free(f);
  }
  free(r);
  l->state = NULL;
}

/* --------------------------------------------------------------- send */

/* 1 sent, 0 the socket's buffer is full (EAGAIN), or -errno: the frame is
 * lost (ENOBUFS: the interface's queue dropped it; ENETDOWN). */
static int send_now(struct raw *r, const struct virtio_net_hdr *vh,
                    const uint8_t *buf, size_t len)
{
  struct iovec iov[2];
  struct msghdr m;
  ssize_t n;

  iov[0].iov_base = (void *)vh;
  iov[0].iov_len = VNET_HLEN;
  iov[1].iov_base = (void *)buf;
  iov[1].iov_len = len;
  memset(&m, 0, sizeof(m));
  m.msg_iov = iov;
  m.msg_iovlen = 2;
  do
    n = sendmsg(r->sock, &m, 0);
  while (n < 0 && errno == EINTR);
  if (n >= 0)
    return 1;
  if (errno == EAGAIN || errno == EWOULDBLOCK)
    return 0;
  return -errno;
}

/* Sends what the socket refused before, oldest first, until it refuses
 * again. A frame that fails otherwise is lost, as on a wire. */
static void flush_txq(struct raw *r)
{
  struct raw_frame *f;

  while ((f = r->txq)) {
    if (send_now(r, &f->vh, f->data, f->len) == 0)
      return;
    r->txq = f->next;
    if (!r->txq)
      r->txq_tail = NULL;
    r->txq_len--;
    free(f);
  }
  watch_out(r, 0);
}

/* Keeps a frame the socket refused, behind the others. */
static int queue_frame(struct weir_link *l, const struct virtio_net_hdr *vh,
                       const uint8_t *buf, size_t len)
{
  struct raw *r = l->state;
  struct raw_frame *f;

  if (r->txq_len >= RAW_TXQ_MAX)
    return weir_link_fail(l, -ENOBUFS,
                          "%s: %d frames wait for the socket: dropped",
                          l->ifname, RAW_TXQ_MAX);
  f = malloc(sizeof(*f) + len);
  if (!f)
    return weir_link_fail(l, -ENOMEM, "out of memory");
  f->next = NULL;
  f->vh = *vh;
  f->len = len;
  memcpy(f->data, buf, len);
  if (r->txq_tail)
    r->txq_tail->next = f;
  else
    r->txq = f;
  r->txq_tail = f;
  r->txq_len++;
  watch_out(r, 1);
  return 1;
}

/* One frame behind header vh (all zero: weir's checksums are complete,
 * nothing to ask of the kernel). */
static int send_one(struct weir_link *l, const struct virtio_net_hdr *vh,
                    const uint8_t *buf, size_t len)
{
  struct raw *r = l->state;
  int rc;

  if (!r->mac_known)
    learn_mac(l, buf, len);
  if (r->txq) {
    flush_txq(r);
    if (r->txq)
      return queue_frame(l, vh, buf, len);
  }
  rc = send_now(r, vh, buf, len);
  if (rc == 0)
    return queue_frame(l, vh, buf, len);
  if (rc < 0)
    return weir_link_fail(l, rc, "%s: send: %s", l->ifname, strerror(-rc));
  return 1;
}

static int raw_send(struct weir_link *l, const uint8_t *buf, size_t len)
{
  struct virtio_net_hdr vh;

  weir_link_vnet_tx(&vh, NULL);
  return send_one(l, &vh, buf, len);
}

static int raw_send_meta(struct weir_link *l, const uint8_t *buf, size_t len,
                         const struct weir_tx_meta *m)
{
  struct virtio_net_hdr vh;

  weir_link_vnet_tx(&vh, m);
  return send_one(l, &vh, buf, len);
}

static int raw_send_many(struct weir_link *l, const uint8_t *const *bufs,
                         const size_t *lens, const struct weir_tx_meta *metas,
                         int n)
{
  struct raw *r = l->state;
  struct mmsghdr mm[RAW_BATCH];
  struct iovec iov[RAW_BATCH][2];
  struct virtio_net_hdr vh[RAW_BATCH];
  int i, sent;

  if (n <= 0)
    return 0;
  if (!r->mac_known)
    learn_mac(l, bufs[0], lens[0]);
  if (n > RAW_BATCH)
    n = RAW_BATCH;
  for (i = 0; i < n; i++)
    weir_link_vnet_tx(&vh[i], metas ? &metas[i] : NULL);
  if (r->txq)
    flush_txq(r);
  if (r->txq) {
    for (i = 0; i < n; i++)
      if (queue_frame(l, &vh[i], bufs[i], lens[i]) < 0)
        return i > 0 ? i : -ENOBUFS;
    return n;
  }
  for (i = 0; i < n; i++) {
    iov[i][0].iov_base = &vh[i];
    iov[i][0].iov_len = VNET_HLEN;
    iov[i][1].iov_base = (void *)bufs[i];
    iov[i][1].iov_len = lens[i];
    memset(&mm[i], 0, sizeof(mm[i]));
    mm[i].msg_hdr.msg_iov = iov[i];
    mm[i].msg_hdr.msg_iovlen = 2;
  }
  do
    sent = sendmmsg(r->sock, mm, (unsigned)n, 0);
  while (sent < 0 && errno == EINTR);
  if (sent >= 0)
    return sent; /* the caller offers the rest again, and learns why */
  if (errno == EAGAIN || errno == EWOULDBLOCK) {
    for (i = 0; i < n; i++)
      if (queue_frame(l, &vh[i], bufs[i], lens[i]) < 0)
        return i > 0 ? i : -ENOBUFS;
    return n;
  }
  return weir_link_fail(l, -errno, "%s: sendmmsg: %s", l->ifname,
                        strerror(errno));
}

/* ------------------------------------------------------------ receive */

/* flags: as classify's. */
static long recv_one(struct weir_link *l, uint8_t *buf, size_t cap,
                     unsigned *flags)
{
  struct raw *r = l->state;
  struct virtio_net_hdr vh;
  struct sockaddr_ll sll;
  struct iovec iov[2];
  struct msghdr m;
  ssize_t n;
  size_t len;

  for (;;) {
    while (r->held) {
      len = take_held(r, buf, cap);
      if (len) {
        if (flags)
          *flags = 0;
        return (long)len;
      }
    }
    iov[0].iov_base = &vh;
    iov[0].iov_len = VNET_HLEN;
    iov[1].iov_base = buf;
    iov[1].iov_len = cap;
    memset(&m, 0, sizeof(m));
    m.msg_name = &sll;
    m.msg_namelen = sizeof(sll);
    m.msg_iov = iov;
    m.msg_iovlen = 2;
    n = recvmsg(r->sock, &m, 0);
    if (n < 0) {
      if (errno == EINTR)
        continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK)
        return 0;
      return weir_link_fail(l, -errno, "%s: recvmsg: %s", l->ifname,
                            strerror(errno));
    }
    if ((size_t)n < VNET_HLEN)
      continue;
    len = (size_t)n - VNET_HLEN;
    if (classify(l, &vh, sll.sll_pkttype, (m.msg_flags & MSG_TRUNC) != 0, buf,
                 len, flags) == READY)
      return (long)len;
  }
}

static long raw_recv_meta(struct weir_link *l, uint8_t *buf, size_t cap,
                          unsigned *flags)
{
  struct raw *r = l->state;
  long n;

  /* The driver calls recv whenever the set is readable, which is also
   * when the socket can take what it refused before. */
  if (r->txq)
    flush_txq(r);
  n = recv_one(l, buf, cap, flags);
  sync_bell(r);
  return n;
}

static long raw_recv(struct weir_link *l, uint8_t *buf, size_t cap)
{
  return raw_recv_meta(l, buf, cap, NULL);
}

/* flags: NULL, or one for each frame (as classify's). */
static int recv_batch(struct weir_link *l, uint8_t *const *bufs,
                      const size_t *caps, size_t *lens, unsigned *flags, int n)
{
  struct raw *r = l->state;
  struct mmsghdr mm[RAW_BATCH];
  struct iovec iov[RAW_BATCH][2];
  struct virtio_net_hdr vh[RAW_BATCH];
  struct sockaddr_ll sll[RAW_BATCH];
  int k = 0, want, got, i, j, s;
  unsigned fl;
  size_t len;

  /* What an earlier super-frame left comes first. */
  while (k < n && r->held) {
    len = take_held(r, bufs[k], caps[k]);
    if (len) {
      if (flags)
        flags[k] = 0;
      lens[k++] = len;
    }
  }
  if (k == n || r->held)
    return k;
  want = n - k < RAW_BATCH ? n - k : RAW_BATCH;
  for (i = 0; i < want; i++) {
    iov[i][0].iov_base = &vh[i];
    iov[i][0].iov_len = VNET_HLEN;
    iov[i][1].iov_base = bufs[k + i];
    iov[i][1].iov_len = caps[k + i];
    memset(&mm[i], 0, sizeof(mm[i]));
    mm[i].msg_hdr.msg_name = &sll[i];
    mm[i].msg_hdr.msg_namelen = sizeof(sll[i]);
    mm[i].msg_hdr.msg_iov = iov[i];
    mm[i].msg_hdr.msg_iovlen = 2;
  }
  do
    got = recvmmsg(r->sock, mm, (unsigned)want, 0, NULL);
  while (got < 0 && errno == EINTR);
  if (got < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK || k > 0)
      return k;
    return weir_link_fail(l, -errno, "%s: recvmmsg: %s", l->ifname,
                          strerror(errno));
  }
  /* Frames dropped or held leave gaps; the ones ready close up behind.
   * Once a super-frame is held, the frames behind it are held too. */
  for (i = 0, j = k; i < got; i++) {
    s = k + i;
    if (mm[i].msg_len < VNET_HLEN)
      continue;
    len = mm[i].msg_len - VNET_HLEN;
    if (classify(l, &vh[i], sll[i].sll_pkttype,
                 (mm[i].msg_hdr.msg_flags & MSG_TRUNC) != 0, bufs[s], len,
                 flags ? &fl : NULL) != READY)
      continue;
    if (s != j) {
      if (len > caps[j])
        continue;
      memcpy(bufs[j], bufs[s], len);
    }
    if (flags)
      flags[j] = fl;
    lens[j++] = len;
  }
  while (j < n && r->held) {
    len = take_held(r, bufs[j], caps[j]);
    if (len) {
      if (flags)
        flags[j] = 0;
      lens[j++] = len;
    }
  }
  return j;
}

static int raw_recv_many(struct weir_link *l, uint8_t *const *bufs,
                         const size_t *caps, size_t *lens, unsigned *flags,
                         int n)
{
  struct raw *r = l->state;
  int got;

  if (r->txq)
    flush_txq(r);
  got = recv_batch(l, bufs, caps, lens, flags, n);
  sync_bell(r);
  return got;
}

const struct weir_link_ops weir_link_raw = {
    .name = "raw",
    .type = WEIR_LINK_ETHERNET,
    .open = raw_open,
    .close = raw_close,
    .recv = raw_recv,
    .send = raw_send,
    .recv_many = raw_recv_many,
    .send_many = raw_send_many,
    .recv_meta = raw_recv_meta,
    .send_meta = raw_send_meta,
};
