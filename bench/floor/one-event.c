/*
 * One event through a server, seen from its subscribers: N WebSocket connections on loopback, each
 * subscribed (native protocol, `{"op":"subscribe","id":1,"channel":...}`) to one channel, read by
 * one epoll thread. On a line on stdin the reader starts a round: it notes when each connection
 * next receives anything and, once all have, prints when the first, the median, the 99th
 * percentile and the last connection got it, in ms after the line arrived. The caller publishes
 * one event right after writing the line. Nothing else is sent while idle, so what arrives is
 * the event.
 *
 *   cc -O2 -o one-event one-event.c && ./one-event PORT N CHANNEL
 *
 * Used by `npm run bench:floor` (bench/floor.ts).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static double now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

static int cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
  if (argc < 4) { fprintf(stderr, "usage: one-event PORT N CHANNEL\n"); return 2; }
  int port = atoi(argv[1]), n = atoi(argv[2]);
  const char *channel = argv[3];
  int ep = epoll_create1(0);
  struct sockaddr_in a = {0};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(0x7f000001);
  char sub[256];
  int sl = snprintf(sub, sizeof sub, "{\"op\":\"subscribe\",\"id\":1,\"channel\":\"%s\"}", channel);
  if (sl >= 126) { fprintf(stderr, "channel name too long\n"); return 2; }
  unsigned char frame[6 + 256];
  frame[0] = 0x81;
  frame[1] = 0x80 | sl; /* masked, with a zero key: the payload goes as it is */
  memset(frame + 2, 0, 4);
  memcpy(frame + 6, sub, sl);
  const char *upgrade = "GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
  int *fds = malloc(n * sizeof(int));
  double *at = malloc(n * sizeof(double));
  for (int i = 0; i < n; i++) {
    int s = socket(AF_INET, SOCK_STREAM, 0);
    if (s < 0 || connect(s, (struct sockaddr *)&a, sizeof a) != 0) { perror("connect"); return 1; }
    if (write(s, upgrade, strlen(upgrade)) < 0) { perror("write"); return 1; }
    usleep(200); /* the upgrade answer first; a server may read the subscribe with it otherwise */
    if (write(s, frame, 6 + sl) < 0) { perror("write"); return 1; }
    fds[i] = s;
    fcntl(s, F_SETFL, O_NONBLOCK);
    struct epoll_event e = {.events = EPOLLIN, .data.u32 = (unsigned)i};
    epoll_ctl(ep, EPOLL_CTL_ADD, s, &e);
  }
  fcntl(0, F_SETFL, O_NONBLOCK);
  struct epoll_event e0 = {.events = EPOLLIN, .data.u32 = 0xffffffffu};
  epoll_ctl(ep, EPOLL_CTL_ADD, 0, &e0);
  printf("ready\n");
  fflush(stdout);
  static char buf[1 << 16];
  struct epoll_event ev[512];
  double start = 0;
  int got = 0;
  for (;;) {
    int k = epoll_wait(ep, ev, 512, start > 0 ? 2000 : -1);
    if (k == 0 && start > 0) {
      printf("{\"timeout\":true,\"received\":%d}\n", got);
      fflush(stdout);
      start = 0;
      continue;
    }
    for (int i = 0; i < k; i++) {
      unsigned id = ev[i].data.u32;
      if (id == 0xffffffffu) {
        char c[64];
        if (read(0, c, sizeof c) <= 0) return 0;
        start = now_ms();
        got = 0;
        for (int j = 0; j < n; j++) at[j] = -1;
        continue;
      }
      int r, any = 0;
      while ((r = read(fds[id], buf, sizeof buf)) > 0) any = 1;
      if (r == 0) { fprintf(stderr, "connection %u closed\n", id); return 1; }
      if (any && start > 0 && at[id] < 0) {
        at[id] = now_ms() - start;
        got++;
      }
    }
    if (start > 0 && got == n) {
      qsort(at, n, sizeof(double), cmp);
      printf("{\"first\":%.2f,\"p50\":%.2f,\"p99\":%.2f,\"last\":%.2f}\n", at[0], at[n / 2], at[n * 99 / 100], at[n - 1]);
      fflush(stdout);
      start = 0;
    }
  }
}
