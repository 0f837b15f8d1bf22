/* Flags, set-up and tear-down shared by echoserver and echoclient. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>

#include "common.h"
#include "pcapfile.h"

/* Locally administered (bit 1 of the first octet), unicast: never a
 * vendor's address. The 77 echoes 10.77.0.0/16. */
static const uint8_t default_mac[6] = {0x02, 0x77, 0x00, 0x00, 0x00, 0x02};
static const char default_ip[] = "10.77.0.2/24";

static const char common_usage[] =
    "\n"
    "How weir reaches the network:\n"
    "  --backend NAME      link backend (default tun): tun carries bare IPv4,\n"
    "                      tap Ethernet frames (weir answers ARP); raw and\n"
    "                      pcap put weir, with its own MAC and IP, on an\n"
    "                      existing interface (--if); pcapfile replays a\n"
    "                      recording (--pcap-in). This build has %s|pcapfile\n"
    "  --if NAME           the tun/tap device; created if missing and then\n"
    "                      removed at exit (default weir%%d: the kernel picks\n"
    "                      weir0, weir1, ...)\n"
    "  --ip ADDR/PREFIX    weir's own address (default %s)\n"
    "  --gw ADDR           gateway for off-link destinations (default none)\n"
    "  --mac MAC           weir's MAC on tap, raw and pcap\n"
    "                      (default 02:77:00:00:00:02)\n"
    "  --kernel-ip ADDR/PREFIX\n"
    "                      the address to give the KERNEL's side of the\n"
    "                      device, which is also brought up, so that ping\n"
    "                      and nc on this host reach weir at once; must\n"
    "                      differ from --ip (default none: configure the\n"
    "                      device yourself, e.g. with ip-address(8))\n"
    "  --mtu N             device and stack MTU, 576..65535 (default: the\n"
    "                      device's, 1500 for a new one)\n"
    "  --no-offload        tun, tap, raw: no TCP segments of up to 64 KiB\n"
    "                      for the kernel to cut and none from it uncut\n"
    "                      (raw cuts them itself), and every checksum\n"
    "                      computed and checked by weir (default: offloads\n"
    "                      on if the kernel has them)\n"
    "  -u, --udp           UDP datagrams instead of a TCP stream\n"
    "  --msl MS            TCP's maximum segment lifetime in milliseconds,\n"
    "                      1..600000 (default 1000): TIME-WAIT lasts twice\n"
    "                      this. RFC 9293 says 2 minutes, for the Internet\n"
    "                      of 1981; here it is short because weir dies with\n"
    "                      its process, which would otherwise have to wait\n"
    "                      4 minutes before exiting. TIME-WAIT is there to\n"
    "                      answer a FIN the peer sends again (its copy of\n"
    "                      our last ACK was lost: the peer's RTO, 0.2..1 s\n"
    "                      on Linux, says when) and to outlive stray old\n"
    "                      segments, which on a one-hop or LAN path live\n"
    "                      for milliseconds. Raise it on long, slow paths.\n"
    "  --seed N            derive weir's secret (IP IDs, TCP ISNs) and the\n"
    "                      fault injector's choices from N, for reproducible\n"
    "                      runs (default: random)\n"
    "  -v, --verbose       TCP: one line per state transition, per\n"
    "                      retransmission and per reset, and a throughput\n"
    "                      line per connection; UDP: one line per datagram;\n"
    "                      both: the counters at exit\n"
    "  -h, --help          this text\n"
    "\n"
    "Capture and replay:\n"
    "  --pcap-out FILE     write every frame that crosses the link, both\n"
    "                      directions, to FILE as it passes (pcap, as tcpdump\n"
    "                      -w writes: Ethernet or raw-IP link type), stamped\n"
    "                      with weir's own clock (monotonic: dates in 1970,\n"
    "                      exact intervals). Inbound frames are written\n"
    "                      before the faults below act, outbound ones after:\n"
    "                      the file shows what crossed the wire\n"
    "  --pcap-in FILE      the pcapfile backend (--backend pcapfile): feed\n"
    "                      weir the frames of the recording FILE (pcap or\n"
    "                      pcapng, Ethernet or raw IP) at their recorded\n"
    "                      times, on a virtual clock, without waiting; the\n"
    "                      frames weir sent in it (from --mac on Ethernet,\n"
    "                      from --ip on raw IP) are skipped. --pcap-out\n"
    "                      then holds the frames fed and weir's answers, at\n"
    "                      virtual times. After the last frame weir's timers\n"
    "                      run on, for %u s of virtual time at most. The same\n"
    "                      FILE and flags give a byte-identical --pcap-out.\n"
    "                      A --pcap-out capture of echoserver replayed with\n"
    "                      the same --seed (and --mtu) gives weir the clock\n"
    "                      it had, so the same TCP ISNs and segments (as far\n"
    "                      as live timers, which fire late, let it)\n"
    "\n"
    "Fault injection, on weir's side of any backend (netem-like):\n"
    "  --loss P            drop a frame with probability P (0..1)\n"
    "  --dup P             send a frame twice with probability P\n"
    "  --reorder P         hold a frame back, with probability P, until 1 to\n"
    "                      3 later frames have passed it (%u ms at most)\n"
    "  --corrupt P         flip one bit past the link header with\n"
    "                      probability P (a checksum catches it)\n"
    "  --delay MS          delay every frame MS milliseconds (0..60000)\n"
    "  --faults-dir in|out|both\n"
    "                      the direction they hit: in (to weir), out (from\n"
    "                      weir) or both (the default)\n"
    "  The choices come from --seed, a stream per direction (without it a\n"
    "  random seed, which -v prints); -v prints what was done at exit.\n"
    "\n"
    "Transfers that last over a second print progress on stderr (at most\n"
    "one line a second) and end with a throughput line.\n"
    "\n"
    "Exit status: 0 done, 1 the exchange or the system failed, 2 bad usage.\n";

enum {
  OPT_BACKEND = 256,
  OPT_IF,
  OPT_IP,
  OPT_GW,
  OPT_MAC,
  OPT_KERNEL_IP,
  OPT_MTU,
  OPT_PORT,
  OPT_COUNT,
  OPT_TIMEOUT,
  OPT_SEED,
  OPT_DISCARD,
  OPT_SINK,
  OPT_MSL,
  OPT_PCAP_OUT,
  OPT_PCAP_IN,
  OPT_LOSS,
  OPT_DUP,
  OPT_REORDER,
  OPT_CORRUPT,
  OPT_DELAY,
  OPT_FAULTS_DIR,
  OPT_NO_OFFLOAD,
};

static const struct option long_opts[] = {
    {"backend", required_argument, NULL, OPT_BACKEND},
    {"if", required_argument, NULL, OPT_IF},
    {"ip", required_argument, NULL, OPT_IP},
    {"gw", required_argument, NULL, OPT_GW},
    {"mac", required_argument, NULL, OPT_MAC},
    {"kernel-ip", required_argument, NULL, OPT_KERNEL_IP},
    {"mtu", required_argument, NULL, OPT_MTU},
    {"port", required_argument, NULL, OPT_PORT},
    {"count", required_argument, NULL, OPT_COUNT},
    {"timeout", required_argument, NULL, OPT_TIMEOUT},
    {"seed", required_argument, NULL, OPT_SEED},
    {"discard", no_argument, NULL, OPT_DISCARD},
    {"sink", required_argument, NULL, OPT_SINK},
    {"msl", required_argument, NULL, OPT_MSL},
    {"pcap-out", required_argument, NULL, OPT_PCAP_OUT},
    {"pcap-in", required_argument, NULL, OPT_PCAP_IN},
    {"loss", required_argument, NULL, OPT_LOSS},
    {"dup", required_argument, NULL, OPT_DUP},
    {"reorder", required_argument, NULL, OPT_REORDER},
    {"corrupt", required_argument, NULL, OPT_CORRUPT},
    {"delay", required_argument, NULL, OPT_DELAY},
    {"faults-dir", required_argument, NULL, OPT_FAULTS_DIR},
    {"no-offload", no_argument, NULL, OPT_NO_OFFLOAD},
    {"udp", no_argument, NULL, 'u'},
    {"verbose", no_argument, NULL, 'v'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

void weir_app_err(const struct weir_app *a, const char *fmt, ...)
{
  va_list ap;

  fprintf(stderr, "%s: ", a->prog);
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputc('\n', stderr);
}

static void usage_error(const struct weir_app *a, const char *fmt, ...)
    __attribute__((format(printf, 2, 3), noreturn));

static void usage_error(const struct weir_app *a, const char *fmt, ...)
{
  va_list ap;

  fprintf(stderr, "%s: ", a->prog);
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fprintf(stderr, " (see --help)\n");
  exit(WEIR_APP_USAGE);
}

char *weir_app_endpoint(uint32_t addr, uint16_t port, char *buf)
{
  char ip[WEIR_IPV4_STRLEN];

  snprintf(buf, 22, "%s:%u", weir_ipv4_format(addr, ip), (unsigned)port);
  return buf;
}

/* Digits only: strtoull alone takes "-1", " 7" and "0x10". */
static int parse_u64(const char *s, uint64_t max, uint64_t *out)
{
  uint64_t v = 0;

  if (*s == '\0')
    return -1;
  for (; *s; s++) {
    if (*s < '0' || *s > '9')
      return -1;
    if (v > (max - (uint64_t)(*s - '0')) / 10)
      return -1;
    v = v * 10 + (uint64_t)(*s - '0');
  }
  *out = v;
  return 0;
}

static uint16_t parse_port(const struct weir_app *a, const char *s)
{
  uint64_t v;

  if (parse_u64(s, 65535, &v) < 0 || v == 0)
    usage_error(a, "bad port '%s': want 1..65535", s);
  return (uint16_t)v;
}

static void parse_cidr(const struct weir_app *a, const char *flag,
                       const char *s, uint32_t *ip, uint8_t *prefix)
{
  if (weir_ipv4_parse_cidr(s, ip, prefix) < 0)
    usage_error(a, "bad %s '%s': want ADDR/PREFIX, e.g. 10.77.0.2/24", flag, s);
  if (*ip == 0 || *prefix == 0 || (*ip >> 28) >= 14 || (*ip >> 24) == 127)
    usage_error(a, "bad %s '%s': not a unicast host address", flag, s);
}

static uint32_t parse_addr(const struct weir_app *a, const char *what,
                           const char *s)
{
  uint32_t ip;

  if (weir_ipv4_parse_text(s, &ip) < 0)
    usage_error(a, "bad %s '%s': want a dotted IPv4 address", what, s);
  if (ip == 0 || (ip >> 28) >= 14 || (ip >> 24) == 127)
    usage_error(a, "bad %s '%s': not a unicast host address", what, s);
  return ip;
}

/* A decimal number in [lo, hi]: "0.05", "1e-2", "1". */
static int parse_real(const char *s, double lo, double hi, double *out)
{
  char *end;
  double v;

  errno = 0;
  v = strtod(s, &end);
  if (errno || end == s || *end || !isfinite(v) || v < lo || v > hi)
    return -1;
  *out = v;
  return 0;
}

static double parse_prob(const struct weir_app *a, const char *flag,
                         const char *s)
{
  double p;

  if (parse_real(s, 0, 1, &p) < 0)
    usage_error(a, "bad %s '%s': want a probability, 0..1 (e.g. 0.05)", flag,
                s);
  return p;
}

/* What the kernel would refuse anyway, refused early with a clearer
 * message (dev_valid_name() in net/core/dev.c). */
static int ifname_ok(const char *s)
{
  size_t n = strlen(s);

  if (n == 0 || n >= WEIR_LINK_IFNAMSIZ || !strcmp(s, ".") || !strcmp(s, ".."))
    return 0;
  for (; *s; s++)
    if (*s == '/' || *s == ':' || *s <= ' ' || *s == 0x7f)
      return 0;
  return 1;
}

void weir_app_parse(struct weir_app *a, int argc, char **argv,
                    enum weir_app_role role, const char *usage,
                    uint64_t default_timeout_us)
{
  struct weir_app_opts *o = &a->o;
  const char *slash = strrchr(argv[0], '/');
  int ip_set = 0, port_set = 0, msl_set = 0, c, npos;
  const char *backend_name = NULL, *if_set = NULL;
  struct stat st_in, st_out;
  char **pos;
  uint64_t v;
  double d;
  char *end;

  memset(a, 0, sizeof(*a));
  a->prog = slash ? slash + 1 : argv[0];
  o->role = role;
  o->backend = weir_link_find("tun");
  o->ifname = "weir%d";
  memcpy(o->mac, default_mac, sizeof(o->mac));
  weir_ipv4_parse_cidr(default_ip, &o->ip, &o->prefix);
  o->timeout_us = default_timeout_us;
  o->msl_us = WEIR_APP_MSL_US;
  o->faults_dirs = 1u << WEIR_FAULTS_IN | 1u << WEIR_FAULTS_OUT;

  opterr = 0; /* our messages are one line and name the program once */
  while ((c = getopt_long(argc, argv, ":uvh", long_opts, NULL)) != -1) {
    switch (c) {
    case OPT_BACKEND:
      backend_name = optarg;
      /* pcapfile is not in the table of live links: it needs a file and
       * the driver's virtual clock (see --pcap-in). */
      if (strcmp(optarg, "pcapfile") == 0)
        break;
      o->backend = weir_link_find(optarg);
      if (!o->backend)
        usage_error(a, "unknown backend '%s': want %s|pcapfile", optarg,
                    weir_link_names());
      break;
    case OPT_IF:
      if (!ifname_ok(optarg))
        usage_error(a,
                    "bad device name '%s': 1..15 bytes, no '/', ':' or "
                    "spaces",
                    optarg);
      o->ifname = optarg;
      if_set = optarg;
      break;
    case OPT_IP:
      parse_cidr(a, "--ip", optarg, &o->ip, &o->prefix);
      ip_set = 1;
      break;
    case OPT_GW:
      o->gw = parse_addr(a, "--gw", optarg);
      break;
    case OPT_MAC:
      if (weir_mac_parse(optarg, o->mac) < 0)
        usage_error(a, "bad --mac '%s': want aa:bb:cc:dd:ee:ff", optarg);
      if ((o->mac[0] & 1) || !memcmp(o->mac, "\0\0\0\0\0\0", 6))
        usage_error(a, "bad --mac '%s': not a unicast address", optarg);
      break;
    case OPT_KERNEL_IP:
      parse_cidr(a, "--kernel-ip", optarg, &o->kernel_ip, &o->kernel_prefix);
      break;
    case OPT_MTU:
      if (parse_u64(optarg, 65535, &v) < 0 || v < 576)
        usage_error(a, "bad --mtu '%s': want 576..65535", optarg);
      o->mtu = (uint16_t)v;
      break;
    case OPT_PORT:
      o->port = parse_port(a, optarg);
      port_set = 1;
      break;
    case OPT_COUNT:
      if (parse_u64(optarg, UINT32_MAX, &v) < 0 || v == 0)
        usage_error(a, "bad --count '%s': want a positive number", optarg);
      o->count = v;
      break;
    case OPT_TIMEOUT:
      errno = 0;
      d = strtod(optarg, &end);
      if (errno || end == optarg || *end || !isfinite(d) || d <= 0 || d > 1e6)
        usage_error(a, "bad --timeout '%s': want seconds, e.g. 5 or 0.5",
                    optarg);
      o->timeout_us = (uint64_t)(d * 1e6);
      if (o->timeout_us == 0)
        o->timeout_us = 1;
      break;
    case OPT_SEED:
      if (parse_u64(optarg, UINT64_MAX, &o->seed) < 0)
        usage_error(a, "bad --seed '%s': want a number", optarg);
      o->seeded = 1;
      break;
    case OPT_DISCARD:
      if (role != WEIR_APP_SERVER)
        usage_error(a, "--discard is a flag of echoserver");
      o->discard = 1;
      break;
    case OPT_SINK:
      if (role != WEIR_APP_SERVER)
        usage_error(a, "--sink is a flag of echoserver");
      if (*optarg == '\0')
        usage_error(a, "bad --sink '': want a file name");
      o->sink = optarg;
      break;
    case OPT_MSL:
      if (parse_u64(optarg, 600000, &v) < 0 || v == 0)
        usage_error(a, "bad --msl '%s': want milliseconds, 1..600000", optarg);
      o->msl_us = v * 1000;
      msl_set = 1;
      break;
    case OPT_PCAP_OUT:
      if (*optarg == '\0')
        usage_error(a, "bad --pcap-out '': want a file name");
      o->pcap_out = optarg;
      break;
    case OPT_PCAP_IN:
      if (*optarg == '\0')
        usage_error(a, "bad --pcap-in '': want a file name");
      o->pcap_in = optarg;
      break;
    case OPT_LOSS:
      o->faults.loss = parse_prob(a, "--loss", optarg);
      break;
    case OPT_DUP:
      o->faults.dup = parse_prob(a, "--dup", optarg);
      break;
    case OPT_REORDER:
      o->faults.reorder = parse_prob(a, "--reorder", optarg);
      break;
    case OPT_CORRUPT:
      o->faults.corrupt = parse_prob(a, "--corrupt", optarg);
      break;
    case OPT_DELAY:
      if (parse_real(optarg, 0, 60000, &d) < 0)
        usage_error(a, "bad --delay '%s': want milliseconds, 0..60000", optarg);
      o->faults.delay_us = (uint64_t)(d * 1000 + 0.5);
      break;
    case OPT_FAULTS_DIR:
      if (strcmp(optarg, "in") == 0)
        o->faults_dirs = 1u << WEIR_FAULTS_IN;
      else if (strcmp(optarg, "out") == 0)
        o->faults_dirs = 1u << WEIR_FAULTS_OUT;
      else if (strcmp(optarg, "both") == 0)
        o->faults_dirs = 1u << WEIR_FAULTS_IN | 1u << WEIR_FAULTS_OUT;
      else
        usage_error(a, "bad --faults-dir '%s': want in, out or both", optarg);
      break;
    case OPT_NO_OFFLOAD:
      o->no_offload = 1;
      break;
    case 'u':
      o->udp = 1;
      break;
    case 'v':
      o->verbose = 1;
      break;
    case 'h':
      fputs(usage, stdout);
      printf(common_usage, weir_link_names(), default_ip,
             (unsigned)(WEIR_APP_REPLAY_HORIZON_US / 1000000),
             (unsigned)(WEIR_FAULTS_REORDER_MAX_US / 1000));
      exit(WEIR_APP_OK);
    case ':':
      usage_error(a, "flag '%s' needs a value", argv[optind - 1]);
    default:
      if (optopt >= 256) /* --discard=yes: a known long flag */
        usage_error(a, "flag '%s' takes no value", argv[optind - 1]);
      if (optopt)
        usage_error(a, "unknown flag '-%c'", optopt);
      usage_error(a, "unknown flag '%s'", argv[optind - 1]);
    }
  }

  /* Positional, as nc: client ADDR PORT, server [ADDR] PORT; --port can
   * stand for the PORT. */
  pos = argv + optind;
  npos = argc - optind;
  if (role == WEIR_APP_CLIENT) {
    if (npos < 1)
      usage_error(a, "missing ADDR PORT");
    if (npos > 2)
      usage_error(a, "too many arguments: '%s'", pos[2]);
    o->addr = parse_addr(a, "address", pos[0]);
    if (npos == 2) {
      uint16_t p = parse_port(a, pos[1]);
      if (port_set && p != o->port)
        usage_error(a, "PORT %u and --port %u disagree", (unsigned)p,
                    (unsigned)o->port);
      o->port = p;
    } else if (!port_set) {
      usage_error(a, "missing PORT");
    }
  } else {
    int want = port_set ? 1 : 2; /* the most positionals we accept */
    if (npos > want)
      usage_error(a, "too many arguments: '%s'", pos[want]);
    if (npos == 0 && !port_set)
      usage_error(a, "missing PORT");
    if (!port_set)
      o->port = parse_port(a, pos[npos - 1]);
    if ((port_set && npos == 1) || npos == 2) {
      /* weir has one address: ADDR names it, or must agree with --ip. */
      o->addr = parse_addr(a, "address", pos[0]);
      if (!ip_set)
        o->ip = o->addr;
      else if (o->addr != o->ip)
        usage_error(a, "address '%s' is not weir's (--ip)", pos[0]);
    }
  }

  /* The pcapfile backend: --pcap-in says which file, and implies it. */
  if (backend_name && strcmp(backend_name, "pcapfile") == 0 && !o->pcap_in)
    usage_error(a, "--backend pcapfile needs --pcap-in FILE");
  if (o->pcap_in) {
    if (backend_name && strcmp(backend_name, "pcapfile") != 0)
      usage_error(a, "--pcap-in is the pcapfile backend, not %s", backend_name);
    if (if_set || o->kernel_ip)
      usage_error(a, "%s is for live backends, not with --pcap-in",
                  if_set ? "--if" : "--kernel-ip");
    o->backend = NULL; /* the file's link type decides (weir_app_start) */
    if (o->pcap_out && stat(o->pcap_in, &st_in) == 0 &&
        stat(o->pcap_out, &st_out) == 0 && st_in.st_dev == st_out.st_dev &&
        st_in.st_ino == st_out.st_ino)
      usage_error(a, "--pcap-out would overwrite --pcap-in");
  }
  if (o->kernel_ip && o->kernel_ip == o->ip)
    usage_error(a, "--kernel-ip and --ip must differ: they are the two "
                   "ends of the device");
  if (o->gw && o->gw == o->ip)
    usage_error(a, "--gw is weir's own address");
  if (o->gw && ((o->gw ^ o->ip) & weir_ipv4_netmask(o->prefix)))
    usage_error(a, "--gw must be on weir's subnet (--ip)");
  if (role == WEIR_APP_CLIENT && o->addr == o->ip)
    usage_error(a, "ADDR is weir's own address");
  if (o->discard && o->sink)
    usage_error(a, "--discard and --sink exclude each other");
  if (o->udp && (o->discard || o->sink || msl_set))
    usage_error(a, "%s is for TCP, not with -u",
                o->discard ? "--discard"
                : o->sink  ? "--sink"
                           : "--msl");
}

static void fill_secret(struct weir_app *a, struct weir_config *cfg)
{
  uint8_t *secret = cfg->secret;
  size_t got = 0, len = sizeof(cfg->secret);
  ssize_t n;

  /* The same derivation as the replay tests use, so a seeded run can be
   * replayed into the core byte for byte. */
  if (a->o.seeded) {
    weir_config_seed(cfg, a->o.seed);
    return;
  }
  /* The core draws no randomness of its own: this is where it comes in. */
  while (got < len) {
    n = getrandom(secret + got, len - got, 0);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0) {
      weir_app_err(a, "getrandom: %s", strerror(errno));
      exit(WEIR_APP_FAIL);
    }
    got += (size_t)n;
  }
}

static void signal_cb(uv_signal_t *h, int signum)
{
  struct weir_app *a = h->data;

  if (a->stopping)
    return;
  if (a->on_signal)
    a->on_signal(a, signum);
  else
    weir_app_stop(a, WEIR_APP_OK);
}

/* libuv runs check handles once per loop iteration, after the I/O
 * callbacks; the timers of the iteration ran before them. So everything
 * the core did in an iteration is seen here, in the same iteration. */
static void check_cb(uv_check_t *h)
{
  struct weir_app *a = h->data;

  if (a->stopping)
    return;
  weir_app_drain_trace(a);
  if (a->on_check)
    a->on_check(a);
}

/* Ends the app as a signal would: through its own handler, which closes
 * its own handles (timers...) as well; without one, uv_run would wait on
 * them forever. */
static void end_app(struct weir_app *a, int code)
{
  if (a->stopping)
    return;
  if (a->on_signal)
    a->on_signal(a, SIGTERM);
  else
    weir_app_stop(a, code);
}

static void link_error_cb(struct weir_driver *d, int err, void *user)
{
  struct weir_app *a = user;
  const char *warn;

  if (err == UV_EOF && a->o.pcap_in) {
    /* The recording is over and the core's timers are quiet: the app
     * ends as on SIGTERM (echoserver resets what is still open; an
     * echoclient whose exchange is not complete fails). */
    warn = weir_pcapfile_warning(&a->link);
    if (*warn)
      weir_app_err(a, "%s", warn);
    if (a->o.verbose)
      fprintf(a->vout, "%s: end of the recording, virtual clock at %.6f s\n",
              a->prog, (double)weir_driver_now(d) / 1e6);
    end_app(a, WEIR_APP_OK);
    return;
  }
  weir_app_err(a, "%s", weir_link_error(&a->link));
  a->link_failed = 1;
  end_app(a, WEIR_APP_FAIL);
}

/* Frames the fault injector cannot do without a driver: the driver sets
 * the real callback when it starts. */
static void no_deliver(void *ctx, enum weir_faults_dir dir,
                       const uint8_t *frame, size_t len)
{
  (void)ctx;
  (void)dir;
  (void)frame;
  (void)len;
}

static int faults_wanted(const struct weir_faults_params *p)
{
  return p->loss > 0 || p->dup > 0 || p->reorder > 0 || p->corrupt > 0 ||
         p->delay_us > 0;
}

/* The seed of the fault injector: --seed's, or a random one (printed with
 * -v, so that a run that went wrong can be run again). */
static uint64_t fault_seed(struct weir_app *a)
{
  uint64_t seed = 0;

  if (a->o.seeded)
    return a->o.seed;
  if (getrandom(&seed, sizeof(seed), 0) != (ssize_t)sizeof(seed))
    seed = uv_hrtime(); /* a weak seed is fine: this is no secret */
  return seed;
}

/* Gives up before the loop runs: what was opened is closed (the device
 * weir made is removed). */
static void start_failed(struct weir_app *a, int code)
{
  if (a->capturing)
    weir_capture_close(&a->capture);
  if (a->faulting)
    weir_faults_free(&a->faults);
  weir_link_close(&a->link);
  if (a->stack)
    weir_stack_free(a->stack);
  exit(code);
}

void weir_app_start(struct weir_app *a, weir_driver_event_cb on_event)
{
  struct weir_app_opts *o = &a->o;
  struct weir_link_params lp;
  struct weir_driver_opts dopts;
  struct weir_faults_params none;
  struct weir_config cfg;
  char ip[WEIR_IPV4_STRLEN], kip[WEIR_IPV4_STRLEN], mac[WEIR_MAC_STRLEN];
  char msg[WEIR_LINK_ERRSIZE + 64];
  FILE *vout = o->role == WEIR_APP_SERVER ? stdout : stderr;
  int err;

  a->vout = vout;
  if (o->pcap_in) {
    /* A file that cannot be read is a bad flag value, as --pcap-out's. */
    if (weir_pcapfile_open(&a->link, o->pcap_in, o->ip, o->mac, o->mtu) < 0) {
      weir_app_err(a, "%s", weir_link_error(&a->link));
      start_failed(a, WEIR_APP_USAGE);
    }
    o->backend = a->link.ops;
  } else {
    memset(&lp, 0, sizeof(lp));
    lp.ifname = o->ifname;
    lp.create = 1;
    lp.kernel_ip = o->kernel_ip;
    lp.kernel_prefix = o->kernel_prefix;
    lp.mtu = o->mtu;
    lp.no_offload = o->no_offload;
    if (weir_link_open(&a->link, o->backend, &lp) < 0) {
      weir_app_err(a, "%s", weir_link_error(&a->link));
      exit(WEIR_APP_FAIL);
    }
  }
  if (o->pcap_out) {
    if (weir_capture_open(&a->capture, o->pcap_out, o->backend->type, msg,
                          sizeof(msg)) < 0) {
      weir_app_err(a, "%s", msg);
      start_failed(a, WEIR_APP_USAGE);
    }
    a->capturing = 1;
  }
  if (faults_wanted(&o->faults)) {
    memset(&none, 0, sizeof(none));
    a->fault_seed = fault_seed(a);
    if (weir_faults_init(
            &a->faults,
            o->faults_dirs & 1u << WEIR_FAULTS_IN ? &o->faults : &none,
            o->faults_dirs & 1u << WEIR_FAULTS_OUT ? &o->faults : &none,
            a->fault_seed, o->backend->type == WEIR_LINK_ETHERNET ? 14 : 0,
            65535 + 14, /* the driver's buffers: any IPv4 datagram */
            no_deliver, NULL) < 0) {
      weir_app_err(a, "fault injector: out of memory");
      start_failed(a, WEIR_APP_FAIL);
    }
    a->faulting = 1;
  }

  weir_config_default(&cfg);
  cfg.link = o->backend->type;
  memcpy(cfg.mac, o->mac, sizeof(cfg.mac));
  cfg.ip = o->ip;
  cfg.prefix_len = o->prefix;
  cfg.gateway = o->gw;
  cfg.mtu = a->link.mtu; /* what the device really carries */
  cfg.tx_csum_offload = a->link.tx_csum_offload;
  cfg.tx_tso_max = a->link.tx_tso_max;
  fill_secret(a, &cfg);
  cfg.tcp_msl_us = o->msl_us;
  if (o->verbose && !o->udp)
    cfg.trace_entries = 256; /* drained every loop iteration */
  err = weir_stack_new(&cfg, &a->stack);
  if (err < 0) {
    weir_app_err(a, "cannot create the stack: %s", weir_strerror(err));
    a->stack = NULL;
    start_failed(a, err == WEIR_EINVAL ? WEIR_APP_USAGE : WEIR_APP_FAIL);
  }

  a->loop = uv_default_loop();
  memset(&dopts, 0, sizeof(dopts));
  dopts.capture = a->capturing ? &a->capture : NULL;
  dopts.faults = a->faulting ? &a->faults : NULL;
  if (o->pcap_in) {
    dopts.virtual_time = 1;
    dopts.virtual_start = weir_pcapfile_start(&a->link);
    dopts.next_at = weir_pcapfile_next_at;
    dopts.horizon_us = WEIR_APP_REPLAY_HORIZON_US;
  }
  err = weir_driver_init_ex(&a->drv, a->loop, a->stack, &a->link, &dopts,
                            on_event, link_error_cb, a);
  if (err < 0) {
    weir_app_err(a, "cannot poll %s: %s", a->link.ifname, uv_strerror(err));
    start_failed(a, WEIR_APP_FAIL);
  }
  uv_signal_init(a->loop, &a->sigint_);
  uv_signal_init(a->loop, &a->sigterm_);
  a->sigint_.data = a->sigterm_.data = a;
  uv_signal_start(&a->sigint_, signal_cb, SIGINT);
  uv_signal_start(&a->sigterm_, signal_cb, SIGTERM);
  uv_check_init(a->loop, &a->check_);
  a->check_.data = a;
  if (!o->udp)
    uv_check_start(&a->check_, check_cb);

  if (o->verbose) {
    fprintf(vout, "%s: %s %s mtu %u, weir %s/%u", a->prog, o->backend->name,
            o->pcap_in ? o->pcap_in : a->link.ifname, (unsigned)a->link.mtu,
            weir_ipv4_format(o->ip, ip), (unsigned)o->prefix);
    if (o->backend->type == WEIR_LINK_ETHERNET)
      fprintf(vout, " mac %s", weir_mac_format(o->mac, mac));
    if (o->gw)
      fprintf(vout, " gw %s", weir_ipv4_format(o->gw, ip));
    if (o->kernel_ip)
      fprintf(vout, ", kernel side %s/%u", weir_ipv4_format(o->kernel_ip, kip),
              (unsigned)o->kernel_prefix);
    fputc('\n', vout);
    if (o->pcap_out)
      fprintf(vout, "%s: capturing both directions into %s\n", a->prog,
              o->pcap_out);
    if (a->faulting)
      fprintf(vout,
              "%s: faults %s: loss %g dup %g reorder %g corrupt %g delay "
              "%.3f ms, seed %" PRIu64 "\n",
              a->prog,
              o->faults_dirs == (1u << WEIR_FAULTS_IN | 1u << WEIR_FAULTS_OUT)
                  ? "both ways"
              : o->faults_dirs & 1u << WEIR_FAULTS_IN ? "inbound"
                                                      : "outbound",
              o->faults.loss, o->faults.dup, o->faults.reorder,
              o->faults.corrupt, (double)o->faults.delay_us / 1000,
              a->fault_seed);
  }
}

void weir_app_stop(struct weir_app *a, int code)
{
  sigset_t set;

  if (a->stopping)
    return;
  a->stopping = 1;
  a->exit_code = a->link_failed ? WEIR_APP_FAIL : code;
  /* Closing the last uv_signal_t restores the default action, and a
   * second SIGTERM is common (timeout(1) signals the child, then its
   * whole group): it would kill us half-way through the exit, counters
   * printed and status lost. Shutdown never waits, so hold them off. */
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigprocmask(SIG_BLOCK, &set, NULL);
  weir_driver_close(&a->drv, NULL);
  uv_close((uv_handle_t *)&a->check_, NULL);
  uv_close((uv_handle_t *)&a->sigint_, NULL);
  uv_close((uv_handle_t *)&a->sigterm_, NULL);
}

void weir_app_print_stats(const struct weir_app *a, FILE *f)
{
  const struct weir_stats *st = weir_stats(a->stack);
  const struct weir_driver_stats *ds = &a->drv.stats;
  int i;

  fprintf(f, "%s: counters:\n", a->prog);
  for (i = 0; i < WEIR_STAT__COUNT; i++)
    if (st->c[i])
      fprintf(f, "  %-22s %" PRIu64 "\n", weir_stat_name(i), st->c[i]);
#define DRV(name)                                                              \
  if (ds->name)                                                                \
    fprintf(f, "  driver.%-15s %" PRIu64 "\n", #name, ds->name);
  DRV(wakeups)
  DRV(frames_in)
  DRV(frames_out)
  DRV(gso_out)
  DRV(gso_segs)
  DRV(batch_full)
  DRV(send_again)
  DRV(send_errors)
  DRV(timer_fires)
  DRV(steps)
#undef DRV
  if (a->faulting) {
    static const char *const dir[2] = {"in", "out"};
    const struct weir_faults_stats *fs;
    char name[32];
    int k;
    for (k = 0; k < 2; k++) {
      fs = &a->faults.side[k].stats;
#define FLT(field)                                                             \
  if (fs->field) {                                                             \
    snprintf(name, sizeof(name), "faults.%s.%s", dir[k], #field);              \
    fprintf(f, "  %-22s %" PRIu64 "\n", name, fs->field);                      \
  }
      FLT(frames)
      FLT(lost)
      FLT(corrupted)
      FLT(duplicated)
      FLT(reordered)
      FLT(delayed)
      FLT(overflow)
#undef FLT
    }
  }
  if (a->capturing)
    fprintf(f, "  capture.frames         %" PRIu64 "\n", a->capture.frames);
  if (a->o.pcap_in) {
    const struct weir_pcapfile_stats *ps = weir_pcapfile_stats(&a->link);
    fprintf(f, "  pcapfile.records       %" PRIu64 "\n", ps->records);
    if (ps->own)
      fprintf(f, "  pcapfile.own           %" PRIu64 "\n", ps->own);
    if (ps->truncated)
      fprintf(f, "  pcapfile.truncated     %" PRIu64 "\n", ps->truncated);
  }
}

int weir_app_finish(struct weir_app *a, FILE *vout)
{
  int err;

  weir_app_drain_trace(a);
  if (a->o.verbose)
    weir_app_print_stats(a, vout);
  uv_loop_close(a->loop);
  if (a->capturing) {
    err = weir_capture_close(&a->capture);
    if (err < 0) {
      /* What was written before the error is whole: the writer stopped
       * at the last complete record. */
      weir_app_err(a,
                   "capture: %s: %s (the file ends after %" PRIu64 " frames)",
                   a->o.pcap_out, strerror(-err), a->capture.frames);
      if (a->exit_code == WEIR_APP_OK)
        a->exit_code = WEIR_APP_FAIL;
    }
  }
  if (a->faulting)
    weir_faults_free(&a->faults);
  weir_link_close(&a->link);
  weir_stack_free(a->stack);
  return a->exit_code;
}

void weir_app_drain_trace(struct weir_app *a)
{
  struct weir_trace t;
  char ep[24];
  FILE *f = a->vout ? a->vout : stderr;

  while (weir_next_trace(a->stack, &t)) {
    if (t.lost)
      fprintf(f, "%s: %u trace entries lost\n", a->prog, (unsigned)t.lost);
    /* A listener has no peer: name it by its own endpoint. */
    if (a->trace_by_peer && t.remote_port)
      weir_app_endpoint(t.remote_addr, t.remote_port, ep);
    else
      weir_app_endpoint(t.local_addr, t.local_port, ep);
    switch (t.kind) {
    case WEIR_TRACE_STATE:
      fprintf(f, "%s %s -> %s\n", ep, weir_tcp_state_name(t.from),
              weir_tcp_state_name(t.to));
      break;
    case WEIR_TRACE_RETRANSMIT:
      fprintf(f, "%s retransmit seq %" PRIu32 " (%s)\n", ep, t.seq,
              t.arg == 2 ? "fast retransmit" : "timeout");
      break;
    case WEIR_TRACE_RESET_IN:
      fprintf(f, "%s reset by peer\n", ep);
      break;
    case WEIR_TRACE_RESET_OUT:
      fprintf(f, "%s reset sent\n", ep);
      break;
    default:
      fprintf(f, "%s trace kind %d\n", ep, t.kind);
      break;
    }
  }
}

double weir_app_seconds(void)
{
  struct timespec ts;

  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

char *weir_app_bytes(uint64_t n, char *buf)
{
  if (n < 1024)
    snprintf(buf, 16, "%u B", (unsigned)n);
  else if (n < 1024 * 1024)
    snprintf(buf, 16, "%.1f KiB", (double)n / 1024);
  else if (n < (uint64_t)1024 * 1024 * 1024)
    snprintf(buf, 16, "%.1f MiB", (double)n / (1024 * 1024));
  else
    snprintf(buf, 16, "%.2f GiB", (double)n / (1024.0 * 1024 * 1024));
  return buf;
}

double weir_app_mbits(uint64_t n, double secs)
{
  return secs > 0 ? (double)n * 8 / secs / 1e6 : 0;
}
