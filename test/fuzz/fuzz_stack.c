/* Fuzzes the whole input path: a stack on either link type fed a series
 * of frames at advancing times, with timers run, sockets used and output
 * drained between them. Every frame weir emits must parse back cleanly,
 * fit the link, and come from our own addresses.
 *
 * Input: byte 0 picks the link type (bit 0) and whether the link has
 * TSO and checksum offload (bit 1: weir_output_meta, whose frames may be
 * super-segments with partial checksums, checked by completing them);
 * then records of
 *   [op][len hi][len lo][len bytes]
 * op % 4: 0 a frame (op bits 3-4: the WEIR_RX_CSUM_* flags it comes
 *         with), 1 advance time by len ms and run timers,
 *         2 send a datagram of len bytes, 3 receive on the sockets.
 * A TCP listener on port 80 accepts and echoes; op 2 with bit 7 set
 * connects out (or sends on that connection) instead of using UDP.
 * A frame with op bit 2 set has its TCP acknowledgment number taken as
 * relative to the last ISN weir sent, and its checksum fixed, so that
 * the fuzzer can get past the handshake without guessing 32 bits. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "weir/weir.h"
#include "wire/arp.h"
#include "wire/bytes.h"
#include "wire/checksum.h"
#include "wire/ethernet.h"
#include "wire/ipv4.h"
#include "wire/tcp.h"

#define US_IP 0x0a4d0002u

/* The ISN of weir's latest SYN or SYN,ACK, from check_frame. */
struct seen {
  uint32_t iss;
};

static void note_tcp(struct seen *sn, const struct weir_ipv4 *ip)
{
  struct weir_tcp t;
  if (ip->proto == WEIR_IP_PROTO_TCP &&
      weir_tcp_parse(&t, ip->payload, ip->payload_len) == 0 &&
      (t.flags & WEIR_TCP_SYN))
    sn->iss = t.seq;
}

/* Rewrites the frame's TCP ack as iss + ack and fixes the checksum. */
static void fix_ack(const struct weir_stack *s, const struct seen *sn,
                    uint8_t *f, size_t n)
{
  size_t off = weir_stack_config(s)->link == WEIR_LINK_IP ? 0 : WEIR_ETH_HLEN;
  struct weir_ipv4 ip;
  uint8_t *l4;
  uint32_t sum;
  if (n < off || weir_ipv4_parse(&ip, f + off, n - off) != 0 ||
      ip.proto != WEIR_IP_PROTO_TCP || ip.payload_len < WEIR_TCP_HLEN)
    return;
  l4 = f + off + ip.hlen;
  weir__put32(l4 + 8, weir__get32(l4 + 8) + sn->iss);
  l4[16] = l4[17] = 0;
  sum = weir_csum_pseudo(ip.src, ip.dst, WEIR_IP_PROTO_TCP,
                         (uint16_t)ip.payload_len);
  weir__put16(l4 + 16,
              weir_csum_finish(weir_csum_add(sum, l4, ip.payload_len)));
}

/* What weir_output_meta said of a frame must hold: a partial checksum
 * sits in a TCP header and, completed as the link would, verifies; a
 * super-segment is TCP with more than gso_size bytes of data. Returns the
 * most the frame may hold past the link header. */
static size_t check_meta(const struct weir_config *c, uint8_t *f, size_t n,
                         const struct weir_tx_meta *m)
{
  size_t l3 = c->link == WEIR_LINK_IP ? 0 : WEIR_ETH_HLEN;
  struct weir_ipv4 ip;
  if (m->flags & WEIR_TX_CSUM_PARTIAL) {
    uint8_t *l4 = f + m->csum_start;
    if (!c->tx_csum_offload || m->csum_offset != 16 || n < l3 ||
        weir_ipv4_parse(&ip, f + l3, n - l3) != 0 ||
        ip.proto != WEIR_IP_PROTO_TCP || m->csum_start != l3 + ip.hlen ||
        ip.payload_len < WEIR_TCP_HLEN)
      abort();
    weir__put16(l4 + 16,
                weir_csum_finish(weir_csum_add(0, l4, ip.payload_len)));
    if (!weir_l4_checksum_ok(WEIR_IP_PROTO_TCP, l4, ip.payload_len, ip.src,
                             ip.dst))
      abort();
  }
  if (m->gso_size == 0)
    return c->mtu;
  if (!(m->flags & WEIR_TX_CSUM_PARTIAL) || m->hdr_len >= n ||
      n - m->hdr_len <= m->gso_size)
    abort();
  return c->tx_tso_max;
}

static void check_frame(const struct weir_stack *s, struct seen *sn, uint8_t *f,
                        size_t n, const struct weir_tx_meta *m)
{
  const struct weir_config *c = weir_stack_config(s);
  size_t max = check_meta(c, f, n, m);
  struct weir_ipv4 ip;
  struct weir_eth e;
  if (c->link == WEIR_LINK_IP) {
    if (n > max || weir_ipv4_parse(&ip, f, n) != 0 || ip.src != US_IP)
      abort();
    note_tcp(sn, &ip);
    return;
  }
  if (n > max + WEIR_ETH_HLEN || weir_eth_parse(&e, f, n) != 0 ||
      memcmp(e.src, c->mac, 6) != 0)
    abort();
  if (e.type == WEIR_ETHERTYPE_ARP) {
    struct weir_arp a;
    if (weir_arp_parse(&a, e.payload, e.payload_len) != 0 || a.spa != US_IP)
      abort();
  } else if (e.type != WEIR_ETHERTYPE_IPV4 ||
             weir_ipv4_parse(&ip, e.payload, e.payload_len) != 0 ||
             ip.src != US_IP) {
    abort();
  } else {
    note_tcp(sn, &ip);
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  static const uint8_t mac[6] = {0x02, 0, 0, 0, 0, 0x02};
  struct weir_config c;
  struct weir_stack *s;
  struct weir_event ev;
  struct weir_tx_meta m;
  uint8_t out[4096], buf[2048], frame[4096];
  struct seen sn = {0};
  uint64_t now = 1000000;
  size_t i = 1;
  int sock, lsock, tsock = -1, csock = -1;

  if (size < 1)
    return 0;
  weir_config_default(&c);
  c.link = data[0] & 1 ? WEIR_LINK_IP : WEIR_LINK_ETHERNET;
  memcpy(c.mac, mac, 6);
  c.ip = US_IP;
  c.prefix_len = 24;
  c.gateway = 0x0a4d0001u;
  /* Small limits reach the limit paths with short inputs. */
  c.tx_slots = 16;
  c.arp_entries = 4;
  c.reasm_datagrams = 2;
  c.reasm_max_frags = 8;
  c.udp_rx_bytes = 4096;
  c.tcp_snd_buf = c.tcp_rcv_buf = 8192;
  c.tcp_max_conns = 8;
  c.tcp_syn_backlog = 4;
  if (data[0] & 2) {
    c.tx_csum_offload = 1;
    c.tx_tso_max = 65535;
  }
  if (weir_stack_new(&c, &s) != 0)
    abort();
  sock = weir_udp_open(s);
  if (sock < 0 || weir_udp_bind(s, sock, 7) != 0)
    abort();
  lsock = weir_tcp_open(s);
  if (lsock < 0 || weir_tcp_listen(s, lsock, 80, 4) != 0)
    abort();

  while (i + 3 <= size) {
    uint8_t op = data[i];
    size_t len = (size_t)data[i + 1] << 8 | data[i + 2];
    i += 3;
    if (len > size - i)
      len = size - i;
    switch (op % 4) {
    case 0:
      if ((op & 4) && len <= sizeof(frame)) {
        memcpy(frame, data + i, len);
        fix_ack(s, &sn, frame, len);
        weir_input_flags(s, frame, len, now, (op >> 3) & 3u);
      } else {
        weir_input_flags(s, data + i, len, now, (op >> 3) & 3u);
      }
      i += len;
      break;
    case 1:
      now += (uint64_t)len * 1000;
      len = 0;
      break;
    case 2: {
      uint32_t dst = 0x0a4d0000u | ((op >> 2) & 0x1f);
      if (len > sizeof(buf))
        len = sizeof(buf);
      memcpy(buf, data + i, len);
      if (!(op & 0x80)) {
        weir_udp_sendto(s, sock, buf, len, dst, 9, now);
      } else if (csock < 0) {
        csock = weir_tcp_open(s);
        if (csock >= 0 && weir_tcp_connect(s, csock, dst, 80, now) != 0) {
          weir_tcp_close(s, csock, now);
          csock = -1;
        }
      } else if (len == 0) {
        weir_tcp_shutdown(s, csock, now);
      } else {
        weir_tcp_send(s, csock, buf, len, now);
      }
      i += len;
      break;
    }
    default:
      while (weir_udp_recvfrom(s, sock, buf, sizeof(buf), NULL, NULL) >= 0)
        ;
      if (csock >= 0)
        while (weir_tcp_recv(s, csock, buf, sizeof(buf), now) > 0)
          ;
      break;
    }
    /* The TCP echo: accept one connection at a time, echo what fits,
     * close when the peer does. */
    if (tsock < 0)
      tsock = weir_tcp_accept(s, lsock, NULL, NULL);
    if (tsock >= 0) {
      int n = weir_tcp_recv(s, tsock, buf, 512, now);
      if (n > 0)
        weir_tcp_send(s, tsock, buf, (size_t)n, now);
      else if (n == 0 || (n < 0 && n != WEIR_EAGAIN)) {
        weir_tcp_close(s, tsock, now);
        tsock = -1;
      }
    }
    if (weir_deadline(s) <= now)
      weir_timers(s, now);
    if (weir_deadline(s) <= now)
      abort(); /* timers(now) must clear everything due at now */
    for (size_t n; (n = weir_output_meta(s, out, sizeof(out), now, &m)) > 0;)
      check_frame(s, &sn, out, n, &m);
    while (weir_next_event(s, &ev))
      weir_sock_error(s, ev.sock, NULL, NULL);
  }
  weir_stack_free(s);
  return 0;
}
