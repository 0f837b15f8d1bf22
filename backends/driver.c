/* The libuv driver. See driver.h for the contract. */
#include <stdlib.h>
#include <string.h>

#include "driver.h"
#include "wire/checksum.h"

/* Big enough for any IPv4 datagram plus an Ethernet header, whatever the
 * device's MTU is changed to behind our back: the kernel truncates reads
 * to the buffer, and a truncated frame would be misparsed as a runt. */
#define FRAME_BUF (65535 + 14)

/* Rounds of "send output, deliver events" per kick. An app that keeps
 * sending from on_event could otherwise hold the loop forever; past this
 * the rest waits one loop iteration (a zero timer). */
#define MAX_ROUNDS 64

struct weir_driver_frame {
  struct weir_driver_frame *next;
  size_t len;
  struct weir_tx_meta meta; /* all zero: a plain frame */
  uint8_t data[];
};

static void timer_cb(uv_timer_t *t);
static void poll_cb(uv_poll_t *p, int status, int events);
static int run(struct weir_driver *d);
static int deliver(struct weir_driver *d);

uint64_t weir_driver_now(const struct weir_driver *d)
{
  if (d->virtual_)
    return d->vnow_;
  if (d->serving_)
    return d->now_;
  return uv_hrtime() / 1000;
}

/* Starts serving a wake-up (a poll or timer callback, an app's kick): the
 * clock is read once, here, and every frame, output and event of it
 * shares that time. A bulk transfer would otherwise read the clock
 * several times a frame. Returns what serve_end needs: serving may nest
 * (a kick from inside on_event), and then the outer time holds. */
static int serve_begin(struct weir_driver *d)
{
  int was = d->serving_;

  if (!was) {
    d->now_ = weir_driver_now(d);
    d->serving_ = 1;
  }
  return was;
}

static void serve_end(struct weir_driver *d, int was)
{
  d->serving_ = was;
}

static void set_poll(struct weir_driver *d, int mask)
{
  if (d->virtual_ || d->closing_ || d->dead_ || mask == d->poll_mask_)
    return;
  d->poll_mask_ = mask;
  uv_poll_start(&d->poll_, mask, poll_cb);
}

static void link_failed(struct weir_driver *d, int err)
{
  if (d->dead_)
    return;
  d->dead_ = 1;
  if (d->virtual_)
    uv_idle_stop(&d->idle_);
  else
    uv_poll_stop(&d->poll_);
  if (d->on_link_error_)
    d->on_link_error_(d, err, d->user);
}

static void capture(struct weir_driver *d, uint64_t now, const uint8_t *frame,
                    size_t len)
{
  if (d->capture_)
    weir_capture_write(d->capture_, now, frame, len);
}

/* Where the IP header starts in a frame of our link. */
static size_t l3_off(const struct weir_driver *d)
{
  return weir_link_type(d->link) == WEIR_LINK_ETHERNET ? 14 : 0;
}

static uint16_t get16(const uint8_t *p)
{
  return (uint16_t)(p[0] << 8 | p[1]);
}

static void put16(uint8_t *p, uint16_t v)
{
  p[0] = (uint8_t)(v >> 8);
  p[1] = (uint8_t)v;
}

/* Captures the segments the link cuts super-segment f into, as the
 * kernel's tcp_gso_segment makes them: its headers on each, the IP
 * length, ID (counting up) and checksum, the sequence number moved on,
 * FIN and PSH on the last only, the TCP checksum complete. */
static void capture_cut(struct weir_driver *d, uint64_t now, const uint8_t *f,
                        size_t len, const struct weir_tx_meta *m)
{
  size_t l3 = l3_off(d), hdr = m->hdr_len, cs = m->csum_start, off, chunk;
  uint8_t *g = d->scratch_, *ip = g + l3, *th = g + cs;
  uint32_t seq;
  uint16_t k;

  if (hdr < cs + 20 || cs < l3 + 20 || hdr >= len)
    return;
  for (off = hdr, k = 0; off < len; off += chunk, k++) {
    chunk = len - off < m->gso_size ? len - off : m->gso_size;
    memcpy(g, f, hdr);
    memcpy(g + hdr, f + off, chunk);
    put16(ip + 2, (uint16_t)(hdr - l3 + chunk));
    put16(ip + 4, (uint16_t)(get16(f + l3 + 4) + k));
    put16(ip + 10, 0);
    put16(ip + 10, weir_csum(ip, cs - l3));
    seq = ((uint32_t)get16(f + cs + 4) << 16 | get16(f + cs + 6)) +
          (uint32_t)(off - hdr);
    put16(th + 4, (uint16_t)(seq >> 16));
    put16(th + 6, (uint16_t)seq);
    if (off + chunk < len)
      th[13] &= (uint8_t) ~(0x01 | 0x08); /* FIN, PSH */
    put16(th + m->csum_offset,
          (uint16_t)weir_csum_pseudo(
              (uint32_t)get16(ip + 12) << 16 | get16(ip + 14),
              (uint32_t)get16(ip + 16) << 16 | get16(ip + 18), 6,
              (uint16_t)(hdr - cs + chunk)));
    weir_link_csum_complete(g, hdr + chunk, l3, cs, m->csum_offset);
    capture(d, now, g, hdr + chunk);
  }
}

/* The link took a frame: counted and captured as the wire carries it (a
 * super-segment as the segments the link cuts it into, a partial
 * checksum completed, both in a copy), so that the file reads and
 * replays like one of a link without offloads. */
static void took(struct weir_driver *d, const uint8_t *frame, size_t len,
                 const struct weir_tx_meta *m)
{
  uint64_t now;

  d->stats.frames_out++;
  if (m && m->gso_size) {
    d->stats.gso_out++;
    d->stats.gso_segs += (len - m->hdr_len + m->gso_size - 1) / m->gso_size;
  }
  if (!d->capture_)
    return;
  now = weir_driver_now(d);
  if (m && m->gso_size && d->scratch_) {
    capture_cut(d, now, frame, len, m);
    return;
  }
  if (m && (m->flags & WEIR_TX_CSUM_PARTIAL) && d->scratch_ &&
      len <= d->tx_cap_) {
    memcpy(d->scratch_, frame, len);
    if (weir_link_csum_complete(d->scratch_, len, l3_off(d), m->csum_start,
                                m->csum_offset) == 0)
      frame = d->scratch_;
  }
  capture(d, now, frame, len);
}

/* Hands one frame to the link: with its meta if it has offloads to ask
 * for, else as it is. */
static int xmit(struct weir_driver *d, const uint8_t *frame, size_t len,
                const struct weir_tx_meta *m)
{
  if (m && (m->flags || m->gso_size))
    return d->link->ops->send_meta(d->link, frame, len, m);
  return d->link->ops->send(d->link, frame, len);
}

/* Keeps a copy of a frame the link refused, behind the others. A frame
 * that cannot be copied is lost, as on a wire. */
static void backlog_add(struct weir_driver *d, const uint8_t *frame, size_t len,
                        const struct weir_tx_meta *m)
{
  struct weir_driver_frame *f = malloc(sizeof(*f) + len);

  if (!f) {
    d->stats.send_errors++;
    return;
  }
  f->next = NULL;
  f->len = len;
  if (m)
    f->meta = *m;
  else
    memset(&f->meta, 0, sizeof(f->meta));
  memcpy(f->data, frame, len);
  if (d->backlog_tail_)
    d->backlog_tail_->next = f;
  else
    d->backlog_ = f;
  d->backlog_tail_ = f;
  set_poll(d, UV_READABLE | UV_WRITABLE);
}

static void backlog_free(struct weir_driver *d)
{
  struct weir_driver_frame *f, *next;

  for (f = d->backlog_; f; f = next) {
    next = f->next;
    free(f);
  }
  d->backlog_ = d->backlog_tail_ = NULL;
}

/* Hands one frame (m: NULL, or what weir_output_meta said of it) to the
 * link, behind any it refused before (order is kept). Returns 0 if the
 * link refused it (it is kept). */
static int link_send(struct weir_driver *d, const uint8_t *frame, size_t len,
                     const struct weir_tx_meta *m)
{
  int r;

  if (d->dead_)
    return 1;
  if (d->backlog_) {
    backlog_add(d, frame, len, m);
    return 0;
  }
  r = xmit(d, frame, len, m);
  if (r > 0) {
    took(d, frame, len, m);
  } else if (r == 0) {
    d->stats.send_again++;
    backlog_add(d, frame, len, m);
    return 0;
  } else {
    /* Lost, as on a wire; the transports above recover. */
    d->stats.send_errors++;
  }
  return 1;
}

/* Retries what the link refused, oldest first. Returns 1 once it is all
 * gone (sent or lost), 0 if the link still refuses. */
static int send_backlog(struct weir_driver *d)
{
  struct weir_driver_frame *f;
  int r;

  while ((f = d->backlog_)) {
    r = xmit(d, f->data, f->len, &f->meta);
    if (r == 0) {
      d->stats.send_again++;
      return 0;
    }
    if (r > 0) {
      took(d, f->data, f->len, &f->meta);
    } else {
      d->stats.send_errors++;
    }
    d->backlog_ = f->next;
    if (!d->backlog_)
      d->backlog_tail_ = NULL;
    free(f);
  }
  set_poll(d, UV_READABLE);
  return 1;
}

/* One frame into the stack (flags: WEIR_RX_*), at the time it arrived
 * (or the fault injector let it go), and what that brings: output and
 * events. */
/* Within one received batch, output is flushed every FLUSH_EVERY frames
 * and at the end rather than after each frame. In a bulk transfer the
 * core owes an ACK every second full segment; held back, one ACK covers
 * all the batch has taken (as Linux's GRO gives it), and each ACK weir
 * writes runs the sending kernel's ACK processing inside that write. The
 * bound keeps what frames queue in the core's transmit slots (an echo
 * reply, a RST, an ARP reply: at most about one per frame received)
 * within the smallest slot count a stack may have (8). */
#define FLUSH_EVERY 8

/* Events for the app while output is held back; an app's kick in them
 * waits for the batch's flush (depth_ makes kick defer to it). */
static void deliver_held(struct weir_driver *d)
{
  d->depth_++;
  for (int rounds = 0; rounds < MAX_ROUNDS && deliver(d) > 0; rounds++)
    ;
  d->depth_--;
}

static void input(struct weir_driver *d, const uint8_t *frame, size_t len,
                  unsigned flags)
{
  if (d->closing_ || d->dead_)
    return;
  weir_input_flags(d->stack, frame, len, d->in_now_, flags);
  /* Events go to the app per frame: the sockets' receive queues are
   * bounded, and a batch must not overflow them on its own. */
  if (d->deferred_ >= 0 && ++d->deferred_ < FLUSH_EVERY) {
    deliver_held(d);
    return;
  }
  if (d->deferred_ > 0)
    d->deferred_ = 0;
  d->more_ |= run(d);
}

static void faults_cb(void *ctx, enum weir_faults_dir dir, const uint8_t *frame,
                      size_t len)
{
  struct weir_driver *d = ctx;

  if (dir == WEIR_FAULTS_IN)
    input(d, frame, len, 0);
  else
    link_send(d, frame, len, NULL);
}

/* Completes in place the checksum of a received frame that the link
 * marked WEIR_RX_CSUM_PARTIAL: the TCP or UDP one, right after the IPv4
 * header (the link marks no other). 0, or -1 if it is not there. */
static int complete_rx(struct weir_driver *d, uint8_t *frame, size_t len)
{
  size_t l3 = l3_off(d), l4;

  if (len < l3 + 20)
    return -1;
  l4 = l3 + (size_t)(frame[l3] & 15) * 4;
  return weir_link_csum_complete(frame, len, l3, l4,
                                 frame[l3 + 9] == 17 ? 6 : 16);
}

/* A frame the link received at now (flags: WEIR_RX_*, what the link says
 * of its checksum): captured as it came, then through the injector (if
 * any) into the stack. The capture and the injector get a checksum the
 * host left partial completed: the file must replay, and a frame the
 * injector corrupts must fail its checksum, so the core then checks it. */
static void received(struct weir_driver *d, uint8_t *frame, size_t len,
                     uint64_t now, unsigned flags)
{
  int faults = weir_faults_active(d->faults_, WEIR_FAULTS_IN);

  d->stats.frames_in++;
  if ((flags & WEIR_RX_CSUM_PARTIAL) && (d->capture_ || faults)) {
    if (complete_rx(d, frame, len) != 0)
      return;
    flags = WEIR_RX_CSUM_VALID;
  }
  capture(d, now, frame, len);
  d->in_now_ = now;
  if (faults)
    weir_faults_frame(d->faults_, WEIR_FAULTS_IN, frame, len, now);
  else
    input(d, frame, len, flags);
}

/* Sends what the stack has queued for a link with send_many (with
 * offloads, frames from weir_output_meta and what it said of each): the
 * frames one pass finds go out in one call, in order; what the link
 * refuses for now waits in the backlog. Returns 1 if the batch was full
 * (there may be more). */
static int flush_batch(struct weir_driver *d, uint64_t now)
{
  const struct weir_tx_meta *m = d->meta_ ? d->txm_ : NULL;
  int k, i, j, r;
  size_t n;

  for (k = 0; k < WEIR_DRIVER_BATCH; k++) {
    if (m)
      n = weir_output_meta(d->stack, d->txb_[k], d->txb_size_, now,
                           &d->txm_[k]);
    else
      n = weir_output(d->stack, d->txb_[k], d->txb_size_, now);
    if (n == 0)
      break;
    d->txlen_[k] = n;
  }
  for (i = 0; i < k && !d->dead_;) {
    r = d->link->ops->send_many(d->link, (const uint8_t *const *)d->txb_ + i,
                                d->txlen_ + i, m ? m + i : NULL, k - i);
    if (r > 0) {
      for (j = i; j < i + r; j++)
        took(d, d->txb_[j], d->txlen_[j], m ? m + j : NULL);
      i += r;
    } else if (r == 0) {
      d->stats.send_again++;
      for (; i < k; i++)
        backlog_add(d, d->txb_[i], d->txlen_[i], m ? m + i : NULL);
    } else {
      /* The first is lost, as on a wire; the rest are offered again. */
      d->stats.send_errors++;
      i++;
    }
  }
  return k == WEIR_DRIVER_BATCH;
}

/* Moves frames from weir_output to the link until either runs dry. A
 * frame the link refuses for now is kept (never dropped) and the fd is
 * watched for writability; the core keeps the rest in its own queue. */
static void flush(struct weir_driver *d)
{
  struct weir_tx_meta m;
  uint64_t now;
  size_t n;

  if (d->dead_ || d->closing_)
    return;
  /* A frame the link refused waits for the fd to be writable (poll_cb
   * retries it then); trying again before that only wastes a syscall. */
  while (!d->backlog_) {
    now = weir_driver_now(d);
    if (weir_faults_active(d->faults_, WEIR_FAULTS_OUT)) {
      n = weir_output(d->stack, d->tx_, d->tx_cap_, now);
      if (n == 0)
        return;
      weir_faults_frame(d->faults_, WEIR_FAULTS_OUT, d->tx_, n, now);
    } else if (d->txb_mem_) {
      if (!flush_batch(d, now))
        return;
    } else if (d->meta_) {
      n = weir_output_meta(d->stack, d->tx_, d->tx_cap_, now, &m);
      if (n == 0)
        return;
      link_send(d, d->tx_, n, &m);
    } else {
      n = weir_output(d->stack, d->tx_, d->tx_cap_, now);
      if (n == 0)
        return;
      link_send(d, d->tx_, n, NULL);
    }
  }
}

/* Returns how many events were delivered. */
static int deliver(struct weir_driver *d)
{
  struct weir_event ev;
  int n = 0;

  while (!d->closing_ && weir_next_event(d->stack, &ev)) {
    n++;
    if (d->on_event_)
      d->on_event_(d, ev.sock, ev.events, d->user);
  }
  return n;
}

/* When the timer must next fire: the core's deadline or the injector's,
 * whichever comes first. */
static uint64_t next_deadline(const struct weir_driver *d)
{
  uint64_t dl = weir_deadline(d->stack), fl;

  if (d->faults_) {
    fl = weir_faults_next(d->faults_);
    if (fl < dl)
      dl = fl;
  }
  return dl;
}

static void arm_timer(struct weir_driver *d, int immediately)
{
  uint64_t dl, target, loop_ms;

  /* Virtual time has no timer: weir_driver_step goes to the deadline. */
  if (d->closing_ || d->virtual_)
    return;
  if (immediately) {
    target = 0;
  } else {
    dl = next_deadline(d);
    if (dl == UINT64_MAX) {
      if (d->timer_armed_)
        uv_timer_stop(&d->timer_);
      d->timer_armed_ = 0;
      return;
    }
    /* Rounded up: a timer that fires before the deadline does nothing
     * and fires again, a spin in the making. */
    target = dl / 1000 + (dl % 1000 != 0);
    /* The core still wants the millisecond we just served (a deadline at
     * or before now): give it the next one rather than spin. */
    if (target <= d->fired_ms_)
      target = d->fired_ms_ + 1;
  }
  if (d->timer_armed_ && target == d->timer_ms_)
    return;
  /* libuv times timers from its cached loop time; refresh it so that the
   * relative timeout lands on the absolute millisecond we mean. Both
   * clocks are CLOCK_MONOTONIC (the loop's may be the coarse flavour,
   * which only lags, so the timer is never early). */
  uv_update_time(d->loop);
  loop_ms = uv_now(d->loop);
  uv_timer_start(&d->timer_, timer_cb, target > loop_ms ? target - loop_ms : 0,
                 0);
  d->timer_armed_ = 1;
  d->timer_ms_ = target;
}

/* Sends and delivers until neither has anything left. Returns nonzero
 * if it stopped at MAX_ROUNDS with work possibly left. */
static int run(struct weir_driver *d)
{
  int rounds;

  if (d->depth_ > 0)
    return 0; /* the outer run() goes round once more after the callback */
  d->depth_++;
  for (rounds = 0; rounds < MAX_ROUNDS && !d->closing_; rounds++) {
    flush(d);
    if (deliver(d) == 0)
      break;
  }
  d->depth_--;
  return rounds == MAX_ROUNDS;
}

void weir_driver_kick(struct weir_driver *d)
{
  int more, was;

  if (d->closing_ || d->depth_ > 0)
    return;
  was = serve_begin(d);
  more = run(d);
  serve_end(d, was);
  if (d->virtual_)
    d->more_ |= more; /* the next step finishes it */
  else
    arm_timer(d, more);
}

static void timer_cb(uv_timer_t *t)
{
  struct weir_driver *d = t->data;
  uint64_t now;
  int was;

  d->timer_armed_ = 0;
  /* An immediate timer (more work, not a deadline) serves no ms. */
  if (d->timer_ms_)
    d->fired_ms_ = d->timer_ms_;
  d->stats.timer_fires++;
  was = serve_begin(d);
  now = weir_driver_now(d);
  d->more_ = 0;
  if (d->faults_) {
    d->in_now_ = now;
    weir_faults_release(d->faults_, now);
  }
  weir_timers(d->stack, now);
  weir_driver_kick(d);
  serve_end(d, was);
  if (d->more_)
    arm_timer(d, 1);
}

/* Receives up to `max` frames (one unless the link has recv_many) and
 * puts them in. Returns how many, 0 if none was ready, or -errno. */
static long receive(struct weir_driver *d, int max)
{
  unsigned flags = 0;
  uint64_t now;
  long n;
  int k;

  if (d->rxb_mem_) {
    n = d->link->ops->recv_many(d->link, d->rxb_, d->rxcap_, d->rxlen_,
                                d->meta_ ? d->rxflags_ : NULL, max);
    now = weir_driver_now(d);
    for (k = 0; k < n && !d->closing_ && !d->dead_; k++)
      received(d, d->rxb_[k], d->rxlen_[k], now, d->meta_ ? d->rxflags_[k] : 0);
    return n;
  }
  if (d->meta_)
    n = d->link->ops->recv_meta(d->link, d->rx_, d->rx_cap_, &flags);
  else
    n = d->link->ops->recv(d->link, d->rx_, d->rx_cap_);
  if (n > 0)
    received(d, d->rx_, (size_t)n, weir_driver_now(d), flags);
  return n > 0 ? 1 : n;
}

static void poll_cb(uv_poll_t *p, int status, int events)
{
  struct weir_driver *d = p->data;
  int i, want, was;
  long n;

  if (status < 0) {
    link_failed(d, status);
    return;
  }
  was = serve_begin(d);
  d->more_ = 0;
  if ((events & UV_WRITABLE) && d->backlog_ && send_backlog(d))
    d->more_ |= run(d);
  if (!(events & UV_READABLE))
    goto out;
  d->stats.wakeups++;
  /* Drain what is ready, not one frame per wake-up: a wake-up costs more
   * than a read. The poll is level-triggered, so frames left past the
   * cap wake us again on the next loop iteration. */
  d->deferred_ = 0;
  for (i = 0; i < WEIR_DRIVER_BATCH && !d->closing_ && !d->dead_;) {
    want = WEIR_DRIVER_BATCH - i;
    n = receive(d, want);
    if (n == 0)
      break;
    if (n < 0) {
      d->deferred_ = -1;
      link_failed(d, (int)n);
      serve_end(d, was);
      return;
    }
    i += (int)n;
    /* A short batch emptied the socket: asking again costs a syscall
     * that finds nothing (the poll is level-triggered anyway). */
    if (n < want && d->rxb_mem_)
      break;
  }
  if (i == WEIR_DRIVER_BATCH)
    d->stats.batch_full++;
  if (d->deferred_ > 0)
    d->more_ |= run(d);
  d->deferred_ = -1;
out:
  serve_end(d, was);
  arm_timer(d, d->more_);
}

/* ------------------------------------------------------- virtual time */

static void idle_cb(uv_idle_t *h)
{
  struct weir_driver *d = h->data;

  if (!weir_driver_step(d))
    uv_idle_stop(&d->idle_);
}

int weir_driver_step(struct weir_driver *d)
{
  uint64_t tf, tc, tq, t;
  long n;

  if (!d->virtual_ || d->closing_ || d->dead_ || d->ended_)
    return 0;
  /* The last step's sends and events stopped at MAX_ROUNDS: finish them
   * before the clock moves, as the live driver's zero timer does. */
  if (d->more_) {
    d->more_ = run(d);
    return 1;
  }
  tf = d->next_at_(d->link);
  if (tf == UINT64_MAX && !d->input_done_) {
    d->input_done_ = 1;
    d->end_at_ = d->vnow_ + d->horizon_;
    if (d->end_at_ < d->vnow_)
      d->end_at_ = UINT64_MAX;
  }
  tc = weir_deadline(d->stack);
  /* Timers that want to run again at the time they just ran get the
   * next microsecond: the clock must move for the step to end. */
  if (tc < d->vfired_)
    tc = d->vfired_;
  tq = d->faults_ ? weir_faults_next(d->faults_) : UINT64_MAX;
  t = tf < tc ? tf : tc;
  t = tq < t ? tq : t;
  if (d->input_done_ && (t == UINT64_MAX || t > d->end_at_)) {
    d->ended_ = 1;
    uv_idle_stop(&d->idle_);
    if (d->on_link_error_)
      d->on_link_error_(d, UV_EOF, d->user);
    return 0;
  }
  /* A recording whose stamps go back (merged captures) keeps the clock
   * where it is: the core's time never goes backwards. */
  if (t > d->vnow_)
    d->vnow_ = t;
  d->stats.steps++;
  d->more_ = 0;
  if (tq <= d->vnow_) {
    d->in_now_ = d->vnow_;
    weir_faults_release(d->faults_, d->vnow_);
  } else if (tc <= d->vnow_) {
    d->stats.timer_fires++;
    weir_timers(d->stack, d->vnow_);
    d->vfired_ = d->vnow_ + 1;
  } else {
    /* The frames a live wake-up took as one batch carry its one clock
     * reading: taken together here too, with output held back as live
     * (see FLUSH_EVERY), a recording answers as the live run did. */
    d->deferred_ = 0;
    for (int i = 0; i < WEIR_DRIVER_BATCH; i++) {
      n = d->link->ops->recv(d->link, d->rx_, d->rx_cap_);
      if (n < 0) {
        d->deferred_ = -1;
        link_failed(d, (int)n);
        return 0;
      }
      if (n > 0)
        received(d, d->rx_, (size_t)n, d->vnow_, 0);
      if (n == 0 || d->closing_ || d->dead_ || d->next_at_(d->link) != d->vnow_)
        break;
    }
    d->deferred_ = -1;
  }
  if (!d->closing_)
    d->more_ |= run(d);
  return 1;
}

/* ------------------------------------------------------------ set-up */

static void buffers_free(struct weir_driver *d)
{
  free(d->rx_);
  free(d->tx_);
  free(d->scratch_);
  free(d->rxb_mem_);
  free(d->txb_mem_);
  d->rx_ = d->tx_ = d->scratch_ = d->rxb_mem_ = d->txb_mem_ = NULL;
}

/* One frame each way, and what the link's batches and offloads need.
 * Virtual time takes one frame at a time, whatever the link has. */
static int buffers_alloc(struct weir_driver *d)
{
  const struct weir_link_ops *ops = d->link->ops;
  int k;

  d->rx_cap_ = d->tx_cap_ = FRAME_BUF;
  d->rx_ = malloc(d->rx_cap_);
  d->tx_ = malloc(d->tx_cap_);
  if (!d->rx_ || !d->tx_)
    return UV_ENOMEM;
  d->meta_ = !d->virtual_ && ops->recv_meta && ops->send_meta &&
             d->link->tx_csum_offload;
  if (d->meta_ && d->capture_ && !(d->scratch_ = malloc(d->tx_cap_)))
    return UV_ENOMEM;
  if (d->virtual_ || !ops->recv_many || !ops->send_many)
    return 0;
  /* Every receive buffer is as large as the one above, for the same
   * reason, and so is each transmit one with offloads (a super-segment);
   * the pages a short frame leaves untouched cost nothing. */
  d->txb_size_ =
      d->meta_ ? d->tx_cap_ : weir_stack_config(d->stack)->mtu + l3_off(d);
  d->rxb_mem_ = malloc((size_t)WEIR_DRIVER_BATCH * FRAME_BUF);
  d->txb_mem_ = malloc((size_t)WEIR_DRIVER_BATCH * d->txb_size_);
  if (!d->rxb_mem_ || !d->txb_mem_)
    return UV_ENOMEM;
  for (k = 0; k < WEIR_DRIVER_BATCH; k++) {
    d->rxb_[k] = d->rxb_mem_ + (size_t)k * FRAME_BUF;
    d->rxcap_[k] = FRAME_BUF;
    d->txb_[k] = d->txb_mem_ + (size_t)k * d->txb_size_;
  }
  return 0;
}

int weir_driver_init(struct weir_driver *d, uv_loop_t *loop,
                     struct weir_stack *stack, struct weir_link *link,
                     weir_driver_event_cb on_event,
                     weir_driver_link_cb on_link_error, void *user)
{
  return weir_driver_init_ex(d, loop, stack, link, NULL, on_event,
                             on_link_error, user);
}

int weir_driver_init_ex(struct weir_driver *d, uv_loop_t *loop,
                        struct weir_stack *stack, struct weir_link *link,
                        const struct weir_driver_opts *opts,
                        weir_driver_event_cb on_event,
                        weir_driver_link_cb on_link_error, void *user)
{
  int err;

  memset(d, 0, sizeof(*d));
  d->deferred_ = -1;
  d->loop = loop;
  d->stack = stack;
  d->link = link;
  d->user = user;
  d->on_event_ = on_event;
  d->on_link_error_ = on_link_error;
  if (opts) {
    d->capture_ = opts->capture;
    d->faults_ = opts->faults;
    d->virtual_ = opts->virtual_time;
    d->vnow_ = opts->virtual_start;
    d->next_at_ = opts->next_at;
    d->horizon_ = opts->horizon_us;
    if (d->virtual_ && !d->next_at_)
      return UV_EINVAL;
  }
  if (d->faults_) {
    /* Frames it lets go come back to us. */
    d->faults_->deliver = faults_cb;
    d->faults_->ctx = d;
  }
  err = buffers_alloc(d);
  if (err < 0) {
    buffers_free(d);
    return err;
  }
  if (d->virtual_) {
    err = uv_idle_init(loop, &d->idle_);
  } else {
    err = uv_poll_init(loop, &d->poll_, weir_link_fd(link));
  }
  if (err < 0) {
    buffers_free(d);
    return err;
  }
  uv_timer_init(loop, &d->timer_);
  d->poll_.data = d;
  d->idle_.data = d;
  d->timer_.data = d;
  if (d->virtual_) {
    uv_idle_start(&d->idle_, idle_cb);
  } else {
    d->poll_mask_ = UV_READABLE;
    uv_poll_start(&d->poll_, UV_READABLE, poll_cb);
  }
  /* Anything the app queued before the driver existed goes out now. */
  weir_driver_kick(d);
  return 0;
}

static void handle_closed(uv_handle_t *h)
{
  struct weir_driver *d = h->data;

  if (--d->pending_ > 0)
    return;
  buffers_free(d);
  backlog_free(d);
  if (d->on_close_)
    d->on_close_(d);
}

void weir_driver_close(struct weir_driver *d, weir_driver_close_cb cb)
{
  int was;

  if (d->closing_)
    return;
  /* What the app queued last (the echo that reached --count, say) still
   * goes out; only a frame waiting for ARP or a full link is lost. A
   * delay line empties at once: its frames would otherwise die with us. */
  was = serve_begin(d);
  flush(d);
  serve_end(d, was);
  if (d->faults_ && !d->dead_)
    weir_faults_drain(d->faults_, WEIR_FAULTS_OUT);
  d->closing_ = 1;
  d->on_close_ = cb;
  d->pending_ = 2;
  if (d->virtual_)
    uv_close((uv_handle_t *)&d->idle_, handle_closed);
  else
    uv_close((uv_handle_t *)&d->poll_, handle_closed);
  uv_close((uv_handle_t *)&d->timer_, handle_closed);
}
