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

static void timer_cb(uv_timer_t *t);
static void poll_cb(uv_poll_t *p, int status, int events);

uint64_t weir_driver_now(const struct weir_driver *d)
{
  (void)d;
  return uv_hrtime() / 1000;
}

static void set_poll(struct weir_driver *d, int mask)
{
  if (d->closing_ || d->dead_ || mask == d->poll_mask_)
    return;
  d->poll_mask_ = mask;
  uv_poll_start(&d->poll_, mask, poll_cb);
}

static void link_failed(struct weir_driver *d, int err)
{
  if (d->dead_)
    return;
  d->dead_ = 1;
  uv_poll_stop(&d->poll_);
  if (d->on_link_error_)
    d->on_link_error_(d, err, d->user);
}

/* Tries the frame the link refused earlier. Returns 1 if it is gone (sent
 * or lost), 0 if the link still refuses it. */
static int send_held(struct weir_driver *d)
{
  int r = d->link->ops->send(d->link, d->tx_, d->tx_len_);

  if (r == 0) {
    d->stats.send_again++;
    return 0;
  }
  if (r > 0)
    d->stats.frames_out++;
  else
    d->stats.send_errors++;
  d->tx_len_ = 0;
  set_poll(d, UV_READABLE);
  return 1;
}

/* Moves frames from weir_output to the link until either runs dry. A
 * frame the link refuses for now is held (never dropped) and the fd is
 * watched for writability; the core keeps the rest in its own queue. */
static void flush(struct weir_driver *d)
{
  size_t n;
  int r;

  if (d->dead_ || d->closing_)
    return;
  /* A frame the link refused waits for the fd to be writable (poll_cb
   * retries it then); trying again before that only wastes a syscall. */
  if (d->tx_len_)
    return;
  for (;;) {
    n = weir_output(d->stack, d->tx_, d->tx_cap_, weir_driver_now(d));
    if (n == 0)
      return;
    r = d->link->ops->send(d->link, d->tx_, n);
    if (r > 0) {
      d->stats.frames_out++;
    } else if (r == 0) {
      d->stats.send_again++;
      d->tx_len_ = n;
      set_poll(d, UV_READABLE | UV_WRITABLE);
      return;
    } else {
      /* Lost, as on a wire; the transports above recover. */
      d->stats.send_errors++;
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

static void arm_timer(struct weir_driver *d, int immediately)
{
  uint64_t dl, target, loop_ms;

  if (d->closing_)
    return;
  if (immediately) {
    target = 0;
  } else {
    dl = weir_deadline(d->stack);
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
  arm_timer(d, more);
}

static void timer_cb(uv_timer_t *t)
{
  struct weir_driver *d = t->data;

  d->timer_armed_ = 0;
  /* An immediate timer (more work, not a deadline) serves no ms. */
  if (d->timer_ms_)
    d->fired_ms_ = d->timer_ms_;
  d->stats.timer_fires++;
  weir_timers(d->stack, weir_driver_now(d));
  weir_driver_kick(d);
}

static void poll_cb(uv_poll_t *p, int status, int events)
{
  struct weir_driver *d = p->data;
  int i, more = 0;
  long n;

  if (status < 0) {
    link_failed(d, status);
    return;
  }
  if ((events & UV_WRITABLE) && d->tx_len_ && send_held(d))
    more |= run(d);
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
    d->stats.frames_in++;
    weir_input(d->stack, d->rx_, (size_t)n, weir_driver_now(d));
    /* Answer and deliver per frame: the core's transmit queue and the
     * sockets' receive queues are bounded, and a batch must not
     * overflow them on its own. */
    more |= run(d);
  }
  if (i == WEIR_DRIVER_BATCH)
    d->stats.batch_full++;
out:
  arm_timer(d, more);
}

int weir_driver_init(struct weir_driver *d, uv_loop_t *loop,
                     struct weir_stack *stack, struct weir_link *link,
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
  d->rx_cap_ = d->tx_cap_ = FRAME_BUF;
  d->rx_ = malloc(d->rx_cap_);
  d->tx_ = malloc(d->tx_cap_);
  if (!d->rx_ || !d->tx_) {
    free(d->rx_);
    free(d->tx_);
    return UV_ENOMEM;
  }
  err = uv_poll_init(loop, &d->poll_, weir_link_fd(link));
  if (err < 0) {
    free(d->rx_);
    free(d->tx_);
    return err;
  }
  uv_timer_init(loop, &d->timer_);
  d->poll_.data = d;
  d->timer_.data = d;
  d->poll_mask_ = UV_READABLE;
  uv_poll_start(&d->poll_, UV_READABLE, poll_cb);
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
  if (d->on_close_)
    d->on_close_(d);
}

void weir_driver_close(struct weir_driver *d, weir_driver_close_cb cb)
{
  if (d->closing_)
    return;
  /* What the app queued last (the echo that reached --count, say) still
   * goes out; only a frame waiting for ARP or a full link is lost. */
  flush(d);
  d->closing_ = 1;
  d->on_close_ = cb;
  d->pending_ = 2;
  uv_close((uv_handle_t *)&d->poll_, handle_closed);
  uv_close((uv_handle_t *)&d->timer_, handle_closed);
}
