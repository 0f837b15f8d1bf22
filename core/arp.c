/* ARP (RFC 826): the cache, resolution with retries, and answers.
 *
 * The cache is a fixed table with a hash on the IPv4 address. An entry is
 * INCOMPLETE while we ask (packets for it wait on its queue, bounded) and
 * REACHABLE once answered, for cfg.arp_ttl_us. When the table is full a
 * new entry takes the place of the REACHABLE one confirmed longest ago;
 * INCOMPLETE entries are never evicted, so a flood of unanswered lookups
 * cannot flush working ones, and a lookup finding no room is dropped. */
#include <string.h>

#include "internal.h"
#include "wire/arp.h"
#include "wire/ethernet.h"

static uint32_t hash_ip(const struct weir_stack *s, uint32_t ip)
{
  /* Fibonacci hashing: addresses on one subnet differ in the low bits. */
  return (uint32_t)(ip * 2654435761u) >> 8 & s->arp_hmask;
}

int weir__arp_init(struct weir_stack *s)
{
  uint32_t n = s->cfg.arp_entries, buckets = 1;
  if (s->cfg.link != WEIR_LINK_ETHERNET)
    return 0;
  while (buckets < n)
    buckets <<= 1;
  s->arp_hmask = buckets - 1;
  s->arp = weir__alloc(s, (size_t)n * sizeof(*s->arp));
  s->arp_hash = weir__alloc(s, (size_t)buckets * sizeof(*s->arp_hash));
  if (!s->arp || !s->arp_hash)
    return WEIR_ENOMEM;
  for (uint32_t i = 0; i < buckets; i++)
    s->arp_hash[i] = WEIR__NONE;
  for (uint32_t i = 0; i < n; i++) {
    s->arp[i].timer.kind = WEIR__T_ARP;
    s->arp[i].timer.owner = i;
    s->arp[i].waiting.head = s->arp[i].waiting.tail = WEIR__NONE;
  }
  return 0;
}

static uint32_t lookup(const struct weir_stack *s, uint32_t ip)
{
  uint32_t i = s->arp_hash[hash_ip(s, ip)];
  while (i != WEIR__NONE && s->arp[i].ip != ip)
    i = s->arp[i].hnext;
  return i;
}

/* Frees an entry: off its hash chain and the timer heap; packets still
 * waiting are dropped and their senders told. */
static void entry_free(struct weir_stack *s, uint32_t i, int err)
{
  struct weir__arp_entry *e = &s->arp[i];
  uint32_t *link = &s->arp_hash[hash_ip(s, e->ip)];
  uint32_t k;

  while (*link != i)
    link = &s->arp[*link].hnext;
  *link = e->hnext;
  weir__timer_cancel(&s->timers, &e->timer);
  while ((k = weir__pktq_pop(s, &e->waiting)) != WEIR__NONE) {
    struct weir__pkt *p = &s->pkts[k];
    if (p->sock >= 0)
      weir__sock_set_error(s, (uint32_t)p->sock, err, p->ip_dst, p->port);
    weir__pkt_put(s, k);
  }
  e->state = WEIR__ARP_FREE;
}

/* A new entry for `ip`, evicting if needed; WEIR__NONE if none can be had. */
static uint32_t entry_new(struct weir_stack *s, uint32_t ip)
{
  uint32_t i, victim = WEIR__NONE, h;
  for (i = 0; i < s->cfg.arp_entries; i++) {
    if (s->arp[i].state == WEIR__ARP_FREE)
      break;
    if (s->arp[i].state == WEIR__ARP_REACHABLE &&
        (victim == WEIR__NONE || s->arp[i].updated < s->arp[victim].updated))
      victim = i;
  }
  if (i == s->cfg.arp_entries) {
    if (victim == WEIR__NONE)
      return WEIR__NONE;
    WEIR__COUNT(s, ARP_CACHE_FULL);
    entry_free(s, victim, WEIR_EHOSTUNREACH);
    i = victim;
  }
  h = hash_ip(s, ip);
  s->arp[i].ip = ip;
  s->arp[i].tries = 0;
  s->arp[i].hnext = s->arp_hash[h];
  s->arp_hash[h] = i;
  return i;
}

static void send_arp(struct weir_stack *s, uint16_t op, const uint8_t *dst_mac,
                     const uint8_t *tha, uint32_t tpa)
{
  uint32_t k = weir__pkt_get(s, 0);
  struct weir_eth e;
  struct weir_arp a;
  uint8_t *b;

  if (k == WEIR__NONE) {
    WEIR__COUNT(s, DROP_TX_FULL);
    return;
  }
  b = s->pkts[k].buf;
  memcpy(e.dst, dst_mac, 6);
  memcpy(e.src, s->cfg.mac, 6);
  e.type = WEIR_ETHERTYPE_ARP;
  weir_eth_emit(&e, b, WEIR_ETH_HLEN);
  a.op = op;
  memcpy(a.sha, s->cfg.mac, 6);
  a.spa = s->cfg.ip;
  memcpy(a.tha, tha, 6);
  a.tpa = tpa;
  weir_arp_emit(&a, b + WEIR_ETH_HLEN, WEIR_ARP_LEN);
  /* Pad to the 60-byte Ethernet minimum, as a NIC would. */
  memset(b + WEIR_ETH_HLEN + WEIR_ARP_LEN, 0,
         60 - WEIR_ETH_HLEN - WEIR_ARP_LEN);
  s->pkts[k].len = 60;
  weir__pktq_push(s, &s->txq, k);
  if (op == WEIR_ARP_REQUEST)
    WEIR__COUNT(s, ARP_REQUESTS_OUT);
  else
    WEIR__COUNT(s, ARP_REPLIES_OUT);
}

static const uint8_t bcast_mac[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
static const uint8_t zero_mac[6] = {0};

/* Writes the Ethernet header of slot k for `mac` and queues it. */
static void transmit(struct weir_stack *s, uint32_t k, const uint8_t *mac)
{
  struct weir_eth e;
  memcpy(e.dst, mac, 6);
  memcpy(e.src, s->cfg.mac, 6);
  e.type = WEIR_ETHERTYPE_IPV4;
  weir_eth_emit(&e, s->pkts[k].buf, WEIR_ETH_HLEN);
  weir__pktq_push(s, &s->txq, k);
}

/* The sender's mapping is now known: record it and release what waits. */
static void learn(struct weir_stack *s, uint32_t i, const uint8_t *mac,
                  uint64_t now)
{
  struct weir__arp_entry *e = &s->arp[i];
  uint32_t k;
  memcpy(e->mac, mac, 6);
  e->state = WEIR__ARP_REACHABLE;
  e->updated = now;
  weir__timer_arm(&s->timers, &e->timer, now + s->cfg.arp_ttl_us);
  while ((k = weir__pktq_pop(s, &e->waiting)) != WEIR__NONE)
    transmit(s, k, e->mac);
}

void weir__arp_input(struct weir_stack *s, const uint8_t *pkt, size_t len,
                     uint64_t now)
{
  struct weir_arp a;
  uint32_t i;
  int for_us;

  if (weir_arp_parse(&a, pkt, len) != 0) {
    WEIR__COUNT(s, DROP_ARP_MALFORMED);
    return;
  }
  if (a.op == WEIR_ARP_REQUEST)
    WEIR__COUNT(s, ARP_REQUESTS_IN);
  else
    WEIR__COUNT(s, ARP_REPLIES_IN);
  /* Nobody may claim a broadcast, multicast or zero hardware address, or
   * our own addresses. */
  if (weir_eth_is_multicast(a.sha) || weir_eth_is_zero(a.sha) ||
      memcmp(a.sha, s->cfg.mac, 6) == 0) {
    WEIR__COUNT(s, DROP_ARP_BAD_SENDER);
    return;
  }
  if (a.spa == s->cfg.ip) {
    WEIR__COUNT(s, ARP_CONFLICT);
    return;
  }
  for_us = a.tpa == s->cfg.ip;
  if (a.spa == a.tpa)
    WEIR__COUNT(s, ARP_GRATUITOUS);

  /* RFC 826 "merge": refresh a mapping we already hold; create one only
   * when the packet is addressed to us. A sender of 0.0.0.0 is an address
   * probe (RFC 5227) and teaches nothing. Gratuitous ARP for hosts we do
   * not talk to is thus ignored: it cannot fill the cache. */
  if (a.spa != 0 && !weir_ipv4_is_multicast(a.spa) &&
      !weir__ip_is_bcast(s, a.spa)) {
    i = lookup(s, a.spa);
    if (i == WEIR__NONE && for_us)
      i = entry_new(s, a.spa);
    if (i != WEIR__NONE)
      learn(s, i, a.sha, now);
  }
  if (for_us && a.op == WEIR_ARP_REQUEST)
    send_arp(s, WEIR_ARP_REPLY, a.sha, a.sha, a.spa);
}

static void arm_retry(struct weir_stack *s, uint32_t i, uint64_t now)
{
  struct weir__arp_entry *e = &s->arp[i];
  e->tries++;
  send_arp(s, WEIR_ARP_REQUEST, bcast_mac, zero_mac, e->ip);
  weir__timer_arm(&s->timers, &e->timer, now + s->cfg.arp_retry_us);
}

void weir__arp_resolve_send(struct weir_stack *s, uint32_t k, uint32_t nexthop,
                            uint64_t now)
{
  struct weir__arp_entry *e;
  uint32_t i;

  if (s->cfg.link == WEIR_LINK_IP) {
    weir__pktq_push(s, &s->txq, k);
    return;
  }
  if (weir__ip_is_bcast(s, nexthop)) {
    transmit(s, k, bcast_mac);
    return;
  }
  i = lookup(s, nexthop);
  if (i == WEIR__NONE) {
    i = entry_new(s, nexthop);
    if (i == WEIR__NONE) {
      WEIR__COUNT(s, ARP_QUEUE_DROP);
      weir__pkt_put(s, k);
      return;
    }
    s->arp[i].state = WEIR__ARP_INCOMPLETE;
    arm_retry(s, i, now);
  }
  e = &s->arp[i];
  if (e->state == WEIR__ARP_REACHABLE) {
    transmit(s, k, e->mac);
    return;
  }
  /* Keep the newest packets: the oldest are the likeliest to be stale. */
  if (e->waiting.len >= s->cfg.arp_queue_per_entry) {
    WEIR__COUNT(s, ARP_QUEUE_DROP);
    weir__pkt_put(s, weir__pktq_pop(s, &e->waiting));
  }
  weir__pktq_push(s, &e->waiting, k);
}

int weir__arp_lookup(struct weir_stack *s, uint32_t nexthop, uint8_t *mac)
{
  uint32_t i;
  if (weir__ip_is_bcast(s, nexthop)) {
    memcpy(mac, bcast_mac, 6);
    return 1;
  }
  i = lookup(s, nexthop);
  if (i == WEIR__NONE || s->arp[i].state != WEIR__ARP_REACHABLE)
    return 0;
  memcpy(mac, s->arp[i].mac, 6);
  return 1;
}

void weir__arp_timer(struct weir_stack *s, uint32_t i, uint64_t now)
{
  struct weir__arp_entry *e = &s->arp[i];
  if (e->state == WEIR__ARP_INCOMPLETE) {
    if (e->tries < s->cfg.arp_retries) {
      arm_retry(s, i, now);
      return;
    }
    WEIR__COUNT(s, ARP_GIVE_UP);
  }
  /* Given up, or a REACHABLE entry expired: the next packet asks again. */
  entry_free(s, i, WEIR_EHOSTUNREACH);
}
