/* The libuv driver. See driver.h for the contract. */
#include <stdlib.h>
#include <string.h>

#include "driver.h"

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
  uint8_t data[];
};

static void timer_cb(uv_timer_t *t);
static void poll_cb(uv_poll_t *p, int status, int events);
static int run(struct weir_driver *d);

uint64_t weir_driver_now(const struct weir_driver *d)
{
  if (d->virtual_)
    return d->vnow_;
  return uv_hrtime() / 1000;
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

/* Keeps a copy of a frame the link refused, behind the others. A frame
 * that cannot be copied is lost, as on a wire. */
static void backlog_add(struct weir_driver *d, const uint8_t *frame, size_t len)
{
  struct weir_driver_frame *f = malloc(sizeof(*f) + len);

  if (!f) {
    d->stats.send_errors++;
    return;
  }
  f->next = NULL;
  f->len = len;
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

/* Hands one frame to the link, behind any it refused before (order is
 * kept). Returns 0 if the link refused it (it is kept). */
static int link_send(struct weir_driver *d, const uint8_t *frame, size_t len)
{
  int r;

  if (d->dead_)
    return 1;
  if (d->backlog_) {
    backlog_add(d, frame, len);
    return 0;
  }
  r = d->link->ops->send(d->link, frame, len);
  if (r > 0) {
    d->stats.frames_out++;
    capture(d, weir_driver_now(d), frame, len);
  } else if (r == 0) {
    d->stats.send_again++;
    backlog_add(d, frame, len);
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
    r = d->link->ops->send(d->link, f->data, f->len);
    if (r == 0) {
      d->stats.send_again++;
      return 0;
    }
    if (r > 0) {
      d->stats.frames_out++;
      capture(d, weir_driver_now(d), f->data, f->len);
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

/* One frame into the stack, at the time it arrived (or the fault injector
 * let it go), and what that brings: output and events. */
static void input(struct weir_driver *d, const uint8_t *frame, size_t len)
{
  if (d->closing_ || d->dead_)
    return;
  weir_input(d->stack, frame, len, d->in_now_);
  /* Answer and deliver per frame: the core's transmit queue and the
   * sockets' receive queues are bounded, and a batch must not overflow
   * them on its own. */
  d->more_ |= run(d);
}

static void faults_cb(void *ctx, enum weir_faults_dir dir, const uint8_t *frame,
                      size_t len)
{
  struct weir_driver *d = ctx;

  if (dir == WEIR_FAULTS_IN)
    input(d, frame, len);
  else
    link_send(d, frame, len);
}

/* A frame the link received at now: captured as it came, then through
 * the injector (if any) into the stack. */
static void received(struct weir_driver *d, const uint8_t *frame, size_t len,
                     uint64_t now)
{
  d->stats.frames_in++;
  capture(d, now, frame, len);
  d->in_now_ = now;
  if (weir_faults_active(d->faults_, WEIR_FAULTS_IN))
    weir_faults_frame(d->faults_, WEIR_FAULTS_IN, frame, len, now);
  else
    input(d, frame, len);
}

/* Moves frames from weir_output to the link until either runs dry. A
 * frame the link refuses for now is kept (never dropped) and the fd is
 * watched for writability; the core keeps the rest in its own queue. */
static void flush(struct weir_driver *d)
{
  uint64_t now;
  size_t n;

  if (d->dead_ || d->closing_)
    return;
  /* A frame the link refused waits for the fd to be writable (poll_cb
   * retries it then); trying again before that only wastes a syscall. */
  while (!d->backlog_) {
    now = weir_driver_now(d);
    n = weir_output(d->stack, d->tx_, d->tx_cap_, now);
    if (n == 0)
      return;
    if (weir_faults_active(d->faults_, WEIR_FAULTS_OUT))
      weir_faults_frame(d->faults_, WEIR_FAULTS_OUT, d->tx_, n, now);
    else
      link_send(d, d->tx_, n);
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
  int more;

  if (d->closing_ || d->depth_ > 0)
    return;
  more = run(d);
  if (d->virtual_)
    d->more_ |= more; /* the next step finishes it */
  else
    arm_timer(d, more);
}

static void timer_cb(uv_timer_t *t)
{
  struct weir_driver *d = t->data;
  uint64_t now;

  d->timer_armed_ = 0;
  /* An immediate timer (more work, not a deadline) serves no ms. */
  if (d->timer_ms_)
    d->fired_ms_ = d->timer_ms_;
  d->stats.timer_fires++;
  now = weir_driver_now(d);
  d->more_ = 0;
  if (d->faults_) {
    d->in_now_ = now;
    weir_faults_release(d->faults_, now);
  }
  weir_timers(d->stack, now);
  weir_driver_kick(d);
  if (d->more_)
    arm_timer(d, 1);
}

static void poll_cb(uv_poll_t *p, int status, int events)
{
  struct weir_driver *d = p->data;
  int i;
  long n;

  if (status < 0) {
    link_failed(d, status);
    return;
  }
  d->more_ = 0;
  if ((events & UV_WRITABLE) && d->backlog_ && send_backlog(d))
    d->more_ |= run(d);
  if (!(events & UV_READABLE))
    goto out;
  d->stats.wakeups++;
  /* Drain what is ready, not one frame per wake-up: a wake-up costs more
   * than a read. The poll is level-triggered, so frames left past the
   * cap wake us again on the next loop iteration. */
  for (i = 0; i < WEIR_DRIVER_BATCH && !d->closing_ && !d->dead_; i++) {
    n = d->link->ops->recv(d->link, d->rx_, d->rx_cap_);
    if (n == 0)
      break;
    if (n < 0) {
      link_failed(d, (int)n);
      return;
    }
    received(d, d->rx_, (size_t)n, weir_driver_now(d));
  }
  if (i == WEIR_DRIVER_BATCH)
    d->stats.batch_full++;
out:
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
    n = d->link->ops->recv(d->link, d->rx_, d->rx_cap_);
    if (n < 0) {
      link_failed(d, (int)n);
      return 0;
    }
    if (n > 0)
      received(d, d->rx_, (size_t)n, d->vnow_);
  }
  if (!d->closing_)
    d->more_ |= run(d);
  return 1;
}

/* ------------------------------------------------------------ set-up */

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
  d->rx_cap_ = d->tx_cap_ = FRAME_BUF;
  d->rx_ = malloc(d->rx_cap_);
  d->tx_ = malloc(d->tx_cap_);
  if (!d->rx_ || !d->tx_) {
    free(d->rx_);
    free(d->tx_);
    return UV_ENOMEM;
  }
  if (d->virtual_) {
    err = uv_idle_init(loop, &d->idle_);
  } else {
    err = uv_poll_init(loop, &d->poll_, weir_link_fd(link));
  }
  if (err < 0) {
    free(d->rx_);
    free(d->tx_);
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
  free(d->rx_);
  free(d->tx_);
  d->rx_ = d->tx_ = NULL;
  backlog_free(d);
  if (d->on_close_)
    d->on_close_(d);
}

void weir_driver_close(struct weir_driver *d, weir_driver_close_cb cb)
{
  if (d->closing_)
    return;
  /* What the app queued last (the echo that reached --count, say) still
   * goes out; only a frame waiting for ARP or a full link is lost. A
   * delay line empties at once: its frames would otherwise die with us. */
  flush(d);
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
