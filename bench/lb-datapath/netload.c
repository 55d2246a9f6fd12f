/*
 * The Service LB datapath benchmark's servers and clients (bench/lb-datapath/run.ts
 * compiles this file with the C compiler the addon build uses; nothing is installed). One small,
 * single-threaded epoll program on both ends, so neither side is the bottleneck that hides what
 * the datapath costs, and every path (direct, eBPF LB, iptables DNAT) meets the same code.
 *
 *   netload serve <ip> <port>                         HTTP/1.1 server: answers every request with
 *                                                     a fixed 2-byte body; closes after the answer
 *                                                     when the request says "Connection: close"
 *                                                     (the server closes first: the TIME_WAIT is
 *                                                     the backend's, as with a real HTTP server).
 *
 * The clients measure several targets, each <netns>,<ip>,<port>, in one process: each target's
 * sockets are made in its namespace (a name under /var/run/netns, or a path; setns), and the
 * targets take turns of <turn ms>, in an order that rotates every pass, until each has had <secs>
 * after <warm> seconds of warm-up. Every path of a comparison is then measured in the same
 * milliseconds as the others, and the machine's state (which on a shared VM moves a round trip by
 * 25% for seconds at a time) falls on all of them alike. Each prints one JSON line,
 * {"targets":[...]}, with one object per target in the order given.
 *
 *   netload http <conns> <secs> <turn ms> <warm> <target>...
 *                                                     keep-alive load: <conns> connections per
 *                                                     target, one request in flight on each
 *                                                     during the target's turns (idle between).
 *   netload crr <conns> <secs> <turn ms> <warm> <target>...
 *                                                     connection rate: connect, one request,
 *                                                     answer, close; <conns> at once. A turn
 *                                                     ends when the connections in flight at its
 *                                                     end have finished (counted in its time).
 *                                                     Per target: done, seconds, rate, errors,
 *                                                     p50_us and p99_us (per operation).
 *   netload echo tcp|udp <ip> <port>                  echoes every byte (TCP) or datagram (UDP)
 *                                                     back: the round-trip server.
 *   netload rr tcp|udp <bytes> <secs> <turn ms> <warm> <target>...
 *                                                     request/response round trips of <bytes>,
 *                                                     one in flight. Per target: count, lost
 *                                                     (no answer within 1 s), p50_us, p99_us.
 *   netload sink <ip> <port>                          reads and drops: the stream's receiver.
 *   netload stream <secs> <turn ms> <warm> <target>...
 *                                                     one TCP connection per target, written to
 *                                                     as fast as it takes during its turns; a
 *                                                     turn lasts until the receiver has
 *                                                     acknowledged all its bytes. Per target:
 *                                                     bytes, seconds, gbps, retransmits.
 *   netload probe <ip> <port> <timeout ms>            one request; prints the answer's body.
 *   netload bpf-stats                                 holds BPF_ENABLE_STATS (run_time_ns and
 *                                                     run_cnt of every program) until stdin
 *                                                     closes; prints "ready" once it holds it.
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
#include <sched.h>
#include <linux/sockios.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
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
#define MAX_TARGETS 16

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

/* What a TCP server does with what it reads. */
enum serve_mode {
	SERVE_HTTP, /* netload serve: answers requests */
	SERVE_ECHO, /* the round-trip server: sends back every byte */
	SERVE_SINK, /* the stream's receiver: reads and drops */
};

static int serve(struct sockaddr_in sa, enum serve_mode mode)
{
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
	static char buf[131072];
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
			if (mode == SERVE_SINK)
				continue;
			if (mode == SERVE_ECHO) {
				if (send_all(fd, buf + 4, (size_t)got) < 0)
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
	int idle; /* keep-alive: open, no request in flight (between this target's turns) */
	size_t got;
	double started; /* request (keep-alive) or connect (crr) start, for latency samples */
};

/* One target of a load: its own connections, epoll set and figures. */
struct load {
	char netns[256];
	struct sockaddr_in sa;
	int crr;
	int nconns;
	int ep;
	long done;
	long errors;
	int counting;
	int draining; /* the turn is over: no new request or connection */
	const char *req;
	size_t req_len;
	size_t resp_len;
	double *lat;
	long lat_n, lat_cap;
	struct cconn *conns;
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
	c->idle = 0;
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

/* Keep-alive: the next request on an open connection, or idle until the target's next turn. */
static void next_request(struct load *l, struct cconn *c)
{
	if (l->draining) {
		c->idle = 1;
		return;
	}
	c->idle = 0;
	c->got = 0;
	c->started = now();
	if (send_all(c->fd, l->req, l->req_len) < 0) {
		note_error(l, "send");
		drop_conn(l, c);
	}
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
		if (!l->crr) {
			next_request(l, c);
			return;
		}
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
			sample(l, now() - c->started);
			next_request(l, c);
			if (c->fd < 0)
				return;
		}
	}
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* The q-quantile of n sorted samples (0 when there are none). */
static double p_of(double *sorted, long n, double q)
{
	return n ? sorted[(long)((double)(n - 1) * q)] : 0;
}

static void enter_netns(const char *netns)
{
	char path[512];
	snprintf(path, sizeof path, "%s%s", netns[0] == '/' ? "" : "/var/run/netns/", netns);
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		die(path);
	if (setns(fd, CLONE_NEWNET) < 0)
		die("setns");
	close(fd);
}

/* A target, "<netns>,<ip>,<port>": its namespace into `netns`, its address into `sa`. */
static void parse_target(const char *spec, char *netns, size_t netns_len, struct sockaddr_in *sa)
{
	char buf[512];
	snprintf(buf, sizeof buf, "%s", spec);
	char *ip = strchr(buf, ',');
	char *port = ip ? strchr(ip + 1, ',') : NULL;
	if (!port) {
		fprintf(stderr, "netload: target %s: expected <netns>,<ip>,<port>\n", spec);
		exit(2);
	}
	*ip++ = '\0';
	*port++ = '\0';
	snprintf(netns, netns_len, "%s", buf);
	*sa = address(ip, port);
}

/* Connections of the target that still wait for an answer (or, crr, for the server's close). */
static int in_flight(const struct load *l, int nconns)
{
	for (int i = 0; i < nconns; i++)
		if (l->conns[i].fd >= 0 && (l->crr || !l->conns[i].idle))
			return 1;
	return 0;
}

static void poll_events(struct load *l, int timeout_ms)
{
	struct epoll_event events[MAX_EVENTS];
	int n = epoll_wait(l->ep, events, MAX_EVENTS, timeout_ms);
	for (int i = 0; i < n; i++) {
		int slot = (int)events[i].data.u32;
		if (l->conns[slot].fd >= 0)
			on_event(l, &l->conns[slot], slot, events[i].events);
	}
}

/*
 * The clients' schedule: targets take turns of `turn_s`, in an order that rotates every pass,
 * `warm` seconds unmeasured, then until the first has had `secs` measured (a pass gives each one
 * turn, so every target has had about as much). take_turn runs
 * target i until `until` (counting what it measures when `counting`) and returns how long its
 * turn took, a drain after `until` included; measured[i] sums a target's measured turns.
 */
typedef double (*turn_fn)(void *ctx, int i, double until, int counting);

static void take_turns(void *ctx, int nt, double secs, double turn_s, double warm,
		       turn_fn take_turn, double *measured)
{
	double warm_end = now() + warm;
	for (int i = 0; i < nt; i++)
		measured[i] = 0;
	for (long pass = 0;; pass++) {
		int counting = now() >= warm_end;
		if (counting && measured[0] >= secs)
			break;
		for (int k = 0; k < nt; k++) {
			int i = (int)((k + pass) % nt);
			double took = take_turn(ctx, i, now() + turn_s, counting);
			if (counting)
				measured[i] += took;
		}
	}
}

/*
 * One turn of a target: `nconns` connections busy until `until`, then drained (no new request or
 * connection; those in flight finish, for at most a second). Connections are made in the target's
 * namespace; a keep-alive target's stay open, idle, until its next turn.
 */
static double load_turn(void *ctx, int i, double until, int counting)
{
	struct load *l = &((struct load *)ctx)[i];
	int nconns = l->nconns;
	double t0 = now();
	double last_open = 0;
	enter_netns(l->netns);
	l->counting = counting;
	l->draining = 0;
	for (int i = 0; i < nconns; i++)
		if (l->conns[i].fd >= 0 && l->conns[i].idle)
			next_request(l, &l->conns[i]);
	for (;;) {
		double t = now();
		if (t >= until)
			break;
		/* Replace finished connections (crr) or failed ones; a failure is retried at most every
		 * millisecond, so an unreachable target does not spin. */
		if (t - last_open >= 0.001 || l->crr) {
			for (int i = 0; i < nconns; i++) {
				if (l->conns[i].fd >= 0)
					continue;
				if (open_conn(l, &l->conns[i], i) < 0)
					break;
			}
			last_open = t;
		}
		poll_events(l, 1);
	}
	l->draining = 1;
	while (in_flight(l, nconns) && now() < until + 1.0)
		poll_events(l, 1);
	return now() - t0;
}

static int load(int crr, int nconns, double secs, double turn_s, double warm, int nt,
		char **specs)
{
	if (nconns < 1 || nconns > MAX_CONNS || nt < 1 || nt > MAX_TARGETS || turn_s <= 0) {
		fprintf(stderr, "netload: 1..%d connections, 1..%d targets, a turn > 0\n", MAX_CONNS,
			MAX_TARGETS);
		return 2;
	}
	static struct load targets[MAX_TARGETS];
	for (int i = 0; i < nt; i++) {
		struct load *l = &targets[i];
		memset(l, 0, sizeof *l);
		parse_target(specs[i], l->netns, sizeof l->netns, &l->sa);
		l->crr = crr;
		l->nconns = nconns;
		l->req = crr ? REQ_CLOSE : REQ_KEEP;
		l->req_len = crr ? sizeof REQ_CLOSE - 1 : sizeof REQ_KEEP - 1;
		l->resp_len = crr ? sizeof RESP_CLOSE - 1 : sizeof RESP_KEEP - 1;
		l->lat_cap = 2000000;
		l->lat = malloc(sizeof(double) * (size_t)l->lat_cap);
		l->conns = calloc((size_t)nconns, sizeof(struct cconn));
		l->ep = epoll_create1(0);
		for (int c = 0; c < nconns; c++)
			l->conns[c].fd = -1;
	}
	double measured[MAX_TARGETS];
	take_turns(targets, nt, secs, turn_s, warm, load_turn, measured);
	int empty = 0;
	printf("{\"targets\":[");
	for (int i = 0; i < nt; i++) {
		struct load *l = &targets[i];
		qsort(l->lat, (size_t)l->lat_n, sizeof(double), cmp_double);
		double p50 = p_of(l->lat, l->lat_n, 0.5), p99 = p_of(l->lat, l->lat_n, 0.99);
		printf("%s{\"done\":%ld,\"seconds\":%.6f,\"rate\":%.1f,\"errors\":%ld,\"p50_us\":%.2f,"
		       "\"p99_us\":%.2f,\"first_error\":\"%s\"}",
		       i ? "," : "", l->done, measured[i], measured[i] > 0 ? (double)l->done / measured[i] : 0,
		       l->errors, p50 * 1e6, p99 * 1e6, l->first_error);
		empty |= l->done == 0;
	}
	printf("]}\n");
	return empty ? 1 : 0;
}

/* ---- round trips ------------------------------------------------------------------------------ */

static int echo_udp(struct sockaddr_in sa)
{
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	if (fd < 0)
		die("socket");
	if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0)
		die("bind");
	char buf[65536];
	for (;;) {
		struct sockaddr_in from;
		socklen_t fl = sizeof from;
		ssize_t n = recvfrom(fd, buf, sizeof buf, 0, (struct sockaddr *)&from, &fl);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			die("recvfrom");
		}
		sendto(fd, buf, (size_t)n, 0, (struct sockaddr *)&from, fl);
	}
}

static int echo(const char *proto, const char *ip, const char *port)
{
	struct sockaddr_in sa = address(ip, port);
	return strcmp(proto, "udp") == 0 ? echo_udp(sa) : serve(sa, SERVE_ECHO);
}

struct rr_target {
	int fd;
	int tcp;
	char *msg;
	size_t bytes;
	double *lat;
	long n, cap, lost;
};

/* A connected socket to ip:port made inside the namespace `netns`; the process goes back to its
 * own namespace afterwards. */
static int socket_in(const char *netns, int tcp, struct sockaddr_in sa)
{
	int home = open("/proc/self/ns/net", O_RDONLY);
	if (home < 0)
		die("/proc/self/ns/net");
	enter_netns(netns);
	int fd = socket(AF_INET, tcp ? SOCK_STREAM : SOCK_DGRAM, 0);
	if (fd < 0)
		die("socket");
	if (tcp)
		nodelay(fd);
	struct timeval tv = { .tv_sec = 1, .tv_usec = 0 };
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0)
		die("connect");
	if (setns(home, CLONE_NEWNET) < 0)
		die("setns back");
	close(home);
	return fd;
}

/* One round trip of `bytes`; its time in seconds, or -1 on a lost datagram or an error. */
static double round_trip(int fd, int tcp, char *msg, size_t bytes)
{
	char buf[65536];
	double t0 = now();
	if (send(fd, msg, bytes, MSG_NOSIGNAL) != (ssize_t)bytes)
		return -1;
	size_t got = 0;
	while (got < bytes) {
		ssize_t n = recv(fd, buf + got, sizeof buf - got, 0);
		if (n <= 0)
			return -1;
		got += (size_t)n;
		if (!tcp)
			break;
	}
	return got == bytes ? now() - t0 : -1;
}

static double rr_turn(void *ctx, int i, double until, int counting)
{
	struct rr_target *x = &((struct rr_target *)ctx)[i];
	double start = now();
	while (now() < until) {
		double rt = round_trip(x->fd, x->tcp, x->msg, x->bytes);
		if (rt < 0)
			x->lost += counting;
		else if (counting && x->n < x->cap)
			x->lat[x->n++] = rt;
	}
	return now() - start;
}

static int rr(int tcp, size_t bytes, double secs, double turn_s, double warm, int nt, char **specs)
{
	if (nt < 1 || nt > MAX_TARGETS || bytes < 1 || bytes > 65536 || turn_s <= 0) {
		fprintf(stderr, "netload rr: 1..%d targets, 1..65536 bytes, a turn > 0\n", MAX_TARGETS);
		return 2;
	}
	static struct rr_target t[MAX_TARGETS];
	char *msg = calloc(1, bytes);
	for (int i = 0; i < nt; i++) {
		char netns[256];
		struct sockaddr_in sa;
		parse_target(specs[i], netns, sizeof netns, &sa);
		t[i].fd = socket_in(netns, tcp, sa);
		t[i].tcp = tcp;
		t[i].msg = msg;
		t[i].bytes = bytes;
		t[i].cap = 4000000;
		t[i].lat = malloc(sizeof(double) * (size_t)t[i].cap);
	}
	double measured[MAX_TARGETS];
	take_turns(t, nt, secs, turn_s, warm, rr_turn, measured);
	printf("{\"targets\":[");
	int empty = 0;
	for (int i = 0; i < nt; i++) {
		qsort(t[i].lat, (size_t)t[i].n, sizeof(double), cmp_double);
		printf("%s{\"count\":%ld,\"lost\":%ld,\"p50_us\":%.3f,\"p99_us\":%.3f}", i ? "," : "",
		       t[i].n, t[i].lost, p_of(t[i].lat, t[i].n, 0.5) * 1e6,
		       p_of(t[i].lat, t[i].n, 0.99) * 1e6);
		empty |= t[i].n == 0;
	}
	printf("]}\n");
	return empty ? 1 : 0;
}

/* ---- stream ----------------------------------------------------------------------------------- */

struct stream_target {
	int fd;
	const char *spec;
	double bytes;
};

/*
 * One TCP connection per target, written to as fast as it takes during the target's turns. A turn
 * ends once the receiver has acknowledged every byte written in it (SIOCOUTQ reads 0), so each
 * turn's bytes are counted in its own time, however much the send buffer held at its end.
 */
static double stream_turn(void *ctx, int i, double until, int counting)
{
	static char chunk[131072];
	struct stream_target *x = &((struct stream_target *)ctx)[i];
	double start = now(), sent = 0;
	while (now() < until) {
		ssize_t n = send(x->fd, chunk, sizeof chunk, MSG_NOSIGNAL);
		if (n > 0) {
			sent += (double)n;
		} else if (errno == EAGAIN || errno == EINTR) {
			struct pollfd p = { .fd = x->fd, .events = POLLOUT };
			poll(&p, 1, 1);
		} else {
			die("send");
		}
	}
	int queued = 1;
	while (ioctl(x->fd, SIOCOUTQ, &queued) == 0 && queued > 0 && now() < until + 1.0)
		usleep(20);
	if (queued != 0) {
		fprintf(stderr, "netload stream: %s: %d bytes still unacknowledged 1 s after a turn\n",
			x->spec, queued);
		exit(1);
	}
	if (counting)
		x->bytes += sent;
	return now() - start;
}

static int stream(double secs, double turn_s, double warm, int nt, char **specs)
{
	if (nt < 1 || nt > MAX_TARGETS || turn_s <= 0) {
		fprintf(stderr, "netload stream: 1..%d targets, a turn > 0\n", MAX_TARGETS);
		return 2;
	}
	static struct stream_target t[MAX_TARGETS];
	for (int i = 0; i < nt; i++) {
		char netns[256];
		struct sockaddr_in sa;
		parse_target(specs[i], netns, sizeof netns, &sa);
		t[i].fd = socket_in(netns, 1, sa);
		t[i].spec = specs[i];
		fcntl(t[i].fd, F_SETFL, fcntl(t[i].fd, F_GETFL) | O_NONBLOCK);
	}
	double measured[MAX_TARGETS];
	take_turns(t, nt, secs, turn_s, warm, stream_turn, measured);
	printf("{\"targets\":[");
	for (int i = 0; i < nt; i++) {
		struct tcp_info info;
		socklen_t len = sizeof info;
		memset(&info, 0, sizeof info);
		getsockopt(t[i].fd, IPPROTO_TCP, TCP_INFO, &info, &len);
		printf("%s{\"bytes\":%.0f,\"seconds\":%.6f,\"gbps\":%.4f,\"retransmits\":%u}",
		       i ? "," : "", t[i].bytes, measured[i],
		       measured[i] > 0 ? t[i].bytes * 8 / measured[i] / 1e9 : 0, info.tcpi_total_retrans);
	}
	printf("]}\n");
	return 0;
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
		return serve(address(argv[2], argv[3]), SERVE_HTTP);
	if (argc == 4 && strcmp(argv[1], "sink") == 0)
		return serve(address(argv[2], argv[3]), SERVE_SINK);
	if (argc >= 6 && strcmp(argv[1], "stream") == 0)
		return stream(atof(argv[2]), atof(argv[3]) / 1000.0, atof(argv[4]), argc - 5, argv + 5);
	if (argc >= 7 && (strcmp(argv[1], "http") == 0 || strcmp(argv[1], "crr") == 0))
		return load(strcmp(argv[1], "crr") == 0, atoi(argv[2]), atof(argv[3]),
			    atof(argv[4]) / 1000.0, atof(argv[5]), argc - 6, argv + 6);
	if (argc == 5 && strcmp(argv[1], "echo") == 0)
		return echo(argv[2], argv[3], argv[4]);
	if (argc >= 8 && strcmp(argv[1], "rr") == 0)
		return rr(strcmp(argv[2], "tcp") == 0, (size_t)atoi(argv[3]), atof(argv[4]),
			  atof(argv[5]) / 1000.0, atof(argv[6]), argc - 7, argv + 7);
	if (argc == 5 && strcmp(argv[1], "probe") == 0)
		return probe(argv[2], argv[3], atoi(argv[4]));
	if (argc == 2 && strcmp(argv[1], "bpf-stats") == 0)
		return bpf_stats();
	fprintf(stderr, "usage: netload serve IP PORT | http|crr CONNS SECS TURN_MS WARM NETNS,IP,PORT... | "
			"echo tcp|udp IP PORT | rr tcp|udp BYTES SECS TURN_MS WARM NETNS,IP,PORT... | "
			"sink IP PORT | stream SECS TURN_MS WARM NETNS,IP,PORT... | "
			"probe IP PORT TIMEOUT_MS | bpf-stats\n");
	return 2;
}
