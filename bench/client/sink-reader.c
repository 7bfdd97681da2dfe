/*
 * The sinks' reader: counts what arrives on already-subscribed WebSocket connections, in C.
 *
 * A bench worker opens its sinks in Node (handshake, subscription: bench/client/raw-sink.ts),
 * then hands their sockets to this process as file descriptors 3 .. 3+N-1 and stops reading
 * them itself. This process walks frame headers and counts frames, payload bytes and events (by
 * a marker in the payload, as raw-sink.ts does), answers WebSocket pings and the dialect's
 * application ping, and records closes. Reading thousands of sockets costs the load generator
 * a few microseconds per frame instead of a JavaScript callback per read.
 *
 *   sink-reader N MARKER_HEX PING_MODE(none|exact|contains) PING_HEX PONG_HEX
 *
 * Commands on stdin, one letter per line: `s` prints the counters as one JSON line, `r` resets
 * them, `q` exits. Built by bench/client/sink-reader.ts with the system's C compiler.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#define SMALL 64

struct conn {
  int fd;
  int open;
  uint8_t hdr[14];
  int hlen;          /* header bytes gathered */
  uint64_t need;     /* payload bytes left in the current frame */
  int opcode, fin, small;
  uint8_t buf[SMALL]; /* payload of a small or control frame */
  int blen;
  uint8_t carry[32]; /* last marker-1 bytes of the current counted frame */
  int clen;
};

static struct conn *conns;
static int nconns;
static uint8_t marker[32];
static int mlen;
static int ping_mode; /* 0 none, 1 exact, 2 contains */
static uint8_t ping[64], pong[256];
static int pinglen, ponglen;
static uint64_t frames, bytes, events, closed, codes[5000];

static int unhex(const char *h, uint8_t *out, int max) {
  int n = (int)strlen(h) / 2;
  if (n > max) n = max;
  for (int i = 0; i < n; i++) sscanf(h + 2 * i, "%2hhx", &out[i]);
  return n;
}

static void send_frame(struct conn *c, int op, const uint8_t *p, int len) {
  uint8_t f[6 + 256];
  if (len > 256) len = 256;
  int hl;
  f[0] = 0x80 | op;
  if (len < 126) { f[1] = 0x80 | len; hl = 2; }
  else { f[1] = 0x80 | 126; f[2] = len >> 8; f[3] = len & 0xff; hl = 4; }
  uint8_t mask[4] = {(uint8_t)rand(), (uint8_t)rand(), (uint8_t)rand(), (uint8_t)rand()};
  memcpy(f + hl, mask, 4);
  for (int i = 0; i < len; i++) f[hl + 4 + i] = p[i] ^ mask[i & 3];
  if (write(c->fd, f, hl + 4 + len) < 0) {} /* a failed pong shows up as a close later */
}

static void close_conn(struct conn *c, int code) {
  if (!c->open) return;
  c->open = 0;
  closed++;
  codes[code >= 0 && code < 5000 ? code : 0]++;
  close(c->fd);
}

static void count_piece(struct conn *c, const uint8_t *p, uint64_t len) {
  if (c->clen) {
    uint8_t joint[64];
    int take = len < (uint64_t)(mlen - 1) ? (int)len : mlen - 1;
    memcpy(joint, c->carry, c->clen);
    memcpy(joint + c->clen, p, take);
    if (memmem(joint, c->clen + take, marker, mlen)) events++;
  }
  const uint8_t *s = p, *end = p + len;
  while (s < end) {
    const uint8_t *hit = memmem(s, end - s, marker, mlen);
    if (!hit) break;
    events++;
    s = hit + mlen;
  }
  if (len >= (uint64_t)(mlen - 1)) {
    c->clen = mlen - 1;
    memcpy(c->carry, end - c->clen, c->clen);
  } else c->clen = 0;
}

static void end_frame(struct conn *c) {
  int op = c->opcode;
  c->clen = 0;
  if (op < 8 && c->fin) frames++;
  if (!c->small) return;
  if (op == 9) { send_frame(c, 10, c->buf, c->blen); return; }
  if (op == 8) {
    int code = c->blen >= 2 ? (c->buf[0] << 8 | c->buf[1]) : 1005;
    send_frame(c, 8, c->buf, c->blen >= 2 ? 2 : 0);
    close_conn(c, code);
    return;
  }
  if (op == 10) return;
  int is_ping = 0;
  if (ping_mode == 1) is_ping = c->blen == pinglen && memcmp(c->buf, ping, pinglen) == 0;
  else if (ping_mode == 2) is_ping = memmem(c->buf, c->blen, ping, pinglen) != NULL;
  if (is_ping) send_frame(c, 1, pong, ponglen);
  else count_piece(c, c->buf, c->blen);
}

static void on_data(struct conn *c, const uint8_t *p, size_t n) {
  size_t pos = 0;
  while (pos < n && c->open) {
    if (c->need > 0) {
      uint64_t take = c->need < n - pos ? c->need : n - pos;
      if (c->small) { memcpy(c->buf + c->blen, p + pos, take); c->blen += (int)take; }
      else count_piece(c, p + pos, take);
      c->need -= take;
      pos += take;
      if (c->need == 0) end_frame(c);
      continue;
    }
    /* gather the header: 2 bytes, then 0/2/8 bytes of extended length (server frames: no mask) */
    c->hdr[c->hlen++] = p[pos++];
    if (c->hlen < 2) continue;
    int l7 = c->hdr[1] & 0x7f;
    int want = l7 == 126 ? 4 : l7 == 127 ? 10 : 2;
    if (c->hlen < want) continue;
    uint64_t len = l7;
    if (l7 == 126) len = (uint64_t)c->hdr[2] << 8 | c->hdr[3];
    else if (l7 == 127) { len = 0; for (int i = 2; i < 10; i++) len = len << 8 | c->hdr[i]; }
    c->hlen = 0;
    c->fin = (c->hdr[0] & 0x80) != 0;
    int op = c->hdr[0] & 0x0f;
    if (op != 0) c->opcode = op;
    c->need = len;
    c->clen = 0;
    c->small = op >= 8 || len < SMALL;
    c->blen = 0;
    if (op < 8) bytes += len;
    if (len == 0) end_frame(c);
  }
}

static void print_stats(void) {
  printf("{\"frames\":%llu,\"bytes\":%llu,\"events\":%llu,\"closed\":%llu,\"closeCodes\":{", (unsigned long long)frames,
         (unsigned long long)bytes, (unsigned long long)events, (unsigned long long)closed);
  int first = 1;
  for (int i = 0; i < 5000; i++)
    if (codes[i]) { printf("%s\"%d\":%llu", first ? "" : ",", i ? i : 1006, (unsigned long long)codes[i]); first = 0; }
  printf("}}\n");
  fflush(stdout);
}

int main(int argc, char **argv) {
  if (argc < 6) { fprintf(stderr, "usage: sink-reader N MARKER_HEX PING_MODE PING_HEX PONG_HEX\n"); return 2; }
  nconns = atoi(argv[1]);
  mlen = unhex(argv[2], marker, sizeof marker);
  ping_mode = strcmp(argv[3], "exact") == 0 ? 1 : strcmp(argv[3], "contains") == 0 ? 2 : 0;
  pinglen = unhex(argv[4], ping, sizeof ping);
  ponglen = unhex(argv[5], pong, sizeof pong);
  if (mlen < 2) { fprintf(stderr, "sink-reader: marker too short\n"); return 2; }
  conns = calloc(nconns, sizeof *conns);
  int ep = epoll_create1(0);
  struct epoll_event e = {.events = EPOLLIN, .data.u64 = (uint64_t)-1};
  epoll_ctl(ep, EPOLL_CTL_ADD, 0, &e);
  for (int i = 0; i < nconns; i++) {
    conns[i].fd = 3 + i;
    conns[i].open = 1;
    struct epoll_event ce = {.events = EPOLLIN, .data.u64 = (uint64_t)i};
    if (epoll_ctl(ep, EPOLL_CTL_ADD, conns[i].fd, &ce)) { perror("sink-reader: epoll_ctl"); return 1; }
  }
  static uint8_t buf[1 << 18];
  struct epoll_event ev[256];
  for (;;) {
    int k = epoll_wait(ep, ev, 256, -1);
    if (k < 0) { if (errno == EINTR) continue; perror("sink-reader: epoll_wait"); return 1; }
    for (int j = 0; j < k; j++) {
      if (ev[j].data.u64 == (uint64_t)-1) {
        char cmd[16];
        ssize_t r = read(0, cmd, sizeof cmd);
        if (r <= 0) return 0; /* the worker is gone */
        for (ssize_t i = 0; i < r; i++) {
          if (cmd[i] == 's') print_stats();
          else if (cmd[i] == 'r') { frames = bytes = events = closed = 0; memset(codes, 0, sizeof codes); }
          else if (cmd[i] == 'q') return 0;
        }
        continue;
      }
      struct conn *c = &conns[ev[j].data.u64];
      if (!c->open) continue;
      ssize_t r = read(c->fd, buf, sizeof buf);
      if (r > 0) on_data(c, buf, (size_t)r);
      else if (r == 0 || (errno != EAGAIN && errno != EINTR)) close_conn(c, 0);
    }
  }
}
