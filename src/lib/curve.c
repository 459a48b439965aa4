/*
 * curve.c: CURVE key files, sets of authorized keys and the ZAP handler.
 * See curve.h.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <zmq.h>

#include "curve.h"
#include "dict.h"
#include "log.h"
#include "util.h"
#include "wire.h"

#define CURVE_BIN_LEN  32          /* bytes of a key */
#define CURVE_FILE_MAX (64 * 1024) /* a key file is a few hundred bytes */
#define CURVE_ZAP_MAX  4096        /* bytes of a ZAP request */

int
curve_available(void)
{
	return zmq_has("curve");
}

/* Whether s[0..len) is a key in Z85. */
static int
valid_z85(const char *s, size_t len)
{
	char text[CURVE_KEY_LEN + 1];
	uint8_t bin[CURVE_BIN_LEN];

	if (len != CURVE_KEY_LEN)
		return 0;
	memcpy(text, s, len);
	text[len] = '\0';
	return zmq_z85_decode(bin, text) != NULL;
}

/* ---- key files ---- */

/* If the line s[0..len) is "public-key = VALUE" or "secret-key = VALUE"
 * (blanks around, VALUE maybe quoted), stores VALUE in pub or sec. Other
 * lines are not ours. Returns 0, or -1 with err for a bad or second key. */
static int
key_line(const char *s, size_t len, int lineno, const char *path, char *pub, char *sec, char *err,
         size_t errlen)
{
	const char *e = s + len, *name;
	char *out;

	while (s < e && (*s == ' ' || *s == '\t'))
		s++;
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
		e--;
	if (e - s > 10 && memcmp(s, "public-key", 10) == 0)
		out = pub, name = "public-key";
	else if (e - s > 10 && memcmp(s, "secret-key", 10) == 0)
		out = sec, name = "secret-key";
	else
		return 0;
	for (s += 10; s < e && (*s == ' ' || *s == '\t'); s++)
		;
	if (s == e || *s != '=')
		return 0;
	for (s++; s < e && (*s == ' ' || *s == '\t'); s++)
		;
	if (e - s >= 2 && (*s == '"' || *s == '\'') && e[-1] == *s)
		s++, e--;
	if (!valid_z85(s, (size_t)(e - s)))
		return gh_err(err, errlen, "%s:%d: %s is not %d characters of Z85", path, lineno,
		              name, CURVE_KEY_LEN);
	if (out[0] != '\0')
		return gh_err(err, errlen, "%s:%d: a second %s", path, lineno, name);
	memcpy(out, s, CURVE_KEY_LEN);
	out[CURVE_KEY_LEN] = '\0';
	return 0;
}

/* Finds the keys in text (a key file's contents); pub and sec are ""
 * where the file has none. Returns 0, or -1 with err. */
static int
parse_keys(const char *text, const char *path, char *pub, char *sec, char *err, size_t errlen)
{
	const char *line = text;
	int lineno = 0;

	pub[0] = sec[0] = '\0';
	while (*line != '\0') {
		const char *nl = strchr(line, '\n');
		size_t len = nl != NULL ? (size_t)(nl - line) : strlen(line);

		lineno++;
		if (key_line(line, len, lineno, path, pub, sec, err, errlen) != 0)
			return -1;
		line += len + (nl != NULL);
	}
	if (pub[0] == '\0' && sec[0] == '\0')
		return gh_err(err, errlen, "%s: no public-key or secret-key line: not a key file",
		              path);
	return 0;
}

/* Reads the key file at path into pub and sec (see parse_keys). secret: it
 * must be a secret key file, which group and others may not access.
 * Returns 0, or -1 with err. */
static int
read_key_file(const char *path, int secret, char *pub, char *sec, char *err, size_t errlen)
{
	struct stat st;
	char *text;
	size_t len = 0;
	ssize_t n = 0;
	int fd, rc;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY)) < 0)
		return gh_err(err, errlen, "cannot open %s: %s", path, strerror(errno));
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return gh_err(err, errlen, "%s: not a regular file", path);
	}
	if (secret && (st.st_mode & 077) != 0) {
		close(fd);
		return gh_err(err, errlen,
		              "%s: mode %04o lets group or others read the secret key; refused "
		              "(chmod 600 %s)",
		              path, (unsigned)(st.st_mode & 07777), path);
	}
	text = gh_malloc(CURVE_FILE_MAX + 1);
	while (len <= CURVE_FILE_MAX && ((n = read(fd, text + len, CURVE_FILE_MAX + 1 - len)) > 0 ||
	                                 (n < 0 && errno == EINTR)))
		len += n > 0 ? (size_t)n : 0;
	close(fd);
	if (n < 0)
		rc = gh_err(err, errlen, "cannot read %s: %s", path, strerror(errno));
	else if (len > CURVE_FILE_MAX || memchr(text, '\0', len) != NULL)
		rc = gh_err(err, errlen, "%s: not a key file", path);
	else {
		text[len] = '\0';
		rc = parse_keys(text, path, pub, sec, err, errlen);
	}
	explicit_bzero(text, len);
	free(text);
	return rc;
}

int
curve_load_secret(const char *path, char *public_key, char *secret_key, char *err, size_t errlen)
{
	char derived[CURVE_KEY_LEN + 1];

	if (read_key_file(path, 1, public_key, secret_key, err, errlen) != 0)
		return -1;
	if (secret_key[0] == '\0')
		return gh_err(err, errlen, "%s: no secret-key line: a public key file", path);
	if (zmq_curve_public(derived, secret_key) != 0) {
		explicit_bzero(secret_key, CURVE_KEY_LEN);
		return gh_err(err, errlen, "%s: %s", path, zmq_strerror(errno));
	}
	if (public_key[0] != '\0' && strcmp(public_key, derived) != 0) {
		explicit_bzero(secret_key, CURVE_KEY_LEN);
		return gh_err(err, errlen, "%s: public-key is not the secret key's", path);
	}
	memcpy(public_key, derived, sizeof(derived));
	return 0;
}

int
curve_load_public(const char *path, char *public_key, char *err, size_t errlen)
{
	char sec[CURVE_KEY_LEN + 1];
	int rc = read_key_file(path, 0, public_key, sec, err, errlen);

	explicit_bzero(sec, sizeof(sec));
	if (rc == 0 && public_key[0] == '\0')
		return gh_err(err, errlen, "%s: no public-key line", path);
	return rc;
}

/* The text of a key file in CZMQ's form: the public key alone, or with
 * sec the pair. Caller owns the result. */
static char *
cert_text(const char *pub, const char *sec)
{
	char when[32] = "";
	time_t now = time(NULL);
	struct tm tm;

	if (gmtime_r(&now, &tm) != NULL)
		strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &tm);
	return gh_asprintf(
	    "#   ****  Generated on %s UTC by gearhorn keygen  ****\n"
	    "%s\n"
	    "metadata\n"
	    "curve\n"
	    "    public-key = \"%s\"\n"
	    "%s%s%s",
	    when,
	    sec != NULL
	        ? "#   ZeroMQ CURVE **Secret** Certificate\n"
	          "#   DO NOT PROVIDE THIS FILE TO OTHER USERS nor change its permissions.\n"
	        : "#   ZeroMQ CURVE Public Certificate\n"
	          "#   Exchange securely, or use a secure mechanism to verify the contents\n"
	          "#   of this file after exchange.\n",
	    pub, sec != NULL ? "    secret-key = \"" : "", sec != NULL ? sec : "",
	    sec != NULL ? "\"\n" : "");
}

/* Creates path with exactly mode (O_EXCL) and writes text to it. Returns 0,
 * or -1 with err; a file it created is removed again on error. */
static int
write_new(const char *path, mode_t mode, const char *text, char *err, size_t errlen)
{
	size_t len = strlen(text), done = 0;
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);

	if (fd < 0) {
		if (errno == EEXIST)
			return gh_err(err, errlen, "%s exists; not overwritten", path);
		return gh_err(err, errlen, "cannot create %s: %s", path, strerror(errno));
	}
	/* The umask may have taken bits: a public key is for everyone. */
	if (fchmod(fd, mode) != 0)
		goto fail;
	while (done < len) {
		ssize_t n = write(fd, text + done, len - done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			goto fail;
		done += (size_t)n;
	}
	if (fsync(fd) != 0 || close(fd) != 0) {
		fd = -1;
		goto fail;
	}
	return 0;
fail:
	gh_err(err, errlen, "cannot write %s: %s", path, strerror(errno));
	if (fd >= 0)
		close(fd);
	unlink(path);
	return -1;
}

int
curve_keygen(const char *path, char *public_key, char *err, size_t errlen)
{
	char pub[CURVE_KEY_LEN + 1], sec[CURVE_KEY_LEN + 1];
	char *spath, *stext = NULL, *ptext = NULL;
	int rc = -1;

	if (zmq_curve_keypair(pub, sec) != 0)
		return gh_err(err, errlen, "cannot make a key pair: %s", zmq_strerror(errno));
	spath = gh_asprintf("%s%s", path, CURVE_SECRET_SUFFIX);
	stext = cert_text(pub, sec);
	ptext = cert_text(pub, NULL);
	if (write_new(spath, 0600, stext, err, errlen) == 0) {
		if (write_new(path, 0644, ptext, err, errlen) == 0)
			rc = 0;
		else
			unlink(spath);
	}
	if (rc == 0 && public_key != NULL)
		memcpy(public_key, pub, sizeof(pub));
	explicit_bzero(sec, sizeof(sec));
	explicit_bzero(stext, strlen(stext));
	free(stext);
	free(ptext);
	free(spath);
	return rc;
}

int
curve_client_load(gearhorn_curve_t *keys, const char *secret_path, const char *server_path,
                  char *err, size_t errlen)
{
	memset(keys, 0, sizeof(*keys));
	if (curve_load_secret(secret_path, keys->public_key, keys->secret_key, err, errlen) != 0 ||
	    curve_load_public(server_path, keys->server_key, err, errlen) != 0) {
		explicit_bzero(keys, sizeof(*keys));
		return -1;
	}
	return 0;
}

int
gearhorn_curve_load(gearhorn_curve_t *keys, const char *secret_key_file,
                    const char *server_key_file, char *err, size_t errlen)
{
	if (keys == NULL || secret_key_file == NULL || server_key_file == NULL)
		return gh_err(err, errlen, "no key file given");
	return curve_client_load(keys, secret_key_file, server_key_file, err, errlen) == 0
	           ? 0
	           : GEARHORN_ERR;
}

int
curve_client_on(const gearhorn_curve_t *keys)
{
	return keys != NULL && keys->server_key[0] != '\0';
}

/* zmq_setsockopt of a Z85 key (or any string). */
static int
set_text(void *sock, int option, const char *text)
{
	return zmq_setsockopt(sock, option, text, strlen(text));
}

int
curve_client_apply(void *sock, const gearhorn_curve_t *keys, char *err, size_t errlen)
{
	if (!curve_client_on(keys))
		return 0;
	if (set_text(sock, ZMQ_CURVE_SERVERKEY, keys->server_key) != 0 ||
	    set_text(sock, ZMQ_CURVE_PUBLICKEY, keys->public_key) != 0 ||
	    set_text(sock, ZMQ_CURVE_SECRETKEY, keys->secret_key) != 0) {
		int e = errno;

		gh_err(err, errlen, "CURVE keys: %s", zmq_strerror(e));
		errno = e;
		return -1;
	}
	return 0;
}

int
curve_server_apply(void *sock, const char *secret_key, const char *domain, char *err, size_t errlen)
{
	int one = 1;

	if (zmq_setsockopt(sock, ZMQ_CURVE_SERVER, &one, sizeof(one)) != 0 ||
	    set_text(sock, ZMQ_CURVE_SECRETKEY, secret_key) != 0 ||
	    set_text(sock, ZMQ_ZAP_DOMAIN, domain) != 0) {
		int e = errno;

		gh_err(err, errlen, "CURVE server: %s", zmq_strerror(e));
		errno = e;
		return -1;
	}
	return 0;
}

/* ---- authorized public keys ---- */

struct curve_keyring {
	dict_t *keys; /* Z85 key -> its name (the file it came from) */
};

curve_keyring_t *
curve_keyring_new(void)
{
	curve_keyring_t *kr = gh_calloc(1, sizeof(*kr));

	kr->keys = dict_new(free);
	return kr;
}

void
curve_keyring_destroy(curve_keyring_t **self_p)
{
	if (self_p == NULL || *self_p == NULL)
		return;
	dict_destroy(&(*self_p)->keys);
	free(*self_p);
	*self_p = NULL;
}

int
curve_keyring_add(curve_keyring_t *kr, const char *key, const char *name)
{
	if (!valid_z85(key, strlen(key)))
		return -1;
	/* The first name of a key stays. */
	if (dict_get(kr->keys, key, CURVE_KEY_LEN) == NULL)
		dict_set(kr->keys, key, CURVE_KEY_LEN, gh_strdup(name));
	return 0;
}

const char *
curve_keyring_find(const curve_keyring_t *kr, const char *key)
{
	if (kr == NULL || strlen(key) != CURVE_KEY_LEN)
		return NULL;
	return dict_get(kr->keys, key, CURVE_KEY_LEN);
}

size_t
curve_keyring_size(const curve_keyring_t *kr)
{
	return kr != NULL ? dict_size(kr->keys) : 0;
}

/* Adds the public key of the file at path, which may hold no secret key. */
static int
keyring_add_file(curve_keyring_t *kr, const char *path, char *err, size_t errlen)
{
	char pub[CURVE_KEY_LEN + 1], sec[CURVE_KEY_LEN + 1];
	int has_secret;

	if (read_key_file(path, 0, pub, sec, err, errlen) != 0)
		return -1;
	has_secret = sec[0] != '\0';
	explicit_bzero(sec, sizeof(sec));
	if (has_secret)
		return gh_err(err, errlen,
		              "%s holds a secret key; an authorized key file holds only the public "
		              "key",
		              path);
	if (pub[0] == '\0')
		return gh_err(err, errlen, "%s: no public-key line", path);
	curve_keyring_add(kr, pub, path);
	return 0;
}

/* Whether a directory entry is a key file to read: not hidden, not the
 * secret half of a pair. */
static int
keyring_wants(const char *name)
{
	size_t len = strlen(name), slen = strlen(CURVE_SECRET_SUFFIX);

	if (name[0] == '.')
		return 0;
	return len < slen || strcmp(name + len - slen, CURVE_SECRET_SUFFIX) != 0;
}

static int
keyring_add_dir(curve_keyring_t *kr, const char *path, DIR *d, char *err, size_t errlen)
{
	struct dirent *de;
	int rc = 0;

	while (rc == 0 && (de = readdir(d)) != NULL) {
		struct stat st;
		char *file;

		if (!keyring_wants(de->d_name))
			continue;
		file = gh_asprintf("%s/%s", path, de->d_name);
		if (stat(file, &st) == 0 && S_ISREG(st.st_mode))
			rc = keyring_add_file(kr, file, err, errlen);
		free(file);
	}
	return rc;
}

int
curve_keyring_load(curve_keyring_t *kr, char *const *paths, size_t n, char *err, size_t errlen)
{
	for (size_t i = 0; i < n; i++) {
		struct stat st;
		int rc;

		if (stat(paths[i], &st) != 0)
			return gh_err(err, errlen, "cannot read %s: %s", paths[i], strerror(errno));
		if (S_ISDIR(st.st_mode)) {
			DIR *d = opendir(paths[i]);

			if (d == NULL)
				return gh_err(err, errlen, "cannot read %s: %s", paths[i],
				              strerror(errno));
			rc = keyring_add_dir(kr, paths[i], d, err, errlen);
			closedir(d);
		} else {
			rc = keyring_add_file(kr, paths[i], err, errlen);
		}
		if (rc != 0)
			return -1;
	}
	return 0;
}

/* ---- the ZAP handler ---- */

typedef struct {
	char *domain;
	const curve_keyring_t *kr;
} curve_rule_t;

struct curve_auth {
	curve_rule_t *rules;
	size_t n;
};

curve_auth_t *
curve_auth_new(void)
{
	return gh_calloc(1, sizeof(curve_auth_t));
}

void
curve_auth_destroy(curve_auth_t **self_p)
{
	curve_auth_t *a;

	if (self_p == NULL || (a = *self_p) == NULL)
		return;
	for (size_t i = 0; i < a->n; i++)
		free(a->rules[i].domain);
	free(a->rules);
	free(a);
	*self_p = NULL;
}

void
curve_auth_allow(curve_auth_t *a, const char *domain, const curve_keyring_t *kr)
{
	a->rules = gh_realloc(a->rules, (a->n + 1) * sizeof(*a->rules));
	a->rules[a->n].domain = gh_strdup(domain);
	a->rules[a->n].kr = kr;
	a->n++;
}

const char *
curve_auth_check(const curve_auth_t *a, const char *domain, const char *key)
{
	for (size_t i = 0; i < a->n; i++) {
		const char *name;

		if (strcmp(a->rules[i].domain, domain) == 0 &&
		    (name = curve_keyring_find(a->rules[i].kr, key)) != NULL)
			return name;
	}
	return NULL;
}

/* Decides a well-formed ZAP request f[0..n): returns the status code and
 * sets *text; key receives the client's Z85 key for a CURVE request. */
static const char *
zap_decide(const curve_auth_t *a, const gh_frame_t *f, size_t n, char *key, const char **text)
{
	char domain[256], addr[64], esc[320];
	const char *name;

	if (n < 7 || !gh_frame_is(f[5], "CURVE") || f[6].size != CURVE_BIN_LEN) {
		*text = "CURVE only";
		log_notice("ZAP: refused a %s handshake",
		           log_escape(f[5].data, f[5].size, esc, 64));
		return "400";
	}
	zmq_z85_encode(key, (const uint8_t *)f[6].data, CURVE_BIN_LEN);
	log_escape(f[2].data, f[2].size, domain, sizeof(domain));
	log_escape(f[3].data, f[3].size, addr, sizeof(addr));
	if ((name = curve_auth_check(a, domain, key)) == NULL) {
		*text = "key not authorized";
		log_notice("ZAP: %s refused key %s from %s", domain, key, addr);
		return "400";
	}
	*text = "OK";
	log_debug("ZAP: %s took key %s (%s) from %s", domain, key,
	          log_escape(name, strlen(name), esc, sizeof(esc)), addr);
	return "200";
}

int
curve_zap_serve(const curve_auth_t *a, void *rep)
{
	char key[CURVE_KEY_LEN + 1] = "";
	const char *code, *text = "bad ZAP request";
	gh_frame_t f[WIRE_MAX_FRAMES], reply[6];
	wire_msg_t m;
	size_t n;

	if (wire_recv(rep, &m, CURVE_ZAP_MAX, ZMQ_DONTWAIT) != 0)
		return -1;
	n = wire_frames(&m, 0, f, GH_ARRAY_LEN(f));
	if (m.oversized || m.truncated || n < 6 || !gh_frame_is(f[0], "1.0"))
		code = "500";
	else
		code = zap_decide(a, f, n, key, &text);
	/* A REP socket must answer even a bad request to take the next one. */
	reply[0] = gh_frame_str("1.0");
	reply[1] = n >= 2 ? f[1] : gh_frame_str("");
	reply[2] = gh_frame_str(code);
	reply[3] = gh_frame_str(text);
	reply[4] = gh_frame_str(code[0] == '2' ? key : "");
	reply[5] = gh_frame_str("");
	if (wire_send(rep, NULL, 0, reply, GH_ARRAY_LEN(reply), ZMQ_DONTWAIT) != 0)
		log_warn("ZAP: cannot answer: %s", zmq_strerror(errno));
	wire_msg_close(&m);
	return 0;
}
