/*
 * wire.h: whole multipart messages on ZeroMQ sockets. The codec (proto.h)
 * turns frames into structs; this module moves frames between sockets and
 * never looks inside them.
 *
 * Atomicity: libzmq queues a multipart message whole or not at all, and
 * with ZMQ_DONTWAIT only the first part of a send can meet the high-water
 * mark (it is checked once per message), so EAGAIN and EHOSTUNREACH normally
 * come from the first part and mean that nothing was sent. A later part can
 * still fail: ETERM, or a DEALER whose peer vanished mid-message (libzmq then
 * discards the parts already written, drops the rest and reports EAGAIN);
 * EINTR on a later part is retried. wire_send and wire_forward then push the
 * remaining parts anyway and, if the last part itself failed with anything
 * but EAGAIN, an empty final part, so that the socket ends the broken message
 * instead of gluing the next one to it (the peer gets a malformed message to
 * reject), and return -1 with the first error. The message may be lost; the
 * caller decides whether to retry or report it. EAGAIN always means that no
 * part reached a peer, so a retry is safe.
 */
#ifndef GEARHORN_WIRE_H
#define GEARHORN_WIRE_H

#include <stddef.h>

#include <zmq.h>

#include "proto.h"
#include "util.h"

#define WIRE_MAX_FRAMES  32
#define WIRE_SMALL_FRAME 256 /* bytes: kept even past max_bytes (a trailing msgid) */
/* bytes: a frame up to max_bytes + WIRE_FRAME_SLACK is read (and emptied
 * past max_bytes, see wire_recv); a larger one drops its connection (see
 * wire_set_max_frame). 16 MiB: a job manager's largest result. */
#define WIRE_FRAME_SLACK (16u << 20)
/* bytes: the largest message a router may be set to pass (the top of
 * [router] max_message_size): a program that connects to routers reads
 * frames up to this + WIRE_FRAME_SLACK, so that no router it trusts can
 * make it drop the connection. */
#define WIRE_ROUTER_MAX_MESSAGE (256u << 20)

/* One received multipart message. Frames are ZeroMQ messages, so large
 * ones are reference-counted and forwarding them copies no bytes. */
typedef struct {
	zmq_msg_t part[WIRE_MAX_FRAMES];
	size_t n;      /* received frames kept, part[0..n) */
	size_t bytes;  /* total bytes of all frames received, kept or not */
	int truncated; /* more than WIRE_MAX_FRAMES frames arrived; the rest were dropped */
	int oversized; /* bytes exceeded max_bytes; frames past the limit were emptied */
} wire_msg_t;

/* Receives one whole multipart message into m, always reading through its
 * last part so that the socket stays in step. Frames are kept while the
 * running total of bytes stays within max_bytes (0: no limit) and their
 * count within WIRE_MAX_FRAMES. Past max_bytes, a frame of at most
 * WIRE_SMALL_FRAME bytes is still kept and a larger one is kept empty, so
 * that frames keep their positions and the msgid that ends a large REPLY can
 * be read; past WIRE_MAX_FRAMES, frames are read, counted and dropped. The
 * flags say which happened. flags: 0 or ZMQ_DONTWAIT (which only applies to the
 * first part: the others are already there). m is initialised even on
 * failure. Returns 0, or -1 with errno (EAGAIN: nothing was waiting; EINTR,
 * ETERM, ...; m then holds no frames). Caller owns m's frames and must call
 * wire_msg_close(). */
int wire_recv(void *sock, wire_msg_t *m, size_t max_bytes, int flags);

/* Sets ZMQ_MAXMSGSIZE on sock to the hard ceiling that goes with a
 * wire_recv limit of max_bytes: max_bytes + WIRE_FRAME_SLACK. libzmq
 * checks it against each frame as its size arrives, before it allocates the
 * frame; a frame over it ends the connection (the peer sees it close, as if
 * the network failed, and its DEALER reconnects) and nothing of that message
 * reaches the socket. So frames up to the ceiling can still be answered (a
 * too-large error), and no frame above it is ever held. It applies to
 * connections made after the call. libzmq does not apply it to inproc://,
 * which has no wire. Returns 0, or -1 with errno and err. */
int wire_set_max_frame(void *sock, size_t max_bytes, char *err, size_t errlen);

/* Releases m's frames; m stays valid and empty, so a second call is a
 * no-op. m must have been filled by wire_recv. */
void wire_msg_close(wire_msg_t *m);

/* The user id that the ZAP handler gave the connection m came in on (the
 * client's public key in Z85 with CURVE, see curve.h), read from the
 * message's metadata; NULL when it has none (a plain connection). m must
 * hold frames. Borrowed, valid until wire_msg_close(m). */
const char *wire_user_id(const wire_msg_t *m);

/* Writes borrowed views of frames [from, m->n) into out, at most cap of
 * them; returns how many were written (0 if from >= m->n). Borrowed, valid
 * until wire_msg_close(m) or until wire_forward moves those frames. */
size_t wire_frames(const wire_msg_t *m, size_t from, gh_frame_t *out, size_t cap);

/* Sends identity (if non-NULL: idlen bytes, for ROUTER sockets) followed by
 * frames[0..n) as one multipart message. The bytes are copied, so frames and
 * identity stay owned by the caller. flags: 0 or ZMQ_DONTWAIT. Returns 0, or
 * -1 with errno: EAGAIN (nothing was sent: high-water mark), EHOSTUNREACH
 * (nothing was sent: ROUTER_MANDATORY and no such peer), EINVAL (n == 0), or
 * as described at the top of this file. */
int wire_send(void *sock, const void *identity, size_t idlen, const gh_frame_t *frames, size_t n,
              int flags);

/* Encodes msg (proto_encode) and sends it as wire_send does. Returns 0, or
 * -1: when msg cannot be encoded, perr->code is not PROTO_OK and perr->text
 * says why (errno EINVAL); otherwise errno is the send's (perr->code is
 * PROTO_OK). perr may be NULL. msg is borrowed. */
int wire_send_msg(void *sock, const void *identity, size_t idlen, const proto_msg_t *msg, int flags,
                  proto_err_t *perr);

/* Forwards frames [from, m->n) of m without copying their bytes, preceded by
 * identity (if non-NULL) and by prefix[0..nprefix) (copied). On success the
 * forwarded frames are moved out of m: they are released and m->n becomes
 * from, so frames [0, from) (e.g. the sender's identity) stay usable. On
 * failure m is left intact for a retry. Same flags and returns as wire_send
 * (EINVAL: from > m->n, or nothing at all to send). */
int wire_forward(void *sock, const void *identity, size_t idlen, const gh_frame_t *prefix,
                 size_t nprefix, wire_msg_t *m, size_t from, int flags);

/* Creates a socket of type (ZMQ_ROUTER, ZMQ_DEALER, ...) with ZMQ_LINGER 0,
 * ZMQ_SNDHWM and ZMQ_RCVHWM set to hwm (messages; 0 means no limit, which
 * gearhorn never wants) and, for ZMQ_ROUTER, ZMQ_ROUTER_MANDATORY 1: sends
 * to an unknown peer fail with EHOSTUNREACH instead of vanishing, and a send
 * to a peer at its high-water mark blocks, or fails with EAGAIN under
 * ZMQ_DONTWAIT, instead of being dropped, so a loop must send with
 * ZMQ_DONTWAIT. Then binds (bind != 0) or connects every endpoint of the
 * comma-separated list endpoints (spaces around commas are ignored). ctx is
 * borrowed. Returns the socket (caller owns it: zmq_close it), or NULL with
 * errno set and err (errlen bytes, may be NULL) naming the failing endpoint
 * and zmq_strerror. */
void *wire_socket(void *ctx, int type, const char *endpoints, int bind, int hwm, char *err,
                  size_t errlen);

/* The two halves of wire_socket, for options that must be set in between
 * (CURVE keys, curve.h). wire_socket_new creates the socket with the options
 * above; returns it (caller owns it) or NULL with errno and err.
 * wire_attach binds or connects sock to every endpoint of the list; returns
 * 0, or -1 with errno and err naming the endpoint (sock stays the
 * caller's, bound or connected to the endpoints before it). */
void *wire_socket_new(void *ctx, int type, int hwm, char *err, size_t errlen);
int wire_attach(void *sock, const char *endpoints, int bind, char *err, size_t errlen);

/* Splits the comma-separated list endpoints (NULL: none) as wire_attach
 * reads it: spaces around commas ignored, empty items skipped. Returns the
 * count and stores the items in *list (caller owns it: free it with
 * wire_split_free; NULL when the count is 0). */
size_t wire_split(const char *endpoints, char ***list);
void wire_split_free(char **list, size_t n);

#endif
