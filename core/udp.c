/* UDP sockets (RFC 768, RFC 1122 4.1). Each socket owns a receive ring of
 * cfg.udp_rx_bytes allocated when it is opened; a datagram that does not
 * fit is dropped and counted, never partly kept. */
#include <string.h>

#include "internal.h"
#include "wire/icmp.h"
#include "wire/tcp.h"
#include "wire/udp.h"

/* Each queued datagram is preceded by this record header:
 * address (4), port (2), length (2). */
#define REC_HDR      8
#define EPHEMERAL_LO 49152u

int weir__udp_init(struct weir_stack *s)
{
  uint32_t n = s->cfg.max_sockets, buckets = 1;
  while (buckets < n)
    buckets <<= 1;
  s->port_hmask = buckets - 1;
  s->socks = weir__alloc(s, (size_t)n * sizeof(*s->socks));
  s->port_hash = weir__alloc(s, (size_t)buckets * sizeof(*s->port_hash));
  if (!s->socks || !s->port_hash || weir__slots_init(s, &s->sock_slots, n) != 0)
    return WEIR_ENOMEM;
  for (uint32_t i = 0; i < buckets; i++)
    s->port_hash[i] = WEIR__NONE;
  /* Start the ephemeral search where the secret says (RFC 6056 spirit). */
  s->next_ephemeral =
      (uint16_t)(EPHEMERAL_LO +
                 ((uint32_t)s->cfg.secret[2] << 8 | s->cfg.secret[3]) %
                     (65536u - EPHEMERAL_LO));
  return 0;
}

static uint32_t port_bucket(const struct weir_stack *s, uint16_t port)
{
  return (uint32_t)(port * 40503u) >> 4 & s->port_hmask;
}

/* UDP and TCP ports are separate spaces sharing one hash: the chain is
 * walked for a socket of the right type. */
uint32_t weir__port_lookup(const struct weir_stack *s, uint8_t type,
                           uint16_t port)
{
  uint32_t k = s->port_hash[port_bucket(s, port)];
  while (k != WEIR__NONE &&
         (s->socks[k].lport != port || s->socks[k].type != type))
    k = s->socks[k].port_next;
  return k;
}

static uint32_t port_lookup(const struct weir_stack *s, uint16_t port)
{
  return weir__port_lookup(s, WEIR__SOCK_UDP, port);
}

void weir__port_link(struct weir_stack *s, uint32_t k, uint16_t port)
{
  uint32_t b = port_bucket(s, port);
  s->socks[k].lport = port;
  s->socks[k].port_next = s->port_hash[b];
  s->port_hash[b] = k;
}

void weir__port_unlink(struct weir_stack *s, uint32_t k)
{
  uint32_t *link = &s->port_hash[port_bucket(s, s->socks[k].lport)];
  while (*link != k)
    link = &s->socks[*link].port_next;
  *link = s->socks[k].port_next;
  s->socks[k].lport = 0;
}

static struct weir__sock *get_udp(const struct weir_stack *s, int sock)
{
  if (sock < 0 || (uint32_t)sock >= s->cfg.max_sockets ||
      s->socks[sock].type != WEIR__SOCK_UDP)
    return NULL;
  return &s->socks[sock];
}

/* A free handle of the given type, with its fields cleared. */
int weir__sock_alloc(struct weir_stack *s, uint8_t type)
{
  uint32_t k = weir__slot_take(&s->sock_slots);
  struct weir__sock *so;
  if (k == WEIR__NONE)
    return WEIR_EMFILE;
  so = &s->socks[k];
  {
    /* A closed socket may still sit on the event queue; keep its place. */
    uint8_t on_evq = so->on_evq;
    uint32_t ev_next = so->ev_next;
    memset(so, 0, sizeof(*so));
    so->on_evq = on_evq;
    so->ev_next = ev_next;
  }
  so->type = type;
  so->wr_next = so->port_next = WEIR__NONE;
  return (int)k;
}

int weir_udp_open(struct weir_stack *s)
{
  int k = weir__sock_alloc(s, WEIR__SOCK_UDP);
  struct weir__sock *so;
  if (k < 0)
    return k;
  so = &s->socks[k];
  so->rx.buf = weir__alloc(s, s->cfg.udp_rx_bytes);
  if (!so->rx.buf) {
    weir__sock_put(s, (uint32_t)k);
    return WEIR_ENOMEM;
  }
  so->rx.cap = s->cfg.udp_rx_bytes;
  return k;
}

int weir_udp_bind(struct weir_stack *s, int sock, uint16_t port)
{
  struct weir__sock *so = get_udp(s, sock);
  if (!so)
    return WEIR_EBADF;
  if (so->lport)
    return WEIR_EINVAL;
  if (port == 0) {
    uint32_t tries;
    for (tries = 0; tries < 65536u - EPHEMERAL_LO; tries++) {
      uint16_t p = s->next_ephemeral;
      s->next_ephemeral =
          p == 65535 ? (uint16_t)EPHEMERAL_LO : (uint16_t)(p + 1);
      if (port_lookup(s, p) == WEIR__NONE) {
        port = p;
        break;
      }
    }
    if (port == 0)
      return WEIR_EADDRINUSE;
  } else if (port_lookup(s, port) != WEIR__NONE) {
    return WEIR_EADDRINUSE;
  }
  weir__port_link(s, (uint32_t)sock, port);
  return 0;
}

int weir_udp_local_port(const struct weir_stack *s, int sock)
{
  const struct weir__sock *so = get_udp(s, sock);
  return so ? so->lport : WEIR_EBADF;
}

int weir_udp_sendto(struct weir_stack *s, int sock, const void *data,
                    size_t len, uint32_t addr, uint16_t port, uint64_t now)
{
  struct weir__sock *so = get_udp(s, sock);
  struct weir_udp u;
  uint32_t k, nexthop;
  uint8_t *l4;
  int err;

  if (!so)
    return WEIR_EBADF;
  if (addr == 0 || port == 0 || addr == s->cfg.ip)
    return WEIR_EINVAL;
  if (len > (size_t)s->cfg.mtu - WEIR_IPV4_HLEN - WEIR_UDP_HLEN)
    return WEIR_EMSGSIZE;
  err = weir__ip_route(s, addr, &nexthop);
  if (err)
    return err;
  if (!so->lport && (err = weir_udp_bind(s, sock, 0)) != 0)
    return err;
  k = weir__pkt_get(s, 1);
  if (k == WEIR__NONE) {
    if (!so->want_writable) {
      so->want_writable = 1;
      so->wr_next = s->wr_head;
      s->wr_head = (uint32_t)sock;
    }
    return WEIR_EAGAIN;
  }
  l4 = WEIR__PKT_IP(s, k) + WEIR_IPV4_HLEN;
  memcpy(l4 + WEIR_UDP_HLEN, data, len);
  memset(&u, 0, sizeof(u));
  u.sport = so->lport;
  u.dport = port;
  u.payload_len = len;
  weir_udp_emit(&u, s->cfg.ip, addr, l4, WEIR_UDP_HLEN + len);
  s->pkts[k].sock = sock;
  s->pkts[k].ip_dst = addr;
  s->pkts[k].port = port;
  WEIR__COUNT(s, UDP_OUT);
  weir__ip_send(s, k, WEIR_IP_PROTO_UDP, addr, WEIR_UDP_HLEN + len, now);
  return (int)len;
}

void weir__udp_input(struct weir_stack *s, const struct weir__ip_in *in,
                     uint64_t now)
{
  struct weir_udp u;
  struct weir__sock *so;
  uint8_t rec[REC_HDR];
  uint32_t k, need;

  if (weir_udp_parse(&u, in->payload, in->len) != 0) {
    WEIR__COUNT(s, DROP_UDP_MALFORMED);
    return;
  }
  if (!in->l4_csum_ok && !weir_l4_checksum_ok(WEIR_IP_PROTO_UDP, in->payload,
                                              u.len, in->h.src, in->h.dst)) {
    WEIR__COUNT(s, DROP_UDP_CHECKSUM);
    return;
  }
  k = port_lookup(s, u.dport);
  if (k == WEIR__NONE) {
    WEIR__COUNT(s, DROP_UDP_NO_PORT);
    weir__icmp_error(s, WEIR_ICMP_DEST_UNREACH, WEIR_ICMP_PORT_UNREACH, in,
                     now);
    return;
  }
  so = &s->socks[k];
  need = REC_HDR + (uint32_t)u.payload_len;
  if (need > so->rx.cap - so->rx.len) {
    WEIR__COUNT(s, DROP_UDP_RXQ_FULL);
    return;
  }
  rec[0] = (uint8_t)(in->h.src >> 24);
  rec[1] = (uint8_t)(in->h.src >> 16);
  rec[2] = (uint8_t)(in->h.src >> 8);
  rec[3] = (uint8_t)in->h.src;
  rec[4] = (uint8_t)(u.sport >> 8);
  rec[5] = (uint8_t)u.sport;
  rec[6] = (uint8_t)(u.payload_len >> 8);
  rec[7] = (uint8_t)u.payload_len;
  weir__ring_write(&so->rx, so->rx.len, rec, REC_HDR);
  weir__ring_write(&so->rx, so->rx.len + REC_HDR, u.payload,
                   (uint32_t)u.payload_len);
  so->rx.len += need;
  WEIR__COUNT(s, UDP_IN);
  weir__sock_raise(s, k, WEIR_EV_READABLE);
}

int weir_udp_recvfrom(struct weir_stack *s, int sock, void *buf, size_t cap,
                      uint32_t *addr, uint16_t *port)
{
  struct weir__sock *so = get_udp(s, sock);
  uint8_t rec[REC_HDR];
  uint32_t len, n;

  if (!so)
    return WEIR_EBADF;
  if (so->rx.len == 0)
    return WEIR_EAGAIN;
  weir__ring_read(&so->rx, 0, rec, REC_HDR);
  len = (uint32_t)rec[6] << 8 | rec[7];
  n = len < cap ? len : (uint32_t)cap;
  weir__ring_read(&so->rx, REC_HDR, buf, n);
  if (addr)
    *addr = (uint32_t)rec[0] << 24 | (uint32_t)rec[1] << 16 |
            (uint32_t)rec[2] << 8 | rec[3];
  if (port)
    *port = (uint16_t)(rec[4] << 8 | rec[5]);
  weir__ring_consume(&so->rx, REC_HDR + len);
  return (int)n;
}

int weir_udp_close(struct weir_stack *s, int sock)
{
  struct weir__sock *so = get_udp(s, sock);
  if (!so)
    return WEIR_EBADF;
  if (so->lport)
    weir__port_unlink(s, (uint32_t)sock);
  /* Slots it sent may still wait for ARP: they must not report to a
   * handle that someone else may open next. */
  for (uint32_t i = 0; i < s->cfg.tx_slots; i++)
    if (s->pkts[i].sock == sock)
      s->pkts[i].sock = -1;
  if (so->want_writable) {
    uint32_t *link = &s->wr_head;
    while (*link != (uint32_t)sock)
      link = &s->socks[*link].wr_next;
    *link = so->wr_next;
  }
  weir__free(s, so->rx.buf);
  so->rx.buf = NULL;
  weir__sock_put(s, (uint32_t)sock);
  return 0;
}

void weir__udp_icmp_error(struct weir_stack *s, int err, uint16_t sport,
                          uint32_t dst, uint16_t dport)
{
  uint32_t k = port_lookup(s, sport);
  if (k != WEIR__NONE)
    weir__sock_set_error(s, k, err, dst, dport);
}

/* Frees handle k: it may be taken again at once (its place on the event
 * queue, if any, is kept: see weir__sock_alloc). */
void weir__sock_put(struct weir_stack *s, uint32_t k)
{
  s->socks[k].type = WEIR__SOCK_FREE;
  s->socks[k].events = 0;
  weir__slot_put(&s->sock_slots, k);
}

void weir__sock_free_all(struct weir_stack *s)
{
  weir__slots_free(s, &s->sock_slots);
  if (!s->socks)
    return;
  for (uint32_t k = 0; k < s->cfg.max_sockets; k++)
    weir__free(s, s->socks[k].rx.buf);
  weir__free(s, s->socks);
  weir__free(s, s->port_hash);
}
