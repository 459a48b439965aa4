/*
 * curve.h: CURVE keys and who may connect (ZeroMQ's CurveZMQ, RFC 26, with
 * the ZAP handler protocol of RFC 27; libzmq built with libsodium).
 *
 * Key files are CZMQ's certificate text ("zcert"), which pyzmq's zmq.auth
 * reads and writes too: lines of "key = value", '#' comments, and under
 * "curve" the keys as 40 characters of Z85 (ZeroMQ's text form of 32 bytes):
 *
 *     #   ZeroMQ CURVE **Secret** Certificate
 *     metadata
 *     curve
 *         public-key = "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7"
 *         secret-key = "JTKVSB%%)wK0E.X)V>+}o?pNmC{O&4W4b!Ni{Lh6"
 *
 * A key pair is two files: PATH holds the public key alone (mode 0644, to
 * hand out) and PATH_secret both keys (mode 0600), as CZMQ's zcert_save
 * names them. A secret key file that group or others may access is
 * refused. An authorized set of public keys is a list of paths, each a key
 * file or a directory whose files are key files (names beginning with '.'
 * or ending in "_secret" are skipped); a file of the set that holds a secret
 * key is refused.
 *
 * Sockets: a server (the router's bound sockets) gets curve_server_apply
 * with its secret key and a ZAP domain naming the endpoint; a ZAP handler
 * bound at CURVE_ZAP_ENDPOINT in the same context answers every handshake
 * with curve_zap_serve, by a curve_auth_t that says which keys each domain
 * takes. A client gets curve_client_apply before it connects. The ZAP reply
 * names the client by its public key in Z85 as the user id, which every
 * message from it then carries (wire_user_id).
 */
#ifndef GEARHORN_CURVE_H
#define GEARHORN_CURVE_H

#include <stddef.h>

#include "gearhorn.h"

#define CURVE_KEY_LEN       40 /* Z85 characters of a 32-byte key */
#define CURVE_ZAP_ENDPOINT  "inproc://zeromq.zap.01"
#define CURVE_SECRET_SUFFIX "_secret"

/* Whether libzmq can do CURVE (built with libsodium). */
int curve_available(void);

/* Writes a new key pair: the public key to path (mode 0644) and the pair to
 * path_secret (mode 0600), each created anew (O_EXCL: an existing file is
 * never overwritten). public_key (CURVE_KEY_LEN + 1 bytes, may be NULL)
 * receives the public key. Returns 0, or -1 with err naming the file; on
 * error neither file is left behind. path is borrowed. */
int curve_keygen(const char *path, char *public_key, char *err, size_t errlen);

/* Reads the key pair of the secret key file at path into public_key and
 * secret_key (CURVE_KEY_LEN + 1 bytes each; the public key is derived from
 * the secret one when the file has none, and must match it when it has).
 * Refuses a file that is not a regular file or whose mode gives group or
 * others any access: "PATH: mode 0644 lets group or others read the secret
 * key (chmod 600 PATH)". Returns 0, or -1 with err naming the file. */
int curve_load_secret(const char *path, char *public_key, char *secret_key, char *err,
                      size_t errlen);

/* Reads the public key of the key file at path into public_key
 * (CURVE_KEY_LEN + 1 bytes). A file that also holds a secret key is
 * accepted (a secret key file names its public key too). Returns 0, or -1
 * with err naming the file. */
int curve_load_public(const char *path, char *public_key, char *err, size_t errlen);

/* The keys of a client: its pair from secret_path (curve_load_secret) and
 * the server's public key from server_path (curve_load_public). Both
 * borrowed. Returns 0, or -1 with err naming the file. */
int curve_client_load(gearhorn_curve_t *keys, const char *secret_path, const char *server_path,
                      char *err, size_t errlen);

/* Whether keys turn CURVE on: not NULL and holding a server key. */
int curve_client_on(const gearhorn_curve_t *keys);

/* Makes sock (not yet connected) a CURVE client with keys (borrowed). Does
 * nothing when curve_client_on(keys) is 0. Returns 0, or -1 with errno and
 * err (the key was refused by libzmq: not Z85). */
int curve_client_apply(void *sock, const gearhorn_curve_t *keys, char *err, size_t errlen);

/* Makes sock (not yet bound) a CURVE server with the Z85 secret_key, whose
 * handshakes the ZAP handler is asked about under domain. libzmq lets every
 * client key in while no handler is bound in the context: bind it first.
 * Returns 0, or -1 with errno and err. */
int curve_server_apply(void *sock, const char *secret_key, const char *domain, char *err,
                       size_t errlen);

/* ---- authorized public keys ---- */

typedef struct curve_keyring curve_keyring_t;

/* An empty set. Caller owns the result (curve_keyring_destroy). */
curve_keyring_t *curve_keyring_new(void);

/* Frees *self_p and clears it. Accepts NULL and a pointer to NULL. */
void curve_keyring_destroy(curve_keyring_t **self_p);

/* Adds the public keys at each of paths[0..n) (borrowed): a key file, or a
 * directory of key files (see the top of this file). Returns 0, or -1 with
 * err naming the path; the set may then hold part of them. */
int curve_keyring_load(curve_keyring_t *kr, char *const *paths, size_t n, char *err, size_t errlen);

/* Adds one Z85 public key, known by name (for the log; copied). Returns 0,
 * or -1 if key is not 40 characters of Z85. */
int curve_keyring_add(curve_keyring_t *kr, const char *key, const char *name);

/* The name the key (Z85, NUL-terminated) was added under, or NULL when it
 * is not in the set (or kr is NULL). Borrowed, valid while kr lives. */
const char *curve_keyring_find(const curve_keyring_t *kr, const char *key);

/* How many keys the set holds. */
size_t curve_keyring_size(const curve_keyring_t *kr);

/* ---- the ZAP handler ---- */

typedef struct curve_auth curve_auth_t;

/* A handler that takes no key anywhere. Caller owns the result. */
curve_auth_t *curve_auth_new(void);

/* Frees *self_p and clears it; the keyrings are the caller's. Accepts NULL. */
void curve_auth_destroy(curve_auth_t **self_p);

/* The keys of kr may connect to the sockets of domain (copied); kr is
 * borrowed and must outlive a. A domain may take several sets. */
void curve_auth_allow(curve_auth_t *a, const char *domain, const curve_keyring_t *kr);

/* The name of the set entry that lets key (Z85) connect to domain, or NULL
 * when none does. Borrowed. */
const char *curve_auth_check(const curve_auth_t *a, const char *domain, const char *key);

/* Reads one ZAP request from the REP socket rep without waiting and answers
 * it: 200 with the client's Z85 public key as the user id when a set of its
 * domain holds the key, else 400 (logged at notice with the domain, the
 * address and the key). A mechanism other than CURVE is refused. Returns 0
 * when a request was answered, -1 when none was waiting or the socket
 * failed (errno). */
int curve_zap_serve(const curve_auth_t *a, void *rep);

#endif
