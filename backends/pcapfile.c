/* The pcapfile backend. See pcapfile.h. libpcap reads the file: it knows
 * every variant (byte order, nanosecond stamps, pcapng) and how to say
 * what is wrong with one. */
#include <errno.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pcapfile.h"

struct pcapfile {
  pcap_t *p;
  int ethernet;
  uint32_t self_ip;
  uint8_t self_mac[6];
  uint64_t first_at;
  /* The record recv() hands out next, read ahead by next_at(). */
  int have_next;
  int eof;
  uint64_t next_at;
  const uint8_t *next;
  size_t next_len;
  struct weir_pcapfile_stats stats;
  char warning[PCAP_ERRBUF_SIZE + 64];
};

static uint64_t stamp(const struct pcap_pkthdr *h)
{
  /* A date before 1970 is no time the core can take (now only grows
   * from 0): clamp it. */
  if (h->ts.tv_sec < 0)
    return 0;
  return (uint64_t)h->ts.tv_sec * 1000000 + (uint64_t)h->ts.tv_usec;
}

/* A frame weir sent, by its source. */
static int own(const struct pcapfile *pf, const uint8_t *b, size_t len)
{
  uint32_t src;

  if (pf->ethernet)
    return len >= 14 && memcmp(b + 6, pf->self_mac, 6) == 0;
  if (len < 20 || (b[0] >> 4) != 4)
    return 0;
  src = (uint32_t)b[12] << 24 | (uint32_t)b[13] << 16 | (uint32_t)b[14] << 8 |
        b[15];
  return src == pf->self_ip;
}

/* Reads ahead to the next frame to feed, if there is one. */
static void read_ahead(struct weir_link *l)
{
  struct pcapfile *pf = l->state;
  struct pcap_pkthdr *h;
  const u_char *data;
  int r;

  while (!pf->have_next && !pf->eof) {
    r = pcap_next_ex(pf->p, &h, &data);
    if (r != 1) {
      /* PCAP_ERROR_BREAK is the clean end; anything else (a record cut
       * short by a crash) ends the recording there, with a word. */
      if (r != PCAP_ERROR_BREAK)
        snprintf(pf->warning, sizeof(pf->warning),
                 "pcapfile: the recording ends early: %s", pcap_geterr(pf->p));
      pf->eof = 1;
      return;
    }
    pf->stats.records++;
    if (h->caplen < h->len) {
      pf->stats.truncated++;
      continue;
    }
    if (own(pf, data, h->caplen)) {
      pf->stats.own++;
      continue;
    }
    pf->have_next = 1;
    pf->next = data;
    pf->next_len = h->caplen;
    pf->next_at = stamp(h);
  }
}

uint64_t weir_pcapfile_next_at(struct weir_link *l)
{
  struct pcapfile *pf = l->state;

  read_ahead(l);
  return pf->have_next ? pf->next_at : UINT64_MAX;
}

uint64_t weir_pcapfile_start(const struct weir_link *l)
{
  return ((const struct pcapfile *)l->state)->first_at;
}

const struct weir_pcapfile_stats *weir_pcapfile_stats(const struct weir_link *l)
{
  return &((const struct pcapfile *)l->state)->stats;
}

const char *weir_pcapfile_warning(const struct weir_link *l)
{
  return ((const struct pcapfile *)l->state)->warning;
}

static long pf_recv(struct weir_link *l, uint8_t *buf, size_t cap)
{
  struct pcapfile *pf = l->state;
  size_t n;

  read_ahead(l);
  if (!pf->have_next)
    return 0;
  pf->have_next = 0;
  n = pf->next_len < cap ? pf->next_len : cap;
  memcpy(buf, pf->next, n);
  pf->stats.fed++;
  return (long)n;
}

/* Taken, and gone: the capture (--pcap-out) is where it shows. */
static int pf_send(struct weir_link *l, const uint8_t *buf, size_t len)
{
  (void)l;
  (void)buf;
  (void)len;
  return 1;
}

static void pf_close(struct weir_link *l)
{
  struct pcapfile *pf = l->state;

  if (pf) {
    if (pf->p)
      pcap_close(pf->p);
    free(pf);
  }
  l->state = NULL;
  l->fd = -1;
}

/* Not reached through weir_link_open: the file needs weir's addresses,
 * which weir_link_params does not carry (weir_pcapfile_open). */
static int pf_open(struct weir_link *l, const struct weir_link_params *p)
{
  (void)p;
  snprintf(l->err, sizeof(l->err), "pcapfile: open it with a file name");
  return -EINVAL;
}

const struct weir_link_ops weir_link_pcapfile_eth = {
    .name = "pcapfile",
    .type = WEIR_LINK_ETHERNET,
    .open = pf_open,
    .close = pf_close,
    .recv = pf_recv,
    .send = pf_send,
};

const struct weir_link_ops weir_link_pcapfile_ip = {
    .name = "pcapfile",
    .type = WEIR_LINK_IP,
    .open = pf_open,
    .close = pf_close,
    .recv = pf_recv,
    .send = pf_send,
};

int weir_pcapfile_open(struct weir_link *l, const char *path, uint32_t self_ip,
                       const uint8_t self_mac[6], uint16_t mtu)
{
  char errbuf[PCAP_ERRBUF_SIZE];
  struct pcapfile *pf;
  struct pcap_pkthdr *h;
  const u_char *data;
  int dlt, r;

  memset(l, 0, sizeof(*l));
  l->fd = -1;
  l->ops = &weir_link_pcapfile_ip;
  pf = calloc(1, sizeof(*pf));
  if (!pf) {
    snprintf(l->err, sizeof(l->err), "pcapfile: out of memory");
    return -ENOMEM;
  }
  l->state = pf;
  errbuf[0] = '\0';
  /* Microseconds whatever the file has: the core's clock unit. */
  pf->p = pcap_open_offline_with_tstamp_precision(
      path, PCAP_TSTAMP_PRECISION_MICRO, errbuf);
  if (!pf->p) {
    /* libpcap says "x.pcap: No such file..." or "unknown file format".
     * (The precisions only tell the compiler that the line is cut to
     * l->err, as snprintf does anyway.) */
    if (strncmp(errbuf, path, strlen(path)) == 0)
      snprintf(l->err, sizeof(l->err), "pcapfile: %.140s", errbuf);
    else
      snprintf(l->err, sizeof(l->err), "pcapfile: %s: %.100s", path, errbuf);
    pf_close(l);
    return -EINVAL;
  }
  dlt = pcap_datalink(pf->p);
  switch (dlt) {
  case DLT_EN10MB:
    pf->ethernet = 1;
    l->ops = &weir_link_pcapfile_eth;
    break;
  case DLT_RAW:
  case DLT_IPV4:
    break;
  default:
    snprintf(l->err, sizeof(l->err),
             "pcapfile: %s: link type %s, want Ethernet or bare IP", path,
             pcap_datalink_val_to_name(dlt) ? pcap_datalink_val_to_name(dlt)
                                            : "unknown");
    pf_close(l);
    return -EINVAL;
  }
  pf->self_ip = self_ip;
  memcpy(pf->self_mac, self_mac, 6);
  l->mtu = mtu ? mtu : 1500;
  snprintf(l->ifname, sizeof(l->ifname), "pcapfile");

  /* The first record fixes where the clock starts, ours or not: a
   * recording of weir's echoclient starts with weir's own SYN. */
  r = pcap_next_ex(pf->p, &h, &data);
  if (r == 1) {
    pf->first_at = stamp(h);
    pf->stats.records++;
    if (h->caplen < h->len) {
      pf->stats.truncated++;
    } else if (own(pf, data, h->caplen)) {
      pf->stats.own++;
    } else {
      pf->have_next = 1;
      pf->next = data;
      pf->next_len = h->caplen;
      pf->next_at = pf->first_at;
    }
  } else {
    if (r != PCAP_ERROR_BREAK)
      snprintf(pf->warning, sizeof(pf->warning),
               "pcapfile: the recording ends early: %s", pcap_geterr(pf->p));
    pf->eof = 1;
  }
  return 0;
}
