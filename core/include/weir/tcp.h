/* TCP sockets (RFC 9293). Handles are small non-negative integers from
 * the same table as UDP's. Nothing blocks: calls that cannot complete now
 * return WEIR_EAGAIN, and an event (event.h) says when to try again.
 *
 * A connection lives on after weir_tcp_close: the core finishes its
 * closing handshake (FIN-WAIT, TIME-WAIT ...) on its own and then frees
 * it; the handle is free at once. */
#ifndef WEIR_TCP_H
#define WEIR_TCP_H

#include <stddef.h>
#include <stdint.h>

#include "weir/stack.h"

enum weir_tcp_state {
  WEIR_TCP_CLOSED = 0,
  WEIR_TCP_LISTEN,
  WEIR_TCP_SYN_SENT,
  WEIR_TCP_SYN_RECEIVED,
  WEIR_TCP_ESTABLISHED,
  WEIR_TCP_FIN_WAIT_1,
  WEIR_TCP_FIN_WAIT_2,
  WEIR_TCP_CLOSE_WAIT,
  WEIR_TCP_CLOSING,
  WEIR_TCP_LAST_ACK,
  WEIR_TCP_TIME_WAIT,
};

/* "SYN-SENT", "ESTABLISHED", ... as RFC 9293 writes them. */
const char *weir_tcp_state_name(int state);

/* Opens a TCP socket, not yet listening or connected. Returns a handle,
 * WEIR_EMFILE or WEIR_ENOMEM. */
int weir_tcp_open(struct weir_stack *s);

/* Listens on a local port (1..65535) of our address. `backlog` bounds the
 * connections waiting for weir_tcp_accept (and, with cfg.tcp_syn_backlog,
 * those still in SYN-RECEIVED). Returns 0, WEIR_EADDRINUSE, WEIR_EINVAL
 * or WEIR_EBADF. */
int weir_tcp_listen(struct weir_stack *s, int sock, uint16_t port,
                    uint32_t backlog);

/* Takes an established connection from a listener. Returns a new handle
 * (with the peer's address in *addr and *port if not NULL), WEIR_EAGAIN if none
 * is ready (WEIR_EV_ACCEPT follows), WEIR_EMFILE, or WEIR_EBADF. */
int weir_tcp_accept(struct weir_stack *s, int listener, uint32_t *addr,
                    uint16_t *port);

/* Starts a connection from an ephemeral port (or the port given to
 * weir_tcp_bind). Returns 0: the SYN is on its way, and WEIR_EV_CONNECTED,
 * WEIR_EV_RESET or WEIR_EV_ERROR follows. Or: WEIR_ENETUNREACH; WEIR_EINVAL
 * for address or port 0; WEIR_EISCONN if already connected or listening;
 * WEIR_EADDRNOTAVAIL if no port is free; WEIR_ENOBUFS if the connection
 * table is full; WEIR_ENOMEM. */
int weir_tcp_connect(struct weir_stack *s, int sock, uint32_t addr,
                     uint16_t port, uint64_t now);

/* Binds the local port an unconnected socket will connect from. */
int weir_tcp_bind(struct weir_stack *s, int sock, uint16_t port);

/* Copies up to len bytes into the send buffer. Returns the number taken
 * (> 0), WEIR_EAGAIN if the buffer is full (WEIR_EV_WRITABLE follows),
 * WEIR_ENOTCONN before the handshake ends, WEIR_EPIPE after
 * weir_tcp_shutdown, or the connection's error (WEIR_ECONNRESET, ...). */
int weir_tcp_send(struct weir_stack *s, int sock, const void *data, size_t len,
                  uint64_t now);

/* Copies up to cap received bytes into buf. Returns the number copied
 * (> 0), 0 at end of stream (the peer closed and all data was read),
 * WEIR_EAGAIN if nothing is ready (WEIR_EV_READABLE follows), or the
 * connection's error. Reading opens the window: an ACK may be queued. */
int weir_tcp_recv(struct weir_stack *s, int sock, void *buf, size_t cap,
                  uint64_t now);

/* Shuts the sending side: a FIN follows the queued data. Receiving goes
 * on. Returns 0, WEIR_ENOTCONN or WEIR_EBADF. */
int weir_tcp_shutdown(struct weir_stack *s, int sock, uint64_t now);

/* Closes the handle. The connection sends its queued data and a FIN and
 * finishes closing on its own; if received data was left unread it is
 * reset instead (RFC 9293 3.10.4, RFC 2525 2.17). A listener's pending
 * connections are reset. Returns 0 or WEIR_EBADF. */
int weir_tcp_close(struct weir_stack *s, int sock, uint64_t now);

/* Resets the connection (RST) and frees the handle at once. */
int weir_tcp_abort(struct weir_stack *s, int sock, uint64_t now);

/* Congestion control algorithms (cfg.tcp_cc, WEIR_TCP_CONGESTION). */
enum weir_tcp_cc {
  WEIR_TCP_CC_CUBIC = 1, /* RFC 9438, the default */
  WEIR_TCP_CC_RENO = 2,  /* RFC 5681 (NewReno loss recovery either way) */
};

enum weir_tcp_opt {
  WEIR_TCP_NODELAY = 1,      /* 1: Nagle off (default 0: Nagle on) */
  WEIR_TCP_KEEPALIVE = 2,    /* 1: send keepalives (default 0) */
  WEIR_TCP_KEEPIDLE_MS = 3,  /* idle time before the first, default 2 h */
  WEIR_TCP_KEEPINTVL_MS = 4, /* between probes, default 75 s */
  WEIR_TCP_KEEPCNT = 5,      /* unanswered probes before reset, default 9 */
  WEIR_TCP_CONGESTION = 6,   /* enum weir_tcp_cc, default cfg.tcp_cc */
};

/* Sets an option. Returns 0, WEIR_EINVAL, WEIR_EBADF, or WEIR_ENOTCONN
 * for a connection's option on a socket without one. The congestion
 * control may be set before connect or listen (connections accepted from
 * a listener take its choice) and changed at any time: the window is
 * kept, the new algorithm's own state starts afresh. */
int weir_tcp_setopt(struct weir_stack *s, int sock, int opt, uint64_t value);

/* What a connection is doing, for tools and tests. */
struct weir_tcp_info {
  int state; /* enum weir_tcp_state */
  uint32_t local_addr, remote_addr;
  uint16_t local_port, remote_port;
  uint32_t snd_mss;        /* bytes of data per segment we send */
  uint32_t snd_wnd;        /* the peer's window, scaled */
  uint32_t rcv_wnd;        /* our window */
  uint32_t cwnd, ssthresh; /* bytes */
  uint64_t srtt_us, rttvar_us, rto_us;
  uint64_t bytes_sent, bytes_acked, bytes_received;
  uint64_t segs_out, segs_in, retransmits, timeouts;
  uint64_t fast_retransmits, dupacks_in, sack_blocks_in;
  uint32_t unacked; /* bytes in flight */
  uint32_t unread;  /* received bytes not yet read */
  uint8_t wscale_ok, ts_ok, sack_ok;
  uint8_t cc; /* enum weir_tcp_cc */
};

/* Fills *info. Returns 0 or WEIR_EBADF. */
int weir_tcp_info(const struct weir_stack *s, int sock,
                  struct weir_tcp_info *info);

/* Trace: with cfg.trace_entries > 0 the core records state transitions,
 * retransmissions and resets in a bounded ring that the caller drains
 * (the core never prints). When the ring is full the oldest entries are
 * overwritten and counted in `lost` of the next entry read. */
enum weir_trace_kind {
  WEIR_TRACE_STATE = 1,      /* from -> to */
  WEIR_TRACE_RETRANSMIT = 2, /* seq: first byte resent; arg: 1 RTO, 2 fast */
  WEIR_TRACE_RESET_IN = 3,   /* a RST ended the connection */
  WEIR_TRACE_RESET_OUT = 4,  /* we sent a RST on a connection */
};

struct weir_trace {
  int kind;
  int sock; /* handle, or -1 if none (closed, or not yet accepted) */
  uint32_t local_addr, remote_addr;
  uint16_t local_port, remote_port;
  int from, to; /* WEIR_TRACE_STATE */
  uint32_t seq; /* WEIR_TRACE_RETRANSMIT: relative to our ISN */
  int arg;
  uint64_t time; /* the `now` of the call that caused it */
  uint32_t lost; /* entries overwritten before this one */
};

/* Takes the oldest trace entry. Returns 1 and fills *t, or 0. */
int weir_next_trace(struct weir_stack *s, struct weir_trace *t);

#endif
