/*
 * The Service LB datapath benchmark's HTTP server and load generators (bench/lb-datapath/run.ts
 * compiles this file with the C compiler the addon build uses; nothing is installed). One small,
 * single-threaded epoll program on both ends, so neither side is the bottleneck that hides what
 * the datapath costs, and every path (direct, eBPF LB, iptables DNAT) meets the same code.
 *
 *   netload serve <ip> <port>                         HTTP/1.1 server: answers every request with
 *                                                     a fixed 2-byte body; closes after the answer
 *                                                     when the request says "Connection: close"
 *                                                     (the server closes first: the TIME_WAIT is
 *                                                     the backend's, as with a real HTTP server).
 *   netload http <ip> <port> <conns> <secs> <warm>    keep-alive load: <conns> connections, one
 *                                                     request in flight on each, for <secs> after
 *                                                     <warm> seconds of warm-up.
 *   netload crr  <ip> <port> <conns> <secs> <warm>    connection rate: connect, one request,
 *                                                     answer, close; <conns> at once.
 *   netload probe <ip> <port> <timeout ms>            one request; prints the answer's body.
 *   netload bpf-stats                                 holds BPF_ENABLE_STATS (run_time_ns and
 *                                                     run_cnt of every program) until stdin
 *                                                     closes; prints "ready" once it holds it.
 *
 * The load generators print one JSON line: {"done":N,"seconds":S,"rate":R,"errors":E,...}.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static const char REQ_KEEP[] = "GET / HTTP/1.1\r\nHost: bench\r\n\r\n";
static const char REQ_CLOSE[] = "GET / HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n";
static const char RESP_KEEP[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
static const char RESP_CLOSE[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok";

#define MAX_CONNS 4096
#define MAX_EVENTS 256

static void die(const char *what)
{
	fprintf(stderr, "netload: %s: %s\n", what, strerror(errno));
	exit(2);
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static struct sockaddr_in address(const char *ip, const char *port)
{
	struct sockaddr_in sa;
	memset(&sa, 0, sizeof sa);
	sa.sin_family = AF_INET;
	sa.sin_port = htons((unsigned short)atoi(port));
	if (inet_pton(AF_INET, ip, &sa.sin_addr) != 1) {
		fprintf(stderr, "netload: bad IPv4 address %s\n", ip);
		exit(2);
	}
	return sa;
}

static void nodelay(int fd)
{
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

/* Writes all of buf on a non-blocking socket whose send buffer has room (tiny messages). */
static int send_all(int fd, const char *buf, size_t len)
{
	size_t off = 0;
	while (off < len) {
		ssize_t n = send(fd, buf + off, len - off, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN) {
				struct pollfd p = { .fd = fd, .events = POLLOUT };
				poll(&p, 1, 100);
				continue;
			}
			return -1;
		}
		off += (size_t)n;
	}
	return 0;
}

/* ---- server --------------------------------------------------------------------------------- */

struct sconn {
	char tail[4]; /* the last bytes of the previous read, to find "\r\n\r\n" across reads */
	int tail_len;
	int close_seen; /* "close" seen in the current request's header block */
};

static int serve(const char *ip, const char *port)
{
	struct sockaddr_in sa = address(ip, port);
	int one = 1;
	int lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	if (lfd < 0)
		die("socket");
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (bind(lfd, (struct sockaddr *)&sa, sizeof sa) < 0)
		die("bind");
	if (listen(lfd, 4096) < 0)
		die("listen");
	int ep = epoll_create1(0);
	struct epoll_event ev = { .events = EPOLLIN, .data.fd = lfd };
	epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
	static struct sconn conns[65536];
	struct epoll_event events[MAX_EVENTS];
	char buf[16384];
	for (;;) {
		int n = epoll_wait(ep, events, MAX_EVENTS, -1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			die("epoll_wait");
		}
		for (int i = 0; i < n; i++) {
			int fd = events[i].data.fd;
			if (fd == lfd) {
				for (;;) {
					int c = accept4(lfd, NULL, NULL, SOCK_NONBLOCK);
					if (c < 0)
						break;
					if (c >= 65536) {
						close(c);
						continue;
					}
					nodelay(c);
					memset(&conns[c], 0, sizeof conns[c]);
					struct epoll_event cev = { .events = EPOLLIN, .data.fd = c };
					epoll_ctl(ep, EPOLL_CTL_ADD, c, &cev);
				}
				continue;
			}
			struct sconn *s = &conns[fd];
			ssize_t got = recv(fd, buf + 4, sizeof buf - 4, 0);
			if (got < 0 && (errno == EAGAIN || errno == EINTR))
				continue;
			if (got <= 0) {
				close(fd);
				continue;
			}
			/* Scan the previous tail plus this read for request ends. */
			char *scan = buf + 4 - s->tail_len;
			memcpy(scan, s->tail, (size_t)s->tail_len);
			size_t len = (size_t)got + (size_t)s->tail_len;
			int closing = 0;
			size_t start = 0;
			for (size_t k = 0; k + 4 <= len; k++) {
				if (!s->close_seen && k + 5 <= len && memcmp(scan + k, "close", 5) == 0)
					s->close_seen = 1;
				if (memcmp(scan + k, "\r\n\r\n", 4) != 0)
					continue;
				int close_after = s->close_seen;
				const char *resp = close_after ? RESP_CLOSE : RESP_KEEP;
				size_t rlen = close_after ? sizeof RESP_CLOSE - 1 : sizeof RESP_KEEP - 1;
				s->close_seen = 0;
				if (send_all(fd, resp, rlen) < 0 || close_after) {
					closing = 1;
					break;
				}
				start = k + 4;
			}
			if (closing) {
				close(fd);
				continue;
			}
			size_t left = len - start;
			s->tail_len = left < 3 ? (int)left : 3;
			memcpy(s->tail, scan + len - (size_t)s->tail_len, (size_t)s->tail_len);
		}
	}
	return 0;
}

/* ---- load generators ------------------------------------------------------------------------ */

struct cconn {
	int fd;
	int connecting;
	size_t got;
	double started; /* request (keep-alive) or connect (crr) start, for latency samples */
};

struct load {
	struct sockaddr_in sa;
	int crr;
	int ep;
	long done;
	long errors;
	int counting;
	const char *req;
	size_t req_len;
	size_t resp_len;
	double *lat;
	long lat_n, lat_cap;
	char first_error[128];
};

static void note_error(struct load *l, const char *what)
{
	l->errors++;
	if (l->first_error[0] == '\0')
		snprintf(l->first_error, sizeof l->first_error, "%s: %s", what, strerror(errno));
}

static void sample(struct load *l, double seconds)
{
	if (!l->counting)
		return;
	l->done++;
	if (l->lat_n < l->lat_cap)
		l->lat[l->lat_n++] = seconds;
}

static int open_conn(struct load *l, struct cconn *c, int slot)
{
	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	if (c->fd < 0) {
		note_error(l, "socket");
		return -1;
	}
	nodelay(c->fd);
	c->got = 0;
	c->started = now();
	int r = connect(c->fd, (struct sockaddr *)&l->sa, sizeof l->sa);
	if (r < 0 && errno != EINPROGRESS) {
		note_error(l, "connect");
		close(c->fd);
		c->fd = -1;
		return -1;
	}
	c->connecting = 1;
	struct epoll_event ev = { .events = EPOLLOUT, .data.u32 = (unsigned)slot };
	epoll_ctl(l->ep, EPOLL_CTL_ADD, c->fd, &ev);
	return 0;
}

static void drop_conn(struct load *l, struct cconn *c)
{
	epoll_ctl(l->ep, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	c->fd = -1;
}

static void on_event(struct load *l, struct cconn *c, int slot, unsigned events)
{
	char buf[4096];
	if (c->connecting) {
		int err = 0;
		socklen_t el = sizeof err;
		getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &el);
		if (err != 0 || (events & (EPOLLERR | EPOLLHUP))) {
			errno = err;
			note_error(l, "connect");
			drop_conn(l, c);
			return;
		}
		c->connecting = 0;
		struct epoll_event ev = { .events = EPOLLIN, .data.u32 = (unsigned)slot };
		epoll_ctl(l->ep, EPOLL_CTL_MOD, c->fd, &ev);
		if (!l->crr)
			c->started = now();
		if (send_all(c->fd, l->req, l->req_len) < 0) {
			note_error(l, "send");
			drop_conn(l, c);
		}
		return;
	}
	for (;;) {
		ssize_t n = recv(c->fd, buf, sizeof buf, 0);
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				return;
			note_error(l, "recv");
			drop_conn(l, c);
			return;
		}
		if (n == 0) {
			/* crr: the server's close after the whole answer is the end of one connection. */
			if (l->crr && c->got == l->resp_len)
				sample(l, now() - c->started);
			else {
				errno = ECONNRESET;
				note_error(l, "early close");
			}
			drop_conn(l, c);
			return;
		}
		c->got += (size_t)n;
		if (!l->crr && c->got >= l->resp_len) {
			if (c->got != l->resp_len) {
				errno = EPROTO;
				note_error(l, "answer length");
				drop_conn(l, c);
				return;
			}
			double t = now();
			sample(l, t - c->started);
			c->got = 0;
			c->started = t;
			if (send_all(c->fd, l->req, l->req_len) < 0) {
				note_error(l, "send");
				drop_conn(l, c);
				return;
			}
		}
	}
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static int load(int crr, const char *ip, const char *port, int nconns, double secs, double warm)
{
	struct load l;
	memset(&l, 0, sizeof l);
	l.sa = address(ip, port);
	l.crr = crr;
	l.req = crr ? REQ_CLOSE : REQ_KEEP;
	l.req_len = crr ? sizeof REQ_CLOSE - 1 : sizeof REQ_KEEP - 1;
	l.resp_len = crr ? sizeof RESP_CLOSE - 1 : sizeof RESP_KEEP - 1;
	l.lat_cap = 4000000;
	l.lat = malloc(sizeof(double) * (size_t)l.lat_cap);
	if (nconns < 1 || nconns > MAX_CONNS) {
		fprintf(stderr, "netload: 1..%d connections\n", MAX_CONNS);
		return 2;
	}
	l.ep = epoll_create1(0);
	static struct cconn conns[MAX_CONNS];
	for (int i = 0; i < nconns; i++)
		conns[i].fd = -1;
	double start = now();
	double begin = start + warm, end = begin + secs;
	double last_open = 0;
	struct epoll_event events[MAX_EVENTS];
	for (;;) {
		double t = now();
		if (!l.counting && t >= begin)
			l.counting = 1;
		if (t >= end)
			break;
		/* Replace finished connections (crr) or failed ones; a failure is retried at most every
		 * millisecond, so an unreachable target does not spin. */
		if (t - last_open >= 0.001 || crr) {
			for (int i = 0; i < nconns; i++) {
				if (conns[i].fd >= 0)
					continue;
				if (open_conn(&l, &conns[i], i) < 0)
					break;
			}
			last_open = t;
		}
		int n = epoll_wait(l.ep, events, MAX_EVENTS, 5);
		for (int i = 0; i < n; i++) {
			int slot = (int)events[i].data.u32;
			if (conns[slot].fd >= 0)
				on_event(&l, &conns[slot], slot, events[i].events);
		}
	}
	double measured = now() - begin;
	qsort(l.lat, (size_t)l.lat_n, sizeof(double), cmp_double);
	double p50 = l.lat_n ? l.lat[(l.lat_n - 1) / 2] : 0;
	double p99 = l.lat_n ? l.lat[(long)((double)(l.lat_n - 1) * 0.99)] : 0;
	printf("{\"done\":%ld,\"seconds\":%.6f,\"rate\":%.1f,\"errors\":%ld,\"p50_us\":%.2f,"
	       "\"p99_us\":%.2f,\"first_error\":\"%s\"}\n",
	       l.done, measured, (double)l.done / measured, l.errors, p50 * 1e6, p99 * 1e6,
	       l.first_error);
	return l.done > 0 ? 0 : 1;
}

static int probe(const char *ip, const char *port, int timeout_ms)
{
	struct sockaddr_in sa = address(ip, port);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct timeval tv = { .tv_sec = timeout_ms / 1000, .tv_usec = (timeout_ms % 1000) * 1000 };
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
		/* SO_SNDTIMEO expiring in connect() reads EINPROGRESS. */
		printf("connect: %s\n", errno == EINPROGRESS ? "timed out" : strerror(errno));
		return 1;
	}
	if (send(fd, REQ_CLOSE, sizeof REQ_CLOSE - 1, MSG_NOSIGNAL) < 0) {
		printf("send: %s\n", strerror(errno));
		return 1;
	}
	char buf[512];
	size_t got = 0;
	for (;;) {
		ssize_t n = recv(fd, buf + got, sizeof buf - 1 - got, 0);
		if (n < 0) {
			printf("recv: %s\n", errno == EAGAIN ? "timed out" : strerror(errno));
			return 1;
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	buf[got] = '\0';
	const char *body = strstr(buf, "\r\n\r\n");
	printf("%s\n", body ? body + 4 : buf);
	return body != NULL && strcmp(body + 4, "ok") == 0 ? 0 : 1;
}

static int bpf_stats(void)
{
	union bpf_attr attr;
	memset(&attr, 0, sizeof attr);
	attr.enable_stats.type = BPF_STATS_RUN_TIME;
	long fd = syscall(__NR_bpf, BPF_ENABLE_STATS, &attr, sizeof attr);
	if (fd < 0)
		die("BPF_ENABLE_STATS");
	printf("ready\n");
	fflush(stdout);
	char c;
	while (read(0, &c, 1) > 0)
		;
	return 0;
}

int main(int argc, char **argv)
{
	signal(SIGPIPE, SIG_IGN);
	if (argc == 4 && strcmp(argv[1], "serve") == 0)
		return serve(argv[2], argv[3]);
	if (argc == 7 && (strcmp(argv[1], "http") == 0 || strcmp(argv[1], "crr") == 0))
		return load(strcmp(argv[1], "crr") == 0, argv[2], argv[3], atoi(argv[4]), atof(argv[5]),
			    atof(argv[6]));
	if (argc == 5 && strcmp(argv[1], "probe") == 0)
		return probe(argv[2], argv[3], atoi(argv[4]));
	if (argc == 2 && strcmp(argv[1], "bpf-stats") == 0)
		return bpf_stats();
	fprintf(stderr, "usage: netload serve IP PORT | http|crr IP PORT CONNS SECS WARM | "
			"probe IP PORT TIMEOUT_MS | bpf-stats\n");
	return 2;
}
