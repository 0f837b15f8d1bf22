/* IPv4 fragment reassembly (RFC 791 3.2, RFC 815), with bounded memory.
 *
 * Each datagram being rebuilt holds a slot: a buffer of cfg.reasm_max_size
 * bytes allocated when the stack was made, and the list of fragments
 * received. Overlapping fragments drop the whole datagram, as Linux does
 * since 4.19 and RFC 5722 requires for IPv6: overlaps have no honest use
 * and are the classic way to slip data past a filter. An exact duplicate
 * (a retransmitted fragment) is ignored. A datagram not complete within
 * cfg.reasm_timeout_us of its first fragment is dropped, with an ICMP time
 * exceeded (code 1) if its first fragment came (RFC 792, RFC 1122
 * 3.2.1.4). */
#include <string.h>

#include "internal.h"
#include "wire/icmp.h"

#define HDR_ROOM 60

int weir__reasm_init(struct weir_stack *s)
{
  uint32_t n = s->cfg.reasm_datagrams;
  if (n == 0)
    return 0;
  s->reasm = weir__alloc(s, (size_t)n * sizeof(*s->reasm));
  if (!s->reasm)
    return WEIR_ENOMEM;
  for (uint32_t i = 0; i < n; i++) {
    struct weir__reasm *r = &s->reasm[i];
    r->timer.kind = WEIR__T_REASM;
    r->timer.owner = i;
    r->frags =
        weir__alloc(s, (size_t)s->cfg.reasm_max_frags * sizeof(*r->frags));
    r->buf = weir__alloc(s, HDR_ROOM + (size_t)s->cfg.reasm_max_size);
    if (!r->frags || !r->buf)
      return WEIR_ENOMEM;
  }
  return 0;
}

static void slot_free(struct weir_stack *s, struct weir__reasm *r)
{
  weir__timer_cancel(&s->timers, &r->timer);
  s->reasm_bytes -= r->have;
  r->used = 0;
  r->have = r->total = r->nfrags = 0;
  r->have_first = 0;
}

static struct weir__reasm *slot_find(struct weir_stack *s,
                                     const struct weir_ipv4 *h)
{
  for (uint32_t i = 0; i < s->cfg.reasm_datagrams; i++) {
    struct weir__reasm *r = &s->reasm[i];
    if (r->used && r->id == h->id && r->src == h->src && r->dst == h->dst &&
        r->proto == h->proto)
      return r;
  }
  return NULL;
}

static struct weir__reasm *slot_new(struct weir_stack *s,
                                    const struct weir_ipv4 *h, uint64_t now)
{
  for (uint32_t i = 0; i < s->cfg.reasm_datagrams; i++) {
    struct weir__reasm *r = &s->reasm[i];
    if (r->used)
      continue;
    r->used = 1;
    r->id = h->id;
    r->src = h->src;
    r->dst = h->dst;
    r->proto = h->proto;
    weir__timer_arm(&s->timers, &r->timer, now + s->cfg.reasm_timeout_us);
    return r;
  }
  return NULL;
}

/* Is [off, end) consistent with what we hold? 1 to store it, 0 for an
 * exact duplicate, -1 for an overlap or a contradiction (drop all). */
static int check_frag(const struct weir__reasm *r, uint32_t off, uint32_t end,
                      int last)
{
  if (r->total && end > r->total)
    return -1; /* beyond the end a last fragment set */
  if (last) {
    if (r->total && r->total != end)
      return -1;
    for (uint32_t i = 0; i < r->nfrags; i++)
      if ((uint32_t)r->frags[i].off + r->frags[i].len > end)
        return -1;
  }
  for (uint32_t i = 0; i < r->nfrags; i++) {
    uint32_t o = r->frags[i].off, e = o + r->frags[i].len;
    if (o == off && e == end)
      return 0;
    if (off < e && o < end)
      return -1;
  }
  return 1;
}

void weir__reasm_input(struct weir_stack *s, const struct weir__ip_in *in,
                       uint64_t now)
{
  const struct weir_ipv4 *h = &in->h;
  uint32_t off = h->frag_off, len = (uint32_t)in->len, end = off + len;
  struct weir__reasm *r;
  int c;

  WEIR__COUNT(s, REASM_FRAGS);
  /* Every fragment but the last carries a multiple of 8 bytes (RFC 791);
   * an empty fragment carries nothing but risk. */
  if (len == 0 || (h->mf && len % 8 != 0)) {
    WEIR__COUNT(s, DROP_IP_MALFORMED);
    return;
  }
  r = slot_find(s, h);
  if (end > s->cfg.reasm_max_size) {
    WEIR__COUNT(s, REASM_OVERSIZE);
    if (r)
      slot_free(s, r);
    return;
  }
  if (!r) {
    r = slot_new(s, h, now);
    if (!r) {
      WEIR__COUNT(s, REASM_NO_SLOT);
      return;
    }
  }
  c = check_frag(r, off, end, !h->mf);
  if (c == 0) {
    WEIR__COUNT(s, REASM_DUP);
    return;
  }
  if (c < 0) {
    WEIR__COUNT(s, REASM_OVERLAP);
    slot_free(s, r);
    return;
  }
  if (r->nfrags == s->cfg.reasm_max_frags) {
    WEIR__COUNT(s, REASM_TOO_MANY_FRAGS);
    slot_free(s, r);
    return;
  }
  if (s->reasm_bytes + len > s->cfg.reasm_max_bytes) {
    WEIR__COUNT(s, REASM_NO_SLOT);
    slot_free(s, r);
    return;
  }
  memcpy(r->buf + HDR_ROOM + off, in->payload, len);
  r->frags[r->nfrags].off = (uint16_t)off;
  r->frags[r->nfrags].len = (uint16_t)len;
  r->nfrags++;
  r->have += len;
  s->reasm_bytes += len;
  if (!h->mf)
    r->total = end;
  if (off == 0) {
    /* The first fragment's header is the datagram's (RFC 791: options
     * copied or not, the first fragment has them all). */
    r->hlen = h->hlen;
    memcpy(r->buf + HDR_ROOM - h->hlen, in->hdr, h->hlen);
    r->have_first = 1;
  }
  if (r->total && r->have == r->total) {
    struct weir__ip_in whole = *in;
    uint8_t *hdr = r->buf + HDR_ROOM - r->hlen;
    /* Present the datagram as if it had arrived whole. The header bytes
     * keep the first fragment's values except length and flags, which
     * no one above IP reads except in ICMP quotes. */
    whole.h.total_len = (uint16_t)(r->hlen + r->total);
    whole.h.mf = 0;
    whole.h.frag_off = 0;
    whole.h.hlen = r->hlen;
    whole.hdr = hdr;
    whole.payload = r->buf + HDR_ROOM;
    whole.len = r->total;
    whole.h.payload = whole.payload;
    whole.h.payload_len = whole.len;
    whole.l4_csum_ok = 0; /* verified over the whole, always */
    WEIR__COUNT(s, REASM_OK);
    weir__ip_deliver(s, &whole, now);
    slot_free(s, r);
  }
}

void weir__reasm_timer(struct weir_stack *s, uint32_t i, uint64_t now)
{
  struct weir__reasm *r = &s->reasm[i];
  WEIR__COUNT(s, REASM_TIMEOUT);
  if (r->have_first) {
    struct weir__ip_in first;
    uint32_t flen = r->frags[0].len;
    memset(&first, 0, sizeof(first));
    /* Quote the first fragment: its header and the start of its data. */
    for (uint32_t k = 0; k < r->nfrags; k++)
      if (r->frags[k].off == 0)
        flen = r->frags[k].len;
    first.h.src = r->src;
    first.h.dst = r->dst;
    first.ip_bcast = (uint8_t)weir__ip_is_bcast(s, r->dst);
    first.h.proto = r->proto;
    first.h.hlen = r->hlen;
    first.hdr = r->buf + HDR_ROOM - r->hlen;
    first.payload = r->buf + HDR_ROOM;
    first.len = flen;
    weir__icmp_error(s, WEIR_ICMP_TIME_EXCEEDED, 1, &first, now);
  }
  slot_free(s, r);
}
