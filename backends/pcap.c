/* The pcap backend: libpcap live capture in, pcap_inject out, on an
 * existing Ethernet interface.
 *
 * The same place on the network as the raw backend (weir with its own MAC
 * and IP on a shared segment), reached through libpcap instead of a
 * packet socket of weir's own: what a platform's capture library gives,
 * nothing more. The capture runs in immediate mode (each frame is handed
 * over as it arrives, not when a buffer fills), non-blocking, and its
 * selectable fd is what the driver polls.
 *
 * Which frames weir gets:
 *   - inbound only (pcap_setdirection PCAP_D_IN): what the host kernel
 *     sends on the interface is not for weir;
 *   - promiscuous mode: weir's MAC is not the interface's, and a NIC drops
 *     unicast frames for other MACs in hardware. libpcap has no finer way
 *     (the raw backend adds weir's MAC to the NIC's filter instead); the
 *     mode is undone when the capture closes;
 *   - once weir has sent its first frame, whose source is weir's MAC (weir
 *     speaks before anyone can know that MAC: its ARP reply or request),
 *     a BPF filter keeps only frames for that MAC and broadcast, which is
 *     all weir takes, and none from that MAC (where the direction cannot
 *     be set, weir's own frames would come back otherwise).
 *
 * Unlike the raw backend, libpcap cannot tell us what checksum or
 * segmentation offloads left undone (see raw.c): a local sender on the
 * far end of a veth must have them off (`ethtool -K PEER tx off`), or its
 * frames reach weir with partial checksums and are dropped. Frames longer
 * than the MTU (merged by GRO) are dropped here. */
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <pcap/pcap.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "link.h"

/* The capture ring: frames waiting for weir while it is busy. libpcap's
 * default (2 MiB) holds too few of them if its frame slots are 64 KiB,
 * which it chooses when the interface has offloads on. */
#define PCAP_BUFFER (8 * 1024 * 1024)

/* Room for an 802.1Q tag, which libpcap puts back into the frame. */
#define ETH_MAX_HLEN 18

struct pcapl {
  pcap_t *p;
  uint8_t mac[6]; /* weir's, once learnt */
  int mac_known;
};

/* Up and its MTU, asked of the kernel before libpcap is: its own messages
 * for these cases vary between versions, and it needs the MTU to size the
 * capture. */
static int inspect(struct weir_link *l, const char *name, int *mtu)
{
  struct ifreq ifr;
  int s, err = 0;

  s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s < 0)
    return weir_link_fail(l, -errno, "socket: %s", strerror(errno));
  memset(&ifr, 0, sizeof(ifr));
  memcpy(ifr.ifr_name, name, strlen(name));
  if (ioctl(s, SIOCGIFFLAGS, &ifr) < 0)
    err = weir_link_fail(l, -errno, "%s: cannot read its flags: %s", name,
                         strerror(errno));
  else if (!(ifr.ifr_flags & IFF_UP))
    err = weir_link_fail(l, -ENETDOWN, "%s is down (ip link set %s up)", name,
                         name);
  else if (ioctl(s, SIOCGIFMTU, &ifr) < 0)
    err = weir_link_fail(l, -errno, "%s: cannot read its MTU: %s", name,
                         strerror(errno));
  else
    *mtu = ifr.ifr_mtu;
  close(s);
  return err;
}

static int activate_error(struct weir_link *l, const char *name, int r)
{
  struct pcapl *pl = l->state;

  switch (r) {
  case PCAP_ERROR_NO_SUCH_DEVICE:
    return weir_link_fail(l, -ENODEV, "no interface '%s'", name);
  case PCAP_ERROR_PERM_DENIED:
    return weir_link_fail(l, -EPERM, "%s: %s (run as root or with CAP_NET_RAW)",
                          name, pcap_geterr(pl->p));
  case PCAP_ERROR_IFACE_NOT_UP:
    return weir_link_fail(l, -ENETDOWN, "%s is down (ip link set %s up)", name,
                          name);
  default:
    return weir_link_fail(l, -EIO, "%s: %s", name,
                          r == PCAP_ERROR ? pcap_geterr(pl->p)
                                          : pcap_statustostr(r));
  }
}

static int pcap_link_open(struct weir_link *l, const struct weir_link_params *p)
{
  const char *name = p->ifname ? p->ifname : "";
  char errbuf[PCAP_ERRBUF_SIZE];
  struct pcapl *pl;
  int mtu = 0, r, fd, fl;

  r = weir_link_existing_if(l, p);
  if (r < 0)
    return r;
  if (if_nametoindex(name) == 0)
    return weir_link_fail(l, -ENODEV, "no interface '%s'", name);
  r = inspect(l, name, &mtu);
  if (r < 0)
    return r;
  r = weir_link_set_mtu(l, name, mtu, p->mtu);
  if (r < 0)
    return r;

  pl = calloc(1, sizeof(*pl));
  if (!pl)
    return weir_link_fail(l, -ENOMEM, "out of memory");
  l->state = pl;
  errbuf[0] = '\0';
  pl->p = pcap_create(name, errbuf);
  if (!pl->p)
    return weir_link_fail(l, -EIO, "%s: %s", name, errbuf);
  /* A frame is never longer than this on the wire; capturing no more
   * keeps libpcap's ring slots small, and anything longer is truncated,
   * then dropped in recv. */
  pcap_set_snaplen(pl->p, mtu + ETH_MAX_HLEN);
  pcap_set_promisc(pl->p, 1);
  pcap_set_immediate_mode(pl->p, 1);
  pcap_set_buffer_size(pl->p, PCAP_BUFFER);
  r = pcap_activate(pl->p);
  if (r < 0)
    return activate_error(l, name, r);
  /* r > 0 is a warning (promiscuous mode not supported, say): go on. */
  if (pcap_datalink(pl->p) != DLT_EN10MB)
    return weir_link_fail(l, -EINVAL, "%s is not an Ethernet interface (%s)",
                          name,
                          pcap_datalink_val_to_name(pcap_datalink(pl->p)));
  /* Not every platform can; the filter set in learn_mac() then keeps
   * weir's own frames out instead. */
  pcap_setdirection(pl->p, PCAP_D_IN);
  if (pcap_setnonblock(pl->p, 1, errbuf) < 0)
    return weir_link_fail(l, -EIO, "%s: %s", name, errbuf);
  fd = pcap_get_selectable_fd(pl->p);
  if (fd < 0)
    return weir_link_fail(l, -EOPNOTSUPP, "%s: this capture cannot be polled",
                          name);
  /* pcap_setnonblock makes reads return at once, but pcap_inject writes
   * through the same descriptor and would still block when the socket's
   * send buffer is full; the driver wants EAGAIN then. */
  fl = fcntl(fd, F_GETFL);
  if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
    return weir_link_fail(l, -errno, "%s: fcntl: %s", name, strerror(errno));
  l->fd = fd;
  return 0;
}

static void pcap_link_close(struct weir_link *l)
{
  struct pcapl *pl = l->state;

  /* The fd is libpcap's: pcap_close closes it (and ends promiscuous
   * mode). */
  if (pl) {
    if (pl->p)
      pcap_close(pl->p);
    free(pl);
  }
  l->state = NULL;
  l->fd = -1;
}

static long pcap_link_recv(struct weir_link *l, uint8_t *buf, size_t cap)
{
  struct pcapl *pl = l->state;
  struct pcap_pkthdr *h;
  const u_char *data;
  int r;

  for (;;) {
    r = pcap_next_ex(pl->p, &h, &data);
    if (r == 0)
      return 0; /* nothing more for now */
    if (r < 0)
      return weir_link_fail(l, -EIO, "%s: %s", l->ifname,
                            r == PCAP_ERROR ? pcap_geterr(pl->p)
                                            : pcap_statustostr(r));
    /* A truncated frame would be misread as a shorter one. */
    if (h->caplen < h->len || h->caplen > cap)
      continue;
    memcpy(buf, data, h->caplen);
    return (long)h->caplen;
  }
}

/* Called with every frame weir sends until it knows weir's MAC. */
static void learn_mac(struct weir_link *l, const uint8_t *frame, size_t len)
{
  struct pcapl *pl = l->state;
  const uint8_t *m = frame + 6;
  struct bpf_program prog;
  char expr[160];

  if (len < 14 || (m[0] & 1) || !memcmp(m, "\0\0\0\0\0\0", 6))
    return;
  memcpy(pl->mac, m, 6);
  pl->mac_known = 1;
  snprintf(expr, sizeof(expr),
           "(ether dst %02x:%02x:%02x:%02x:%02x:%02x or ether broadcast) "
           "and not ether src %02x:%02x:%02x:%02x:%02x:%02x",
           m[0], m[1], m[2], m[3], m[4], m[5], m[0], m[1], m[2], m[3], m[4],
           m[5]);
  /* Should it fail, weir gets every inbound frame: more copies, nothing
   * lost (it drops what is not for it). */
  if (pcap_compile(pl->p, &prog, expr, 1, PCAP_NETMASK_UNKNOWN) == 0) {
    pcap_setfilter(pl->p, &prog);
    pcap_freecode(&prog);
  }
}

static int pcap_link_send(struct weir_link *l, const uint8_t *buf, size_t len)
{
  struct pcapl *pl = l->state;
  int err;

  if (!pl->mac_known)
    learn_mac(l, buf, len);
  if (pcap_inject(pl->p, buf, len) >= 0)
    return 1;
  /* libpcap keeps errno from the failed send(); EAGAIN: the socket's
   * buffer is full, and the driver keeps the frame until POLLOUT.
   * Anything else loses it, as a wire would. */
  err = errno;
  if (err == EAGAIN || err == EWOULDBLOCK)
    return 0;
  return weir_link_fail(l, err > 0 ? -err : -EIO, "%s: %s", l->ifname,
                        pcap_geterr(pl->p));
}

const struct weir_link_ops weir_link_pcap = {
    .name = "pcap",
    .type = WEIR_LINK_ETHERNET,
    .open = pcap_link_open,
    .close = pcap_link_close,
    .recv = pcap_link_recv,
    .send = pcap_link_send,
};
