/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A route netlink socket inside a pod's network namespace, so the daemon programs a pod's side
 * (addresses, routes, neighbours, link state) with a few syscalls instead of one `ip` process
 * per pod: a process costs milliseconds of fork, exec, dynamic linking and iproute2's own mount
 * namespace dance; the netlink work itself costs microseconds.
 *
 * Only the socket is made in the pod's netns (a socket stays in the namespace it was created in,
 * so the thread returns at once); every message after that is built and read in TypeScript
 * (src/dataplane/kernel/rtnetlink/), which keeps this file to the syscalls:
 *   rtnlOpen(netnsPath) -> fd
 *   rtnlExchange(fd, message) -> Buffer   every reply message carrying the request's sequence
 *                                         number, up to and including its ack (NLMSG_ERROR) or
 *                                         NLMSG_DONE
 *   rtnlClose(fd)
 * The socket asks for extended acks, so a refusal carries the kernel's own explanation, and for
 * capped acks, so an error does not echo the whole request back.
 */
#include "common.h"

#include <errno.h>
#include <limits.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#ifndef NETLINK_EXT_ACK
#define NETLINK_EXT_ACK 11
#endif
#ifndef NETLINK_CAP_ACK
#define NETLINK_CAP_ACK 10
#endif

/* A reply bigger than this is not one this module asks for (a single link is ~1.5 KB). */
#define RTNL_REPLY_CAP (1 << 20)
/* Route netlink answers under the RTNL lock, synchronously; a silent kernel is a bug to report. */
#define RTNL_RECV_TIMEOUT_SEC 5

static bool arg_fd(napi_env env, napi_value value, int *fd)
{
	uint32_t raw;
	if (!tw_arg_u32(env, value, "fd", &raw))
		return false;
	int domain = 0;
	socklen_t len = sizeof(domain);
	if (raw > INT_MAX || getsockopt((int)raw, SOL_SOCKET, SO_DOMAIN, &domain, &len) != 0 ||
	    domain != AF_NETLINK) {
		tw_throw_code(env, "EBADF", "fd %u is not an open netlink socket", raw);
		return false;
	}
	*fd = (int)raw;
	return true;
}

/* rtnlOpen(netnsPath) -> fd of a NETLINK_ROUTE socket living in that namespace */
static napi_value rtnl_open(napi_env env, napi_callback_info cbinfo)
{
	napi_value argv[1], result;
	char netns[PATH_MAX];
	if (!tw_args(env, cbinfo, 1, argv) ||
	    !tw_arg_string(env, argv[0], "netnsPath", netns, sizeof(netns)))
		return NULL;
	struct tw_netns_switch sw;
	if (!tw_netns_enter(env, "rtnlOpen", netns, &sw))
		return NULL;
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	int err = fd < 0 ? errno : 0;
	tw_netns_leave(&sw);
	if (fd < 0)
		return tw_throw_errno(env, err, "rtnlOpen: netlink socket in netns %s", netns);

	int one = 1;
	struct timeval timeout = {.tv_sec = RTNL_RECV_TIMEOUT_SEC};
	struct sockaddr_nl local = {.nl_family = AF_NETLINK};
	/* Extended and capped acks are best effort (kernels before 4.12 lack the first). */
	setsockopt(fd, SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof(one));
	setsockopt(fd, SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof(one));
	if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout)) != 0 ||
	    bind(fd, (struct sockaddr *)&local, sizeof(local)) != 0) {
		err = errno;
		close(fd);
		return tw_throw_errno(env, err, "rtnlOpen: set up the netlink socket for %s", netns);
	}
	if (napi_create_uint32(env, (uint32_t)fd, &result) != napi_ok) {
		close(fd);
		return tw_throw_errno(env, ENOMEM, "rtnlOpen");
	}
	return result;
}

struct reply {
	char *data;
	size_t len;
	size_t cap;
};

/* Appends what a datagram holds for `seq`; true once its ack or DONE has been seen. */
static bool take_replies(const char *buf, size_t len, uint32_t seq, struct reply *out, int *err)
{
	bool finished = false;
	for (const struct nlmsghdr *h = (const struct nlmsghdr *)buf; NLMSG_OK(h, len);
	     h = NLMSG_NEXT(h, len)) {
		if (h->nlmsg_seq != seq)
			continue; /* a late answer to an earlier, abandoned request */
		size_t need = out->len + NLMSG_ALIGN(h->nlmsg_len);
		if (need > RTNL_REPLY_CAP) {
			*err = E2BIG;
			return true;
		}
		if (need > out->cap) {
			size_t cap = out->cap * 2 > need ? out->cap * 2 : need;
			char *grown = realloc(out->data, cap);
			if (!grown) {
				*err = ENOMEM;
				return true;
			}
			out->data = grown;
			out->cap = cap;
		}
		memset(out->data + out->len, 0, NLMSG_ALIGN(h->nlmsg_len));
		memcpy(out->data + out->len, h, h->nlmsg_len);
		out->len = need;
		if (h->nlmsg_type == NLMSG_ERROR || h->nlmsg_type == NLMSG_DONE)
			finished = true;
	}
	return finished;
}

/* rtnlExchange(fd, message) -> Buffer of the replies to it */
static napi_value rtnl_exchange(napi_env env, napi_callback_info cbinfo)
{
	napi_value argv[2], result = NULL;
	int fd;
	void *request;
	size_t request_len;
	if (!tw_args(env, cbinfo, 2, argv) || !arg_fd(env, argv[0], &fd) ||
	    !tw_arg_buffer(env, argv[1], "message", &request, &request_len))
		return NULL;
	const struct nlmsghdr *req = request;
	if (request_len < sizeof(*req) || req->nlmsg_len != request_len ||
	    !(req->nlmsg_flags & NLM_F_ACK)) {
		return tw_throw_code(env, "EINVAL",
				     "rtnlExchange: the message must be one netlink message whose "
				     "length field matches the buffer and that asks for an ack");
	}
	uint32_t seq = req->nlmsg_seq;
	struct sockaddr_nl kernel = {.nl_family = AF_NETLINK};
	ssize_t sent;
	do
		sent = sendto(fd, request, request_len, 0, (struct sockaddr *)&kernel, sizeof(kernel));
	while (sent < 0 && errno == EINTR);
	if (sent < 0)
		return tw_throw_errno(env, errno, "rtnlExchange: send");

	const size_t chunk = 32768;
	struct reply out = {.data = malloc(4096), .len = 0, .cap = 4096};
	char *buf = malloc(chunk);
	int err = 0;
	bool finished = false;
	if (!buf || !out.data) {
		free(buf);
		free(out.data);
		return tw_throw_errno(env, ENOMEM, "rtnlExchange");
	}
	while (!finished) {
		ssize_t n = recv(fd, buf, chunk, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			err = errno;
			tw_throw_errno(env, err, "rtnlExchange: %s",
				       err == EAGAIN ? "no answer from the kernel within 5 s" : "recv");
			goto out;
		}
		finished = take_replies(buf, (size_t)n, seq, &out, &err);
	}
	if (err == E2BIG) {
		tw_throw_code(env, "E2BIG", "rtnlExchange: the reply exceeds %d bytes", RTNL_REPLY_CAP);
		goto out;
	}
	if (err) {
		tw_throw_errno(env, err, "rtnlExchange: collecting the reply");
		goto out;
	}
	void *data;
	if (napi_create_buffer_copy(env, out.len, out.data, &data, &result) != napi_ok) {
		result = NULL;
		tw_throw_errno(env, ENOMEM, "rtnlExchange");
	}
out:
	free(buf);
	free(out.data);
	return result;
}

/* rtnlClose(fd) */
static napi_value rtnl_close(napi_env env, napi_callback_info cbinfo)
{
	napi_value argv[1];
	int fd;
	if (!tw_args(env, cbinfo, 1, argv) || !arg_fd(env, argv[0], &fd))
		return NULL;
	close(fd);
	return tw_undefined(env);
}

napi_status tw_rtnl_init(napi_env env, napi_value exports)
{
	napi_property_descriptor props[] = {
		{"rtnlOpen", NULL, rtnl_open, NULL, NULL, NULL, napi_enumerable, NULL},
		{"rtnlExchange", NULL, rtnl_exchange, NULL, NULL, NULL, napi_enumerable, NULL},
		{"rtnlClose", NULL, rtnl_close, NULL, NULL, NULL, napi_enumerable, NULL},
	};
	return napi_define_properties(env, exports, sizeof(props) / sizeof(props[0]), props);
}
