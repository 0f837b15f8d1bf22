/* The libuv driver: joins one link to one weir stack on one loop.
 *
 * A uv_poll on the link's fd feeds weir_input (every frame that is ready,
 * up to a cap per wake-up so that timers and other handles get their
 * turn); weir_output is drained to the link after every timer and app
 * call, and after every 8 frames of a received batch and at its end (so
 * that one ACK covers what a batch brought); one uv_timer stays armed at
 * weir_deadline(), rounded up to the next millisecond. Socket events
 * become on_event callbacks, per frame.
 *
 * The app calls into the stack directly (weir_udp_sendto, ...) and then
 * calls weir_driver_kick() so that what it queued goes out and the timer
 * follows the new deadline. Inside on_event the kick is implied.
 *
 * Between the link and the stack the driver may have (weir_driver_opts):
 *   - a capture (capture.h): every frame the link received and every
 *     frame the link took, as it passes, stamped with the driver's clock.
 *     It sits at the link: an inbound frame is written before the fault
 *     injector sees it (so a frame --loss drops is in the file), an
 *     outbound one after (so a dropped frame is not, a duplicated one is
 *     there twice, a corrupted one corrupted, a delayed one when it went).
 *     The file shows what crossed the wire.
 *   - a fault injector (faults.h), consulted for each frame in each
 *     direction; the frames it holds back are let go on the same timer as
 *     the core's (armed at the earlier of the two deadlines).
 *   - a virtual clock, for a link that is a recording (pcapfile.h): no fd
 *     and no waiting. weir_driver_step() moves the clock to the next thing
 *     due (a recorded frame, a core timer, a held frame) and does it; a
 *     uv_idle handle calls it once per loop iteration, so the app's loop
 *     and callbacks are the same as with a live link, and its uv_check
 *     handles see each step. weir_driver_now() is then the virtual time.
 *     When the recording is over and the core's timers are quiet (or the
 *     horizon has passed), on_link_error is called with UV_EOF.
 *
 * Batches and offloads, when the link has them (link.h):
 *   - recv_many/send_many (raw: recvmmsg/sendmmsg): up to
 *     WEIR_DRIVER_BATCH frames per system call. Each received frame is
 *     still answered and its events delivered before the next goes in
 *     (the core's queues are bounded; a batch must not overflow them),
 *     and the frames one flush finds queued go out in one call.
 *   - offloads (tun, tap and raw with a virtio-net header: recv_meta and
 *     send_meta, or the batched forms with flags and metas if the link
 *     has them): frames move with weir_input_flags and weir_output_meta,
 *     so that the kernel cuts weir's TCP super-segments and checksums,
 *     and hands over its own uncut, with the checksums it vouches for.
 *     A batch then holds super-segments too. The capture still shows
 *     what a link without offloads would carry out: a partial checksum
 *     completed, a super-segment as the segments the link cuts it into
 *     (so a capture replays segment for segment); what comes in is
 *     written as it came, merged segments whole. While the fault
 *     injector acts on a direction, that direction moves plain frames
 *     only (what it corrupts must fail a checksum).
 *
 * Time: each wake-up (a poll or timer callback, an app's kick) reads the
 * clock once; every frame it takes in or sends, and every event it
 * delivers, share that `now` (weir_driver_now() returns it inside
 * on_event), as the frames of one batch arrived together.
 *
 * The handles are embedded here, libuv style: the struct must not move
 * while the driver is running, and must outlive the close callback. */
#ifndef WEIR_BACKENDS_DRIVER_H
#define WEIR_BACKENDS_DRIVER_H

#include <stdint.h>
#include <uv.h>

#include "capture.h"
#include "faults.h"
#include "link.h"
#include "weir/weir.h"

/* Frames moved per wake-up at most: enough to amortise the wake-up,
 * small enough that a flood cannot starve the timer. */
#define WEIR_DRIVER_BATCH 64

struct weir_driver;
struct weir_driver_frame; /* a frame the link refused, kept */

/* sock has the WEIR_EV_* bits in events pending. */
typedef void (*weir_driver_event_cb)(struct weir_driver *d, int sock,
                                     unsigned events, void *user);

/* The link failed for good (a read error, or the device vanished);
 * weir_link_error() says why. The driver has stopped polling it.
 * err UV_EOF (virtual time only) is no failure: the recording is over;
 * the driver still sends what the app queues until it is closed. */
typedef void (*weir_driver_link_cb)(struct weir_driver *d, int err, void *user);

typedef void (*weir_driver_close_cb)(struct weir_driver *d);

/* What the driver itself saw, beside the stack's own counters. */
struct weir_driver_stats {
  uint64_t wakeups;     /* poll callbacks with the fd readable */
  uint64_t frames_in;   /* frames the link received (the injector may
                           drop or duplicate some on the way in) */
  uint64_t frames_out;  /* frames the link took */
  uint64_t gso_out;     /* of those, super-segments (the link cut them) */
  uint64_t gso_segs;    /* the segments the link cut those into */
  uint64_t batch_full;  /* wake-ups that hit WEIR_DRIVER_BATCH */
  uint64_t send_again;  /* sends the link refused for now (EAGAIN) */
  uint64_t send_errors; /* frames the link refused for good (lost) */
  uint64_t timer_fires; /* timer callbacks (virtual: core timer steps) */
  uint64_t steps;       /* virtual time: weir_driver_step()s that acted */
};

/* What the driver has besides the link; all optional (zero: none). */
struct weir_driver_opts {
  /* Open, owned by the caller, written to until weir_driver_close. */
  struct weir_capture *capture;
  /* Initialised by the caller (weir_faults_init with any deliver
   * callback: the driver installs its own), freed by the caller after
   * the close callback. */
  struct weir_faults *faults;
  /* Nonzero: the link is a recording, read on a virtual clock. */
  int virtual_time;
  uint64_t virtual_start; /* the clock's first reading, microseconds */
  /* The time of the frame the link's recv returns next, UINT64_MAX when
   * there is none left (weir_pcapfile_next_at). */
  uint64_t (*next_at)(struct weir_link *l);
  /* After the last frame, core timers run this far at most (virtual
   * microseconds): a connection that never ends (its peer's recorded
   * ACKs stop) must not keep the replay going for minutes. */
  uint64_t horizon_us;
};

struct weir_driver {
  /* Read-only for the app. */
  uv_loop_t *loop;
  struct weir_stack *stack;
  struct weir_link *link;
  struct weir_driver_stats stats;
  void *user;

  /* Private. */
  uv_poll_t poll_; /* live */
  uv_idle_t idle_; /* virtual time */
  uv_timer_t timer_;
  weir_driver_event_cb on_event_;
  weir_driver_link_cb on_link_error_;
  weir_driver_close_cb on_close_;
  uint8_t *rx_; /* one received frame */
  size_t rx_cap_;
  uint8_t *tx_; /* one frame weir_output gave us */
  size_t tx_cap_;
  int meta_;         /* the link's offloads are in use (the _meta forms, or
                        the batched ones with flags and metas) */
  uint8_t *scratch_; /* capture: a copy to complete a checksum in */
  /* A link with recv_many/send_many: one batch of frames each way. */
  uint8_t *rxb_mem_, *txb_mem_;
  uint8_t *rxb_[WEIR_DRIVER_BATCH], *txb_[WEIR_DRIVER_BATCH];
  size_t rxcap_[WEIR_DRIVER_BATCH], rxlen_[WEIR_DRIVER_BATCH];
  size_t txlen_[WEIR_DRIVER_BATCH];
  unsigned rxflags_[WEIR_DRIVER_BATCH];        /* with offloads */
  struct weir_tx_meta txm_[WEIR_DRIVER_BATCH]; /* with offloads */
  size_t txb_size_; /* each: the stack's largest frame */
  /* Frames the link refused (EAGAIN), oldest first, sent when the fd is
   * writable; nothing more is taken from the core until they are gone.
   * One at most without faults; with them, what one output frame brings
   * (a duplicate, reordered frames it overtook). */
  struct weir_driver_frame *backlog_, *backlog_tail_;
  int poll_mask_;     /* UV_READABLE, plus UV_WRITABLE while backlogged */
  uint64_t timer_ms_; /* absolute loop-clock ms the timer is armed for */
  uint64_t fired_ms_; /* the target of the last timer callback */
  int timer_armed_;
  int depth_;   /* nested kicks (an app callback calling kick) */
  int pending_; /* handles still to close */
  int closing_;
  int dead_;     /* the link failed */
  int more_;     /* a run() stopped at its cap: go round again soon */
  int deferred_; /* frames input since the last flush of a received batch,
                    or -1 when output is not being held back */
  struct weir_capture *capture_;
  struct weir_faults *faults_;
  uint64_t in_now_; /* the time the frame being input arrived */
  uint64_t now_;    /* the clock, as read when this wake-up began */
  int serving_;     /* inside a wake-up: now_ holds */
  /* Virtual time. */
  int virtual_;
  int input_done_; /* the recording has no frame left */
  int ended_;      /* UV_EOF reported */
  uint64_t vnow_;
  uint64_t vfired_; /* the time core timers last ran, +1 */
  uint64_t end_at_;
  uint64_t horizon_;
  uint64_t (*next_at_)(struct weir_link *l);
};

/* Starts driving `stack` over `link` (both already open, owned by the
 * caller, and left open by weir_driver_close). on_event and on_link_error
 * may be NULL. Returns 0 or a negative libuv/errno value. */
int weir_driver_init(struct weir_driver *d, uv_loop_t *loop,
                     struct weir_stack *stack, struct weir_link *link,
                     weir_driver_event_cb on_event,
                     weir_driver_link_cb on_link_error, void *user);

/* The same, with a capture, faults or a virtual clock (opts may be NULL;
 * it is read during the call only). */
int weir_driver_init_ex(struct weir_driver *d, uv_loop_t *loop,
                        struct weir_stack *stack, struct weir_link *link,
                        const struct weir_driver_opts *opts,
                        weir_driver_event_cb on_event,
                        weir_driver_link_cb on_link_error, void *user);

/* Now, in weir's time base: monotonic microseconds (virtual time: the
 * virtual clock). Inside a driver callback, the time the driver read
 * when the wake-up began (see Time above). */
uint64_t weir_driver_now(const struct weir_driver *d);

/* Virtual time: does the next thing due (a held frame, a core timer, a
 * recorded frame, in that order when several are due at once), sends
 * what follows and delivers the events. Returns 1, or 0 once there is
 * nothing left to do (then on_link_error has had UV_EOF, once) or if the
 * driver is not on a virtual clock. The driver's idle handle calls it,
 * once per loop iteration. */
int weir_driver_step(struct weir_driver *d);

/* Sends what the stack has queued, delivers its events and re-arms the
 * timer. Call after any weir_* call made outside a driver callback. */
void weir_driver_kick(struct weir_driver *d);

/* Stops and closes the handles; cb (may be NULL) runs once they are
 * closed, from the loop. The stack and the link stay the caller's. */
void weir_driver_close(struct weir_driver *d, weir_driver_close_cb cb);

#endif
