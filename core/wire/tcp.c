/* TCP headers and options (RFC 9293, RFC 7323, RFC 2018). */
#include <string.h>

#include "wire/bytes.h"
#include "wire/checksum.h"
#include "wire/ipv4.h"
#include "wire/tcp.h"
#include "wire/udp.h"

#define OPT_EOL       0
#define OPT_NOP       1
#define OPT_MSS       2
#define OPT_WS        3
#define OPT_SACK_PERM 4
#define OPT_SACK      5
#define OPT_TS        8

#define OPT_MSS_LEN        4
#define OPT_WS_LEN         3
#define OPT_SACK_PERM_LEN  2
#define OPT_TS_LEN         10
#define OPT_SACK_BLOCK_LEN 8
#define MAX_OPT_LEN        (WEIR_TCP_MAX_HLEN - WEIR_TCP_HLEN)

static int parse_opts(struct weir_tcp_opts *o, const uint8_t *p, size_t n)
{
  size_t i = 0;

  memset(o, 0, sizeof(*o));
  while (i < n) {
    uint8_t kind = p[i], olen;
    const uint8_t *v;

    /* RFC 9293 3.1: EOL ends the list (what follows is padding); NOP is a
     * single byte; every other kind has a length byte counting itself. */
    if (kind == OPT_EOL)
      break;
    if (kind == OPT_NOP) {
      i++;
      continue;
    }
    if (n - i < 2)
      return WEIR_WIRE_BAD_OPTION;
    olen = p[i + 1];
    if (olen < 2 || olen > n - i)
      return WEIR_WIRE_BAD_OPTION;
    v = p + i + 2;
    switch (kind) {
    case OPT_MSS:
      if (olen != OPT_MSS_LEN)
        return WEIR_WIRE_BAD_OPTION;
      o->has_mss = 1;
      o->mss = weir__get16(v);
      break;
    case OPT_WS:
      if (olen != OPT_WS_LEN)
        return WEIR_WIRE_BAD_OPTION;
      o->has_wscale = 1;
      /* RFC 7323 2.3: a shift above 14 MUST be taken as 14. */
      o->wscale = v[0] > WEIR_TCP_MAX_WSCALE ? WEIR_TCP_MAX_WSCALE : v[0];
      break;
    case OPT_SACK_PERM:
      if (olen != OPT_SACK_PERM_LEN)
        return WEIR_WIRE_BAD_OPTION;
      o->sack_perm = 1;
      break;
    case OPT_TS:
      if (olen != OPT_TS_LEN)
        return WEIR_WIRE_BAD_OPTION;
      o->has_ts = 1;
      o->ts_val = weir__get32(v);
      o->ts_ecr = weir__get32(v + 4);
      break;
    case OPT_SACK: {
      /* RFC 2018 3: 2 + 8n bytes; 40 option bytes hold at most 4. */
      size_t nblk = (size_t)(olen - 2) / OPT_SACK_BLOCK_LEN;
      if ((olen - 2) % OPT_SACK_BLOCK_LEN != 0 || nblk < 1 ||
          nblk > WEIR_TCP_MAX_SACK)
        return WEIR_WIRE_BAD_OPTION;
      o->nsack = (uint8_t)nblk;
      for (size_t b = 0; b < nblk; b++) {
        o->sack[b].left = weir__get32(v + b * OPT_SACK_BLOCK_LEN);
        o->sack[b].right = weir__get32(v + b * OPT_SACK_BLOCK_LEN + 4);
      }
      break;
    }
    default:
      /* RFC 9293 3.1: unknown options are skipped by their length. */
      break;
    }
    i += olen;
  }
  return WEIR_WIRE_OK;
}

int weir_tcp_parse(struct weir_tcp *t, const uint8_t *buf, size_t len)
{
  size_t hlen;

  if (len < WEIR_TCP_HLEN)
    return WEIR_WIRE_TRUNCATED;
  hlen = (size_t)(buf[12] >> 4) * 4;
  if (hlen < WEIR_TCP_HLEN || hlen > len)
    return WEIR_WIRE_BAD_HLEN;
  t->sport = weir__get16(buf);
  t->dport = weir__get16(buf + 2);
  t->seq = weir__get32(buf + 4);
  t->ack = weir__get32(buf + 8);
  t->hlen = (uint8_t)hlen;
  t->flags = buf[13];
  t->win = weir__get16(buf + 14);
  t->csum = weir__get16(buf + 16);
  t->urg = weir__get16(buf + 18);
  t->payload = buf + hlen;
  t->payload_len = len - hlen;
  return parse_opts(&t->opt, buf + WEIR_TCP_HLEN, hlen - WEIR_TCP_HLEN);
}

/* Option bytes before any SACK blocks, in the layout weir_tcp_emit uses.
 * Every piece is a multiple of 4 bytes, so no padding is ever needed. */
static size_t fixed_opts_len(const struct weir_tcp_opts *o)
{
  size_t n = 0;

  if (o->has_mss)
    n += 4;
  if (o->has_ts)
    n += 12; /* SACK-perm rides in the TS word's leading NOP NOP */
  else if (o->sack_perm)
    n += 4;
  if (o->has_wscale)
    n += 4;
  return n;
}

/* How many SACK blocks fit after the fixed options (NOP NOP kind len
 * + 8 per block, within 40 option bytes). */
static size_t sack_blocks_fit(const struct weir_tcp_opts *o, size_t fixed)
{
  size_t n = o->nsack > WEIR_TCP_MAX_SACK ? WEIR_TCP_MAX_SACK : o->nsack;
  size_t room;

  if (n == 0 || fixed + 4 + OPT_SACK_BLOCK_LEN > MAX_OPT_LEN)
    return 0;
  room = (MAX_OPT_LEN - fixed - 4) / OPT_SACK_BLOCK_LEN;
  return n < room ? n : room;
}

size_t weir_tcp_header_len(const struct weir_tcp_opts *o)
{
  size_t fixed = fixed_opts_len(o);
  size_t nblk = sack_blocks_fit(o, fixed);

  return WEIR_TCP_HLEN + fixed + (nblk ? 4 + nblk * OPT_SACK_BLOCK_LEN : 0);
}

/* Writes options in Linux's order and layout (tcp_options_write), so a
 * capture of weir looks like a capture of Linux. Returns bytes written. */
static size_t emit_opts(const struct weir_tcp_opts *o, uint8_t *p)
{
  uint8_t *start = p;
  size_t nblk = sack_blocks_fit(o, fixed_opts_len(o));

  if (o->has_mss) {
    p[0] = OPT_MSS;
    p[1] = OPT_MSS_LEN;
    weir__put16(p + 2, o->mss);
    p += 4;
  }
  if (o->has_ts) {
    if (o->sack_perm) {
      p[0] = OPT_SACK_PERM;
      p[1] = OPT_SACK_PERM_LEN;
    } else {
      p[0] = OPT_NOP;
      p[1] = OPT_NOP;
    }
    p[2] = OPT_TS;
    p[3] = OPT_TS_LEN;
    weir__put32(p + 4, o->ts_val);
    weir__put32(p + 8, o->ts_ecr);
    p += 12;
  } else if (o->sack_perm) {
    p[0] = OPT_NOP;
    p[1] = OPT_NOP;
    p[2] = OPT_SACK_PERM;
    p[3] = OPT_SACK_PERM_LEN;
    p += 4;
  }
  if (o->has_wscale) {
    p[0] = OPT_NOP;
    p[1] = OPT_WS;
    p[2] = OPT_WS_LEN;
    /* RFC 7323 2.3: never offer a shift above 14. */
    p[3] = o->wscale > WEIR_TCP_MAX_WSCALE ? WEIR_TCP_MAX_WSCALE : o->wscale;
    p += 4;
  }
  if (nblk) {
    p[0] = OPT_NOP;
    p[1] = OPT_NOP;
    p[2] = OPT_SACK;
    p[3] = (uint8_t)(2 + nblk * OPT_SACK_BLOCK_LEN);
    p += 4;
    for (size_t b = 0; b < nblk; b++) {
      weir__put32(p, o->sack[b].left);
      weir__put32(p + 4, o->sack[b].right);
      p += OPT_SACK_BLOCK_LEN;
    }
  }
  return (size_t)(p - start);
}

static size_t emit(const struct weir_tcp *t, uint32_t src, uint32_t dst,
                   uint8_t *buf, size_t cap, int partial)
{
  size_t hlen = weir_tcp_header_len(&t->opt);
  size_t total;
  uint32_t sum;

  /* The pseudo-header carries the segment length in 16 bits. */
  if (t->payload_len > WEIR_IPV4_MAX_LEN - hlen)
    return 0;
  total = hlen + t->payload_len;
  if (total > cap)
    return 0;
  weir__put16(buf, t->sport);
  weir__put16(buf + 2, t->dport);
  weir__put32(buf + 4, t->seq);
  weir__put32(buf + 8, t->ack);
  buf[12] = (uint8_t)((hlen / 4) << 4);
  buf[13] = t->flags;
  weir__put16(buf + 14, t->win);
  weir__put16(buf + 16, 0);
  weir__put16(buf + 18, t->urg);
  emit_opts(&t->opt, buf + WEIR_TCP_HLEN);
  sum = weir_csum_pseudo(src, dst, WEIR_IP_PROTO_TCP, (uint16_t)total);
  if (partial)
    weir__put16(buf + WEIR_TCP_CSUM_OFF, (uint16_t)sum);
  else
    weir__put16(buf + WEIR_TCP_CSUM_OFF,
                weir_csum_finish(weir_csum_add(sum, buf, total)));
  return total;
}

size_t weir_tcp_emit(const struct weir_tcp *t, uint32_t src, uint32_t dst,
                     uint8_t *buf, size_t cap)
{
  return emit(t, src, dst, buf, cap, 0);
}

size_t weir_tcp_emit_partial(const struct weir_tcp *t, uint32_t src,
                             uint32_t dst, uint8_t *buf, size_t cap)
{
  return emit(t, src, dst, buf, cap, 1);
}

int weir_l4_checksum_ok(uint8_t proto, const uint8_t *seg, size_t len,
                        uint32_t src, uint32_t dst)
{
  if (len > WEIR_IPV4_MAX_LEN)
    return 0;
  /* RFC 768: a transmitted 0 means the sender computed none. */
  if (proto == WEIR_IP_PROTO_UDP && len >= WEIR_UDP_HLEN &&
      weir__get16(seg + 6) == 0)
    return 1;
  return weir_csum_finish(weir_csum_add(
             weir_csum_pseudo(src, dst, proto, (uint16_t)len), seg, len)) == 0;
}
