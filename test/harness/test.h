/* A small test harness. Each test is a function defined with TEST(name);
 * it registers itself before main runs. A failed CHECK prints where and
 * why and returns from the test. The runner prints one line per test and
 * ends with "N passed, N failed, N skipped".
 *
 *   TEST(test_arp_request_gets_reply) {
 *     ...
 *     CHECK_EQ(len, 42);
 *   }
 */
#ifndef WEIR_TEST_H
#define WEIR_TEST_H

#include <stddef.h>
#include <stdint.h>

typedef void (*wt_fn)(void);

void wt_register(const char *name, const char *file, wt_fn fn);
void wt_fail(const char *file, int line, const char *fmt, ...);
void wt_skip(const char *reason);
int wt_failed(void);
void wt_hexdiff(const uint8_t *got, size_t got_len, const uint8_t *want,
                size_t want_len);

#define TEST(name)                                                             \
  static void name(void);                                                      \
  __attribute__((constructor)) static void name##__reg(void)                   \
  {                                                                            \
    wt_register(#name, __FILE__, name);                                        \
  }                                                                            \
  static void name(void)

#define CHECK(cond)                                                            \
  do {                                                                         \
    if (!(cond)) {                                                             \
      wt_fail(__FILE__, __LINE__, "CHECK(%s)", #cond);                         \
      return;                                                                  \
    }                                                                          \
  } while (0)

#define CHECK_EQ(a, b)                                                         \
  do {                                                                         \
    long long wt_a_ = (long long)(a), wt_b_ = (long long)(b);                  \
    if (wt_a_ != wt_b_) {                                                      \
      wt_fail(__FILE__, __LINE__, "%s == %s: %lld != %lld", #a, #b, wt_a_,     \
              wt_b_);                                                          \
      return;                                                                  \
    }                                                                          \
  } while (0)

#define CHECK_UEQ(a, b)                                                        \
  do {                                                                         \
    unsigned long long wt_a_ = (unsigned long long)(a),                        \
                       wt_b_ = (unsigned long long)(b);                        \
    if (wt_a_ != wt_b_) {                                                      \
      wt_fail(__FILE__, __LINE__, "%s == %s: 0x%llx != 0x%llx", #a, #b, wt_a_, \
              wt_b_);                                                          \
      return;                                                                  \
    }                                                                          \
  } while (0)

/* Compares two byte strings; on a difference prints both in hex. */
#define CHECK_BYTES(got, got_len, want, want_len)                              \
  do {                                                                         \
    size_t wt_gl_ = (got_len), wt_wl_ = (want_len);                            \
    if (wt_gl_ != wt_wl_ || memcmp((got), (want), wt_gl_) != 0) {              \
      wt_fail(__FILE__, __LINE__, "bytes %s differ from %s", #got, #want);     \
      wt_hexdiff((const uint8_t *)(got), wt_gl_, (const uint8_t *)(want),      \
                 wt_wl_);                                                      \
      return;                                                                  \
    }                                                                          \
  } while (0)

#define SKIP(reason)                                                           \
  do {                                                                         \
    wt_skip(reason);                                                           \
    return;                                                                    \
  } while (0)

#endif
