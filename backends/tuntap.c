/* The tun and tap backends: /dev/net/tun, non-blocking.
 *
 * tun (IFF_TUN|IFF_NO_PI) carries bare IPv4 packets, tap (IFF_TAP) Ethernet
 * frames; everything else is shared. Opening can also configure the
 * kernel's side of the device (address, netmask, MTU, up) with plain
 * ioctls, so that `ping` and `nc -u` on the host reach weir at once
 * without the app shelling out to ip(8).
 *
 * Offloads (unless --no-offload): a TUN or TAP device has no recvmmsg,
 * so what makes bulk TCP fast is moving fewer, larger packets. With
 * IFF_VNET_HDR every packet comes and goes behind a virtio_net_hdr, and
 * TUNSETOFFLOAD (TUN_F_CSUM | TUN_F_TSO4) tells the kernel that weir
 * takes TCP segments it neither cut nor checksummed. Then:
 *
 *   - out, weir hands the kernel TCP super-segments of up to 64 KiB
 *     (gso_type TCPV4, gso_size the MSS) with the checksum left partial;
 *     the host's stack takes them whole, as from a virtio guest, or cuts
 *     them if they leave through another device;
 *   - in, the kernel hands weir its own TSO segments uncut and its GRO'd
 *     ones unsplit, longer than the MTU, and says which checksums it
 *     vouches for (DATA_VALID) or never computed (NEEDS_CSUM: the host's
 *     own packets, with nothing in between to corrupt them).
 *
 * On tap the header's offsets (csum_start, hdr_len) count from the
 * Ethernet header, as weir_output_meta's do. recv_meta and send_meta
 * pass that between the kernel and weir's core; plain recv and send
 * complete a partial checksum here and send nothing but complete
 * packets. If the kernel refuses TUNSETOFFLOAD, the header stays (the
 * device cannot drop it once attached) but is always empty, and the
 * link reports no offloads. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <linux/virtio_net.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "link.h"
#include "weir/addr.h"

static const char tun_path[] = "/dev/net/tun";

#define VNET_HLEN sizeof(struct virtio_net_hdr)

/* The largest IPv4 packet weir sends for the kernel to cut. */
#define TSO_MAX 65535

/* l->state when the device has a virtio_net_hdr; NULL without. */
struct vnet {
  struct virtio_net_hdr none; /* all zero: nothing to do */
};

/* The kernel's own names are as good as any, except for the failures a
 * user can fix; those get a hint. */
static const char *open_hint(int err)
{
  switch (err) {
  case ENOENT:
  case ENODEV:
  case ENXIO:
    return " (is the tun module loaded? try: modprobe tun)";
  case EACCES:
  case EPERM:
    return " (run as root or with CAP_NET_ADMIN)";
  default:
    return "";
  }
}

static const char *setiff_hint(int err)
{
  switch (err) {
  case EPERM:
    return " (run as root or with CAP_NET_ADMIN)";
  case EINVAL:
    return " (bad name, or a device of another kind has it)";
  case EBUSY:
    return " (another process holds it)";
  default:
    return "";
  }
}

static void set_sin(struct sockaddr *sa, uint32_t addr)
{
  struct sockaddr_in sin;

  memset(&sin, 0, sizeof(sin));
  sin.sin_family = AF_INET;
  sin.sin_addr.s_addr = htonl(addr);
  memcpy(sa, &sin, sizeof(sin));
}

/* Address, netmask, MTU and IFF_UP for the kernel's side, through an
 * AF_INET datagram socket as ifconfig(8) does. */
static int configure(struct weir_link *l, const struct weir_link_params *p)
{
  struct ifreq ifr;
  char ip[INET_ADDRSTRLEN];
  int s, err = 0;

  s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s < 0)
    return weir_link_fail(l, -errno, "socket: %s", strerror(errno));

  memset(&ifr, 0, sizeof(ifr));
  memcpy(ifr.ifr_name, l->ifname, sizeof(ifr.ifr_name));

  if (p->mtu) {
    ifr.ifr_mtu = p->mtu;
    if (ioctl(s, SIOCSIFMTU, &ifr) < 0) {
      err = weir_link_fail(l, -errno, "%s: cannot set MTU %u: %s", l->ifname,
                           (unsigned)p->mtu, strerror(errno));
      goto out;
    }
  }
  if (ioctl(s, SIOCGIFMTU, &ifr) < 0) {
    err = weir_link_fail(l, -errno, "%s: cannot read MTU: %s", l->ifname,
                         strerror(errno));
    goto out;
  }
  /* weir's core refuses MTUs below IPv4's minimum; so must we. */
  if (ifr.ifr_mtu < 576 || ifr.ifr_mtu > 65535) {
    err = weir_link_fail(l, -EINVAL, "%s: MTU %d is outside 576..65535",
                         l->ifname, ifr.ifr_mtu);
    goto out;
  }
  l->mtu = (uint16_t)ifr.ifr_mtu;

  if (p->kernel_ip) {
    struct in_addr a = {htonl(p->kernel_ip)};

    inet_ntop(AF_INET, &a, ip, sizeof(ip));
    set_sin(&ifr.ifr_addr, p->kernel_ip);
    if (ioctl(s, SIOCSIFADDR, &ifr) < 0) {
      err = weir_link_fail(l, -errno, "%s: cannot assign %s: %s", l->ifname, ip,
                           strerror(errno));
      goto out;
    }
    /* SIOCSIFADDR took a classful mask; the prefix comes second. The
     * kernel then recomputes the broadcast address for tap. */
    set_sin(&ifr.ifr_netmask, weir_ipv4_netmask(p->kernel_prefix));
    if (ioctl(s, SIOCSIFNETMASK, &ifr) < 0) {
      err =
          weir_link_fail(l, -errno, "%s: cannot set netmask /%u: %s", l->ifname,
                         (unsigned)p->kernel_prefix, strerror(errno));
      goto out;
    }
  }

  if (ioctl(s, SIOCGIFFLAGS, &ifr) < 0) {
    err = weir_link_fail(l, -errno, "%s: cannot read flags: %s", l->ifname,
                         strerror(errno));
    goto out;
  }
  if (!(ifr.ifr_flags & IFF_UP)) {
    ifr.ifr_flags |= IFF_UP;
    if (ioctl(s, SIOCSIFFLAGS, &ifr) < 0) {
      err = weir_link_fail(l, -errno, "%s: cannot bring it up: %s", l->ifname,
                           strerror(errno));
      goto out;
    }
  }
out:
  close(s);
  return err;
}

/* The virtio_net_hdr's size, and the offloads (see the top). Failing
 * that, the header stays empty and weir does all the work itself. */
static void set_offloads(struct weir_link *l)
{
  int hlen = (int)VNET_HLEN;

  if (ioctl(l->fd, TUNSETVNETHDRSZ, &hlen) < 0 ||
      ioctl(l->fd, TUNSETOFFLOAD, TUN_F_CSUM | TUN_F_TSO4) < 0)
    return;
  l->tx_csum_offload = 1;
  l->tx_tso_max = TSO_MAX;
}

static int tuntap_open(struct weir_link *l, const struct weir_link_params *p)
{
  const char *name = p->ifname && p->ifname[0] ? p->ifname : "weir%d";
  int vnet = !p->no_offload;
  struct ifreq ifr;
  int fd;

  if (strlen(name) >= sizeof(ifr.ifr_name))
    return weir_link_fail(l, -EINVAL,
                          "device name '%s' is longer than %zu bytes", name,
                          sizeof(ifr.ifr_name) - 1);
  /* TUNSETIFF creates whatever is missing; without `create` that would
   * hide a typo behind a fresh, unconfigured device. */
  if (!p->create && if_nametoindex(name) == 0)
    return weir_link_fail(
        l, -ENODEV, "no device '%s' (create it, or let weir do so)", name);

  fd = open(tun_path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0)
    return weir_link_fail(l, -errno, "cannot open %s: %s%s", tun_path,
                          strerror(errno), open_hint(errno));
  l->fd = fd;

  memset(&ifr, 0, sizeof(ifr));
  /* IFF_NO_PI: no 4-byte packet-information prefix; the frame starts at
   * byte 0, which is what weir_input expects. */
  ifr.ifr_flags =
      (short)(IFF_NO_PI | (l->ops->type == WEIR_LINK_IP ? IFF_TUN : IFF_TAP) |
              (vnet ? IFF_VNET_HDR : 0));
  memcpy(ifr.ifr_name, name, strlen(name));
  if (ioctl(fd, TUNSETIFF, &ifr) < 0)
    return weir_link_fail(l, -errno, "cannot attach '%s': %s%s", name,
                          strerror(errno), setiff_hint(errno));
  memcpy(l->ifname, ifr.ifr_name, sizeof(l->ifname));
  l->ifname[sizeof(l->ifname) - 1] = '\0';
  if (vnet) {
    l->state = calloc(1, sizeof(struct vnet));
    if (!l->state)
      return weir_link_fail(l, -ENOMEM, "out of memory");
    set_offloads(l);
  }

  return configure(l, p);
}

static void tuntap_close(struct weir_link *l)
{
  /* The last close of a non-persistent device deletes it, addresses and
   * routes with it. */
  if (l->fd >= 0)
    close(l->fd);
  l->fd = -1;
  free(l->state);
  l->state = NULL;
}

/* One packet into buf, behind its virtio_net_hdr (into *vh) if the
 * device has one. Returns its length, 0 (EAGAIN) or -errno. */
static long read_one(struct weir_link *l, struct virtio_net_hdr *vh,
                     uint8_t *buf, size_t cap)
{
  struct iovec iov[2] = {{vh, VNET_HLEN}, {buf, cap}};
  ssize_t n;

  do
    n = l->state ? readv(l->fd, iov, 2) : read(l->fd, buf, cap);
  while (n < 0 && errno == EINTR);
  if (n < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK)
      return 0;
    return weir_link_fail(l, -errno, "read: %s", strerror(errno));
  }
  if (!l->state) {
    memset(vh, 0, VNET_HLEN);
    return (long)n;
  }
  /* Shorter than its header: nothing a kernel sends; read on. */
  return (size_t)n > VNET_HLEN ? (long)((size_t)n - VNET_HLEN) : -EAGAIN;
}

/* Where the IPv4 header starts in the link's frames. */
static size_t l3_off(const struct weir_link *l)
{
  return l->ops->type == WEIR_LINK_ETHERNET ? 14 : 0;
}

static long tuntap_recv_meta(struct weir_link *l, uint8_t *buf, size_t cap,
                             unsigned *flags)
{
  struct virtio_net_hdr vh;
  long n;

  for (;;) {
    n = read_one(l, &vh, buf, cap);
    if (n == -EAGAIN)
      continue;
    if (n <= 0 || weir_link_vnet_rx(&vh, buf, (size_t)n, l3_off(l), flags) == 0)
      return n;
    /* A checksum that cannot be completed: a packet weir cannot take. */
  }
}

static long tuntap_recv(struct weir_link *l, uint8_t *buf, size_t cap)
{
  struct virtio_net_hdr vh;
  long n;

  for (;;) {
    n = read_one(l, &vh, buf, cap);
    if (n == -EAGAIN)
      continue;
    if (n <= 0 || !(vh.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM))
      return n;
    if (weir_link_csum_complete(buf, (size_t)n, l3_off(l), vh.csum_start,
                                vh.csum_offset) == 0)
      return n;
  }
}

static int write_one(struct weir_link *l, const struct virtio_net_hdr *vh,
                     const uint8_t *buf, size_t len)
{
  struct iovec iov[2] = {{(void *)vh, VNET_HLEN}, {(void *)buf, len}};
  ssize_t n;

  do
    n = l->state ? writev(l->fd, iov, 2) : write(l->fd, buf, len);
  while (n < 0 && errno == EINTR);
  if (n >= 0)
    return 1; /* a tun write takes the whole frame or none of it */
  if (errno == EAGAIN || errno == EWOULDBLOCK)
    return 0;
  return weir_link_fail(l, -errno, "write: %s", strerror(errno));
}

static int tuntap_send(struct weir_link *l, const uint8_t *buf, size_t len)
{
  const struct vnet *v = l->state;

  return write_one(l, v ? &v->none : NULL, buf, len);
}

static int tuntap_send_meta(struct weir_link *l, const uint8_t *buf, size_t len,
                            const struct weir_tx_meta *m)
{
  struct virtio_net_hdr vh;

  if (!l->state)
    return weir_link_fail(l, -EINVAL, "%s: no virtio-net header to offload to",
                          l->ifname);
  weir_link_vnet_tx(&vh, m);
  return write_one(l, &vh, buf, len);
}

const struct weir_link_ops weir_link_tun = {
    .name = "tun",
    .type = WEIR_LINK_IP,
    .open = tuntap_open,
    .close = tuntap_close,
    .recv = tuntap_recv,
    .send = tuntap_send,
    .recv_meta = tuntap_recv_meta,
    .send_meta = tuntap_send_meta,
};

const struct weir_link_ops weir_link_tap = {
    .name = "tap",
    .type = WEIR_LINK_ETHERNET,
    .open = tuntap_open,
    .close = tuntap_close,
    .recv = tuntap_recv,
    .send = tuntap_send,
    .recv_meta = tuntap_recv_meta,
    .send_meta = tuntap_send_meta,
};
