/* Events: what happened to sockets since the caller last looked.
 *
 * The core never calls back into the application. A socket with pending
 * events is put once on a queue; weir_next_event takes the next socket off
 * it and returns all its pending events as one mask. The queue cannot
 * overflow: it has one place per socket. */
#ifndef WEIR_EVENT_H
#define WEIR_EVENT_H

#include "weir/stack.h"

enum weir_event_bits {
  WEIR_EV_READABLE = 1 << 0, /* data or a datagram can be received */
  WEIR_EV_WRITABLE = 1 << 1, /* room to send again after WEIR_EAGAIN */
  WEIR_EV_ERROR = 1 << 2,    /* weir_sock_error() has a pending error */
  /* TCP */
  WEIR_EV_ACCEPT = 1 << 3,      /* a listener has a connection to accept */
  WEIR_EV_CONNECTED = 1 << 4,   /* connect completed: ESTABLISHED */
  WEIR_EV_PEER_CLOSED = 1 << 5, /* the peer sent FIN: recv will return 0 */
  WEIR_EV_CLOSED = 1 << 6,      /* the connection ended (both FINs done) */
  WEIR_EV_RESET = 1 << 7,       /* reset or refused: weir_sock_error says */
};

struct weir_event {
  int sock;        /* socket handle */
  unsigned events; /* WEIR_EV_* bits */
};

/* Takes the next event. Returns 1 and fills *ev, or 0 if none is pending. */
int weir_next_event(struct weir_stack *s, struct weir_event *ev);

/* Returns and clears the socket's pending error (a WEIR_E* value, with the
 * address it concerns in *addr and *port if not NULL), 0 if none, or
 * WEIR_EBADF. Errors come from ICMP messages about datagrams the socket
 * sent, from ARP resolution that gave up, and for TCP from resets
 * (WEIR_ECONNREFUSED, WEIR_ECONNRESET) and give-up (WEIR_ETIMEDOUT). */
int weir_sock_error(struct weir_stack *s, int sock, uint32_t *addr,
                    uint16_t *port);

#endif
