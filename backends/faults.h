/* The fault injector: loss, duplication, reordering, corruption and delay
 * on the frames between a link and the stack, in either direction, for
 * impairing a link where the kernel's netem is not available.
 *
 * It is a plain object with no I/O and no clock: the driver hands it each
 * frame with the time, and it hands back, through a callback, the frames
 * that are to pass now (none, one, two, or frames it held earlier).
 * weir_faults_next() says when a held frame is next due;
 * weir_faults_release() lets it go. The driver keeps one timer for that
 * (live) or steps to it (virtual time).
 *
 * Every decision comes from a xorshift64* generator per direction, seeded
 * from one number: the Nth frame of a direction meets the same fate for
 * the same seed, whatever the other direction does. (Which frame is the
 * Nth of a live exchange still depends on the peer and the clock; under
 * the pcapfile backend's virtual clock the whole run repeats.)
 *
 * What each fault does to a frame, in this order, each drawn on its own:
 *   loss      the frame is dropped.
 *   corrupt   one bit flips in one byte past the link header (the IPv4
 *             header or what it carries), so that a checksum catches it:
 *             one flipped bit always changes the Internet checksum. On
 *             bare IP the version byte and the source address are spared:
 *             a capture's reader (pcapfile) tells by them whose frame it
 *             is, and the Ethernet header that does it there is spared
 *             anyway.
 *   dup       the frame passes twice, back to back.
 *   reorder   the frame is held until 1 to 3 later frames of its
 *             direction have passed it (an adjacent or near swap, as
 *             multipath links make), or WEIR_FAULTS_REORDER_MAX_US has
 *             gone by if nothing follows.
 *   delay     every frame waits this long (a FIFO delay line), the held
 *             ones on top of it.
 * Held frames are copies, in bounded queues; a frame that finds its queue
 * full is dropped and counted as an overflow (a delay line's tail drop). */
#ifndef WEIR_BACKENDS_FAULTS_H
#define WEIR_BACKENDS_FAULTS_H

#include <stddef.h>
#include <stdint.h>

enum weir_faults_dir {
  WEIR_FAULTS_IN = 0,  /* from the link to the stack */
  WEIR_FAULTS_OUT = 1, /* from the stack to the link */
};

/* The most a reordered frame waits for later frames to pass it. */
#define WEIR_FAULTS_REORDER_MAX_US 10000
/* Frames held at once per direction: reordered, delayed. */
#define WEIR_FAULTS_REORDER_SLOTS 64
#define WEIR_FAULTS_DELAY_SLOTS   4096

/* What to do to one direction. All zero: nothing (frames pass as they
 * are, with no copy). */
struct weir_faults_params {
  double loss, dup, reorder, corrupt; /* probabilities, 0..1 */
  uint64_t delay_us;
};

struct weir_faults_stats {
  uint64_t frames;     /* frames the direction saw */
  uint64_t lost;       /* dropped by --loss */
  uint64_t corrupted;  /* one bit flipped */
  uint64_t duplicated; /* passed twice */
  uint64_t reordered;  /* held for later frames to pass */
  uint64_t delayed;    /* held for --delay (not reordered) */
  uint64_t overflow;   /* dropped: the hold queue was full */
};

/* The frame passes now, into the stack (IN) or onto the link (OUT). The
 * bytes are valid during the call only. */
typedef void (*weir_faults_deliver_cb)(void *ctx, enum weir_faults_dir dir,
                                       const uint8_t *frame, size_t len);

struct weir_faults_held;

struct weir_faults_side {
  struct weir_faults_params p;
  struct weir_faults_stats stats;
  uint64_t rng; /* xorshift64* state, never 0 */
  uint64_t seq; /* frames (copies) that entered, for who passes whom */
  int active;   /* any fault set */
  struct weir_faults_held *delay_head, *delay_tail;
  unsigned delay_n;
  struct weir_faults_held *reorder[WEIR_FAULTS_REORDER_SLOTS];
  unsigned reorder_n;
};

struct weir_faults {
  struct weir_faults_side side[2]; /* by enum weir_faults_dir */
  size_t link_hdr;                 /* bytes never corrupted */
  uint8_t *scratch;                /* a corrupted copy */
  size_t scratch_cap;
  weir_faults_deliver_cb deliver;
  void *ctx;
};

/* Prepares f: in/out are the two directions' parameters (NULL: none),
 * seed seeds both generators, link_hdr is 14 on Ethernet and 0 on bare
 * IP, frame_max the longest frame. Returns 0 or -ENOMEM. */
int weir_faults_init(struct weir_faults *f, const struct weir_faults_params *in,
                     const struct weir_faults_params *out, uint64_t seed,
                     size_t link_hdr, size_t frame_max,
                     weir_faults_deliver_cb deliver, void *ctx);

/* Frees what f holds (held frames are dropped). */
void weir_faults_free(struct weir_faults *f);

/* Nonzero if any fault is set for dir: if not, the driver may skip the
 * injector for that direction altogether. */
static inline int weir_faults_active(const struct weir_faults *f,
                                     enum weir_faults_dir dir)
{
  return f && f->side[dir].active;
}

/* A frame enters in direction dir at now (microseconds). What passes now
 * goes to the deliver callback before this returns. */
void weir_faults_frame(struct weir_faults *f, enum weir_faults_dir dir,
                       const uint8_t *frame, size_t len, uint64_t now);

/* When a held frame is next due (either direction), or UINT64_MAX. */
uint64_t weir_faults_next(const struct weir_faults *f);

/* Lets every held frame due at now pass, in order. */
void weir_faults_release(struct weir_faults *f, uint64_t now);

/* Lets every held frame of dir pass at once, due or not (a delay line
 * emptied at the end). */
void weir_faults_drain(struct weir_faults *f, enum weir_faults_dir dir);

/* xorshift64* (Vigna 2016): a small, fast generator, good enough to
 * decide which frame to drop; not for secrets. */
uint64_t weir_faults_rand(uint64_t *state);

#endif
