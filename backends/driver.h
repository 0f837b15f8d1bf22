/* The libuv driver: joins one link to one weir stack on one loop.
 *
 * A uv_poll on the link's fd feeds weir_input (every frame that is ready,
 * up to a cap per wake-up so that timers and other handles get their
 * turn); weir_output is drained to the link after every input, timer and
 * app call; one uv_timer stays armed at weir_deadline(), rounded up to the
 * next millisecond. Socket events become on_event callbacks.
 *
 * The app calls into the stack directly (weir_udp_sendto, ...) and then
 * calls weir_driver_kick() so that what it queued goes out and the timer
 * follows the new deadline. Inside on_event the kick is implied.
 *
 * The handles are embedded here, libuv style: the struct must not move
 * while the driver is running, and must outlive the close callback. */
#ifndef WEIR_BACKENDS_DRIVER_H
#define WEIR_BACKENDS_DRIVER_H

#include <stdint.h>
#include <uv.h>

#include "link.h"
#include "weir/weir.h"

/* Frames moved per wake-up at most: enough to amortise the wake-up,
 * small enough that a flood cannot starve the timer. */
#define WEIR_DRIVER_BATCH 64

struct weir_driver;

/* sock has the WEIR_EV_* bits in events pending. */
typedef void (*weir_driver_event_cb)(struct weir_driver *d, int sock,
                                     unsigned events, void *user);

/* The link failed for good (a read error, or the device vanished);
 * weir_link_error() says why. The driver has stopped polling it. */
typedef void (*weir_driver_link_cb)(struct weir_driver *d, int err, void *user);

typedef void (*weir_driver_close_cb)(struct weir_driver *d);

/* What the driver itself saw, beside the stack's own counters. */
struct weir_driver_stats {
  uint64_t wakeups;     /* poll callbacks with the fd readable */
  uint64_t frames_in;   /* frames handed to weir_input */
  uint64_t frames_out;  /* frames the link took */
  uint64_t batch_full;  /* wake-ups that hit WEIR_DRIVER_BATCH */
  uint64_t send_again;  /* sends the link refused for now (EAGAIN) */
  uint64_t send_errors; /* frames the link refused for good (lost) */
  uint64_t timer_fires; /* timer callbacks */
};

struct weir_driver {
  /* Read-only for the app. */
  uv_loop_t *loop;
  struct weir_stack *stack;
  struct weir_link *link;
  struct weir_driver_stats stats;
  void *user;

  /* Private. */
  uv_poll_t poll_;
  uv_timer_t timer_;
  weir_driver_event_cb on_event_;
  weir_driver_link_cb on_link_error_;
  weir_driver_close_cb on_close_;
  uint8_t *rx_; /* one received frame */
  size_t rx_cap_;
  uint8_t *tx_; /* one frame weir_output gave us */
  size_t tx_cap_;
  size_t tx_len_;     /* nonzero: the link refused it; retry when writable */
  int poll_mask_;     /* UV_READABLE, plus UV_WRITABLE while tx_len_ */
  uint64_t timer_ms_; /* absolute loop-clock ms the timer is armed for */
  uint64_t fired_ms_; /* the target of the last timer callback */
  int timer_armed_;
  int depth_;   /* nested kicks (an app callback calling kick) */
  int pending_; /* handles still to close */
  int closing_;
  int dead_; /* the link failed */
};

/* Starts driving `stack` over `link` (both already open, owned by the
 * caller, and left open by weir_driver_close). on_event and on_link_error
 * may be NULL. Returns 0 or a negative libuv/errno value. */
int weir_driver_init(struct weir_driver *d, uv_loop_t *loop,
                     struct weir_stack *stack, struct weir_link *link,
                     weir_driver_event_cb on_event,
                     weir_driver_link_cb on_link_error, void *user);

/* Now, in weir's time base: monotonic microseconds. */
uint64_t weir_driver_now(const struct weir_driver *d);

/* Sends what the stack has queued, delivers its events and re-arms the
 * timer. Call after any weir_* call made outside a driver callback. */
void weir_driver_kick(struct weir_driver *d);

/* Stops and closes the handles; cb (may be NULL) runs once they are
 * closed, from the loop. The stack and the link stay the caller's. */
void weir_driver_close(struct weir_driver *d, weir_driver_close_cb cb);

#endif
