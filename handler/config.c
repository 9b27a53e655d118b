/*
 * config.c: the HOOKLINE_* settings of one request (hookline(8), ENVIRONMENT).
 *
 * Each variable is looked up among the request's parameters first (Apache
 * SetEnv, .htaccess), then in the process environment.  The two secret
 * variables go together: if the request names either, the process
 * environment's secret is not consulted, so a location's own secret never
 * mixes with a process-wide secret file.
 *
 * Parsing, reading the secret file and keying the HMACs happen only when
 * the looked-up strings (or the secret file) changed since the previous
 * request; otherwise the cached result is handed back.  Nothing of one
 * request's parameters survives into the next except through this
 * comparison.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "hookline.h"

extern char **environ;

enum var {
	V_SECRET,
	V_SECRET_FILE,
	V_LOG,
	V_PLUGIN,
	V_PLUGIN_ARG,
	V_MAX_BODY,
	V_SYNC,
	V_ALLOW_UNSIGNED,
	V_READ_TIMEOUT,
	V_SCHEME,
	V_TOLERANCE,
	V__MAX
};

static const char *const var_names[V__MAX] = {
    [V_SECRET] = "HOOKLINE_SECRET",
    [V_SECRET_FILE] = "HOOKLINE_SECRET_FILE",
    [V_LOG] = "HOOKLINE_LOG",
    [V_PLUGIN] = "HOOKLINE_PLUGIN",
    [V_PLUGIN_ARG] = "HOOKLINE_PLUGIN_ARG",
    [V_MAX_BODY] = "HOOKLINE_MAX_BODY",
    [V_SYNC] = "HOOKLINE_SYNC",
    [V_ALLOW_UNSIGNED] = "HOOKLINE_ALLOW_UNSIGNED",
    [V_READ_TIMEOUT] = "HOOKLINE_READ_TIMEOUT",
    [V_SCHEME] = "HOOKLINE_SCHEME",
    [V_TOLERANCE] = "HOOKLINE_TOLERANCE",
};

#define SECRET_FILE_MAX 4096
#define MAX_BODY_DEFAULT (1024 * 1024)
/* A record holds the body and, when it has CR, LF or a BOM, its base64
 * copy too (record.c): 768 MiB keeps the longest record under the
 * 0x7ffff000 bytes that one write(2) moves on Linux, and a record is one
 * write. */
#define MAX_BODY_LIMIT (768UL * 1024 * 1024)
#define READ_TIMEOUT_DEFAULT 30 /* seconds */
#define READ_TIMEOUT_LIMIT 3600
#define TOLERANCE_DEFAULT 300 /* seconds, as Standard Webhooks and Stripe */
#define TOLERANCE_LIMIT 86400

/*
 * The secrets (one, or several for rotation) and their HMAC keys.  The
 * secrets' text is one owned buffer; each key's text points into it.
 */
struct hl_keys {
	unsigned char *buf; /* owned, wiped on free; NULL: unsigned */
	size_t buf_len;
	int n;
	struct hl_key key[HL_KEYS_MAX];
};

/* One parsed configuration and the strings it was parsed from. */
struct entry {
	char *raw[V__MAX]; /* owned; NULL when unset */
	struct stat secret_st; /* of the secret file when it was read */
	struct hl_keys keys;
	struct hl_config cfg; /* points into this entry */
};

/*
 * The configurations of the last few distinct requests, most recent
 * first: a pool of FastCGI processes serving several locations (each with
 * its own SetEnv) switches between them without parsing again.
 */
#define CACHE_SLOTS 4

struct hl_config_cache {
	struct entry *slot[CACHE_SLOTS]; /* NULL where unused */
	char **file; /* hookline.conf's lines (conffile.c), or NULL */
	struct hl_why file_why; /* why hookline.conf is unusable, or "" */
	int told; /* the error log heard that request settings are ignored */
};

static void
entry_free(struct entry *e)
{
	if (e == NULL)
		return;
	/* The raw HOOKLINE_SECRET is the secret too: wipe it like the copy. */
	if (e->raw[V_SECRET] != NULL)
		OPENSSL_cleanse(e->raw[V_SECRET], strlen(e->raw[V_SECRET]));
	for (int i = 0; i < V__MAX; i++)
		free(e->raw[i]);
	if (e->keys.buf != NULL) {
		OPENSSL_cleanse(e->keys.buf, e->keys.buf_len);
		free(e->keys.buf);
	}
	for (int k = 0; k < e->keys.n; k++) {
		struct hl_key *key = &e->keys.key[k];

		if (key->mac != NULL && key->mac != key->text) {
			OPENSSL_cleanse(key->mac, key->mac_len);
			free(key->mac);
		}
		for (int i = 0; i < HL_ALG_COUNT; i++)
			EVP_MAC_CTX_free(key->hmac[i]);
	}
	free(e);
}

/* An empty cache. Returns NULL when out of memory. */
struct hl_config_cache *
config_cache_new(void)
{
	return calloc(1, sizeof(struct hl_config_cache));
}

/* Frees the cache and wipes the secret it holds; NULL does nothing. */
void
config_cache_free(struct hl_config_cache *c)
{
	if (c == NULL)
		return;
	for (int i = 0; i < CACHE_SLOTS; i++)
		entry_free(c->slot[i]);
	conffile_free(c->file);
	free(c);
}

/*
 * Parses a byte count: decimal digits with an optional k (KiB) or M (MiB)
 * suffix, from 1 byte to MAX_BODY_LIMIT.  Returns 0 and sets *out, or -1.
 */
int
config_parse_size(const char *s, size_t *out)
{
	unsigned long long n, mul = 1;
	char *end;

	if (s[0] < '0' || s[0] > '9')
		return -1;
	errno = 0;
	n = strtoull(s, &end, 10);
	if (errno != 0)
		return -1;
	if (*end == 'k' || *end == 'K')
		mul = 1024, end++;
	else if (*end == 'M')
		mul = 1024 * 1024, end++;
	if (*end != '\0' || n == 0 || n > MAX_BODY_LIMIT / mul)
		return -1;
	*out = (size_t)(n * mul);
	return 0;
}

/* Where this request's settings come from (hookline(8), ENVIRONMENT). */
enum layer {
	LAYER_PROCESS, /* the process: its environment or hookline.conf */
	LAYER_REQUEST, /* the process sets nothing: the request decides */
};

/*
 * Fills raw[] from list, "NAME=value" strings (request parameters or
 * hookline.conf's lines): the HOOKLINE_* names among them, the first of
 * duplicates winning as in getenv, an empty value counting as unset.
 * Returns the index of the first HOOKLINE_* name that is no setting, or
 * -1.
 */
static int
scan(char **list, const char *raw[V__MAX])
{
	unsigned seen = 0;
	int i, unknown = -1;
	size_t n;

	for (char **p = list; p != NULL && *p != NULL; p++) {
		/* Two bytes first: HTTP_* and the rest are passed at once. */
		if ((*p)[0] != 'H' || (*p)[1] != 'O' ||
		    strncmp(*p, "HOOKLINE_", 9) != 0)
			continue;
		for (i = 0; i < V__MAX; i++) {
			n = strlen(var_names[i]);
			if (strncmp(*p, var_names[i], n) == 0 &&
			    (*p)[n] == '=') {
				if (!(seen & 1U << i) && (*p)[n + 1] != '\0')
					raw[i] = *p + n + 1;
				seen |= 1U << i;
				break;
			}
		}
		if (i == V__MAX && unknown == -1)
			unknown = (int)(p - list);
	}
	return unknown;
}

/*
 * Fills raw[] with borrowed pointers to this request's strings from
 * exactly one layer: the process's when it sets any HOOKLINE_* variable
 * (in its environment, or in a CGI program's hookline.conf), the
 * request's parameters otherwise.  What the administrator set for the
 * process is final: an .htaccess that routes to a shared process can
 * neither change a setting nor pair its own secret with the process's
 * log.  In CGI mode the parameters are the process environment, so the
 * two layers are one; hookline.conf, when there is one, replaces both.
 * *ignored is set when HOOKLINE_* values of the request were passed over.
 */
static enum layer
resolve(const struct hl_config_cache *c, const struct hl_io *io,
    const char *raw[V__MAX], int *ignored)
{
	enum layer layer = LAYER_REQUEST;
	const char *none[V__MAX] = {NULL};
	char **over;

	memcpy(raw, none, sizeof(none));
	*ignored = 0;
	if (io->params == environ && c->file != NULL) {
		scan(c->file, raw);
		over = environ;
	} else {
		/* One pass over the environment, not a getenv() per name. */
		scan(environ, raw);
		for (int i = 0; i < V__MAX; i++)
			if (raw[i] != NULL)
				layer = LAYER_PROCESS;
		if (io->params == environ)
			return LAYER_PROCESS;
		if (layer == LAYER_REQUEST) {
			scan(io->params, raw);
			return layer;
		}
		over = io->params;
	}
	/* What was passed over is told once per process: look only until. */
	if (!c->told) {
		scan(over, none);
		for (int i = 0; i < V__MAX; i++)
			*ignored |= none[i] != NULL;
	}
	return LAYER_PROCESS;
}

/*
 * CGI mode: reads the settings file at path (conffile.c).  When it exists
 * it alone decides for this process; when it is unusable, or names a
 * HOOKLINE_* variable that is no setting, every request gets 500 with the
 * reason.  Returns 1 when the file is in use, 0 when there is none, -1
 * when it is unusable.
 */
int
config_cache_use_file(struct hl_config_cache *c, const char *path)
{
	const char *raw[V__MAX] = {NULL};
	int rc, bad;

	rc = conffile_read(path, &c->file, &c->file_why);
	if (rc == 1 && (bad = scan(c->file, raw)) != -1) {
		why_set(&c->file_why,
		    "%s: %.*s is not a setting (hookline(8) lists them)", path,
		    (int)strcspn(c->file[bad], "="), c->file[bad]);
		return -1;
	}
	return rc;
}

/* Whole seconds, 1 to max.  Returns 0 and sets *out, or -1. */
static int
parse_seconds(const char *s, unsigned long max, unsigned *out)
{
	unsigned long n;
	char *end;

	if (s[0] < '0' || s[0] > '9')
		return -1;
	errno = 0;
	n = strtoul(s, &end, 10);
	if (errno != 0 || *end != '\0' || n == 0 || n > max)
		return -1;
	*out = (unsigned)n;
	return 0;
}

static int
same_file(const struct stat *a, const struct stat *b)
{
	return a->st_dev == b->st_dev && a->st_ino == b->st_ino &&
	    a->st_size == b->st_size && a->st_mode == b->st_mode &&
	    a->st_mtim.tv_sec == b->st_mtim.tv_sec &&
	    a->st_mtim.tv_nsec == b->st_mtim.tv_nsec &&
	    a->st_ctim.tv_sec == b->st_ctim.tv_sec &&
	    a->st_ctim.tv_nsec == b->st_ctim.tv_nsec;
}

static int
same_raw(const struct entry *e, const char *raw[V__MAX])
{
	for (int i = 0; i < V__MAX; i++) {
		if ((e->raw[i] == NULL) != (raw[i] == NULL))
			return 0;
		if (raw[i] != NULL && strcmp(e->raw[i], raw[i]) != 0)
			return 0;
	}
	return 1;
}

/*
 * Opens the secret file and checks it is one: a regular file (a FIFO put
 * there must not hang the worker, hence O_NONBLOCK), that others may not
 * read (the secret would be one "cat" away for every local user; group
 * read is how the web server's group is let in), and not too large.
 * Returns the descriptor with *st filled, or -1 with why set.
 */
static int
secret_open(const char *path, struct stat *st, struct hl_why *why)
{
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK)) ==
	    -1) {
		why_set(why, "HOOKLINE_SECRET_FILE: cannot open %s: %s", path,
		    strerror(errno));
		return -1;
	}
	if (fstat(fd, st) == -1 || !S_ISREG(st->st_mode))
		why_set(why, "HOOKLINE_SECRET_FILE: %s is not a regular file",
		    path);
	else if (st->st_mode & (S_IROTH | S_IWOTH))
		why_set(why,
		    "HOOKLINE_SECRET_FILE: %s is accessible by others (mode %04o); run chmod o-rw on it",
		    path, (unsigned)(st->st_mode & 07777));
	else if (st->st_size > SECRET_FILE_MAX)
		why_set(why, "HOOKLINE_SECRET_FILE: %s is larger than %d bytes",
		    path, SECRET_FILE_MAX);
	else
		return fd;
	close(fd);
	return -1;
}

/*
 * Reads fd into buf (SECRET_FILE_MAX + 1 bytes).  Returns the length, or
 * -1 with why set.
 */
static ssize_t
secret_slurp(int fd, unsigned char *buf, const char *path, struct hl_why *why)
{
	size_t len = 0;
	ssize_t n;

	while ((n = read(fd, buf + len, SECRET_FILE_MAX + 1 - len)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			why_set(why, "HOOKLINE_SECRET_FILE: cannot read %s: %s",
			    path, strerror(errno));
			return -1;
		}
		if ((len += (size_t)n) > SECRET_FILE_MAX) {
			why_set(why,
			    "HOOKLINE_SECRET_FILE: %s is larger than %d bytes",
			    path, SECRET_FILE_MAX);
			return -1;
		}
	}
	return (ssize_t)len;
}

/*
 * The next secret of a secret file's text, from *p up to end: one secret
 * a line (several while one is being rotated out), an end of line being
 * "\n" or "\r\n"; empty lines are no secret.  Returns it, with its length
 * in *len, and moves *p past its line; NULL when no secret is left.
 * hookline-sign reads the file by the same rule.
 */
unsigned char *
config_secret_next(unsigned char **p, unsigned char *end, size_t *len)
{
	unsigned char *s, *nl;

	while (*p < end) {
		s = *p;
		if ((nl = memchr(s, '\n', (size_t)(end - s))) == NULL)
			nl = end;
		*p = nl < end ? nl + 1 : nl;
		*len = (size_t)(nl - s);
		if (*len > 0 && s[*len - 1] == '\r')
			(*len)--;
		if (*len > 0)
			return s;
	}
	return NULL;
}

/*
 * Splits the secret file's text into e's keys (config_secret_next()).
 * Returns HL_OK or why.
 */
static enum hl_err
split_secrets(struct entry *e, const char *path, struct hl_why *why)
{
	unsigned char *p = e->keys.buf, *end = p + e->keys.buf_len, *s;
	struct hl_key *k;
	size_t len;

	while ((s = config_secret_next(&p, end, &len)) != NULL) {
		if (e->keys.n == HL_KEYS_MAX) {
			why_set(why,
			    "HOOKLINE_SECRET_FILE: %s holds more than %d secrets",
			    path, HL_KEYS_MAX);
			return HL_ECONFIG;
		}
		k = &e->keys.key[e->keys.n++];
		k->text = s;
		k->text_len = len;
	}
	if (e->keys.n == 0) {
		why_set(why, "HOOKLINE_SECRET_FILE: %s is empty", path);
		return HL_ECONFIG;
	}
	return HL_OK;
}

/* Reads the secret file at path into e's keys.  Returns HL_OK or why. */
static enum hl_err
read_secret_file(struct entry *e, const char *path, struct hl_why *why)
{
	unsigned char *buf;
	ssize_t len;
	int fd;

	if ((fd = secret_open(path, &e->secret_st, why)) == -1)
		return HL_ECONFIG;
	if ((buf = malloc(SECRET_FILE_MAX + 1)) == NULL) {
		close(fd);
		why_set(why, "out of memory");
		return HL_EINTERNAL;
	}
	len = secret_slurp(fd, buf, path, why);
	close(fd);
	if (len == -1) {
		OPENSSL_cleanse(buf, SECRET_FILE_MAX + 1);
		free(buf);
		return HL_ECONFIG;
	}
	e->keys.buf = buf;
	e->keys.buf_len = (size_t)len;
	return split_secrets(e, path, why);
}

/* The secret: HOOKLINE_SECRET, HOOKLINE_SECRET_FILE, or none allowed. */
static enum hl_err
build_secret(struct entry *e, const char *raw[V__MAX], struct hl_why *why)
{
	int unsigned_ok = 0;

	if (raw[V_ALLOW_UNSIGNED] != NULL) {
		if (strcmp(raw[V_ALLOW_UNSIGNED], "1") == 0)
			unsigned_ok = 1;
		else if (strcmp(raw[V_ALLOW_UNSIGNED], "0") != 0) {
			why_set(why,
			    "HOOKLINE_ALLOW_UNSIGNED must be 0 or 1, not \"%.40s\"",
			    raw[V_ALLOW_UNSIGNED]);
			return HL_ECONFIG;
		}
	}
	if (raw[V_SECRET] != NULL && raw[V_SECRET_FILE] != NULL) {
		why_set(why,
		    "HOOKLINE_SECRET and HOOKLINE_SECRET_FILE are both set; set only one");
		return HL_ECONFIG;
	}
	if (raw[V_SECRET_FILE] != NULL)
		return read_secret_file(e, raw[V_SECRET_FILE], why);
	if (raw[V_SECRET] != NULL) {
		/* Exactly as typed: one secret, whatever it holds. */
		e->keys.buf_len = strlen(raw[V_SECRET]);
		if ((e->keys.buf = malloc(e->keys.buf_len)) == NULL) {
			why_set(why, "out of memory");
			return HL_EINTERNAL;
		}
		memcpy(e->keys.buf, raw[V_SECRET], e->keys.buf_len);
		e->keys.n = 1;
		e->keys.key[0].text = e->keys.buf;
		e->keys.key[0].text_len = e->keys.buf_len;
		return HL_OK;
	}
	if (unsigned_ok)
		return HL_OK;
	why_set(why,
	    "no secret: set HOOKLINE_SECRET or HOOKLINE_SECRET_FILE (or HOOKLINE_ALLOW_UNSIGNED=1 to accept unsigned events)");
	return HL_ECONFIG;
}

/* The limits and the durability: body size, read timeout, sync. */
static enum hl_err
build_limits(struct hl_config *c, const char *raw[V__MAX], struct hl_why *why)
{
	static const char *const syncs[] = {
	    [HL_SYNC_ALWAYS] = "always",
	    [HL_SYNC_GROUP] = "group",
	    [HL_SYNC_EACH] = "each",
	    [HL_SYNC_NONE] = "none",
	};
	int i;

	c->max_body = MAX_BODY_DEFAULT;
	if (raw[V_MAX_BODY] != NULL &&
	    config_parse_size(raw[V_MAX_BODY], &c->max_body) == -1) {
		why_set(why,
		    "HOOKLINE_MAX_BODY must be a byte count from 1 to 768M (suffix k or M allowed), not \"%.40s\"",
		    raw[V_MAX_BODY]);
		return HL_ECONFIG;
	}
	c->read_timeout = READ_TIMEOUT_DEFAULT;
	if (raw[V_READ_TIMEOUT] != NULL &&
	    parse_seconds(raw[V_READ_TIMEOUT], READ_TIMEOUT_LIMIT,
	        &c->read_timeout) == -1) {
		why_set(why,
		    "HOOKLINE_READ_TIMEOUT must be whole seconds from 1 to %d, not \"%.40s\"",
		    READ_TIMEOUT_LIMIT, raw[V_READ_TIMEOUT]);
		return HL_ECONFIG;
	}
	c->sync = HL_SYNC_ALWAYS;
	if (raw[V_SYNC] == NULL)
		return HL_OK;
	for (i = 0; i < (int)(sizeof(syncs) / sizeof(syncs[0])); i++)
		if (strcmp(raw[V_SYNC], syncs[i]) == 0) {
			c->sync = (enum hl_sync)i;
			return HL_OK;
		}
	why_set(why,
	    "HOOKLINE_SYNC must be always, group, each or none, not \"%.40s\"",
	    raw[V_SYNC]);
	return HL_ECONFIG;
}

/*
 * The signature scheme, its replay window, and each secret's HMAC key:
 * Standard Webhooks keys with the base64 after "whsec_", every other
 * scheme with the secret's text as typed.
 */
static enum hl_err
build_scheme(struct entry *e, const char *raw[V__MAX], struct hl_why *why)
{
	struct hl_config *c = &e->cfg;
	struct hl_key *k;
	const char *t;
	size_t n;
	ssize_t got;

	c->scheme = HL_SCHEME_HUB;
	if (raw[V_SCHEME] != NULL && sig_scheme(raw[V_SCHEME], &c->scheme)) {
		why_set(why,
		    "HOOKLINE_SCHEME must be hub (or github), standard, stripe, shopify or gitlab, not \"%.40s\"",
		    raw[V_SCHEME]);
		return HL_ECONFIG;
	}
	c->tolerance = TOLERANCE_DEFAULT;
	if (raw[V_TOLERANCE] != NULL &&
	    parse_seconds(raw[V_TOLERANCE], TOLERANCE_LIMIT, &c->tolerance) ==
	        -1) {
		why_set(why,
		    "HOOKLINE_TOLERANCE must be whole seconds from 1 to %d, not \"%.40s\"",
		    TOLERANCE_LIMIT, raw[V_TOLERANCE]);
		return HL_ECONFIG;
	}
	for (int i = 0; i < e->keys.n; i++) {
		k = &e->keys.key[i];
		k->mac = (unsigned char *)k->text;
		k->mac_len = k->text_len;
		if (c->scheme != HL_SCHEME_STANDARD)
			continue;
		t = (const char *)k->text, n = k->text_len;
		if (n > 6 && memcmp(t, "whsec_", 6) == 0)
			t += 6, n -= 6;
		if ((k->mac = malloc(n)) == NULL ||
		    (got = sig_b64_decode(t, n, k->mac, n)) <= 0) {
			free(k->mac);
			k->mac = NULL;
			why_set(why,
			    "secret %d is not whsec_ and base64, as HOOKLINE_SCHEME=standard wants",
			    i + 1);
			return HL_ECONFIG;
		}
		k->mac_len = (size_t)got;
	}
	return HL_OK;
}

/* Where events go: the log, the plugin, at least one of them. */
static enum hl_err
build_sinks(struct entry *e, struct hl_why *why)
{
	struct hl_config *c = &e->cfg;

	c->log = e->raw[V_LOG];
	if (c->log != NULL && c->log[0] != '/') {
		why_set(why,
		    "HOOKLINE_LOG must be an absolute path, not \"%.200s\"",
		    c->log);
		return HL_ECONFIG;
	}
	c->plugin = e->raw[V_PLUGIN];
	c->plugin_arg =
	    e->raw[V_PLUGIN_ARG] != NULL ? e->raw[V_PLUGIN_ARG] : "";
	if (c->log == NULL && c->plugin == NULL) {
		why_set(why,
		    "nowhere to store events: set HOOKLINE_LOG or HOOKLINE_PLUGIN");
		return HL_ECONFIG;
	}
	return HL_OK;
}

/* Parses raw[] into a new entry, step by step. */
static enum hl_err
entry_build(struct entry **out, const char *raw[V__MAX], struct hl_why *why)
{
	struct entry *e;
	enum hl_err rc;

	if ((e = calloc(1, sizeof(*e))) == NULL)
		goto nomem;
	for (int i = 0; i < V__MAX; i++)
		if (raw[i] != NULL && (e->raw[i] = strdup(raw[i])) == NULL)
			goto nomem;
	if ((rc = build_secret(e, raw, why)) != HL_OK ||
	    (rc = build_limits(&e->cfg, raw, why)) != HL_OK ||
	    (rc = build_scheme(e, raw, why)) != HL_OK ||
	    (rc = build_sinks(e, why)) != HL_OK) {
		entry_free(e);
		return rc;
	}
	e->cfg.nkeys = e->keys.n;
	e->cfg.secret = e->keys.n > 0 ? e->keys.key[0].text : NULL;
	e->cfg.secret_len = e->keys.n > 0 ? e->keys.key[0].text_len : 0;
	e->cfg.keys = &e->keys;
	*out = e;
	return HL_OK;
nomem:
	entry_free(e);
	why_set(why, "out of memory reading the configuration");
	return HL_EINTERNAL;
}

/* Secret i (0 = the first) of cfg; i < cfg->nkeys.  Owned by the cache. */
const struct hl_key *
config_key(const struct hl_config *cfg, int i)
{
	return &cfg->keys->key[i];
}

/*
 * The HMAC context for alg keyed with cfg's secret i, or NULL when OpenSSL
 * fails.  Keyed on first use: a CGI process, which verifies one header,
 * sets up one context, not several.  Owned by the cache.
 */
EVP_MAC_CTX *
config_hmac(const struct hl_config *cfg, int i, enum hl_alg alg)
{
	struct hl_key *k = &cfg->keys->key[i];

	if (alg == HL_ALG_NONE)
		return NULL;
	if (k->hmac[alg] == NULL &&
	    sig_hmac_key(&k->hmac[alg], alg, k->mac, k->mac_len) == -1)
		return NULL;
	return k->hmac[alg];
}

/*
 * Looks up and parses the configuration of req.  On HL_OK req->cfg
 * points into the cache and stays valid until the next call.  Otherwise
 * req->why says which variable is wrong; it never holds the secret.
 */
enum hl_err
config_get(struct hl_config_cache *cache, struct hl_request *req)
{
	struct hl_why *why = &req->why;
	const char *raw[V__MAX];
	struct entry *e;
	struct stat st;
	enum hl_err rc;
	int i, ignored;

	if (cache->file_why.text[0] != '\0') {
		*why = cache->file_why;
		return HL_ECONFIG;
	}
	if (resolve(cache, req->io, raw, &ignored) == LAYER_REQUEST &&
	    (raw[V_PLUGIN] != NULL || raw[V_PLUGIN_ARG] != NULL)) {
		/* A plugin is code and a command: only the administrator
		 * who started the process chooses them. */
		why_set(why,
		    "%s is set by the request, but a FastCGI process takes its plugin only from its own environment (hookline(8))",
		    raw[V_PLUGIN] != NULL ? "HOOKLINE_PLUGIN"
		                          : "HOOKLINE_PLUGIN_ARG");
		return HL_ECONFIG;
	}
	/* Once per process: a pinned pool is routed to by many requests. */
	if (ignored && !cache->told) {
		cache->told = 1;
		io_log(req->io,
		    "ignoring HOOKLINE_* request parameters (SetEnv): %s sets hookline's configuration, which a request cannot change",
		    cache->file != NULL ? "hookline.conf"
		                        : "this process's environment");
	}
	for (i = 0; i < CACHE_SLOTS && cache->slot[i] != NULL; i++) {
		e = cache->slot[i];
		if (!same_raw(e, raw))
			continue;
		/* A changed secret file is read again: secrets get rotated. */
		if (raw[V_SECRET_FILE] != NULL &&
		    (stat(raw[V_SECRET_FILE], &st) == -1 ||
		        !same_file(&st, &e->secret_st)))
			break;
		memmove(&cache->slot[1], &cache->slot[0], i * sizeof(e));
		cache->slot[0] = e;
		req->cfg = &e->cfg;
		return HL_OK;
	}
	if ((rc = entry_build(&e, raw, why)) != HL_OK)
		return rc;
	/* Replace the stale entry just found, or else the oldest. */
	if (i == CACHE_SLOTS || cache->slot[i] == NULL)
		i = CACHE_SLOTS - 1;
	entry_free(cache->slot[i]);
	memmove(&cache->slot[1], &cache->slot[0], i * sizeof(e));
	cache->slot[0] = e;
	req->cfg = &e->cfg;
	return HL_OK;
}
