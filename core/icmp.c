/* ICMP (RFC 792, RFC 1122 3.2.2): answer echo requests, send errors about
 * datagrams we cannot deliver (rate limited), and turn errors about
 * datagrams we sent into socket errors. */
#include <string.h>

#include "internal.h"
#include "tcp/tcb.h"
#include "wire/icmp.h"

/* RFC 1812 4.3.2.3: quote as much of the datagram as fits in 576 bytes. */
#define ICMP_ERROR_MAX 576

static void echo_reply(struct weir_stack *s, const struct weir__ip_in *in,
                       const struct weir_icmp *req, uint64_t now)
{
  struct weir_icmp rep;
  uint32_t k;
  size_t len = WEIR_ICMP_HLEN + req->payload_len;

  if (WEIR_IPV4_HLEN + len > s->cfg.mtu) {
    WEIR__COUNT(s, DROP_TX_TOO_BIG);
    return;
  }
  k = weir__pkt_get(s, 0);
  if (k == WEIR__NONE) {
    WEIR__COUNT(s, DROP_TX_FULL);
    return;
  }
  memset(&rep, 0, sizeof(rep));
  rep.type = WEIR_ICMP_ECHO_REPLY;
  rep.id = req->id;
  rep.seq = req->seq;
  weir_icmp_emit(&rep, req->payload, req->payload_len,
                 WEIR__PKT_IP(s, k) + WEIR_IPV4_HLEN, len);
  WEIR__COUNT(s, ICMP_OUT);
  weir__ip_send(s, k, WEIR_IP_PROTO_ICMP, in->h.src, len, now);
}

/* Error codes for a socket, from the ICMP that told us (as Linux maps
 * them for UDP). */
static int icmp_to_err(uint8_t type, uint8_t code)
{
  if (type == WEIR_ICMP_TIME_EXCEEDED)
    return WEIR_ETTL;
  switch (code) {
  case WEIR_ICMP_PORT_UNREACH:
    return WEIR_ECONNREFUSED;
  case WEIR_ICMP_PROTO_UNREACH:
    return WEIR_ENOPROTOOPT;
  case WEIR_ICMP_FRAG_NEEDED:
    return WEIR_EMSGSIZE;
  case WEIR_ICMP_NET_UNREACH:
    return WEIR_ENETUNREACH;
  default:
    return WEIR_EHOSTUNREACH;
  }
}

static void error_input(struct weir_stack *s, const struct weir_icmp *m,
                        uint64_t now)
{
  struct weir_icmp_quote q;
  WEIR__COUNT(s, ICMP_ERRORS_IN);
  if (weir_icmp_parse_quote(&q, m->payload, m->payload_len) != 0) {
    WEIR__COUNT(s, DROP_ICMP_MALFORMED);
    return;
  }
  /* Only errors about datagrams we could have sent concern us. */
  if (q.src != s->cfg.ip)
    return;
  if (q.proto == WEIR_IP_PROTO_UDP)
    weir__udp_icmp_error(s, icmp_to_err(m->type, m->code), q.sport, q.dst,
                         q.dport);
  else if (q.proto == WEIR_IP_PROTO_TCP)
    weir__tcp_icmp_error(s, icmp_to_err(m->type, m->code),
                         m->type == WEIR_ICMP_DEST_UNREACH &&
                             m->code == WEIR_ICMP_FRAG_NEEDED,
                         m->mtu, &q, now);
}

void weir__icmp_input(struct weir_stack *s, const struct weir__ip_in *in,
                      uint64_t now)
{
  struct weir_icmp m;
  WEIR__COUNT(s, ICMP_IN);
  if (weir_icmp_parse(&m, in->payload, in->len) != 0) {
    WEIR__COUNT(s, DROP_ICMP_MALFORMED);
    return;
  }
  switch (m.type) {
  case WEIR_ICMP_ECHO_REQUEST:
    WEIR__COUNT(s, ICMP_ECHO_IN);
    /* Like Linux (icmp_echo_ignore_broadcasts): no smurf amplifier. */
    if (in->ip_bcast || in->link_bcast)
      return;
    echo_reply(s, in, &m, now);
    break;
  case WEIR_ICMP_DEST_UNREACH:
  case WEIR_ICMP_TIME_EXCEEDED:
    error_input(s, &m, now);
    break;
  default:
    break; /* echo replies, and types we do not use */
  }
}

/* A token bucket refilled at cfg.icmp_rate_per_s, holding cfg.icmp_burst. */
static int rate_ok(struct weir_stack *s, uint64_t now)
{
  uint64_t full = (uint64_t)s->cfg.icmp_burst * 1000000u;
  if (s->cfg.icmp_rate_per_s == 0)
    return 0;
  if (now > s->icmp_last) {
    uint64_t dt = now - s->icmp_last;
    /* Cap dt first so that the product cannot overflow. */
    if (dt > 1000000000u)
      dt = 1000000000u;
    s->icmp_tokens += dt * s->cfg.icmp_rate_per_s;
    if (s->icmp_tokens > full)
      s->icmp_tokens = full;
  }
  s->icmp_last = now;
  if (s->icmp_tokens < 1000000u)
    return 0;
  s->icmp_tokens -= 1000000u;
  return 1;
}

static int is_icmp_error(const struct weir__ip_in *orig)
{
  uint8_t type;
  if (orig->h.proto != WEIR_IP_PROTO_ICMP || orig->len < 1)
    return 0;
  type = orig->payload[0];
  return type != WEIR_ICMP_ECHO_REQUEST && type != WEIR_ICMP_ECHO_REPLY &&
         type != 13 && type != 14; /* timestamp request/reply */
}

void weir__icmp_error(struct weir_stack *s, uint8_t type, uint8_t code,
                      const struct weir__ip_in *orig, uint64_t now)
{
  struct weir_icmp m;
  uint8_t *ip;
  size_t quote, len;
  uint32_t k;

  /* RFC 1122 3.2.2: never about an ICMP error, a broadcast or multicast,
   * a fragment other than the first, or a source that is not one host. */
  if (is_icmp_error(orig) || orig->ip_bcast || orig->link_bcast ||
      weir_ipv4_is_multicast(orig->h.dst) || orig->h.frag_off != 0 ||
      orig->h.src == 0 || weir__ip_is_bcast(s, orig->h.src) ||
      weir_ipv4_is_multicast(orig->h.src))
    return;
  if (!rate_ok(s, now)) {
    WEIR__COUNT(s, DROP_ICMP_RATELIMIT);
    return;
  }
  quote = orig->h.hlen + orig->len;
  if (quote > ICMP_ERROR_MAX - WEIR_IPV4_HLEN - WEIR_ICMP_HLEN)
    quote = ICMP_ERROR_MAX - WEIR_IPV4_HLEN - WEIR_ICMP_HLEN;
  len = WEIR_ICMP_HLEN + quote;
  k = weir__pkt_get(s, 0);
  if (k == WEIR__NONE) {
    WEIR__COUNT(s, DROP_TX_FULL);
    return;
  }
  ip = WEIR__PKT_IP(s, k);
  /* The quote is the header followed by the payload, which need not be
   * contiguous (a reassembled datagram): copy them in two parts. */
  memcpy(ip + WEIR_IPV4_HLEN + WEIR_ICMP_HLEN, orig->hdr, orig->h.hlen);
  memcpy(ip + WEIR_IPV4_HLEN + WEIR_ICMP_HLEN + orig->h.hlen, orig->payload,
         quote - orig->h.hlen);
  memset(&m, 0, sizeof(m));
  m.type = type;
  m.code = code;
  weir_icmp_emit(&m, ip + WEIR_IPV4_HLEN + WEIR_ICMP_HLEN, quote,
                 ip + WEIR_IPV4_HLEN, len);
  WEIR__COUNT(s, ICMP_OUT);
  if (type == WEIR_ICMP_DEST_UNREACH)
    WEIR__COUNT(s, ICMP_UNREACH_OUT);
  weir__ip_send(s, k, WEIR_IP_PROTO_ICMP, orig->h.src, len, now);
}
