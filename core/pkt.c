/* The pool of outgoing frame slots and the lists that hold them. All of it
 * is allocated when the stack is created; sending never allocates. */
#include <string.h>

#include "internal.h"

/* Slots an application send may not take, so that ARP and ICMP replies
 * still go out when an application fills the transmit queue. */
#define WEIR__PKT_RESERVE 4

int weir__pkt_init(struct weir_stack *s)
{
  uint32_t n = s->cfg.tx_slots;
  s->pkt_size = s->lhlen + s->cfg.mtu;
  s->pkts = weir__alloc(s, (size_t)n * sizeof(*s->pkts));
  s->pkt_mem = weir__alloc(s, (size_t)n * s->pkt_size);
  if (!s->pkts || !s->pkt_mem)
    return WEIR_ENOMEM;
  s->freeq.head = s->freeq.tail = s->txq.head = s->txq.tail = WEIR__NONE;
  for (uint32_t i = 0; i < n; i++) {
    s->pkts[i].buf = s->pkt_mem + (size_t)i * s->pkt_size;
    weir__pktq_push(s, &s->freeq, i);
  }
  return 0;
}

uint32_t weir__pkt_get(struct weir_stack *s, int app)
{
  uint32_t i;
  if (app && s->freeq.len <= WEIR__PKT_RESERVE)
    return WEIR__NONE;
  i = weir__pktq_pop(s, &s->freeq);
  if (i != WEIR__NONE) {
    s->pkts[i].sock = -1;
    s->pkts[i].len = 0;
  }
  return i;
}

/* Returns a slot to the pool, and tells the sockets that were refused a
 * slot that there is room again. */
void weir__pkt_put(struct weir_stack *s, uint32_t i)
{
  weir__pktq_push(s, &s->freeq, i);
  if (s->wr_head != WEIR__NONE && s->freeq.len > WEIR__PKT_RESERVE) {
    uint32_t k = s->wr_head;
    s->wr_head = WEIR__NONE;
    while (k != WEIR__NONE) {
      uint32_t next = s->socks[k].wr_next;
      s->socks[k].want_writable = 0;
      s->socks[k].wr_next = WEIR__NONE;
      weir__sock_raise(s, k, WEIR_EV_WRITABLE);
      k = next;
    }
  }
}

void weir__pktq_push(struct weir_stack *s, struct weir__pktq *q, uint32_t i)
{
  s->pkts[i].next = WEIR__NONE;
  if (q->tail == WEIR__NONE)
    q->head = i;
  else
    s->pkts[q->tail].next = i;
  q->tail = i;
  q->len++;
}

uint32_t weir__pktq_pop(struct weir_stack *s, struct weir__pktq *q)
{
  uint32_t i = q->head;
  if (i == WEIR__NONE)
    return i;
  q->head = s->pkts[i].next;
  if (q->head == WEIR__NONE)
    q->tail = WEIR__NONE;
  q->len--;
  s->pkts[i].next = WEIR__NONE;
  return i;
}
