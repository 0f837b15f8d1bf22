/* The fault injector. See faults.h for what each fault does. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "faults.h"

/* A frame held back: in the delay line (a FIFO in arrival order), or in
 * the reorder set until enough later frames have passed it. */
struct weir_faults_held {
  struct weir_faults_held *next;
  uint64_t seq;      /* arrival order in its direction */
  uint64_t due;      /* delay line: when it goes; reorder: not before */
  uint64_t deadline; /* reorder: when it goes even if nothing passed it */
  unsigned overtake; /* reorder: later frames still to pass it */
  size_t len;
  uint8_t data[];
};

uint64_t weir_faults_rand(uint64_t *state)
{
  uint64_t x = *state;

  x ^= x >> 12;
  x ^= x << 25;
  x ^= x >> 27;
  *state = x;
  return x * 0x2545f4914f6cdd1dull;
}

/* splitmix64: spreads a small seed (1, 2, 3...) over the whole state, as
 * xorshift's authors advise, so that near seeds give unrelated runs. */
static uint64_t splitmix64(uint64_t x)
{
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

/* One Bernoulli draw, from the top 53 bits (xorshift64*'s best). A fault
 * that is off draws nothing: the stream a seed gives depends on which
 * faults are on, and is fixed for a given set. */
static int draw(struct weir_faults_side *s, double p)
{
  if (p <= 0)
    return 0;
  return (double)(weir_faults_rand(&s->rng) >> 11) * 0x1.0p-53 < p;
}

int weir_faults_init(struct weir_faults *f, const struct weir_faults_params *in,
                     const struct weir_faults_params *out, uint64_t seed,
                     size_t link_hdr, size_t frame_max,
                     weir_faults_deliver_cb deliver, void *ctx)
{
  const struct weir_faults_params *p[2] = {in, out};
  struct weir_faults_side *s;
  int d;

  memset(f, 0, sizeof(*f));
  f->link_hdr = link_hdr;
  f->deliver = deliver;
  f->ctx = ctx;
  for (d = 0; d < 2; d++) {
    s = &f->side[d];
    if (p[d])
      s->p = *p[d];
    s->active = s->p.loss > 0 || s->p.dup > 0 || s->p.reorder > 0 ||
                s->p.corrupt > 0 || s->p.delay_us > 0;
    /* A stream of its own per direction; xorshift's state must not be
     * zero. */
    s->rng = splitmix64(seed ^ ((uint64_t)(d + 1) << 56));
    if (s->rng == 0)
      s->rng = 1;
  }
  f->scratch_cap = frame_max;
  if (f->side[0].active || f->side[1].active) {
    /* One corrupted copy per direction: delivering an inbound frame
     * runs the stack, which may send (and corrupt) an outbound one. */
    f->scratch = malloc(2 * frame_max);
    if (!f->scratch)
      return -ENOMEM;
  }
  return 0;
}

static void free_list(struct weir_faults_held *h)
{
  struct weir_faults_held *next;

  for (; h; h = next) {
    next = h->next;
    free(h);
  }
}

void weir_faults_free(struct weir_faults *f)
{
  unsigned d, i;

  for (d = 0; d < 2; d++) {
    free_list(f->side[d].delay_head);
    for (i = 0; i < f->side[d].reorder_n; i++)
      free(f->side[d].reorder[i]);
  }
  free(f->scratch);
  memset(f, 0, sizeof(*f));
}

static struct weir_faults_held *hold(const uint8_t *frame, size_t len,
                                     uint64_t seq)
{
  struct weir_faults_held *h = malloc(sizeof(*h) + len);

  if (!h)
    return NULL;
  memset(h, 0, sizeof(*h));
  h->seq = seq;
  h->len = len;
  memcpy(h->data, frame, len);
  return h;
}

/* The reorder entry that may go at now with the lowest arrival number,
 * or -1. */
static int ready_reordered(const struct weir_faults_side *s, uint64_t now)
{
  const struct weir_faults_held *h;
  int best = -1;
  unsigned i;

  for (i = 0; i < s->reorder_n; i++) {
    h = s->reorder[i];
    if ((h->overtake == 0 && h->due <= now) || h->deadline <= now)
      if (best < 0 || h->seq < s->reorder[best]->seq)
        best = (int)i;
  }
  return best;
}

static struct weir_faults_held *take_reordered(struct weir_faults_side *s,
                                               unsigned i)
{
  struct weir_faults_held *h = s->reorder[i];

  s->reorder[i] = s->reorder[--s->reorder_n];
  return h;
}

/* The frame numbered seq goes: it overtakes every reordered frame that
 * arrived before it, and those it was the last to overtake may then go
 * too, after it. */
static void pass(struct weir_faults *f, enum weir_faults_dir dir,
                 const uint8_t *frame, size_t len, uint64_t seq, uint64_t now)
{
  struct weir_faults_side *s = &f->side[dir];
  struct weir_faults_held *h;
  unsigned i;
  int r;

  f->deliver(f->ctx, dir, frame, len);
  for (i = 0; i < s->reorder_n; i++)
    if (s->reorder[i]->seq < seq && s->reorder[i]->overtake > 0)
      s->reorder[i]->overtake--;
  /* Each one that goes is itself a frame passing the others: the loop
   * (not recursion) keeps the stack flat. */
  while ((r = ready_reordered(s, now)) >= 0) {
    h = take_reordered(s, (unsigned)r);
    f->deliver(f->ctx, dir, h->data, h->len);
    for (i = 0; i < s->reorder_n; i++)
      if (s->reorder[i]->seq < h->seq && s->reorder[i]->overtake > 0)
        s->reorder[i]->overtake--;
    free(h);
  }
}

void weir_faults_frame(struct weir_faults *f, enum weir_faults_dir dir,
                       const uint8_t *frame, size_t len, uint64_t now)
{
  struct weir_faults_side *s = &f->side[dir];
  struct weir_faults_held *h;
  uint8_t *copy;
  uint64_t x;
  size_t at;
  int copies, c;

  if (!s->active) {
    f->deliver(f->ctx, dir, frame, len);
    return;
  }
  s->stats.frames++;
  if (draw(s, s->p.loss)) {
    s->stats.lost++;
    return;
  }
  if (draw(s, s->p.corrupt) && len > f->link_hdr && len <= f->scratch_cap) {
    copy = f->scratch + (size_t)dir * f->scratch_cap;
    memcpy(copy, frame, len);
    x = weir_faults_rand(&s->rng);
    if (f->link_hdr == 0 && len >= 20) {
      /* Bare IP: anywhere but the version byte and the source address
       * (bytes 0 and 12..15), by which a replay of the capture tells
       * weir's frames from the peer's (pcapfile.h). The header checksum
       * covers those two as well, so nothing is lost to the test. */
      at = 1 + (size_t)((x >> 8) % (len - 5));
      if (at >= 12)
        at += 4;
    } else {
      at = f->link_hdr + (size_t)((x >> 8) % (len - f->link_hdr));
    }
    copy[at] ^= (uint8_t)(1u << (x & 7));
    frame = copy;
    s->stats.corrupted++;
  }
  copies = 1;
  if (draw(s, s->p.dup)) {
    copies = 2;
    s->stats.duplicated++;
  }
  for (c = 0; c < copies; c++) {
    s->seq++;
    if (draw(s, s->p.reorder)) {
      if (s->reorder_n == WEIR_FAULTS_REORDER_SLOTS ||
          !(h = hold(frame, len, s->seq))) {
        s->stats.overflow++;
        continue;
      }
      h->overtake = 1 + (unsigned)(weir_faults_rand(&s->rng) % 3);
      h->due = now + s->p.delay_us;
      h->deadline = h->due + WEIR_FAULTS_REORDER_MAX_US;
      s->reorder[s->reorder_n++] = h;
      s->stats.reordered++;
    } else if (s->p.delay_us) {
      if (s->delay_n == WEIR_FAULTS_DELAY_SLOTS ||
          !(h = hold(frame, len, s->seq))) {
        s->stats.overflow++;
        continue;
      }
      h->due = now + s->p.delay_us;
      if (s->delay_tail)
        s->delay_tail->next = h;
      else
        s->delay_head = h;
      s->delay_tail = h;
      s->delay_n++;
      s->stats.delayed++;
    } else {
      pass(f, dir, frame, len, s->seq, now);
    }
  }
}

uint64_t weir_faults_next(const struct weir_faults *f)
{
  const struct weir_faults_side *s;
  const struct weir_faults_held *h;
  uint64_t next = UINT64_MAX, t;
  unsigned d, i;

  for (d = 0; d < 2; d++) {
    s = &f->side[d];
    if (s->delay_head && s->delay_head->due < next)
      next = s->delay_head->due;
    for (i = 0; i < s->reorder_n; i++) {
      h = s->reorder[i];
      t = h->overtake == 0 && h->due < h->deadline ? h->due : h->deadline;
      if (t < next)
        next = t;
    }
  }
  return next;
}

static struct weir_faults_held *pop_delayed(struct weir_faults_side *s)
{
  struct weir_faults_held *h = s->delay_head;

  s->delay_head = h->next;
  if (!s->delay_head)
    s->delay_tail = NULL;
  s->delay_n--;
  return h;
}

void weir_faults_release(struct weir_faults *f, uint64_t now)
{
  struct weir_faults_side *s;
  struct weir_faults_held *h;
  int d, r;

  for (d = 0; d < 2; d++) {
    s = &f->side[d];
    /* Unlinked before it is delivered: delivering runs the stack, which
     * may hand this injector new frames of the other direction. */
    while (s->delay_head && s->delay_head->due <= now) {
      h = pop_delayed(s);
      pass(f, (enum weir_faults_dir)d, h->data, h->len, h->seq, now);
      free(h);
    }
    /* Reordered frames nothing came to overtake. */
    while ((r = ready_reordered(s, now)) >= 0) {
      h = take_reordered(s, (unsigned)r);
      pass(f, (enum weir_faults_dir)d, h->data, h->len, h->seq, now);
      free(h);
    }
  }
}

void weir_faults_drain(struct weir_faults *f, enum weir_faults_dir dir)
{
  struct weir_faults_side *s = &f->side[dir];
  struct weir_faults_held *h;
  unsigned i, best;

  /* In arrival order, as if every hold had ended together. */
  while (s->delay_head || s->reorder_n) {
    best = 0;
    for (i = 1; i < s->reorder_n; i++)
      if (s->reorder[i]->seq < s->reorder[best]->seq)
        best = i;
    if (s->delay_head &&
        (s->reorder_n == 0 || s->delay_head->seq < s->reorder[best]->seq))
      h = pop_delayed(s);
    else
      h = take_reordered(s, best);
    f->deliver(f->ctx, dir, h->data, h->len);
    free(h);
  }
}
