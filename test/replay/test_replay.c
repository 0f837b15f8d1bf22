/* Replay tests: exchanges between weir's apps and Linux, recorded with
 * tcpdump on the TUN/TAP device (test/replay/record.sh), are fed back
 * into a fresh core at their recorded times, with the app's part played
 * by an emulation that calls the core where the app does. Whatever the
 * core sends must equal, byte for byte and in order, what weir sent in
 * the recording, and go out within SLACK_US of when it did. Each
 * recording is replayed twice, at clocks 100 periods apart, and both
 * runs must agree.
 *
 * Each recording NAME.pcap has a NAME.conf beside it that says how the
 * stack was configured (what the app gave weir_stack_new) and what the
 * app did:
 *   link=ip|ethernet  ip=A.B.C.D/N  mac=..  gw=..  mtu=N  seed=N
 *   msl_ms=N          cfg.tcp_msl_us (the apps' --msl; 1000 if absent, the
 *                     apps' default, which they set even for UDP)
 *   trace_entries=N   cfg.trace_entries (the apps set 256 with -v, TCP)
 *   app=udp-echo      echoserver -u on port=N (or echo_port=N)
 *   app=tcp-echo-server
 *                     echoserver on port=N, exiting after count=N
 *                     connections have ended
 *   app=tcp-client    echoclient to connect=A.B.C.D:P with stdin=HEX, a
 *                     regular file (read whole once connected), stdout a
 *                     regular file
 *
 * Time. The core's `now` in the recording was the app's monotonic clock,
 * not the capture's. Two things in TCP segments show it: the ISN (RFC
 * 6528: a keyed hash of the 4-tuple plus now/4) and TSval (now/1000 plus
 * a keyed per-connection offset). A TCP recording holds one connection;
 * a first run (the probe) replays it up to weir's SYN or SYN-ACK at an
 * arbitrary base, and the difference between the ISN it made and the one
 * recorded says how far to shift the clock, to 4 us, modulo 2^34 us (the
 * ISN clock's period); of the 250 such shifts within the period common
 * to both clocks (1000 x 2^32 us), the one whose TSval matches the
 * recorded one is the app's clock. Every replay then runs at that clock
 * (plus whole periods), where the TCB is made at the very `now` that
 * gives the recorded ISN: the keyed parts come from the core itself, not
 * from a copy of its hash. The server's TCB is made as it reads the SYN,
 * which pins the whole clock. The client's is made by its connect, which
 * a cold process calls some hundreds of microseconds before its first
 * frame is captured: the connect happens at its pinned time, and the
 * rest at the clock that gives the most recorded TSvals, between 0 and
 * SLACK_US later (the lead, printed).
 *
 * The driver is emulated too: after an input, a timer or an app call,
 * output and events alternate until neither has more (backends/driver.c
 * run()); the timer is armed for the deadline rounded up to a whole
 * millisecond and fires as libuv does (see arm_timer).
 *
 * Even so, the app's clock and the capture's agree only to some tens or
 * hundreds of microseconds (the capture stamps a frame before the app
 * reads it and after the app writes it; the app takes time to answer;
 * timers fire late), so a segment's TSval, a millisecond count, may
 * differ by one where the two fall on either side of a millisecond. A
 * TCP segment whose bytes differ is therefore accepted if, with our
 * TSval replaced by the recorded one (at most 1 away) and the TCP
 * checksum recomputed, it equals the recorded segment byte for byte:
 * every other field, the IP header included, is still compared exactly,
 * and our checksum must have been right. Everything else (UDP, ICMP,
 * ARP, TCP segments whose TSval matches) is compared byte for byte. How
 * many needed this is printed.
 *
 * WEIR_REPLAY_DEBUG=1 prints, for each TCP segment weir sends, how far
 * from its recorded time it went out and both TSvals. */
#include <dirent.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness/test.h"
#include "weir/weir.h"
#include "wire/checksum.h"
#include "wire/ethernet.h"
#include "wire/ipv4.h"
#include "wire/tcp.h"

#define MAX_PKTS       4096
#define MAX_RECORDINGS 16

/* What the apps and their driver do, to the numbers
 * (apps/echoserver.c, apps/echoclient.c, backends/driver.c). */
#define APP_MSL_US 1000000u /* WEIR_APP_MSL_US: --msl's default */
#define CONN_BUF   65536    /* echoserver: one read */
#define IN_CAP     65536    /* echoclient: one read of stdin */
#define OUT_CAP    65536    /* echoclient: the echo not yet written */
#define MAX_ROUNDS 64       /* driver: output/event rounds per kick */

/* How far from its recorded time a frame may go out: the capture's clock
 * and the app's drift apart by tens of microseconds, and a timer fires a
 * millisecond late at most when the machine is not loaded. */
#define SLACK_US 5000

/* ISN (now/4 mod 2^32) and TSval (now/1000 mod 2^32) both repeat after
 * this many microseconds: the replay's clock is free modulo it. */
#define CLOCK_PERIOD (1000ull << 32)
#define ISN_PERIOD   (4ull << 32)

enum app { APP_UDP_ECHO, APP_TCP_ECHO_SERVER, APP_TCP_CLIENT };

struct rec {
  uint64_t t; /* microseconds since the first packet */
  int ours;   /* sent by weir */
  size_t len;
  uint8_t *data;
};

struct replay {
  struct weir_config cfg;
  enum app app;
  uint16_t port;      /* udp-echo, tcp-echo-server: the port served */
  uint64_t count;     /* tcp-echo-server: --count (0: never exits) */
  uint32_t peer;      /* tcp-client: where it connects, */
  uint16_t peer_port; /* and on which port */
  uint8_t *input;     /* tcp-client: its stdin */
  size_t input_len;
  struct rec pkts[MAX_PKTS];
  size_t n;
};

/* A connection echoserver serves. */
struct conn {
  int sock;
  uint8_t *buf;
  size_t len, off; /* buf[off, len) read and not yet sent */
  int eof, shut;
};

/* echoclient's state (K in echoclient.c). */
struct client {
  int connected, complete, eof, shut, fin;
  size_t in_pos;         /* stdin read so far */
  size_t in_at;          /* where in r->input the last read started */
  size_t in_len, in_off; /* [in_off, in_len) of that read not yet sent */
  uint64_t sent, echoed; /* bytes */
  uint8_t out[OUT_CAP];  /* the echo read and not yet written */
  size_t out_len;
};

/* One replay of a recording. */
struct run {
  struct replay *r;
  struct weir_stack *s;
  uint64_t base;
  size_t upto;      /* weir's packets before this index may go out now */
  size_t next_ours; /* the next of weir's packets to match */
  int matched, ts_patched;
  int64_t worst_skew; /* us, the largest |sent - recorded| */
  int stop;           /* a difference was found (or the probe is done) */
  int failed;
  uint64_t clock; /* the `now` of the last event */
  /* The driver's timer: armed for millisecond timer_ms, which libuv
   * fires at timer_at; fired_ms is the last one served. */
  int timer_armed;
  uint64_t timer_ms, timer_at, fired_ms;

  /* The first SYN weir sent: the probe stops there. */
  int probe, syn_seen, syn_ts;
  uint64_t syn_now; /* when its TSval was taken */
  uint32_t isn_got, isn_want, ts_got, ts_want;

  /* The app. */
  int exited;
  int sock;              /* UDP socket, listener, or the client's socket */
  uint64_t exit_at;      /* the client lingers until then; 0: not lingering */
  uint64_t connect_kick; /* the client's first output after connecting */
  struct conn **conns;
  uint32_t nslots;
  uint64_t ended;
  struct client *k;
};

static const char *dir = "test/replay";

static int hex_digit(char c)
{
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

static int parse_hex(const char *v, uint8_t **out, size_t *len)
{
  size_t n = strlen(v);
  if (n % 2)
    return -1;
  free(*out);
  *out = malloc(n / 2 + 1);
  if (!*out)
    return -1;
  for (size_t i = 0; i < n / 2; i++) {
    int hi = hex_digit(v[2 * i]), lo = hex_digit(v[2 * i + 1]);
    if (hi < 0 || lo < 0)
      return -1;
    (*out)[i] = (uint8_t)(hi << 4 | lo);
  }
  *len = n / 2;
  return 0;
}

static int load_conf(struct replay *r, const char *path)
{
  FILE *f = fopen(path, "r");
  static char line[1 << 17];
  if (!f)
    return -1;
  weir_config_default(&r->cfg);
  r->cfg.tcp_msl_us = APP_MSL_US;
  r->app = APP_UDP_ECHO;
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
    else if (!strcmp(line, "msl_ms"))
      r->cfg.tcp_msl_us = strtoull(v, NULL, 10) * 1000;
    else if (!strcmp(line, "trace_entries"))
      r->cfg.trace_entries = (uint32_t)strtoul(v, NULL, 10);
    else if (!strcmp(line, "echo_port") || !strcmp(line, "port"))
      r->port = (uint16_t)atoi(v);
    else if (!strcmp(line, "count"))
      r->count = strtoull(v, NULL, 10);
    else if (!strcmp(line, "app")) {
      if (!strcmp(v, "udp-echo"))
        r->app = APP_UDP_ECHO;
      else if (!strcmp(v, "tcp-echo-server"))
        r->app = APP_TCP_ECHO_SERVER;
      else if (!strcmp(v, "tcp-client"))
        r->app = APP_TCP_CLIENT;
      else
        goto bad;
    } else if (!strcmp(line, "connect")) {
      char *colon = strrchr(v, ':');
      if (!colon)
        goto bad;
      *colon = '\0';
      if (weir_ipv4_parse_text(v, &r->peer) != 0)
        goto bad;
      r->peer_port = (uint16_t)atoi(colon + 1);
    } else if (!strcmp(line, "stdin")) {
      if (parse_hex(v, &r->input, &r->input_len) != 0)
        goto bad;
    }
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

/* ---------------------------------------------------- comparing frames */

/* Finds the TCP segment in a frame: its IPv4 header in *ip and the
 * segment's offset in the frame in *off. Returns 0, or -1 if it is no
 * TCP segment. */
static int find_tcp(const struct weir_config *c, const uint8_t *p, size_t n,
                    struct weir_ipv4 *ip, size_t *off)
{
  size_t l2 = 0;
  if (c->link == WEIR_LINK_ETHERNET) {
    if (n < WEIR_ETH_HLEN || p[12] != 0x08 || p[13] != 0x00)
      return -1;
    l2 = WEIR_ETH_HLEN;
  }
  if (weir_ipv4_parse(ip, p + l2, n - l2) != 0 ||
      ip->proto != WEIR_IP_PROTO_TCP || ip->frag_off || ip->mf)
    return -1;
  *off = l2 + ip->hlen;
  return 0;
}

/* The offset of the timestamps option's TSval within a TCP header, or 0. */
static size_t tsval_at(const uint8_t *tcp, size_t hlen)
{
  size_t i = WEIR_TCP_HLEN;
  while (i < hlen) {
    if (tcp[i] == 0)
      return 0;
    if (tcp[i] == 1) {
      i++;
      continue;
    }
    if (i + 1 >= hlen || tcp[i + 1] < 2)
      return 0;
    if (tcp[i] == 8 && tcp[i + 1] == 10 && i + 10 <= hlen)
      return i + 2;
    i += tcp[i + 1];
  }
  return 0;
}

static uint32_t get32(const uint8_t *p)
{
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 |
         p[3];
}

static void put32(uint8_t *p, uint32_t v)
{
  p[0] = (uint8_t)(v >> 24);
  p[1] = (uint8_t)(v >> 16);
  p[2] = (uint8_t)(v >> 8);
  p[3] = (uint8_t)v;
}

/* Is `got` the recorded TCP segment `want` but for a TSval one away (see
 * the top of the file)? */
static int same_but_tsval(const struct weir_config *c, const uint8_t *got,
                          const uint8_t *want, size_t n)
{
  static uint8_t fixed[65536 + 14];
  struct weir_ipv4 ip;
  struct weir_tcp seg;
  size_t off, at;
  uint32_t a, b;
  uint16_t sum;
  if (n > sizeof(fixed) || find_tcp(c, got, n, &ip, &off) != 0 ||
      weir_tcp_parse(&seg, got + off, ip.payload_len) != 0 ||
      !weir_l4_checksum_ok(WEIR_IP_PROTO_TCP, got + off, ip.payload_len, ip.src,
                           ip.dst) ||
      (at = tsval_at(got + off, seg.hlen)) == 0)
    return 0;
  a = get32(got + off + at);
  b = get32(want + off + at);
  if (a == b || (a - b != 1 && b - a != 1))
    return 0;
  memcpy(fixed, got, n);
  put32(fixed + off + at, b);
  fixed[off + 16] = fixed[off + 17] = 0;
  sum = weir_csum_finish(
      weir_csum_add(weir_csum_pseudo(ip.src, ip.dst, WEIR_IP_PROTO_TCP,
                                     (uint16_t)ip.payload_len),
                    fixed + off, ip.payload_len));
  fixed[off + 16] = (uint8_t)(sum >> 8);
  fixed[off + 17] = (uint8_t)sum;
  return memcmp(fixed, want, n) == 0;
}

/* If the frame is a TCP SYN, its ISN and TSval (*has_ts 0 if none). */
static int is_syn(const struct weir_config *c, const uint8_t *p, size_t n,
                  uint32_t *isn, uint32_t *ts, int *has_ts)
{
  struct weir_ipv4 ip;
  struct weir_tcp seg;
  size_t off;
  if (find_tcp(c, p, n, &ip, &off) != 0 ||
      weir_tcp_parse(&seg, p + off, ip.payload_len) != 0 ||
      !(seg.flags & WEIR_TCP_SYN))
    return 0;
  *isn = seg.seq;
  *ts = seg.opt.ts_val;
  *has_ts = seg.opt.has_ts;
  return 1;
}

static void fail_run(struct run *u)
{
  u->stop = u->failed = 1;
}

/* The core sent p at `now`: it must be weir's next recorded frame, due
 * before the inbound frame being replayed, recorded at about that time. */
static void check_sent(struct run *u, const uint8_t *p, size_t n, uint64_t now)
{
  struct replay *r = u->r;
  const struct rec *k;
  int64_t skew;
  int has_ts;
  while (u->next_ours < r->n && !r->pkts[u->next_ours].ours)
    u->next_ours++;
  /* Frames from the kernel wait in the device until the app reads them,
   * but the capture stamps them as they go in: weir may have sent a
   * frame recorded after some it had not read yet, within the slack. */
  if (u->next_ours >= r->n ||
      (u->next_ours > u->upto &&
       r->pkts[u->next_ours].t - r->pkts[u->upto].t > SLACK_US)) {
    printf("     packet %zu: weir sent %zu bytes the recording does not have "
           "here\n",
           u->next_ours + 1, n);
    fail_run(u);
    return;
  }
  k = &r->pkts[u->next_ours];
  if (getenv("WEIR_REPLAY_DEBUG")) {
    struct weir_ipv4 ip1, ip2;
    struct weir_tcp s1, s2;
    size_t o1, o2;
    if (!find_tcp(&r->cfg, p, n, &ip1, &o1) &&
        !find_tcp(&r->cfg, k->data, k->len, &ip2, &o2) &&
        !weir_tcp_parse(&s1, p + o1, ip1.payload_len) &&
        !weir_tcp_parse(&s2, k->data + o2, ip2.payload_len))
      printf("     debug: packet %zu sent at %+lld us (rec %.3f ms, now "
             "%llu us) TSval got %u want %u\n",
             u->next_ours + 1, (long long)(now - (u->base + k->t)),
             (double)k->t / 1000, (unsigned long long)(now % 1000000),
             s1.opt.ts_val, s2.opt.ts_val);
  }
  if (!u->syn_seen &&
      is_syn(&r->cfg, p, n, &u->isn_got, &u->ts_got, &u->syn_ts)) {
    u->syn_seen = 1;
    /* When the SYN's TSval was taken: the client's is built by the
     * first output after the connect (and waits there for ARP), the
     * server's as it goes. */
    u->syn_now = r->app == APP_TCP_CLIENT ? u->connect_kick : now;
    if (!is_syn(&r->cfg, k->data, k->len, &u->isn_want, &u->ts_want, &has_ts) ||
        has_ts != u->syn_ts) {
      printf("     packet %zu: weir sent a SYN, the recording has another "
             "frame\n",
             u->next_ours + 1);
      fail_run(u);
      return;
    }
    if (u->probe) {
      u->stop = 1;
      return;
    }
  }
  if (n != k->len ||
      (memcmp(p, k->data, n) != 0 &&
       !(same_but_tsval(&r->cfg, p, k->data, n) && ++u->ts_patched))) {
    printf("     packet %zu differs:\n", u->next_ours + 1);
    wt_hexdiff(p, n, k->data, k->len);
    fail_run(u);
    return;
  }
  skew = (int64_t)(now - (u->base + k->t));
  if (skew < 0)
    skew = -skew;
  if (skew > SLACK_US) {
    printf("     packet %zu: sent at %.3f ms, recorded at %.3f ms\n",
           u->next_ours + 1, (double)(now - u->base) / 1000,
           (double)k->t / 1000);
    fail_run(u);
    return;
  }
  if (skew > u->worst_skew)
    u->worst_skew = skew;
  u->next_ours++;
  u->matched++;
}

/* ------------------------------------------------------------ the apps */

static void flush(struct run *u, uint64_t now)
{
  static uint8_t out[65536 + 14];
  size_t n;
  while (!u->stop && (n = weir_output(u->s, out, sizeof(out), now)) > 0)
    check_sent(u, out, n, now);
}

/* The app stops (weir_app_stop): the driver sends what is queued, and
 * nothing more happens. */
static void app_exit(struct run *u, uint64_t now)
{
  if (u->exited)
    return;
  flush(u, now);
  u->exited = 1;
}

/* echoserver -u: echo every datagram. */
static void udp_event(struct run *u, int sock, uint64_t now)
{
  static uint8_t buf[65536];
  uint32_t addr;
  uint16_t port;
  int n;
  if (sock != u->sock)
    return;
  while ((n = weir_udp_recvfrom(u->s, sock, buf, sizeof(buf), &addr, &port)) >=
         0)
    weir_udp_sendto(u->s, sock, buf, (size_t)n, addr, port, now);
  weir_sock_error(u->s, sock, NULL, NULL);
}

/* echoserver (TCP, echo mode): tcp_done, conn_end, serve, accept_all. */
static void srv_done(struct run *u, uint64_t now)
{
  for (uint32_t i = 0; i < u->nslots; i++)
    if (u->conns[i])
      weir_tcp_abort(u->s, u->conns[i]->sock, now);
  weir_tcp_close(u->s, u->sock, now);
  app_exit(u, now);
}

static void srv_accept_all(struct run *u, uint64_t now);

static void srv_end(struct run *u, struct conn *c, int abort, uint64_t now)
{
  if (abort)
    weir_tcp_abort(u->s, c->sock, now);
  else
    weir_tcp_close(u->s, c->sock, now);
  u->conns[c->sock] = NULL;
  free(c->buf);
  free(c);
  u->ended++;
  if (u->r->count && u->ended >= u->r->count) {
    srv_done(u, now);
    return;
  }
  srv_accept_all(u, now);
}

static int srv_serve(struct run *u, struct conn *c, uint64_t now)
{
  int r;
  for (;;) {
    if (u->exited)
      return 0;
    if (c->off < c->len) {
      r = weir_tcp_send(u->s, c->sock, c->buf + c->off, c->len - c->off, now);
      if (r == WEIR_EAGAIN)
        return 0;
      if (r < 0) {
        srv_end(u, c, 1, now);
        return -1;
      }
      c->off += (size_t)r;
      continue;
    }
    c->off = c->len = 0;
    if (c->eof) {
      if (!c->shut) {
        c->shut = 1;
        if (weir_tcp_shutdown(u->s, c->sock, now) < 0) {
          srv_end(u, c, 1, now);
          return -1;
        }
      }
      return 0;
    }
    r = weir_tcp_recv(u->s, c->sock, c->buf, CONN_BUF, now);
    if (r == WEIR_EAGAIN)
      return 0;
    if (r == 0) {
      c->eof = 1;
      continue;
    }
    if (r < 0) {
      srv_end(u, c, 1, now);
      return -1;
    }
    c->len = (size_t)r;
  }
}

static void srv_accept_all(struct run *u, uint64_t now)
{
  struct conn *c;
  int h;
  while (!u->exited) {
    h = weir_tcp_accept(u->s, u->sock, NULL, NULL);
    if (h < 0)
      return;
    c = calloc(1, sizeof(*c));
    if (c)
      c->buf = malloc(CONN_BUF);
    if (!c || !c->buf || (uint32_t)h >= u->nslots || u->conns[h]) {
      if (c)
        free(c->buf);
      free(c);
      weir_tcp_abort(u->s, h, now);
      continue;
    }
    c->sock = h;
    u->conns[h] = c;
    srv_serve(u, c, now);
  }
}

static void srv_event(struct run *u, int sock, unsigned ev, uint64_t now)
{
  struct weir_tcp_info info;
  struct conn *c;
  if (sock == u->sock) {
    if (ev & WEIR_EV_ACCEPT)
      srv_accept_all(u, now);
    return;
  }
  if (sock < 0 || (uint32_t)sock >= u->nslots || !(c = u->conns[sock]))
    return;
  if (ev & (WEIR_EV_RESET | WEIR_EV_ERROR)) {
    weir_sock_error(u->s, sock, NULL, NULL);
    if ((ev & WEIR_EV_RESET) || (weir_tcp_info(u->s, sock, &info) == 0 &&
                                 info.state == WEIR_TCP_CLOSED)) {
      srv_end(u, c, 0, now);
      return;
    }
  }
  if (ev & (WEIR_EV_READABLE | WEIR_EV_WRITABLE | WEIR_EV_PEER_CLOSED))
    if (srv_serve(u, c, now) < 0)
      return;
  if (ev & WEIR_EV_CLOSED)
    srv_end(u, c, 0, now);
}

/* echoclient (TCP), stdin and stdout regular files: fail, tcp_pump,
 * check_complete. */
static void cli_fail(struct run *u, int reset, uint64_t now)
{
  if (u->exited)
    return;
  if (u->sock >= 0) {
    if (reset)
      weir_tcp_abort(u->s, u->sock, now);
    else
      weir_tcp_close(u->s, u->sock, now);
    u->sock = -1;
  }
  app_exit(u, now);
}

static void cli_check(struct run *u, uint64_t now)
{
  struct client *k = u->k;
  struct weir_tcp_info info;
  if (!k->connected || k->complete || u->exited)
    return;
  if (k->echoed > k->sent) {
    cli_fail(u, 1, now);
    return;
  }
  if (!k->fin)
    return;
  if (!k->eof || k->in_len > k->in_off || k->echoed < k->sent) {
    cli_fail(u, 1, now); /* a short echo */
    return;
  }
  if (!k->shut || weir_tcp_info(u->s, u->sock, &info) < 0)
    return;
  if (info.state != WEIR_TCP_TIME_WAIT && info.state != WEIR_TCP_CLOSED)
    return;
  k->complete = 1;
  weir_tcp_close(u->s, u->sock, now);
  u->sock = -1;
  if (info.state == WEIR_TCP_CLOSED) {
    app_exit(u, now);
    return;
  }
  /* It stays through TIME-WAIT, and 50 ms more. */
  u->exit_at = now + (2 * (u->r->cfg.tcp_msl_us / 1000) + 50) * 1000;
}

static void cli_pump(struct run *u, uint64_t now)
{
  struct client *k = u->k;
  const uint8_t *in = u->r->input;
  int r, moved;
  if (!k->connected || k->complete || u->exited || u->sock < 0)
    return;
  do {
    moved = 0;
    while (k->in_off < k->in_len) {
      r = weir_tcp_send(u->s, u->sock, in + k->in_at + k->in_off,
                        k->in_len - k->in_off, now);
      if (r == WEIR_EAGAIN)
        break;
      if (r < 0) {
        cli_fail(u, 1, now);
        return;
      }
      k->in_off += (size_t)r;
      k->sent += (uint64_t)r;
      moved = 1;
    }
    if (k->in_off == k->in_len)
      k->in_off = k->in_len = 0;
    if (!k->eof && k->in_len == 0) {
      /* read(2) of a regular file: all it asks for, or 0 at the end. */
      size_t left = u->r->input_len - k->in_pos;
      if (left == 0) {
        k->eof = 1;
      } else {
        k->in_at = k->in_pos;
        k->in_len = left < IN_CAP ? left : IN_CAP;
        k->in_pos += k->in_len;
      }
      moved = 1;
    }
    if (k->eof && k->in_len == 0 && !k->shut) {
      k->shut = 1;
      if (weir_tcp_shutdown(u->s, u->sock, now) < 0) {
        cli_fail(u, 1, now);
        return;
      }
    }
    while (!k->fin && k->out_len < OUT_CAP) {
      r = weir_tcp_recv(u->s, u->sock, k->out + k->out_len,
                        OUT_CAP - k->out_len, now);
      if (r == WEIR_EAGAIN)
        break;
      if (r == 0) {
        k->fin = 1;
        break;
      }
      if (r < 0) {
        cli_fail(u, 1, now);
        return;
      }
      /* Not part of the app: the echo must be what was sent. */
      if (k->echoed + (uint64_t)r > u->r->input_len ||
          memcmp(k->out + k->out_len, in + k->echoed, (size_t)r) != 0) {
        printf("     the echo differs from stdin at byte %llu\n",
               (unsigned long long)k->echoed);
        fail_run(u);
        return;
      }
      k->out_len += (size_t)r;
      k->echoed += (uint64_t)r;
      moved = 1;
    }
    if (k->out_len > 0) { /* stdout, a regular file, takes it all */
      k->out_len = 0;
      moved = 1;
    }
  } while (moved && !u->exited && !u->stop);
  cli_check(u, now);
}

static void cli_event(struct run *u, int sock, unsigned ev, uint64_t now)
{
  struct weir_tcp_info info;
  if (u->exited || sock != u->sock || u->sock < 0)
    return;
  if (ev & (WEIR_EV_RESET | WEIR_EV_ERROR)) {
    weir_sock_error(u->s, sock, NULL, NULL);
    if ((ev & WEIR_EV_RESET) || (weir_tcp_info(u->s, sock, &info) == 0 &&
                                 info.state == WEIR_TCP_CLOSED)) {
      cli_fail(u, 0, now); /* refused, reset or timed out */
      return;
    }
  }
  if (ev & WEIR_EV_CONNECTED)
    u->k->connected = 1;
  cli_pump(u, now);
}

/* What the app's uv_check handle does after each loop iteration. */
static void app_check(struct run *u, uint64_t now)
{
  if (u->r->app == APP_TCP_CLIENT && !u->stop)
    cli_check(u, now);
}

/* ---------------------------------------------------------- the driver */

/* Returns how many events were delivered. */
static int deliver(struct run *u, uint64_t now)
{
  struct weir_event ev;
  int n = 0;
  while (!u->exited && !u->stop && weir_next_event(u->s, &ev)) {
    n++;
    switch (u->r->app) {
    case APP_UDP_ECHO:
      udp_event(u, ev.sock, now);
      break;
    case APP_TCP_ECHO_SERVER:
      srv_event(u, ev.sock, ev.events, now);
      break;
    case APP_TCP_CLIENT:
      cli_event(u, ev.sock, ev.events, now);
      break;
    }
  }
  return n;
}

/* The driver's arm_timer(), and libuv's timer under it: the core's
 * deadline rounded up to a whole millisecond (never one already served),
 * which libuv counts from its loop time in whole milliseconds. So the
 * timer fires that many milliseconds after it was armed: at the start of
 * the millisecond after the deadline plus the fraction of a millisecond
 * the clock was into when it was armed (or at once, if that is past). */
static void arm_timer(struct run *u, uint64_t now)
{
  uint64_t d = weir_deadline(u->s), ms;
  if (d == UINT64_MAX) {
    u->timer_armed = 0;
    return;
  }
  ms = d / 1000 + (d % 1000 != 0);
  if (ms <= u->fired_ms)
    ms = u->fired_ms + 1;
  if (u->timer_armed && ms == u->timer_ms)
    return;
  u->timer_armed = 1;
  u->timer_ms = ms;
  u->timer_at = now + (ms > now / 1000 ? ms - now / 1000 : 0) * 1000;
}

/* The driver's run(): send, deliver events, until neither has more; then
 * the app's check handle, and the timer for what is left. */
static void kick(struct run *u, uint64_t now)
{
  u->clock = now;
  for (int i = 0; i < MAX_ROUNDS && !u->exited && !u->stop; i++) {
    flush(u, now);
    if (deliver(u, now) == 0)
      break;
  }
  app_check(u, now);
  if (!u->exited)
    arm_timer(u, now);
}

/* Runs the driver's timer and the app's own (the client's linger) when
 * they come before time t. */
static void advance(struct run *u, uint64_t t)
{
  while (!u->exited && !u->stop) {
    uint64_t due = u->timer_armed ? u->timer_at : UINT64_MAX;
    if (u->exit_at && u->exit_at <= due && u->exit_at <= t) {
      app_exit(u, u->exit_at);
      return;
    }
    if (due > t)
      return;
    u->timer_armed = 0;
    u->fired_ms = u->timer_ms;
    weir_timers(u->s, due);
    kick(u, due);
  }
}

static void app_start(struct run *u)
{
  struct replay *r = u->r;
  switch (r->app) {
  case APP_UDP_ECHO:
    if (r->port) {
      u->sock = weir_udp_open(u->s);
      weir_udp_bind(u->s, u->sock, r->port);
    }
    break;
  case APP_TCP_ECHO_SERVER:
    u->nslots = weir_stack_config(u->s)->max_sockets;
    u->conns = calloc(u->nslots, sizeof(*u->conns));
    u->sock = weir_tcp_open(u->s);
    weir_tcp_listen(u->s, u->sock, r->port, 64);
    break;
  case APP_TCP_CLIENT:
    u->k = calloc(1, sizeof(*u->k));
    break;
  }
}

static void app_free(struct run *u)
{
  for (uint32_t i = 0; i < u->nslots; i++)
    if (u->conns[i]) {
      free(u->conns[i]->buf);
      free(u->conns[i]);
    }
  free(u->conns);
  free(u->k);
}

/* Replays r into u (filled in); returns the number of weir packets
 * matched, or -1 after printing the first difference. Times are `base`
 * plus the recorded ones; the client connects `lead` us before its first
 * frame was captured, and sends it then. */
static int replay(struct replay *r, uint64_t base, uint64_t lead, int probe,
                  struct run *u)
{
  size_t anchor = SIZE_MAX;
  memset(u, 0, sizeof(*u));
  u->r = r;
  u->base = base;
  u->clock = base - lead;
  u->probe = probe;
  u->sock = -1;
  if (weir_stack_new(&r->cfg, &u->s) != 0) {
    printf("     cannot create stack from conf\n");
    return -1;
  }
  app_start(u);
  /* The client connects just before its first frame goes out. */
  if (r->app == APP_TCP_CLIENT)
    for (anchor = 0; anchor < r->n && !r->pkts[anchor].ours; anchor++)
      ;
  for (size_t i = 0; i <= r->n && !u->stop; i++) {
    uint64_t t = i < r->n ? base + r->pkts[i].t : 0;
    if (i < r->n && r->pkts[i].ours && i != anchor)
      continue;
    u->upto = i;
    if (i == r->n) {
      /* After the last frame: a TCP app runs until it exits, if it would
       * (the client lingering in TIME-WAIT); the UDP echo is stopped
       * with the capture. */
      if (r->app != APP_UDP_ECHO && u->exit_at)
        t = u->exit_at;
      else
        t = r->n ? base + r->pkts[r->n - 1].t : base;
    }
    advance(u, t);
    if (u->exited || u->stop)
      continue; /* the app is gone: what comes is for no one */
    /* What this causes may go out until the next inbound frame. */
    for (u->upto = i + 1; u->upto < r->n && r->pkts[u->upto].ours; u->upto++)
      ;
    if (i == anchor) {
      uint64_t c = t - lead > u->clock ? t - lead : u->clock;
      u->sock = weir_tcp_open(u->s);
      weir_tcp_connect(u->s, u->sock, r->peer, r->peer_port, c);
      u->connect_kick = t;
      kick(u, t);
    } else if (i < r->n) {
      weir_input(u->s, r->pkts[i].data, r->pkts[i].len, t);
      kick(u, t);
    }
  }
  while (u->next_ours < r->n && !r->pkts[u->next_ours].ours)
    u->next_ours++;
  app_free(u);
  weir_stack_free(u->s);
  if (u->failed)
    return -1;
  if (!u->probe && u->next_ours < r->n) {
    printf("     packet %zu: recorded from weir, never sent in replay\n",
           u->next_ours + 1);
    return -1;
  }
  return u->matched;
}

/* How many of weir's recorded TCP segments with timestamps a replay at
 * `base` gives their recorded TSval, if they go out at their recorded
 * time and the connection's TSval offset is `off`. */
static int tsvals_fit(const struct replay *r, uint64_t base, uint32_t off)
{
  struct weir_ipv4 ip;
  struct weir_tcp seg;
  size_t o;
  int fit = 0;
  for (size_t i = 0; i < r->n; i++)
    if (r->pkts[i].ours &&
        !find_tcp(&r->cfg, r->pkts[i].data, r->pkts[i].len, &ip, &o) &&
        !weir_tcp_parse(&seg, r->pkts[i].data + o, ip.payload_len) &&
        seg.opt.has_ts &&
        (uint32_t)((base + r->pkts[i].t) / 1000) + off == seg.opt.ts_val)
      fit++;
  return fit;
}

/* The clock at which the replay's `now` is the app's (see the top of the
 * file): *base, and for the client *lead. Unchanged if weir sent no SYN.
 * Returns -1 if no clock fits. */
static int align(struct replay *r, uint64_t *base, uint64_t *lead)
{
  static struct run u;
  uint64_t b0 = CLOCK_PERIOD, shift, best = 0, b1;
  int64_t best_err = INT64_MAX, max_err = 1;
  uint32_t dt, off;
  int best_fit = -1, run = 0;

  if (replay(r, b0, 0, 1, &u) < 0)
    return -1;
  if (!u.syn_seen)
    return 0;
  dt = u.ts_want - u.ts_got;
  for (uint64_t j = 0; j < CLOCK_PERIOD / ISN_PERIOD; j++) {
    /* A multiple of 4 us: moves the ISN clock by exactly shift / 4. */
    shift = 4 * (uint64_t)(uint32_t)(u.isn_want - u.isn_got) + j * ISN_PERIOD;
    uint32_t moved =
        (uint32_t)((u.syn_now + shift) / 1000) - (uint32_t)(u.syn_now / 1000);
    int64_t err = (int32_t)(dt - moved);
    if (err < 0)
      err = -err;
    if (err < best_err) {
      best_err = err;
      best = shift;
    }
    if (!u.syn_ts)
      break; /* nothing tells the shifts apart: any will do */
  }
  /* The client's SYN was built up to a lead after its connect. */
  if (r->app == APP_TCP_CLIENT)
    max_err += SLACK_US / 1000;
  if (u.syn_ts && best_err > max_err) {
    printf("     no clock gives the recorded ISN and TSval (off by %d ms)\n",
           (int)best_err);
    return -1;
  }
  b1 = (b0 + best) % CLOCK_PERIOD + CLOCK_PERIOD;
  *base = b1;
  *lead = 0;
  if (r->app != APP_TCP_CLIENT || !u.syn_ts)
    return 0;
  /* The server's clock is pinned by the SYN it read. The client's
   * connect, which the ISN pins, came some time before its first frame
   * was captured (a cold start: hundreds of microseconds); the clock of
   * the rest is the one that gives the most TSvals, the middle of the
   * first run of such leads. */
  off = u.ts_got - (uint32_t)(u.syn_now / 1000);
  for (uint64_t l = 0; l <= SLACK_US; l++) {
    int fit = tsvals_fit(r, b1 + l, off);
    if (fit > best_fit) {
      best_fit = fit;
      *lead = l;
      run = 1;
    } else if (fit == best_fit && *lead + (uint64_t)run == l) {
      run++;
    }
  }
  *lead += (uint64_t)run / 2;
  *base = b1 + *lead;
  return 0;
}

static void free_recs(struct replay *r)
{
  for (size_t i = 0; i < r->n; i++)
    free(r->pkts[i].data);
  r->n = 0;
  free(r->input);
  r->input = NULL;
}

static const char *lead_text(uint64_t lead)
{
  static char buf[64];
  buf[0] = '\0';
  if (lead)
    snprintf(buf, sizeof(buf), "; connect %.3f ms before", (double)lead / 1000);
  return buf;
}

static void replay_one(const char *name)
{
  static struct replay r;
  static struct run u;
  char path[512], err[PCAP_ERRBUF_SIZE];
  uint64_t base = 1000000, other = 987654321000u, lead = 0;
  int a, b, patched;
  int64_t skew;

  memset(&r, 0, sizeof(r));
  snprintf(path, sizeof(path), "%s/%s.conf", dir, name);
  if (load_conf(&r, path) != 0) {
    wt_fail(__FILE__, __LINE__, "%s: cannot read", path);
    free_recs(&r);
    return;
  }
  snprintf(path, sizeof(path), "%s/%s.pcap", dir, name);
  if (load_pcap(&r, path, err) != 0) {
    wt_fail(__FILE__, __LINE__, "%s: %s", path, err);
    free_recs(&r);
    return;
  }
  if (r.app != APP_UDP_ECHO) {
    if (align(&r, &base, &lead) != 0) {
      wt_fail(__FILE__, __LINE__, "%s: cannot align the clock", name);
      free_recs(&r);
      return;
    }
    other = base + 100 * CLOCK_PERIOD;
  }
  a = replay(&r, base, lead, 0, &u);
  patched = u.ts_patched;
  skew = u.worst_skew;
  b = a > 0 ? replay(&r, other, lead, 0, &u) : -1;
  if (a <= 0 || b != a || u.ts_patched != patched)
    wt_fail(__FILE__, __LINE__, "%s: replay %d, again %d", name, a, b);
  else
    printf("     %s: %zu packets, %d sent by weir matched twice (%d with "
           "TSval 1 ms off), at most %.3f ms from their time%s\n",
           name, r.n, a, patched, (double)skew / 1000, lead_text(lead));
  free_recs(&r);
}

/* One test per recording, registered at start-up from the directory. */
static char names[MAX_RECORDINGS][128];
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
REPLAY_TEST(8)
REPLAY_TEST(9)
REPLAY_TEST(10)
REPLAY_TEST(11)
REPLAY_TEST(12)
REPLAY_TEST(13)
REPLAY_TEST(14)
REPLAY_TEST(15)

static const wt_fn replay_fns[MAX_RECORDINGS] = {
    replay_0,  replay_1,  replay_2,  replay_3, replay_4,  replay_5,
    replay_6,  replay_7,  replay_8,  replay_9, replay_10, replay_11,
    replay_12, replay_13, replay_14, replay_15};

static int by_name(const void *a, const void *b)
{
  return strcmp(a, b);
}

__attribute__((constructor)) static void find_recordings(void)
{
  DIR *d;
  struct dirent *e;
  static char testnames[MAX_RECORDINGS][160];
  const char *env = getenv("WEIR_REPLAY_DIR");
  if (env)
    dir = env;
  d = opendir(dir);
  if (!d)
    return;
  while ((e = readdir(d)) != NULL) {
    size_t l = strlen(e->d_name);
    if (l > 5 && l < 120 && !strcmp(e->d_name + l - 5, ".pcap")) {
      if (nnames == MAX_RECORDINGS) {
        fprintf(stderr, "test_replay: more than %d recordings in %s\n",
                MAX_RECORDINGS, dir);
        exit(2);
      }
      memcpy(names[nnames], e->d_name, l - 5);
      names[nnames][l - 5] = '\0';
      nnames++;
    }
  }
  closedir(d);
  qsort(names, (size_t)nnames, sizeof(names[0]), by_name);
  for (int i = 0; i < nnames; i++) {
    snprintf(testnames[i], sizeof(testnames[i]), "test_replay_%s", names[i]);
    wt_register(testnames[i], "test_replay.c", replay_fns[i]);
  }
}
