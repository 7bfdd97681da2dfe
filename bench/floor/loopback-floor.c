/*
 * The kernel's floor for a broadcast on this machine: N loopback TCP connections, a reader thread
 * draining the client ends with epoll (as cheap a client as there is), and 1 or 2 writer threads
 * writing one small message to every server end, as a broadcast of one event to N subscribers
 * would. No WebSocket, no JavaScript: what any server on this machine pays at least.
 *
 *   cc -O2 -pthread -o loopback-floor loopback-floor.c && ./loopback-floor [N] [bytes] [rounds]
 *
 * Used by `npm run bench:floor` (bench/floor.ts).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static int n = 5000, size = 200, rounds = 10;
static int *srv, *cli, ep;
static char *msg;

static double now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

static void *reader(void *arg) {
  (void)arg;
  struct epoll_event ev[512];
  static char buf[1 << 16];
  for (;;) {
    int k = epoll_wait(ep, ev, 512, 100);
    for (int i = 0; i < k; i++) while (read(ev[i].data.fd, buf, sizeof buf) > 0) {}
  }
  return NULL;
}

struct part { int from, step; };

static void *writer(void *arg) {
  struct part *p = arg;
  for (int i = p->from; i < n; i += p->step)
    if (write(srv[i], msg, size) != size) { perror("write"); exit(1); }
  return NULL;
}

static double broadcast(int threads) {
  pthread_t t[2];
  struct part p[2] = {{0, threads}, {1, threads}};
  double t0 = now_ms();
  for (int k = 0; k < threads; k++) pthread_create(&t[k], NULL, writer, &p[k]);
  for (int k = 0; k < threads; k++) pthread_join(t[k], NULL);
  return now_ms() - t0;
}

static int cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
  if (argc > 1) n = atoi(argv[1]);
  if (argc > 2) size = atoi(argv[2]);
  if (argc > 3) rounds = atoi(argv[3]);
  srv = calloc(n, sizeof *srv);
  cli = calloc(n, sizeof *cli);
  msg = malloc(size);
  memset(msg, 'x', size);
  int l = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {0};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t al = sizeof a;
  if (bind(l, (void *)&a, sizeof a) || listen(l, 4096) || getsockname(l, (void *)&a, &al)) { perror("listen"); return 1; }
  ep = epoll_create1(0);
  for (int i = 0; i < n; i++) {
    cli[i] = socket(AF_INET, SOCK_STREAM, 0);
    if (cli[i] < 0 || connect(cli[i], (void *)&a, sizeof a)) { perror("connect (raise ulimit -n?)"); return 1; }
    srv[i] = accept(l, NULL, NULL);
    int one = 1;
    setsockopt(srv[i], IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    fcntl(cli[i], F_SETFL, O_NONBLOCK);
    struct epoll_event e = {.events = EPOLLIN, .data.fd = cli[i]};
    epoll_ctl(ep, EPOLL_CTL_ADD, cli[i], &e);
  }
  pthread_t r;
  pthread_create(&r, NULL, reader, NULL);
  for (int threads = 1; threads <= 2; threads++) {
    double *ms = calloc(rounds, sizeof *ms);
    for (int k = 0; k < rounds; k++) {
      ms[k] = broadcast(threads);
      usleep(100000);
    }
    qsort(ms, rounds, sizeof *ms, cmp);
    printf("{\"connections\":%d,\"bytes\":%d,\"writerThreads\":%d,\"broadcastMsMedian\":%.2f,\"broadcastMsMin\":%.2f,\"usPerWrite\":%.2f}\n",
           n, size, threads, ms[rounds / 2], ms[0], ms[rounds / 2] * 1000 / n);
    free(ms);
  }
  return 0;
}
