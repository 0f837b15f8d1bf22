/* What every link backend shares: finding one by name, opening and
 * closing through its table. */
#include <errno.h>
#include <linux/virtio_net.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "link.h"
#include "wire/checksum.h"

static const struct weir_link_ops *const backends[] = {
    &weir_link_tun,
    &weir_link_tap,
    &weir_link_raw,
    &weir_link_pcap,
};

const struct weir_link_ops *weir_link_find(const char *name)
{
  size_t i;

  for (i = 0; i < sizeof(backends) / sizeof(backends[0]); i++)
    if (strcmp(backends[i]->name, name) == 0)
      return backends[i];
  return NULL;
}

const char *weir_link_names(void)
{
  return "tun|tap|raw|pcap";
}

int weir_link_open(struct weir_link *l, const struct weir_link_ops *ops,
                   const struct weir_link_params *p)
{
  int err;

  memset(l, 0, sizeof(*l));
  l->ops = ops;
  l->fd = -1;
  err = ops->open(l, p);
  if (err < 0) {
    ops->close(l);
    l->fd = -1;
  }
  return err;
}

void weir_link_close(struct weir_link *l)
{
  if (l->ops)
    l->ops->close(l);
  l->fd = -1;
}

size_t weir_link_frame_max(const struct weir_link *l)
{
  return (size_t)l->mtu + (l->ops->type == WEIR_LINK_ETHERNET ? 14 : 0);
}

int weir_link_fail(struct weir_link *l, int err, const char *fmt, ...)
{
  va_list ap;
  int n;

  n = snprintf(l->err, sizeof(l->err), "%s: ", l->ops->name);
  if (n < 0 || (size_t)n >= sizeof(l->err))
    n = 0;
  va_start(ap, fmt);
  vsnprintf(l->err + n, sizeof(l->err) - (size_t)n, fmt, ap);
  va_end(ap);
  return err;
}

int weir_link_set_mtu(struct weir_link *l, const char *name, int dev_mtu,
                      uint16_t want)
{
  int mtu = dev_mtu;
  /* --mtu may lower what weir sends, never raise it past the link's. */
  if (want) {
    if (want > mtu)
      return weir_link_fail(l, -EINVAL, "--mtu %u is more than %s's MTU %d",
                            (unsigned)want, name, mtu);
    mtu = want;
  }
  if (mtu < 576 || mtu > 65535)
    return weir_link_fail(l, -EINVAL, "%s: MTU %d is outside 576..65535", name,
                          mtu);
  l->mtu = (uint16_t)mtu;
  return 0;
}

int weir_link_csum_complete(uint8_t *f, size_t len, size_t l3, size_t start,
                            size_t off)
{
  size_t end = len, at = start + off;
  uint16_t c;

  if (l3 + 20 <= len && f[l3] >> 4 == 4 &&
      l3 + (size_t)(f[l3 + 2] << 8 | f[l3 + 3]) <= len)
    end = l3 + (size_t)(f[l3 + 2] << 8 | f[l3 + 3]);
  if (start < l3 + 20 || start >= end || at + 2 > end)
    return -1;
  c = weir_csum_finish(weir_csum_add(0, f + start, end - start));
  if (c == 0)
    c = 0xffff;
  f[at] = (uint8_t)(c >> 8);
  f[at + 1] = (uint8_t)c;
  return 0;
}

void weir_link_vnet_tx(struct virtio_net_hdr *vh, const struct weir_tx_meta *m)
{
  memset(vh, 0, sizeof(*vh));
  if (!m)
    return;
  if (m->flags & WEIR_TX_CSUM_PARTIAL) {
    vh->flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
    vh->csum_start = m->csum_start;
    vh->csum_offset = m->csum_offset;
  }
  if (m->gso_size) {
    vh->gso_type = VIRTIO_NET_HDR_GSO_TCPV4;
    vh->gso_size = m->gso_size;
    vh->hdr_len = m->hdr_len;
  }
}

int weir_link_vnet_rx(const struct virtio_net_hdr *vh, uint8_t *f, size_t len,
                      size_t l3, unsigned *flags)
{
  size_t ihl;
  uint8_t proto;

  *flags = 0;
  if (vh->flags & VIRTIO_NET_HDR_F_DATA_VALID)
    *flags = WEIR_RX_CSUM_VALID;
  if (!(vh->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM))
    return 0;
  if (len >= l3 + 20 && f[l3] >> 4 == 4) {
    ihl = (size_t)(f[l3] & 15) * 4;
    proto = f[l3 + 9];
    if (vh->csum_start == l3 + ihl &&
        ((proto == 6 && vh->csum_offset == 16) ||
         (proto == 17 && vh->csum_offset == 6)) &&
        (size_t)vh->csum_start + vh->csum_offset + 2 <= len) {
      *flags = WEIR_RX_CSUM_PARTIAL;
      return 0;
    }
  }
  return weir_link_csum_complete(f, len, l3, vh->csum_start, vh->csum_offset);
}

int weir_link_existing_if(struct weir_link *l, const struct weir_link_params *p)
{
  const char *name = p->ifname ? p->ifname : "";

  /* The apps' default name is a tun/tap pattern, not an interface. */
  if (!name[0] || strchr(name, '%'))
    return weir_link_fail(l, -EINVAL,
                          "name an existing Ethernet interface with --if");
  if (strlen(name) >= sizeof(l->ifname))
    return weir_link_fail(l, -EINVAL,
                          "interface name '%s' is longer than %zu bytes", name,
                          sizeof(l->ifname) - 1);
  if (p->kernel_ip)
    return weir_link_fail(
        l, -EINVAL,
        "%s exists already: give the kernel's side an address "
        "with ip-address(8), not --kernel-ip",
        name);
  memcpy(l->ifname, name, strlen(name) + 1);
  return 0;
}
