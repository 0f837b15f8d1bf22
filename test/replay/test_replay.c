/* Replay tests: exchanges between weir's echoserver and Linux, recorded
 * with tcpdump on the TUN/TAP device (test/replay/record.sh), are fed
 * back into a fresh core at their recorded times. Whatever the core sends
 * must equal, byte for byte and in order, what weir sent in the recording.
 *
 * Each recording NAME.pcap has a NAME.conf beside it that says how the
 * stack was configured (the same flags the app was given):
 *   link=ip|ethernet  ip=A.B.C.D/N  mac=..  gw=..  seed=N  echo_port=N
 * The app side is replayed too: a UDP echo on echo_port, as echoserver -u
 * does. Each recording is replayed twice and both runs must agree. */
#include <dirent.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness/test.h"
#include "weir/weir.h"
#include "wire/ethernet.h"
#include "wire/ipv4.h"

#define MAX_PKTS 4096

struct rec {
  uint64_t t; /* microseconds since the first packet */
  int ours;   /* sent by weir */
  size_t len;
  uint8_t *data;
};

struct replay {
  struct weir_config cfg;
  uint16_t echo_port;
  struct rec pkts[MAX_PKTS];
  size_t n;
};

static const char *dir = "test/replay";

static int load_conf(struct replay *r, const char *path)
{
  FILE *f = fopen(path, "r");
  char line[256];
  if (!f)
    return -1;
  weir_config_default(&r->cfg);
  while (fgets(line, sizeof(line), f)) {
    char *v = strchr(line, '=');
    if (line[0] == '#' || !v)
      continue;
    *v++ = '\0';
    v[strcspn(v, "\r\n")] = '\0';
    if (!strcmp(line, "link"))
      r->cfg.link = !strcmp(v, "ip") ? WEIR_LINK_IP : WEIR_LINK_ETHERNET;
    else if (!strcmp(line, "ip")) {
      if (weir_ipv4_parse_cidr(v, &r->cfg.ip, &r->cfg.prefix_len) != 0)
        goto bad;
    } else if (!strcmp(line, "gw")) {
      if (weir_ipv4_parse_text(v, &r->cfg.gateway) != 0)
        goto bad;
    } else if (!strcmp(line, "mac")) {
      if (weir_mac_parse(v, r->cfg.mac) != 0)
        goto bad;
    } else if (!strcmp(line, "seed"))
      weir_config_seed(&r->cfg, strtoull(v, NULL, 10));
    else if (!strcmp(line, "mtu"))
      r->cfg.mtu = (uint16_t)atoi(v);
    else if (!strcmp(line, "echo_port"))
      r->echo_port = (uint16_t)atoi(v);
  }
  fclose(f);
  return 0;
bad:
  fclose(f);
  return -1;
}

/* Was this packet sent by weir? By source MAC on Ethernet, by source IP
 * on a bare IP link. */
static int from_weir(const struct weir_config *c, const uint8_t *p, size_t n)
{
  if (c->link == WEIR_LINK_ETHERNET)
    return n >= WEIR_ETH_HLEN && memcmp(p + 6, c->mac, 6) == 0;
  return n >= 20 && (p[0] >> 4) == 4 &&
         ((uint32_t)p[12] << 24 | (uint32_t)p[13] << 16 | (uint32_t)p[14] << 8 |
          p[15]) == c->ip;
}

static int load_pcap(struct replay *r, const char *path, char *err)
{
  pcap_t *p = pcap_open_offline(path, err);
  struct pcap_pkthdr *h;
  const u_char *data;
  uint64_t t0 = 0;
  int dlt;
  if (!p)
    return -1;
  dlt = pcap_datalink(p);
  if ((r->cfg.link == WEIR_LINK_ETHERNET && dlt != DLT_EN10MB) ||
      (r->cfg.link == WEIR_LINK_IP && dlt != DLT_RAW && dlt != DLT_IPV4)) {
    snprintf(err, PCAP_ERRBUF_SIZE, "link type %d does not match conf", dlt);
    pcap_close(p);
    return -1;
  }
  r->n = 0;
  while (pcap_next_ex(p, &h, &data) == 1 && r->n < MAX_PKTS) {
    uint64_t t = (uint64_t)h->ts.tv_sec * 1000000u + (uint64_t)h->ts.tv_usec;
    struct rec *k = &r->pkts[r->n++];
    if (r->n == 1)
      t0 = t;
    k->t = t - t0;
    k->len = h->caplen;
    k->data = malloc(h->caplen ? h->caplen : 1);
    memcpy(k->data, data, h->caplen);
    k->ours = from_weir(&r->cfg, data, h->caplen);
  }
  pcap_close(p);
  return 0;
}

/* What echoserver -u does with events: echo every datagram. */
static void run_app(struct weir_stack *s, int sock, uint64_t now)
{
  struct weir_event ev;
  uint8_t buf[65536];
  while (weir_next_event(s, &ev)) {
    uint32_t addr;
    uint16_t port;
    int n;
    if (ev.sock != sock)
      continue;
    while ((n = weir_udp_recvfrom(s, sock, buf, sizeof(buf), &addr, &port)) >=
           0)
      weir_udp_sendto(s, sock, buf, (size_t)n, addr, port, now);
    weir_sock_error(s, sock, NULL, NULL);
  }
}

/* Replays r; returns the number of weir packets matched, or -1 after
 * printing the first difference. `base` is added to every time (the core
 * must not care where time starts). */
static int replay(struct replay *r, uint64_t base)
{
  struct weir_stack *s;
  uint8_t out[65536];
  size_t next_ours = 0, matched = 0;
  int sock = -1;

  if (weir_stack_new(&r->cfg, &s) != 0) {
    printf("     cannot create stack from conf\n");
    return -1;
  }
  if (r->echo_port) {
    sock = weir_udp_open(s);
    weir_udp_bind(s, sock, r->echo_port);
  }
  for (size_t i = 0; i <= r->n; i++) {
    uint64_t now = i < r->n ? base + r->pkts[i].t : UINT64_MAX - 1;
    if (i < r->n && r->pkts[i].ours)
      continue;
    /* Everything the core sends before this inbound packet (timers due
     * in between, then what earlier input caused) must be the next
     * packets weir sent in the recording. */
    for (;;) {
      size_t n;
      uint64_t d = weir_deadline(s);
      if (d <= now && i < r->n)
        weir_timers(s, d);
      run_app(s, sock, d <= now ? d : now);
      while ((n = weir_output(s, out, sizeof(out), now)) > 0) {
        while (next_ours < r->n && !r->pkts[next_ours].ours)
          next_ours++;
        if (next_ours >= r->n || next_ours > i) {
          printf("     packet %zu: weir sent %zu bytes the recording does "
                 "not have here\n",
                 next_ours + 1, n);
          weir_stack_free(s);
          return -1;
        }
        if (n != r->pkts[next_ours].len ||
            memcmp(out, r->pkts[next_ours].data, n) != 0) {
          printf("     packet %zu differs:\n", next_ours + 1);
          wt_hexdiff(out, n, r->pkts[next_ours].data, r->pkts[next_ours].len);
          weir_stack_free(s);
          return -1;
        }
        next_ours++;
        matched++;
      }
      if (i == r->n || weir_deadline(s) > now)
        break;
    }
    if (i < r->n)
      weir_input(s, r->pkts[i].data, r->pkts[i].len, now);
  }
  while (next_ours < r->n && !r->pkts[next_ours].ours)
    next_ours++;
  weir_stack_free(s);
  if (next_ours < r->n) {
    printf("     packet %zu: recorded from weir, never sent in replay\n",
           next_ours + 1);
    return -1;
  }
  return (int)matched;
}

static void free_recs(struct replay *r)
{
  for (size_t i = 0; i < r->n; i++)
    free(r->pkts[i].data);
  r->n = 0;
}

static void replay_one(const char *name)
{
  static struct replay r;
  char path[512], err[PCAP_ERRBUF_SIZE];
  int a, b;

  memset(&r, 0, sizeof(r));
  snprintf(path, sizeof(path), "%s/%s.conf", dir, name);
  if (load_conf(&r, path) != 0) {
    wt_fail(__FILE__, __LINE__, "%s: cannot read", path);
    return;
  }
  snprintf(path, sizeof(path), "%s/%s.pcap", dir, name);
  if (load_pcap(&r, path, err) != 0) {
    wt_fail(__FILE__, __LINE__, "%s: %s", path, err);
    return;
  }
  a = replay(&r, 1000000);
  b = a > 0 ? replay(&r, 987654321000u) : -1;
  if (a <= 0 || b != a)
    wt_fail(__FILE__, __LINE__, "%s: replay %d, again %d", name, a, b);
  else
    printf("     %s: %zu packets, %d sent by weir matched twice\n", name, r.n,
           a);
  free_recs(&r);
}

/* One test per recording, registered at start-up from the directory. */
static char names[32][128];
static int nnames;

#define REPLAY_TEST(i)                                                         \
  static void replay_##i(void)                                                 \
  {                                                                            \
    if (i < nnames)                                                            \
      replay_one(names[i]);                                                    \
  }

REPLAY_TEST(0)
REPLAY_TEST(1)
REPLAY_TEST(2)
REPLAY_TEST(3)
REPLAY_TEST(4)
REPLAY_TEST(5)
REPLAY_TEST(6)
REPLAY_TEST(7)

static const wt_fn replay_fns[] = {replay_0, replay_1, replay_2, replay_3,
                                   replay_4, replay_5, replay_6, replay_7};

__attribute__((constructor)) static void find_recordings(void)
{
  DIR *d;
  struct dirent *e;
  static char testnames[8][160];
  const char *env = getenv("WEIR_REPLAY_DIR");
  if (env)
    dir = env;
  d = opendir(dir);
  if (!d)
    return;
  while ((e = readdir(d)) != NULL && nnames < 8) {
    size_t l = strlen(e->d_name);
    if (l > 5 && l < 120 && !strcmp(e->d_name + l - 5, ".pcap")) {
      memcpy(names[nnames], e->d_name, l - 5);
      names[nnames][l - 5] = '\0';
      nnames++;
    }
  }
  closedir(d);
  for (int i = 0; i < nnames; i++) {
    snprintf(testnames[i], sizeof(testnames[i]), "test_replay_%s", names[i]);
    wt_register(testnames[i], "test_replay.c", replay_fns[i]);
  }
}
