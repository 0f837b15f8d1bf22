/* What echoserver and echoclient share: flags, the stack and link set-up,
 * signals, -v output (TCP trace lines), progress and throughput. */
#ifndef WEIR_APPS_COMMON_H
#define WEIR_APPS_COMMON_H

#include <stdint.h>
#include <stdio.h>
#include <uv.h>

#include "capture.h"
#include "driver.h"
#include "faults.h"
#include "link.h"
#include "weir/weir.h"

/* Exit statuses, as nc and most tools use them. */
enum {
  WEIR_APP_OK = 0,
  WEIR_APP_FAIL = 1,  /* the exchange failed: timeout, refused, I/O */
  WEIR_APP_USAGE = 2, /* bad flags, addresses, ports, configuration */
};

enum weir_app_role { WEIR_APP_SERVER, WEIR_APP_CLIENT };

struct weir_app_opts {
  enum weir_app_role role;
  const struct weir_link_ops *backend;
  const char *ifname;
  uint32_t ip;
  uint8_t prefix;
  uint32_t gw;
  uint8_t mac[6];
  uint32_t kernel_ip; /* 0: give the kernel's side no address */
  uint8_t kernel_prefix;
  uint16_t mtu;   /* 0: the device's own */
  int no_offload; /* --no-offload */
  uint32_t addr;  /* client: the peer; server: 0 or weir's own */
  uint16_t port;  /* client: the peer's; server: the one to bind */
  int udp;
  int verbose;
  uint64_t count;      /* server: exit after this many echoes (UDP) or
                          connections (TCP); 0: never */
  uint64_t timeout_us; /* see --help of each app */
  int seeded;
  uint64_t seed;
  /* TCP only. */
  int discard;      /* server: read and drop instead of echoing */
  const char *sink; /* server: append what connections send to this file */
  uint64_t msl_us;  /* cfg.tcp_msl_us: TIME-WAIT lasts twice this */
  /* Capture, replay and faults. */
  const char *pcap_out; /* --pcap-out: both directions into this file */
  const char *pcap_in;  /* --pcap-in: the pcapfile backend's recording */
  struct weir_faults_params faults; /* --loss, --dup, ... */
  unsigned faults_dirs; /* bit 1 << WEIR_FAULTS_IN / _OUT: --faults-dir */
};

struct weir_app {
  const char *prog;
  struct weir_app_opts o;
  uv_loop_t *loop;
  struct weir_link link;
  struct weir_stack *stack;
  struct weir_driver drv;
  struct weir_capture capture;
  int capturing; /* capture is open */
  struct weir_faults faults;
  int faulting;        /* faults is initialised */
  uint64_t fault_seed; /* what seeded it: --seed, or a random one */
  int link_failed;     /* the link failed: exit 1 whatever the app says */
  uv_signal_t sigint_, sigterm_;
  uv_check_t check_; /* TCP: after every loop iteration, see on_check */
  FILE *vout;        /* where -v lines go: stdout (server), stderr (client) */
  int exit_code;
  int stopping;
  /* Called once on SIGINT/SIGTERM; the app closes its own handles and
   * calls weir_app_stop. NULL: stop with status 0. */
  void (*on_signal)(struct weir_app *a, int signum);
  /* TCP: called once per loop iteration in which anything happened (after
   * the -v trace lines are printed), so that the app can look at its
   * connections' states whatever event changed them. May be NULL. */
  void (*on_check)(struct weir_app *a);
  /* -v trace lines name a connection by its local endpoint (the client:
   * its own port varies) or by its peer's (the server's varies). */
  int trace_by_peer;
  void *user;
};

/* The default MSL of the apps; see --help ("--msl"). */
#define WEIR_APP_MSL_US 1000000u

/* How long (virtual time) a replay lets the core's timers run after the
 * recording's last frame: long enough for a delayed ACK, a TIME-WAIT of
 * the default MSL and a few retransmissions to show in the output, short
 * enough that a connection whose peer falls silent in the recording
 * (its ACKs cut off) does not back off for minutes. */
#define WEIR_APP_REPLAY_HORIZON_US 10000000u

/* Parses argv into a->o. Prints usage and exits 0 on --help; prints one
 * line and exits WEIR_APP_USAGE on anything wrong. `usage` is the app's
 * help text (its synopsis and its own flags), printed before the common
 * flags. */
void weir_app_parse(struct weir_app *a, int argc, char **argv,
                    enum weir_app_role role, const char *usage,
                    uint64_t default_timeout_us);

/* Opens the link, creates the stack, starts the driver and the signal
 * handlers on the default loop. On failure prints one line and exits
 * (WEIR_APP_FAIL for the system, WEIR_APP_USAGE for the configuration). */
void weir_app_start(struct weir_app *a, weir_driver_event_cb on_event);

/* Closes the driver and the signal handlers; uv_run then returns once
 * the app's own handles are closed too. The first code given wins. */
void weir_app_stop(struct weir_app *a, int code);

/* After uv_run: prints the counters (with -v), closes the capture, the
 * link (which deletes the device weir created) and frees the stack.
 * Returns the exit status (1 if the capture could not be written). */
int weir_app_finish(struct weir_app *a, FILE *vout);

/* "10.77.0.1:40000" into buf (>= 22 bytes); returns buf. */
char *weir_app_endpoint(uint32_t addr, uint16_t port, char *buf);

/* Prints "prog: " and the formatted message and a newline on stderr. */
void weir_app_err(const struct weir_app *a, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* The stack's non-zero counters and the driver's, one per line. */
void weir_app_print_stats(const struct weir_app *a, FILE *f);

/* Prints the core's pending TCP trace entries (with -v; otherwise there
 * are none), one line each on a->vout:
 *   10.77.0.2:43512 SYN-SENT -> ESTABLISHED
 *   10.77.0.2:43512 retransmit seq 14481 (timeout)
 *   10.77.0.2:43512 reset by peer */
void weir_app_drain_trace(struct weir_app *a);

/* Monotonic seconds, for progress and throughput lines. */
double weir_app_seconds(void);

/* "16.0 MiB", "512 B", ... into buf (>= 16 bytes); returns buf. */
char *weir_app_bytes(uint64_t n, char *buf);

/* Mbit/s for n bytes in secs seconds (0 if secs is 0). */
double weir_app_mbits(uint64_t n, double secs);

#endif
