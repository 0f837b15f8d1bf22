/* Names for the wire layer's parse results. */
#include "wire/wire.h"

const char *weir_wire_strerror(int err)
{
  switch (err) {
  case WEIR_WIRE_OK:
    return "ok";
  case WEIR_WIRE_TRUNCATED:
    return "truncated";
  case WEIR_WIRE_BAD_VERSION:
    return "bad version";
  case WEIR_WIRE_BAD_HLEN:
    return "bad header length";
  case WEIR_WIRE_BAD_LENGTH:
    return "bad length";
  case WEIR_WIRE_BAD_CHECKSUM:
    return "bad checksum";
  case WEIR_WIRE_BAD_OPTION:
    return "bad option";
  case WEIR_WIRE_UNSUPPORTED:
    return "unsupported";
  case WEIR_WIRE_BAD_FRAGMENT:
    return "bad fragment";
  }
  return "unknown wire error";
}
