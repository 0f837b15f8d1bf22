/* Shared definitions of the wire layer: parse results.
 *
 * Every parser in core/wire/ has the same shape:
 *
 *   int weir_X_parse(struct weir_X *out, const uint8_t *buf, size_t len);
 *
 * It validates every length once and returns 0 with `out` filled, or a
 * negative WEIR_WIRE_* reason with `out` unspecified. After a successful
 * parse, the fields of `out` (including payload/payload_len, which point
 * into `buf`) can be used without further checks.
 *
 * Every emitter writes a header from the same struct into a caller's
 * buffer and returns the bytes written, or 0 when `cap` is too small. */
#ifndef WEIR_WIRE_WIRE_H
#define WEIR_WIRE_WIRE_H

#include <stddef.h>
#include <stdint.h>

enum weir_wire_err {
  WEIR_WIRE_OK = 0,
  WEIR_WIRE_TRUNCATED = -1,   /* buffer shorter than the fixed header */
  WEIR_WIRE_BAD_VERSION = -2, /* IPv4 version field is not 4 */
  WEIR_WIRE_BAD_HLEN = -3,    /* IHL < 5, TCP data offset < 5, or past buffer */
  WEIR_WIRE_BAD_LENGTH = -4,  /* a length field disagrees with the buffer */
  WEIR_WIRE_BAD_CHECKSUM = -5, /* a checksum does not verify */
  WEIR_WIRE_BAD_OPTION = -6,   /* option length 0/1/overrun or wrong for kind */
  WEIR_WIRE_UNSUPPORTED = -7,  /* well-formed but not a kind we handle */
  WEIR_WIRE_BAD_FRAGMENT = -8, /* fragment offset + length beyond 65535 */
};

/* A short constant string naming a WEIR_WIRE_* value ("truncated", ...). */
const char *weir_wire_strerror(int err);

#endif
