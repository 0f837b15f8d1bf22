/* weir: a portable user-space TCP/IP stack with a pure core.
 * Include this for the whole public API. */
#ifndef WEIR_WEIR_H
#define WEIR_WEIR_H

#include "weir/addr.h"
#include "weir/error.h"
#include "weir/event.h"
#include "weir/stack.h"
#include "weir/stats.h"
#include "weir/tcp.h"
#include "weir/udp.h"

#endif
