/* The capture writer. See capture.h. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "capture.h"

/* The classic pcap headers, in the writer's byte order: readers tell it
 * from the magic number. 0xa1b2c3d4: microsecond timestamps. */
struct file_header {
  uint32_t magic;
  uint16_t version_major, version_minor;
  int32_t thiszone; /* always 0 */
  uint32_t sigfigs; /* always 0 */
  uint32_t snaplen;
  uint32_t linktype;
};

struct record_header {
  uint32_t ts_sec, ts_usec;
  uint32_t incl_len, orig_len;
};

/* Writes all of iov, retrying short writes and EINTR. */
static int write_all(int fd, struct iovec *iov, int n)
{
  ssize_t w;

  while (n > 0) {
    w = writev(fd, iov, n);
    if (w < 0 && errno == EINTR)
      continue;
    if (w < 0)
      return -errno;
    while (n > 0 && (size_t)w >= iov->iov_len) {
      w -= (ssize_t)iov->iov_len;
      iov++;
      n--;
    }
    if (n > 0) {
      iov->iov_base = (uint8_t *)iov->iov_base + w;
      iov->iov_len -= (size_t)w;
    }
  }
  return 0;
}

int weir_capture_open(struct weir_capture *c, const char *path,
                      enum weir_link_type type, char *err, size_t errlen)
{
  struct file_header h;
  struct iovec iov;
  int e;

  memset(c, 0, sizeof(*c));
  c->fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (c->fd < 0) {
    e = -errno;
    snprintf(err, errlen, "capture: cannot create %s: %s", path, strerror(-e));
    return e;
  }
  memset(&h, 0, sizeof(h));
  h.magic = 0xa1b2c3d4u;
  h.version_major = 2;
  h.version_minor = 4;
  h.snaplen = WEIR_CAPTURE_SNAPLEN;
  h.linktype =
      type == WEIR_LINK_ETHERNET ? WEIR_LINKTYPE_ETHERNET : WEIR_LINKTYPE_RAW;
  iov.iov_base = &h;
  iov.iov_len = sizeof(h);
  e = write_all(c->fd, &iov, 1);
  if (e < 0) {
    snprintf(err, errlen, "capture: cannot write %s: %s", path, strerror(-e));
    close(c->fd);
    c->fd = -1;
    return e;
  }
  return 0;
}

int weir_capture_write(struct weir_capture *c, uint64_t now_us,
                       const uint8_t *frame, size_t len)
{
  struct record_header r;
  struct iovec iov[2];
  int e;

  if (c->fd < 0)
    return c->error;
  r.ts_sec = (uint32_t)(now_us / 1000000);
  r.ts_usec = (uint32_t)(now_us % 1000000);
  r.orig_len = (uint32_t)len;
  r.incl_len = len > WEIR_CAPTURE_SNAPLEN ? WEIR_CAPTURE_SNAPLEN : r.orig_len;
  iov[0].iov_base = &r;
  iov[0].iov_len = sizeof(r);
  iov[1].iov_base = (void *)frame;
  iov[1].iov_len = r.incl_len;
  e = write_all(c->fd, iov, 2);
  if (e < 0) {
    c->error = e;
    close(c->fd);
    c->fd = -1;
    return e;
  }
  c->frames++;
  c->bytes += len;
  return 0;
}

int weir_capture_close(struct weir_capture *c)
{
  if (c->fd >= 0 && close(c->fd) < 0 && c->error == 0)
    c->error = -errno;
  c->fd = -1;
  return c->error;
}
