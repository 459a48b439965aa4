/*
 * check_curve: key files (keygen, modes, the format), the keys of a
 * program's section (startup_curve), sets of authorized keys, and the ZAP
 * handler between real CURVE sockets over ipc.
 */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <unistd.h>

#include <zmq.h>

#include "conf.h"
#include "curve.h"
#include "startup.h"
#include "util.h"
#include "wire.h"
#include "lib/check_main.h"
#include "lib/files.h"

static char dir[1024];

static void
setup(void)
{
	ck_assert_int_eq(gh_tmpdir_make(dir, sizeof(dir), "check_curve"), 0);
}

static void
teardown(void)
{
	ck_assert_int_eq(gh_tmpdir_remove(dir), 0);
}

/* dir/name; caller owns the result. */
static char *
path_of(const char *name)
{
	return gh_asprintf("%s/%s", dir, name);
}

static void
write_file(const char *name, mode_t mode, const char *text)
{
	char *p = path_of(name);
	int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, mode);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	ck_assert_int_eq(fchmod(fd, mode), 0);
	close(fd);
	free(p);
}

static mode_t
mode_of(const char *p)
{
	struct stat st;

	ck_assert_int_eq(stat(p, &st), 0);
	return st.st_mode & 07777;
}

/* A new pair at dir/name; its public key in pub (41 bytes). */
static void
keygen(const char *name, char *pub)
{
	char err[512], *p = path_of(name);

	ck_assert_msg(curve_keygen(p, pub, err, sizeof(err)) == 0, "keygen: %s", err);
	free(p);
}

START_TEST(test_keygen_modes)
{
	char pub[CURVE_KEY_LEN + 1], pub2[CURVE_KEY_LEN + 1], sec[CURVE_KEY_LEN + 1], err[512];
	char *p = path_of("a"), *s = path_of("a_secret");
	mode_t old = umask(077);

	ck_assert_int_eq(curve_available(), 1);
	keygen("a", pub);
	umask(old);
	ck_assert_uint_eq(strlen(pub), CURVE_KEY_LEN);
	/* Exactly these modes, whatever the umask. */
	ck_assert_uint_eq(mode_of(p), 0644);
	ck_assert_uint_eq(mode_of(s), 0600);
	ck_assert_msg(curve_load_public(p, pub2, err, sizeof(err)) == 0, "%s", err);
	ck_assert_str_eq(pub, pub2);
	ck_assert_msg(curve_load_secret(s, pub2, sec, err, sizeof(err)) == 0, "%s", err);
	ck_assert_str_eq(pub, pub2);
	ck_assert_uint_eq(strlen(sec), CURVE_KEY_LEN);
	/* The public file is no secret key file. */
	ck_assert_int_eq(curve_load_secret(p, pub2, sec, err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, "mode 0644") != NULL, "%s", err);
	ck_assert_int_eq(chmod(p, 0600), 0);
	ck_assert_int_eq(curve_load_secret(p, pub2, sec, err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, "no secret-key") != NULL, "%s", err);
	free(p);
	free(s);
}
END_TEST

START_TEST(test_keygen_never_overwrites)
{
	char pub[CURVE_KEY_LEN + 1], again[CURVE_KEY_LEN + 1], err[512];
	char *p = path_of("b"), *s = path_of("c_secret"), *c = path_of("c");

	keygen("b", pub);
	ck_assert_int_eq(curve_keygen(p, NULL, err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, "exists; not overwritten") != NULL, "%s", err);
	ck_assert_int_eq(curve_load_public(p, again, err, sizeof(err)), 0);
	ck_assert_str_eq(pub, again);
	/* A secret file in the way: nothing is written. */
	write_file("c_secret", 0600, "keep me");
	ck_assert_int_eq(curve_keygen(c, NULL, err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, "c_secret exists") != NULL, "%s", err);
	ck_assert_int_eq(access(c, F_OK), -1);
	/* A public file in the way: the new secret file goes again. */
	unlink(s);
	write_file("c", 0644, "keep me");
	ck_assert_int_eq(curve_keygen(c, NULL, err, sizeof(err)), -1);
	ck_assert_int_eq(access(s, F_OK), -1);
	free(p);
	free(s);
	free(c);
}
END_TEST

START_TEST(test_secret_mode_refused)
{
	char pub[CURVE_KEY_LEN + 1], sec[CURVE_KEY_LEN + 1], err[512];
	char *s = path_of("d_secret");
	static const mode_t bad[] = {0644, 0640, 0604, 0660, 0602};

	keygen("d", pub);
	for (size_t i = 0; i < GH_ARRAY_LEN(bad); i++) {
		char mode[16];

		ck_assert_int_eq(chmod(s, bad[i]), 0);
		ck_assert_int_eq(curve_load_secret(s, pub, sec, err, sizeof(err)), -1);
		snprintf(mode, sizeof(mode), "mode %04o", (unsigned)bad[i]);
		ck_assert_msg(strstr(err, s) != NULL && strstr(err, mode) != NULL, "%s", err);
	}
	ck_assert_int_eq(chmod(s, 0400), 0);
	ck_assert_msg(curve_load_secret(s, pub, sec, err, sizeof(err)) == 0, "%s", err);
	free(s);
}
END_TEST

START_TEST(test_format)
{
	char pub[CURVE_KEY_LEN + 1], sec[CURVE_KEY_LEN + 1], pk[CURVE_KEY_LEN + 1],
	    sk[CURVE_KEY_LEN + 1], err[512], *text, *p;

	ck_assert_int_eq(zmq_curve_keypair(pk, sk), 0);
	/* pyzmq's quotes, no indentation, CRLF; the public key derived. */
	text =
	    gh_asprintf("# comment\r\ncurve\r\npublic-key = '%s'\r\nsecret-key = '%s'\r\n", pk, sk);
	write_file("e_secret", 0600, text);
	free(text);
	p = path_of("e_secret");
	ck_assert_msg(curve_load_secret(p, pub, sec, err, sizeof(err)) == 0, "%s", err);
	ck_assert_str_eq(pub, pk);
	ck_assert_str_eq(sec, sk);
	free(p);

	text = gh_asprintf("curve\n    secret-key = %s\n", sk);
	write_file("f_secret", 0600, text);
	free(text);
	p = path_of("f_secret");
	ck_assert_msg(curve_load_secret(p, pub, sec, err, sizeof(err)) == 0, "%s", err);
	ck_assert_str_eq(pub, pk);
	free(p);

	write_file("g", 0644, "curve\n    public-key = \"too short\"\n");
	p = path_of("g");
	ck_assert_int_eq(curve_load_public(p, pub, err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, "g:2: public-key is not 40 characters of Z85") != NULL, "%s",
	              err);
	free(p);

	write_file("h", 0644, "just text\n");
	p = path_of("h");
	ck_assert_int_eq(curve_load_public(p, pub, err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, "not a key file") != NULL, "%s", err);
	free(p);

	/* A public key that is not the secret key's. */
	ck_assert_int_eq(zmq_curve_keypair(pub, sec), 0);
	text = gh_asprintf("public-key = \"%s\"\nsecret-key = \"%s\"\n", pk, sec);
	write_file("i_secret", 0600, text);
	free(text);
	p = path_of("i_secret");
	ck_assert_int_eq(curve_load_secret(p, pub, sec, err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, "is not the secret key's") != NULL, "%s", err);
	free(p);

	p = path_of("nothing");
	ck_assert_int_eq(curve_load_public(p, pub, err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, "cannot open") != NULL && strstr(err, p) != NULL, "%s", err);
	free(p);
	p = path_of("");
	ck_assert_int_eq(curve_load_public(p, pub, err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, "not a regular file") != NULL, "%s", err);
	free(p);
}
END_TEST

START_TEST(test_client_load)
{
	char pub[CURVE_KEY_LEN + 1], srv[CURVE_KEY_LEN + 1], err[512];
	char *s = path_of("cl_secret"), *v = path_of("srv");
	gearhorn_curve_t keys;

	keygen("cl", pub);
	keygen("srv", srv);
	ck_assert_int_eq(gearhorn_curve_load(&keys, s, v, err, sizeof(err)), 0);
	ck_assert_str_eq(keys.public_key, pub);
	ck_assert_str_eq(keys.server_key, srv);
	ck_assert_int_eq(curve_client_on(&keys), 1);
	ck_assert_int_eq(curve_client_on(NULL), 0);
	ck_assert_int_eq(chmod(s, 0644), 0);
	ck_assert_int_eq(gearhorn_curve_load(&keys, s, v, err, sizeof(err)), GEARHORN_ERR);
	ck_assert_msg(strstr(err, "mode 0644") != NULL, "%s", err);
	ck_assert_int_eq(curve_client_on(&keys), 0);
	free(s);
	free(v);
}
END_TEST

START_TEST(test_startup_curve)
{
	char pub[CURVE_KEY_LEN + 1], srv[CURVE_KEY_LEN + 1], err[512];
	char *s = path_of("jm_secret"), *v = path_of("router");
	conf_t *c = conf_new();
	gearhorn_curve_t keys;
	peer_config_t pc;
	gh_error_t e;

	keygen("jm", pub);
	keygen("router", srv);
	/* Neither key: no CURVE. */
	memset(&keys, 'x', sizeof(keys));
	ck_assert_int_eq(startup_curve(c, "jobmanager", &keys, &e), 0);
	ck_assert_int_eq(curve_client_on(&keys), 0);
	/* One alone is an error. */
	ck_assert_int_eq(conf_set(c, "jobmanager", "curve_secret_key", s, NULL, err, sizeof(err)),
	                 0);
	ck_assert_int_eq(startup_curve(c, "jobmanager", &keys, &e), -1);
	ck_assert_int_eq(e.status, EX_CONFIG);
	ck_assert_msg(strstr(e.text, "[jobmanager] curve_server_key: needed with") != NULL, "%s",
	              e.text);
	/* Both: through startup_peer_config into the peer's settings. */
	ck_assert_int_eq(conf_set(c, "jobmanager", "curve_server_key", v, NULL, err, sizeof(err)),
	                 0);
	memset(&pc, 0, sizeof(pc));
	ck_assert_msg(startup_peer_config(c, "jobmanager", "router", &pc, &e) == 0, "%s", e.text);
	ck_assert_str_eq(pc.curve.public_key, pub);
	ck_assert_str_eq(pc.curve.server_key, srv);
	startup_peer_config_free(&pc);
	ck_assert_int_eq(curve_client_on(&pc.curve), 0);
	/* Another section has none. */
	ck_assert_int_eq(startup_curve(c, "scheduler", &keys, &e), 0);
	ck_assert_int_eq(curve_client_on(&keys), 0);
	/* A secret key file others may read. */
	ck_assert_int_eq(chmod(s, 0640), 0);
	ck_assert_int_eq(startup_peer_config(c, "jobmanager", "router", &pc, &e), -1);
	ck_assert_int_eq(e.status, EX_CONFIG);
	ck_assert_msg(strstr(e.text, "mode 0640") != NULL, "%s", e.text);
	conf_destroy(&c);
	free(s);
	free(v);
}
END_TEST

START_TEST(test_keyring)
{
	char a[CURVE_KEY_LEN + 1], b[CURVE_KEY_LEN + 1], c[CURVE_KEY_LEN + 1], err[512];
	char *paths[2], *d = path_of("ring");
	curve_keyring_t *kr = curve_keyring_new();
	const char *name;

	ck_assert_int_eq(mkdir(d, 0755), 0);
	free(d);
	keygen("ring/a", a); /* ring/a_secret is skipped */
	keygen("ring/.b", b);
	keygen("c", c);
	paths[0] = path_of("ring");
	paths[1] = path_of("c");
	ck_assert_msg(curve_keyring_load(kr, paths, 2, err, sizeof(err)) == 0, "%s", err);
	ck_assert_uint_eq(curve_keyring_size(kr), 2);
	ck_assert_ptr_nonnull(name = curve_keyring_find(kr, a));
	ck_assert_msg(strstr(name, "ring/a") != NULL, "%s", name);
	ck_assert_ptr_null(curve_keyring_find(kr, b));
	ck_assert_ptr_nonnull(curve_keyring_find(kr, c));
	ck_assert_ptr_null(curve_keyring_find(kr, "short"));
	ck_assert_ptr_null(curve_keyring_find(NULL, a));
	ck_assert_int_eq(curve_keyring_add(kr, "not z85", "x"), -1);
	free(paths[1]);

	/* A secret key among the authorized ones is refused. */
	paths[1] = path_of("c_secret");
	ck_assert_int_eq(curve_keyring_load(kr, paths + 1, 1, err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, "holds a secret key") != NULL, "%s", err);
	free(paths[1]);
	paths[1] = path_of("missing");
	ck_assert_int_eq(curve_keyring_load(kr, paths + 1, 1, err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, "missing") != NULL, "%s", err);
	free(paths[0]);
	free(paths[1]);
	curve_keyring_destroy(&kr);
	ck_assert_ptr_null(kr);
	curve_keyring_destroy(&kr);
}
END_TEST

/* ---- the ZAP handler between real sockets ---- */

typedef struct {
	void *ctx, *zap, *server;
	curve_auth_t *auth;
	curve_keyring_t *ring;
	char server_pub[CURVE_KEY_LEN + 1], server_sec[CURVE_KEY_LEN + 1];
	char endpoint[1100];
	int answered; /* ZAP requests answered */
} zap_fixture_t;

static void
zap_open(zap_fixture_t *z)
{
	char err[512];
	int zero = 0;

	memset(z, 0, sizeof(*z));
	ck_assert_int_eq(zmq_curve_keypair(z->server_pub, z->server_sec), 0);
	z->ctx = zmq_ctx_new();
	z->ring = curve_keyring_new();
	z->auth = curve_auth_new();
	curve_auth_allow(z->auth, "front", z->ring);
	/* The handler first: without one, libzmq lets every key in. */
	z->zap = zmq_socket(z->ctx, ZMQ_REP);
	zmq_setsockopt(z->zap, ZMQ_LINGER, &zero, sizeof(zero));
	ck_assert_int_eq(zmq_bind(z->zap, CURVE_ZAP_ENDPOINT), 0);
	z->server = wire_socket_new(z->ctx, ZMQ_ROUTER, 100, err, sizeof(err));
	ck_assert_ptr_nonnull(z->server);
	ck_assert_int_eq(curve_server_apply(z->server, z->server_sec, "front", err, sizeof(err)),
	                 0);
	snprintf(z->endpoint, sizeof(z->endpoint), "ipc://%s/zap.sock", dir);
	ck_assert_msg(wire_attach(z->server, z->endpoint, 1, err, sizeof(err)) == 0, "%s", err);
}

static void
zap_close(zap_fixture_t *z)
{
	zmq_close(z->server);
	zmq_close(z->zap);
	zmq_ctx_term(z->ctx);
	curve_auth_destroy(&z->auth);
	curve_keyring_destroy(&z->ring);
}

/* A client of the server: with keys (NULL: plain). */
static void *
zap_client(zap_fixture_t *z, const gearhorn_curve_t *keys)
{
	char err[512];
	void *s = wire_socket_new(z->ctx, ZMQ_DEALER, 100, err, sizeof(err));

	ck_assert_ptr_nonnull(s);
	ck_assert_int_eq(curve_client_apply(s, keys, err, sizeof(err)), 0);
	ck_assert_int_eq(wire_attach(s, z->endpoint, 0, err, sizeof(err)), 0);
	return s;
}

/* Serves ZAP for up to ms; returns 1 with the user id of the first message
 * that reaches the server copied into user (or "" for none), or 0. */
static int
zap_pump(zap_fixture_t *z, int ms, char *user, size_t len)
{
	uint64_t end = gh_now_ms() + (uint64_t)ms;

	while (gh_now_ms() < end) {
		zmq_pollitem_t items[2] = {{z->zap, 0, ZMQ_POLLIN, 0},
		                           {z->server, 0, ZMQ_POLLIN, 0}};
		wire_msg_t m;

		zmq_poll(items, 2, 50);
		while (curve_zap_serve(z->auth, z->zap) == 0)
			z->answered++;
		if (wire_recv(z->server, &m, 0, ZMQ_DONTWAIT) == 0) {
			const char *id = wire_user_id(&m);

			gh_strlcpy(user, id != NULL ? id : "", len);
			wire_msg_close(&m);
			return 1;
		}
	}
	return 0;
}

START_TEST(test_zap)
{
	zap_fixture_t z;
	gearhorn_curve_t good, bad, wrong_server;
	char user[64];
	void *c;

	zap_open(&z);
	memset(&good, 0, sizeof(good));
	ck_assert_int_eq(zmq_curve_keypair(good.public_key, good.secret_key), 0);
	memcpy(good.server_key, z.server_pub, sizeof(good.server_key));
	bad = good;
	ck_assert_int_eq(zmq_curve_keypair(bad.public_key, bad.secret_key), 0);
	wrong_server = good;
	ck_assert_int_eq(zmq_curve_keypair(wrong_server.server_key, user), 0);
	ck_assert_int_eq(curve_keyring_add(z.ring, good.public_key, "good"), 0);

	/* An authorized key: its messages carry it as the user id. */
	c = zap_client(&z, &good);
	ck_assert_int_eq(zmq_send(c, "hi", 2, 0), 2);
	ck_assert_int_eq(zap_pump(&z, 10000, user, sizeof(user)), 1);
	ck_assert_str_eq(user, good.public_key);
	ck_assert_int_eq(z.answered, 1);
	zmq_close(c);

	/* Another key: the handler refuses it, nothing arrives. */
	c = zap_client(&z, &bad);
	zmq_send(c, "hi", 2, ZMQ_DONTWAIT);
	ck_assert_int_eq(zap_pump(&z, 1500, user, sizeof(user)), 0);
	ck_assert_int_ge(z.answered, 2);
	zmq_close(c);

	/* No key, or the wrong server key: no handshake, nothing arrives. */
	c = zap_client(&z, NULL);
	zmq_send(c, "hi", 2, ZMQ_DONTWAIT);
	ck_assert_int_eq(zap_pump(&z, 1000, user, sizeof(user)), 0);
	zmq_close(c);
	c = zap_client(&z, &wrong_server);
	zmq_send(c, "hi", 2, ZMQ_DONTWAIT);
	ck_assert_int_eq(zap_pump(&z, 1000, user, sizeof(user)), 0);
	zmq_close(c);

	ck_assert_ptr_nonnull(curve_auth_check(z.auth, "front", good.public_key));
	ck_assert_ptr_null(curve_auth_check(z.auth, "back", good.public_key));
	ck_assert_ptr_null(curve_auth_check(z.auth, "front", bad.public_key));
	zap_close(&z);
}
END_TEST

/* Sends ask[0..n) as a ZAP request on req, lets the handler answer, and
 * checks the answer's request id, status code and user id. */
static void
zap_ask(zap_fixture_t *z, void *req, const gh_frame_t *ask, size_t n, const char *id,
        const char *code, const char *user)
{
	gh_frame_t f[8];
	wire_msg_t m;

	ck_assert_int_eq(wire_send(req, NULL, 0, ask, n, 0), 0);
	while (curve_zap_serve(z->auth, z->zap) != 0)
		zmq_poll(NULL, 0, 10);
	ck_assert_int_eq(wire_recv(req, &m, 0, 0), 0);
	ck_assert_uint_eq(wire_frames(&m, 0, f, 8), 6);
	ck_assert(gh_frame_is(f[0], "1.0"));
	ck_assert(gh_frame_is(f[1], id));
	ck_assert(gh_frame_is(f[2], code));
	ck_assert(gh_frame_is(f[4], user));
	wire_msg_close(&m);
}

START_TEST(test_zap_requests)
{
	char pub[CURVE_KEY_LEN + 1], sec[CURVE_KEY_LEN + 1];
	uint8_t bin[32];
	gh_frame_t ask[7] = {gh_frame_str("1.0"),       gh_frame_str("7"), gh_frame_str("front"),
	                     gh_frame_str("127.0.0.1"), gh_frame_str(""),  gh_frame_str("PLAIN"),
	                     gh_frame_str("admin")};
	zap_fixture_t z;
	void *req;

	zap_open(&z);
	ck_assert_int_eq(zmq_curve_keypair(pub, sec), 0);
	ck_assert_ptr_nonnull(zmq_z85_decode(bin, pub));
	ck_assert_int_eq(curve_keyring_add(z.ring, pub, "k"), 0);
	/* What a broken or foreign ZAP client might send gets an answer too,
	 * so that the handler takes the next request. */
	req = zmq_socket(z.ctx, ZMQ_REQ);
	ck_assert_int_eq(zmq_connect(req, CURVE_ZAP_ENDPOINT), 0);
	zap_ask(&z, req, (gh_frame_t[]){gh_frame_str("2.0")}, 1, "", "500", "");
	/* Another mechanism than CURVE. */
	zap_ask(&z, req, ask, 7, "7", "400", "");
	/* CURVE with a key of the wrong size, an unknown key, the known key in
	 * another domain, and in its own. */
	ask[5] = gh_frame_str("CURVE");
	zap_ask(&z, req, ask, 7, "7", "400", "");
	ask[6] = (gh_frame_t){(const char *)bin, sizeof(bin)};
	ask[2] = gh_frame_str("back");
	zap_ask(&z, req, ask, 7, "7", "400", "");
	ask[2] = gh_frame_str("front");
	zap_ask(&z, req, ask, 7, "7", "200", pub);
	zmq_close(req);
	zap_close(&z);
}
END_TEST

Suite *
suite(void)
{
	Suite *s = suite_create("curve");
	TCase *tc = tcase_create("curve");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_keygen_modes);
	tcase_add_test(tc, test_keygen_never_overwrites);
	tcase_add_test(tc, test_secret_mode_refused);
	tcase_add_test(tc, test_format);
	tcase_add_test(tc, test_client_load);
	tcase_add_test(tc, test_startup_curve);
	tcase_add_test(tc, test_keyring);
	tcase_add_test(tc, test_zap);
	tcase_add_test(tc, test_zap_requests);
	suite_add_tcase(s, tc);
	return s;
}
