/* Error codes returned by weir's functions: negative integers with names,
 * like libuv's. 0 or a positive count means success. */
#ifndef WEIR_ERROR_H
#define WEIR_ERROR_H

enum weir_err {
  WEIR_EAGAIN = -1,       /* nothing to read, or no room to send now */
  WEIR_EINVAL = -2,       /* bad argument or configuration */
  WEIR_ENOMEM = -3,       /* the allocator failed */
  WEIR_EADDRINUSE = -4,   /* the local port is taken */
  WEIR_EBADF = -5,        /* no such socket handle */
  WEIR_EMSGSIZE = -6,     /* datagram larger than the link can carry */
  WEIR_ENETUNREACH = -7,  /* no route: off-link and no gateway */
  WEIR_EHOSTUNREACH = -8, /* next hop did not answer ARP, or ICMP said so */
  WEIR_ECONNREFUSED = -9, /* ICMP port/protocol unreachable, or RST */
  WEIR_ENOBUFS = -10,     /* a bounded queue is full */
  WEIR_ETIMEDOUT = -11,
  WEIR_ECONNRESET = -12,
  WEIR_ENOTCONN = -13,
  WEIR_EMFILE = -14, /* the socket table is full */
  WEIR_EADDRNOTAVAIL = -15,
  WEIR_ENOPROTOOPT = -16, /* ICMP: protocol unreachable */
  WEIR_EPROTO = -17,      /* ICMP: parameter problem or other error */
  WEIR_ETTL = -18,        /* ICMP: time exceeded in transit */
  WEIR_EPIPE = -19,       /* send after shutdown */
  WEIR_EISCONN = -20,     /* already connected or listening */
};

/* A short constant description ("no route to host", ...); never NULL. */
const char *weir_strerror(int err);

#endif
