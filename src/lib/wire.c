/*
 * wire.c: whole multipart messages on ZeroMQ sockets, and a socket helper.
 */
#include "config.h"

#include "wire.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void
msg_init_empty(wire_msg_t *m)
{
	m->n = 0;
	m->bytes = 0;
	m->truncated = 0;
	m->oversized = 0;
}

int
wire_recv(void *sock, wire_msg_t *m, size_t max_bytes, int flags)
{
	size_t nframes = 0;
	zmq_msg_t spare;
	int more;

	msg_init_empty(m);
	do {
		bool keep = m->n < WIRE_MAX_FRAMES;
		zmq_msg_t *dst = keep ? &m->part[m->n] : &spare;

		zmq_msg_init(dst);
		/* Only the first part can be missing: libzmq queues a message
		 * whole, so the later reads never wait. */
		while (zmq_msg_recv(dst, sock, nframes == 0 ? flags : 0) < 0) {
			int e = errno;

			if (e == EINTR && nframes > 0)
				continue;
			zmq_msg_close(dst);
			wire_msg_close(m);
			errno = e;
			return -1;
		}
		nframes++;
		m->bytes += zmq_msg_size(dst);
		more = zmq_msg_more(dst);
		if (max_bytes > 0 && m->bytes > max_bytes)
			m->oversized = 1;
		if (keep) {
			if (m->oversized && zmq_msg_size(dst) > WIRE_SMALL_FRAME) {
				/* Its place is kept, its bytes are not. */
				zmq_msg_close(dst);
				zmq_msg_init(dst);
			}
			m->n++;
		} else {
			zmq_msg_close(dst);
		}
	} while (more);
	m->truncated = nframes > WIRE_MAX_FRAMES;
	return 0;
}

void
wire_msg_close(wire_msg_t *m)
{
	size_t i;

	for (i = 0; i < m->n; i++)
		zmq_msg_close(&m->part[i]);
	m->n = 0;
}

const char *
wire_user_id(const wire_msg_t *m)
{
	/* The frames that came over the connection carry its metadata; the
	 * identity frame a ROUTER socket makes may not (libzmq 4.3 leaves it
	 * out when zmq_poll had looked at the message first). zmq_msg_gets()
	 * takes a non-const message but does not change it. */
	for (size_t i = 0; i < m->n; i++) {
		const char *id = zmq_msg_gets((zmq_msg_t *)&m->part[i], "User-Id");

		if (id != NULL)
			return id[0] != '\0' ? id : NULL;
	}
	return NULL;
}

size_t
wire_frames(const wire_msg_t *m, size_t from, gh_frame_t *out, size_t cap)
{
	size_t i, w = 0;

	for (i = from; i < m->n && w < cap; i++, w++) {
		/* zmq_msg_data() takes a non-const message but does not change it. */
		zmq_msg_t *part = (zmq_msg_t *)&m->part[i];

		out[w].data = zmq_msg_data(part);
		out[w].size = zmq_msg_size(part);
	}
	return w;
}

/* One outgoing part: borrowed bytes (copied by zmq_send) or a received frame
 * (shared by zmq_msg_copy, so the original survives a failed send). */
struct out {
	const void *data;
	size_t size;
	zmq_msg_t *msg;
};

static int
send_part(void *sock, const struct out *o, int flags)
{
	zmq_msg_t copy;

	if (o->msg == NULL)
		return zmq_send(sock, o->data, o->size, flags) < 0 ? -1 : 0;
	zmq_msg_init(&copy);
	if (zmq_msg_copy(&copy, o->msg) < 0 || zmq_msg_send(&copy, sock, flags) < 0) {
		int e = errno;

		zmq_msg_close(&copy);
		errno = e;
		return -1;
	}
	return 0;
}

/* Sends parts identity?, prefix[], msgs[] as one message; see wire.h on
 * atomicity. */
static int
send_parts(void *sock, const void *identity, size_t idlen, const gh_frame_t *prefix, size_t nprefix,
           zmq_msg_t *msgs, size_t nmsgs, int flags)
{
	size_t total = (identity != NULL) + nprefix + nmsgs;
	size_t k;
	int err = 0, rc = 0;

	if (nprefix + nmsgs == 0) {
		errno = EINVAL;
		return -1;
	}
	flags &= ZMQ_DONTWAIT;
	for (k = 0; k < total; k++) {
		struct out o = {NULL, 0, NULL};
		size_t j = k - (identity != NULL);

		if (identity != NULL && k == 0) {
			o.data = identity;
			o.size = idlen;
		} else if (j < nprefix) {
			o.data = prefix[j].data;
			o.size = prefix[j].size;
		} else {
			o.msg = &msgs[j - nprefix];
		}
		/* Past the first part the message is committed: a signal must
		 * not cut it short. */
		while ((rc = send_part(sock, &o, flags | (k + 1 < total ? ZMQ_SNDMORE : 0))) < 0 &&
		       errno == EINTR && k > 0)
			;
		if (rc < 0) {
			if (k == 0)
				return -1;
			if (err == 0)
				err = errno;
		}
	}
	if (err == 0)
		return 0;
	/* libzmq ends a message itself after a late EAGAIN (it drops the
	 * rest); after any other late error, if even the last part failed,
	 * an empty part ends it, so the peer gets a malformed message it can
	 * reject instead of one glued to the next. */
	if (rc < 0 && err != EAGAIN)
		zmq_send(sock, "", 0, flags);
	errno = err;
	return -1;
}

int
wire_send(void *sock, const void *identity, size_t idlen, const gh_frame_t *frames, size_t n,
          int flags)
{
	return send_parts(sock, identity, idlen, frames, n, NULL, 0, flags);
}

int
wire_send_msg(void *sock, const void *identity, size_t idlen, const proto_msg_t *msg, int flags,
              proto_err_t *perr)
{
	gh_frame_t frames[PROTO_MAX_ARGS + 4];
	proto_err_t local;
	int n;

	if (perr == NULL)
		perr = &local;
	perr->code = PROTO_OK;
	perr->text[0] = '\0';
	n = proto_encode(msg, frames, GH_ARRAY_LEN(frames), perr);
	if (n < 0) {
		errno = EINVAL;
		return -1;
	}
	return wire_send(sock, identity, idlen, frames, (size_t)n, flags);
}

int
wire_forward(void *sock, const void *identity, size_t idlen, const gh_frame_t *prefix,
             size_t nprefix, wire_msg_t *m, size_t from, int flags)
{
	size_t i;

	if (from > m->n) {
		errno = EINVAL;
		return -1;
	}
	if (send_parts(sock, identity, idlen, prefix, nprefix, &m->part[from], m->n - from, flags) <
	    0)
		return -1;
	for (i = from; i < m->n; i++)
		zmq_msg_close(&m->part[i]);
	m->n = from;
	return 0;
}

static int
set_int(void *sock, int option, int value)
{
	return zmq_setsockopt(sock, option, &value, sizeof(value));
}

void *
wire_socket_new(void *ctx, int type, int hwm, char *err, size_t errlen)
{
	void *sock = zmq_socket(ctx, type);
	int e;

	if (sock == NULL) {
		e = errno;
		gh_err(err, errlen, "zmq_socket: %s", zmq_strerror(e));
		errno = e;
		return NULL;
	}
	if (set_int(sock, ZMQ_LINGER, 0) < 0 || set_int(sock, ZMQ_SNDHWM, hwm) < 0 ||
	    set_int(sock, ZMQ_RCVHWM, hwm) < 0 ||
	    (type == ZMQ_ROUTER && set_int(sock, ZMQ_ROUTER_MANDATORY, 1) < 0)) {
		e = errno;
		gh_err(err, errlen, "zmq_setsockopt: %s", zmq_strerror(e));
		zmq_close(sock);
		errno = e;
		return NULL;
	}
	return sock;
}

int
wire_set_max_frame(void *sock, size_t max_bytes, char *err, size_t errlen)
{
	int64_t ceiling = (int64_t)max_bytes + (int64_t)WIRE_FRAME_SLACK;

	if (zmq_setsockopt(sock, ZMQ_MAXMSGSIZE, &ceiling, sizeof(ceiling)) < 0) {
		int e = errno;

		gh_err(err, errlen, "zmq_setsockopt ZMQ_MAXMSGSIZE: %s", zmq_strerror(e));
		errno = e;
		return -1;
	}
	return 0;
}

size_t
wire_split(const char *endpoints, char ***list)
{
	size_t n = 0;

	*list = NULL;
	for (const char *p = endpoints != NULL ? endpoints : ""; *p != '\0';) {
		size_t len;

		p += strspn(p, " ,");
		len = strcspn(p, ",");
		while (len > 0 && p[len - 1] == ' ')
			len--;
		if (len == 0)
			continue;
		*list = gh_realloc(*list, (n + 1) * sizeof(**list));
		(*list)[n++] = gh_strndup(p, len);
		p += len;
	}
	return n;
}

void
wire_split_free(char **list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(list[i]);
	free(list);
}

int
wire_attach(void *sock, const char *endpoints, int bind, char *err, size_t errlen)
{
	const char *verb = bind ? "bind" : "connect";
	char **list;
	size_t n = wire_split(endpoints, &list);
	int rc = 0;

	if (n == 0) {
		errno = EINVAL;
		return gh_err(err, errlen, "%s: no endpoint given", verb);
	}
	for (size_t i = 0; i < n && rc == 0; i++) {
		rc = bind ? zmq_bind(sock, list[i]) : zmq_connect(sock, list[i]);
		if (rc < 0) {
			int e = errno;

			gh_err(err, errlen, "%s %s: %s", verb, list[i], zmq_strerror(e));
			errno = e;
		}
	}
	wire_split_free(list, n);
	return rc < 0 ? -1 : 0;
}

void *
wire_socket(void *ctx, int type, const char *endpoints, int bind, int hwm, char *err, size_t errlen)
{
	void *sock;
	int e;

	if (endpoints == NULL || endpoints[strspn(endpoints, " ,")] == '\0') {
		errno = EINVAL;
		gh_err(err, errlen, "%s: no endpoint given", bind ? "bind" : "connect");
		return NULL;
	}
	if ((sock = wire_socket_new(ctx, type, hwm, err, errlen)) == NULL)
		return NULL;
	if (wire_attach(sock, endpoints, bind, err, errlen) != 0) {
		e = errno;
		zmq_close(sock);
		errno = e;
		return NULL;
	}
	return sock;
}
