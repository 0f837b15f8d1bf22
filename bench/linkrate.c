/* linkrate: how many MTU-sized frames a link takes per second through the
 * same calls weir's backends make, for bench/net.sh's link figures.
 *
 *   linkrate tun DEV SECONDS    write() of 1500-byte IPv4 packets to a new
 *                               TUN device DEV (IFF_TUN|IFF_NO_PI, up)
 *   linkrate tap DEV SECONDS    write() of 1514-byte Ethernet frames to a
 *                               new TAP device DEV (up)
 *   linkrate raw IF SECONDS     sendmmsg(), 64 frames a call, of 1514-byte
 *                               frames on an AF_PACKET socket bound to IF
 *   linkrate pcap IF SECONDS    pcap_inject() of the same frames on IF
 *
 * Prints "FRAMES SECONDS ERRORS": frames the kernel took, the time taken
 * and sends it refused (ENOBUFS from a full queue; not counted as
 * frames). The script turns that into frames/s and the Gbit/s of 1500-byte
 * IP packets, the unit of the TCP figures beside them.
 *
 * The frames cross the device into the far side's kernel and are dropped
 * at its first IPv4 check (ip_rcv): on Ethernet their destination MAC is
 * nobody's (PACKET_OTHERHOST); a TUN packet has no MAC, so its header
 * checksum is wrong instead. Both drops happen at the same place, so the
 * kinds compare, and no deeper, so the figure is the link's own cost with
 * no stack above it: a ceiling for weir's rate through the same calls,
 * not a target a TCP could reach. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <pcap/pcap.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "tool.h"

#define IP_LEN  1500
#define ETH_HDR 14
#define BATCH   64

static uint8_t frame[ETH_HDR + IP_LEN];

/* An IPv4/UDP packet of IP_LEN bytes from 10.77.209.2 to 10.77.209.99
 * (nobody) at f: in an Ethernet frame to 02:77:00:00:ff:01 (nobody) when
 * eth, else with a header checksum one off. */
static void build(uint8_t *f, int eth)
{
  static const uint8_t dst[6] = {0x02, 0x77, 0, 0, 0xff, 0x01};
  static const uint8_t src[6] = {0x02, 0x77, 0, 0, 0xff, 0x02};
  uint8_t *ip = f + (eth ? ETH_HDR : 0);
  uint32_t sum = 0;
  int i;

  if (eth) {
    memcpy(f, dst, 6);
    memcpy(f + 6, src, 6);
    f[12] = 0x08; /* IPv4 */
    f[13] = 0x00;
  }
  memset(ip, 0, IP_LEN);
  ip[0] = 0x45;
  ip[2] = IP_LEN >> 8;
  ip[3] = IP_LEN & 0xff;
  ip[6] = 0x40; /* DF */
  ip[8] = 64;   /* TTL */
  ip[9] = 17;   /* UDP */
  memcpy(ip + 12, (uint8_t[]){10, 77, 209, 2}, 4);
  memcpy(ip + 16, (uint8_t[]){10, 77, 209, 99}, 4);
  for (i = 0; i < 20; i += 2)
    sum += (uint32_t)(ip[i] << 8 | ip[i + 1]);
  while (sum >> 16)
    sum = (sum & 0xffff) + (sum >> 16);
  sum = ~sum & 0xffff;
  if (!eth)
    sum ^= 1;
  ip[10] = (uint8_t)(sum >> 8);
  ip[11] = (uint8_t)sum;
  ip[20] = 0x9c; /* UDP 40000 -> 40001, no checksum */
  ip[21] = 0x40;
  ip[22] = 0x9c;
  ip[23] = 0x41;
  ip[24] = (IP_LEN - 20) >> 8;
  ip[25] = (IP_LEN - 20) & 0xff;
}

static void report(uint64_t frames, double secs, uint64_t errors)
{
  printf("%llu %.3f %llu\n", (unsigned long long)frames, secs,
         (unsigned long long)errors);
}

/* Sets IFF_UP on ifname. */
static void link_up(const char *ifname)
{
  struct ifreq ifr = {0};
  int s = socket(AF_INET, SOCK_DGRAM, 0);

  if (s < 0)
    die("socket");
  snprintf(ifr.ifr_name, IFNAMSIZ, "%s", ifname);
  if (ioctl(s, SIOCGIFFLAGS, &ifr) < 0)
    die("SIOCGIFFLAGS");
  ifr.ifr_flags |= IFF_UP;
  if (ioctl(s, SIOCSIFFLAGS, &ifr) < 0)
    die("SIOCSIFFLAGS");
  close(s);
}

static int run_tuntap(int tap, const char *dev, double secs)
{
  struct ifreq ifr = {0};
  uint64_t frames = 0, errors = 0;
  size_t len = tap ? sizeof(frame) : IP_LEN;
  double t0, t = 0;
  int fd, i;

  fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
  if (fd < 0)
    die("/dev/net/tun");
  ifr.ifr_flags = (short)(IFF_NO_PI | (tap ? IFF_TAP : IFF_TUN));
  snprintf(ifr.ifr_name, IFNAMSIZ, "%s", dev);
  if (ioctl(fd, TUNSETIFF, &ifr) < 0)
    die("TUNSETIFF");
  link_up(dev);
  build(frame, tap);
  t0 = now_s();
  while (t - t0 < secs) {
    for (i = 0; i < BATCH; i++) {
      if (write(fd, frame, len) == (ssize_t)len)
        frames++;
      else
        errors++;
    }
    t = now_s();
  }
  report(frames, t - t0, errors);
  close(fd);
  return 0;
}

static int run_raw(const char *ifname, double secs)
{
  struct sockaddr_ll sll = {.sll_family = AF_PACKET,
                            .sll_protocol = 0}; /* send only */
  struct mmsghdr mm[BATCH];
  struct iovec iov = {.iov_base = frame, .iov_len = sizeof(frame)};
  uint64_t frames = 0, errors = 0;
  double t0, t = 0;
  int fd, i, n;

  fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
  if (fd < 0)
    die("socket(AF_PACKET)");
  sll.sll_ifindex = (int)if_nametoindex(ifname);
  if (sll.sll_ifindex == 0)
    die(ifname);
  if (bind(fd, (struct sockaddr *)&sll, sizeof(sll)) < 0)
    die("bind");
  build(frame, 1);
  memset(mm, 0, sizeof(mm));
  for (i = 0; i < BATCH; i++) {
    mm[i].msg_hdr.msg_iov = &iov;
    mm[i].msg_hdr.msg_iovlen = 1;
  }
  t0 = now_s();
  while (t - t0 < secs) {
    n = sendmmsg(fd, mm, BATCH, 0);
    if (n > 0)
      frames += (uint64_t)n;
    if (n < BATCH)
      errors++; /* the frame after the last taken was refused */
    t = now_s();
  }
  report(frames, t - t0, errors);
  close(fd);
  return 0;
}

static int run_pcap(const char *ifname, double secs)
{
  char err[PCAP_ERRBUF_SIZE];
  uint64_t frames = 0, errors = 0;
  double t0, t = 0;
  pcap_t *p;
  int i;

  p = pcap_create(ifname, err);
  if (!p) {
    fprintf(stderr, "linkrate: pcap_create: %s\n", err);
    return 1;
  }
  /* Nothing is read: a small capture buffer, as little work as can be. */
  pcap_set_snaplen(p, 64);
  pcap_set_immediate_mode(p, 1);
  if (pcap_activate(p) < 0) {
    fprintf(stderr, "linkrate: pcap_activate: %s\n", pcap_geterr(p));
    return 1;
  }
  build(frame, 1);
  t0 = now_s();
  while (t - t0 < secs) {
    for (i = 0; i < BATCH; i++) {
      if (pcap_inject(p, frame, sizeof(frame)) == (int)sizeof(frame))
        frames++;
      else
        errors++;
    }
    t = now_s();
  }
  report(frames, t - t0, errors);
  pcap_close(p);
  return 0;
}

int main(int argc, char **argv)
{
  double secs;

  if (argc != 4 || (secs = atof(argv[3])) <= 0) {
    fprintf(stderr, "usage: linkrate tun|tap|raw|pcap DEV SECONDS\n");
    return 2;
  }
  alarm((unsigned)secs + 10);
  if (strcmp(argv[1], "tun") == 0)
    return run_tuntap(0, argv[2], secs);
  if (strcmp(argv[1], "tap") == 0)
    return run_tuntap(1, argv[2], secs);
  if (strcmp(argv[1], "raw") == 0)
    return run_raw(argv[2], secs);
  if (strcmp(argv[1], "pcap") == 0)
    return run_pcap(argv[2], secs);
  fprintf(stderr, "linkrate: unknown kind %s\n", argv[1]);
  return 2;
}
