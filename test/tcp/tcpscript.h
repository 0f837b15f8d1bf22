/* The scripted TCP test runner: a small packetdrill-like language run
 * against weir's core in virtual time. The language is described in
 * test/tcp/README.md. parse.c turns a script into statements; exec.c runs
 * them against a fresh stack; main.c walks the scripts and counts. */
#ifndef WEIR_TEST_TCPSCRIPT_H
#define WEIR_TEST_TCPSCRIPT_H

#include <stddef.h>
#include <stdint.h>

#include "weir/weir.h"

#define TS_NAME     16   /* handle names, including the NUL */
#define TS_WORD     32   /* option, field, state and counter names */
#define TS_MAX_OPTS 16   /* items in an option list */
#define TS_ERR      8192 /* failure text with its detail lines */

#define US_ADDR   0x0a4d0002u /* 10.77.0.2: weir */
#define PEER_ADDR 0x0a4d0009u /* 10.77.0.9: the scripted peer */

/* A number in a script, or `*` (any value). */
struct ts_num {
  int wild;
  int64_t v;
};

enum ts_opt_kind {
  O_MSS,
  O_SACKOK,
  O_TS,
  O_NOP,
  O_EOL,
  O_WSCALE,
  O_SACK,
  O_BYTES
};

struct ts_opt {
  int kind;
  struct ts_num a, b; /* mss, wscale: a; TS: val a, ecr b */
  int ecr_last;       /* TS ecr `last`: the TSval weir sent last */
  int nblk;           /* sack: blocks a[i]:b[i] */
  struct ts_num left[4], right[4];
  int nbytes; /* bytes: raw option bytes */
  uint8_t bytes[40];
};

/* An inbound segment to build, or an outbound one to expect. */
struct ts_seg {
  int abs; /* seq/ack/sack numbers are absolute, not relative to an ISN */
  uint8_t flags;
  struct ts_num seq, len;
  int has_ack, has_win, has_urg, has_doff, badsum;
  struct ts_num ack, win, urg;
  int64_t doff; /* data offset in 32-bit words, overriding the real one */
  int opts_given, opts_any; /* `<...>` present; `<*>` */
  int nopts;
  struct ts_opt opt[TS_MAX_OPTS];
};

enum ts_verb {
  V_SOCKET,
  V_LISTEN,
  V_ACCEPT,
  V_CONNECT,
  V_BIND,
  V_SEND,
  V_RECV,
  V_SHUTDOWN,
  V_CLOSE,
  V_ABORT,
  V_SETOPT,
  V_EVENT,
  V_EVENTS_NONE,
  V_ERROR,
  V_STATE,
  V_INFO,
  V_STAT,
  V_WAIT,
};

enum ts_cmp { CMP_EQ, CMP_NE, CMP_LT, CMP_LE, CMP_GT, CMP_GE };

struct ts_call {
  int verb;
  char res[TS_NAME]; /* `X = verb ...`: the handle it names */
  char h[TS_NAME];   /* the handle it acts on */
  int64_t n1, n2;    /* port, backlog, byte count, option value */
  int nargs;
  int idx;       /* setopt option, info field, state, stat counter */
  int cmp;       /* info, stat */
  int has_ret;   /* `= R` */
  int64_t ret;   /* a count, or a WEIR_E* code */
  unsigned bits; /* event */
  int exact;     /* event A = BITS */
};

enum ts_kind {
  K_IN,
  K_OUT,
  K_ICMP,
  K_CALL,
  K_PEER_PORT,
  K_LOCAL_PORT,
  K_TOLERANCE
};

/* `< icmp unreachable CODE [mtu N] [seq N]`: an ICMP destination
 * unreachable from the peer quoting weir's last segment to it. */
struct ts_icmp {
  int code;    /* WEIR_ICMP_*_UNREACH, WEIR_ICMP_FRAG_NEEDED */
  int64_t mtu; /* next-hop MTU (frag) */
  int has_seq; /* quote this sequence number instead */
  int64_t seq; /* relative to weir's ISN */
};

struct ts_stmt {
  int line;
  int kind;
  int64_t t;  /* script time of the line, µs from the start */
  int repeat; /* `repeat N`: the statement runs N times (1 by default) */
  char *text;
  struct ts_seg seg;
  struct ts_call call;
  struct ts_icmp icmp;
  int64_t v; /* K_PEER_PORT, K_LOCAL_PORT, K_TOLERANCE */
};

struct ts_script {
  char skip[256]; /* non-empty: %skip reason */
  struct weir_config cfg;
  uint32_t peer_isn;
  struct ts_stmt *st;
  int n, cap;
  int last_line;
};

/* A string being built in a fixed buffer; it stops at the end. */
struct ts_sb {
  char *p;
  size_t cap, n;
};

/* parse.c */

void ts_sbf(struct ts_sb *b, const char *fmt, ...);

/* Reads and parses a script. Returns 0, or -1 with "line N: reason" in
 * err (a syntax error is a failure of the script, never a crash). */
int ts_parse(const char *path, struct ts_script *sc, char *err, size_t cap);
void ts_free(struct ts_script *sc);

const char *ts_err_name(int64_t code);
const char *ts_opt_name(int idx); /* setopt names */
int ts_opt_code(int idx);         /* and their WEIR_TCP_* values */
const char *ts_info_name(int idx);
uint64_t ts_info_get(const struct weir_tcp_info *in, int idx);
void ts_bits_format(unsigned bits, char *buf, size_t cap);

/* exec.c */

/* Runs a parsed script against a new stack. Returns 0 on success, or -1
 * with err set to "line N: reason" followed by detail lines, each
 * starting with a newline and five spaces. With verbose, prints each line
 * and each segment weir emits as it runs. */
int ts_run(const struct ts_script *sc, int verbose, char *err, size_t cap);

#endif
