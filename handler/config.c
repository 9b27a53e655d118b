/*
 * config.c: the HOOKLINE_* settings of one request (DESIGN.md section 2).
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
};

#define SECRET_FILE_MAX 4096
#define MAX_BODY_DEFAULT (1024 * 1024)
#define MAX_BODY_LIMIT (1024UL * 1024 * 1024)
#define READ_TIMEOUT_DEFAULT 30 /* seconds */
#define READ_TIMEOUT_LIMIT 3600

/* One parsed configuration and the strings it was parsed from. */
struct entry {
	char *raw[V__MAX]; /* owned; NULL when unset */
	struct stat secret_st; /* of the secret file when it was read */
	unsigned char *secret; /* owned, wiped on free */
	EVP_MAC_CTX *hmac[3]; /* by enum hl_alg, each keyed on first use */
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
	char file_why[HL_WHY_MAX]; /* why hookline.conf is unusable, or "" */
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
	if (e->secret != NULL) {
		OPENSSL_cleanse(e->secret, e->cfg.secret_len);
		free(e->secret);
	}
	for (int i = 0; i < 3; i++)
		EVP_MAC_CTX_free(e->hmac[i]);
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
 * suffix, from 1 byte to 1 GiB.  Returns 0 and sets *out, or -1.
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
		if (strncmp(*p, "HOOKLINE_", 9) != 0)
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
	const char *env;
	enum layer layer = LAYER_REQUEST;
	const char *none[V__MAX] = {NULL};

	memcpy(raw, none, sizeof(none));
	*ignored = 0;
	if (io->params == environ && c->file != NULL) {
		scan(c->file, raw);
		scan(environ, none);
		for (int i = 0; i < V__MAX; i++)
			*ignored |= none[i] != NULL;
		return LAYER_PROCESS;
	}
	for (int i = 0; i < V__MAX; i++) {
		env = getenv(var_names[i]);
		raw[i] = env != NULL && *env != '\0' ? env : NULL;
		if (raw[i] != NULL)
			layer = LAYER_PROCESS;
	}
	if (io->params == environ)
		return LAYER_PROCESS;
	if (layer == LAYER_PROCESS) {
		scan(io->params, none);
		for (int i = 0; i < V__MAX; i++)
			*ignored |= none[i] != NULL;
		return layer;
	}
	scan(io->params, raw);
	return layer;
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

	rc = conffile_read(path, &c->file, c->file_why, sizeof(c->file_why));
	if (rc == 1 && (bad = scan(c->file, raw)) != -1) {
		snprintf(c->file_why, sizeof(c->file_why),
		    "%s: %.*s is not a setting (hookline(8) lists them)", path,
		    (int)strcspn(c->file[bad], "="), c->file[bad]);
		return -1;
	}
	return rc;
}

/* Whole seconds, 1 to READ_TIMEOUT_LIMIT.  Returns 0 and sets *out, or -1. */
static int
parse_seconds(const char *s, unsigned *out)
{
	unsigned long n;
	char *end;

	if (s[0] < '0' || s[0] > '9')
		return -1;
	errno = 0;
	n = strtoul(s, &end, 10);
	if (errno != 0 || *end != '\0' || n == 0 || n > READ_TIMEOUT_LIMIT)
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
 * Reads the secret file into e->secret.  Refuses a file that others may
 * read: the secret would be one "cat" away for every local user.  Group
 * read is fine, that is how the web server's group is let in.
 */
static enum hl_err
read_secret_file(struct entry *e, const char *path, char *why, size_t wl)
{
	enum hl_err rc = HL_ECONFIG;
	ssize_t n;
	size_t len = 0;
	int fd;

	/* O_NONBLOCK: a FIFO put there must not hang the worker in open(). */
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK)) ==
	    -1) {
		snprintf(why, wl, "HOOKLINE_SECRET_FILE: cannot open %s: %s",
		    path, strerror(errno));
		return HL_ECONFIG;
	}
	if (fstat(fd, &e->secret_st) == -1 || !S_ISREG(e->secret_st.st_mode)) {
		snprintf(why, wl,
		    "HOOKLINE_SECRET_FILE: %s is not a regular "
		    "file",
		    path);
		goto fail;
	}
	if (e->secret_st.st_mode & (S_IROTH | S_IWOTH)) {
		snprintf(why, wl,
		    "HOOKLINE_SECRET_FILE: %s is accessible by "
		    "others (mode %04o); run chmod o-rw on it",
		    path, (unsigned)(e->secret_st.st_mode & 07777));
		goto fail;
	}
	if (e->secret_st.st_size > SECRET_FILE_MAX) {
		snprintf(why, wl,
		    "HOOKLINE_SECRET_FILE: %s is larger than %d "
		    "bytes",
		    path, SECRET_FILE_MAX);
		goto fail;
	}
	if ((e->secret = malloc(SECRET_FILE_MAX + 1)) == NULL) {
		rc = HL_EINTERNAL;
		snprintf(why, wl, "out of memory");
		goto fail;
	}
	while (
	    (n = read(fd, e->secret + len, SECRET_FILE_MAX + 1 - len)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			snprintf(why, wl,
			    "HOOKLINE_SECRET_FILE: cannot read "
			    "%s: %s",
			    path, strerror(errno));
			goto fail;
		}
		len += (size_t)n;
		if (len > SECRET_FILE_MAX) {
			snprintf(why, wl,
			    "HOOKLINE_SECRET_FILE: %s is larger "
			    "than %d bytes",
			    path, SECRET_FILE_MAX);
			goto fail;
		}
	}
	/* One trailing newline is what every editor adds: not the secret. */
	if (len > 0 && e->secret[len - 1] == '\n')
		len--;
	if (len > 0 && e->secret[len - 1] == '\r')
		len--;
	if (len == 0) {
		snprintf(why, wl, "HOOKLINE_SECRET_FILE: %s is empty", path);
		goto fail;
	}
	e->cfg.secret_len = len;
	rc = HL_OK;
fail:
	if (rc != HL_OK && e->secret != NULL) {
		OPENSSL_cleanse(e->secret, SECRET_FILE_MAX + 1);
		free(e->secret);
		e->secret = NULL;
	}
	close(fd);
	return rc;
}

/* Parses raw[] into a new entry. */
static enum hl_err
entry_build(struct entry **out, const char *raw[V__MAX], char *why, size_t wl)
{
	struct entry *e;
	struct hl_config *c;
	enum hl_err rc = HL_ECONFIG;
	int unsigned_ok = 0;

	if ((e = calloc(1, sizeof(*e))) == NULL)
		goto nomem;
	c = &e->cfg;
	for (int i = 0; i < V__MAX; i++)
		if (raw[i] != NULL && (e->raw[i] = strdup(raw[i])) == NULL)
			goto nomem;

	if (raw[V_ALLOW_UNSIGNED] != NULL) {
		if (strcmp(raw[V_ALLOW_UNSIGNED], "1") == 0)
			unsigned_ok = 1;
		else if (strcmp(raw[V_ALLOW_UNSIGNED], "0") != 0) {
			snprintf(why, wl,
			    "HOOKLINE_ALLOW_UNSIGNED must be 0 "
			    "or 1, not \"%.40s\"",
			    raw[V_ALLOW_UNSIGNED]);
			goto fail;
		}
	}
	if (raw[V_SECRET] != NULL && raw[V_SECRET_FILE] != NULL) {
		snprintf(why, wl,
		    "HOOKLINE_SECRET and HOOKLINE_SECRET_FILE "
		    "are both set; set only one");
		goto fail;
	}
	if (raw[V_SECRET] != NULL) {
		c->secret_len = strlen(raw[V_SECRET]);
		if ((e->secret = malloc(c->secret_len)) == NULL)
			goto nomem;
		memcpy(e->secret, raw[V_SECRET], c->secret_len);
	} else if (raw[V_SECRET_FILE] != NULL) {
		if ((rc = read_secret_file(e, raw[V_SECRET_FILE], why, wl)) !=
		    HL_OK)
			goto fail;
		rc = HL_ECONFIG;
	} else if (!unsigned_ok) {
		snprintf(why, wl,
		    "no secret: set HOOKLINE_SECRET or "
		    "HOOKLINE_SECRET_FILE (or HOOKLINE_ALLOW_UNSIGNED=1 to "
		    "accept unsigned events)");
		goto fail;
	}
	c->secret = e->secret;

	c->max_body = MAX_BODY_DEFAULT;
	if (raw[V_MAX_BODY] != NULL &&
	    config_parse_size(raw[V_MAX_BODY], &c->max_body) == -1) {
		snprintf(why, wl,
		    "HOOKLINE_MAX_BODY must be a byte count "
		    "from 1 to 1024M (suffix k or M allowed), not \"%.40s\"",
		    raw[V_MAX_BODY]);
		goto fail;
	}

	c->sync = HL_SYNC_ALWAYS;
	if (raw[V_SYNC] != NULL) {
		if (strcmp(raw[V_SYNC], "none") == 0)
			c->sync = HL_SYNC_NONE;
		else if (strcmp(raw[V_SYNC], "group") == 0)
			c->sync = HL_SYNC_GROUP;
		else if (strcmp(raw[V_SYNC], "each") == 0)
			c->sync = HL_SYNC_EACH;
		else if (strcmp(raw[V_SYNC], "always") != 0) {
			snprintf(why, wl,
			    "HOOKLINE_SYNC must be always, group, each or "
			    "none, not \"%.40s\"",
			    raw[V_SYNC]);
			goto fail;
		}
	}

	c->read_timeout = READ_TIMEOUT_DEFAULT;
	if (raw[V_READ_TIMEOUT] != NULL &&
	    parse_seconds(raw[V_READ_TIMEOUT], &c->read_timeout) == -1) {
		snprintf(why, wl,
		    "HOOKLINE_READ_TIMEOUT must be whole seconds from 1 to %d, "
		    "not \"%.40s\"",
		    READ_TIMEOUT_LIMIT, raw[V_READ_TIMEOUT]);
		goto fail;
	}

	c->log = e->raw[V_LOG];
	if (c->log != NULL && c->log[0] != '/') {
		snprintf(why, wl,
		    "HOOKLINE_LOG must be an absolute path, not "
		    "\"%.200s\"",
		    c->log);
		goto fail;
	}
	c->plugin = e->raw[V_PLUGIN];
	c->plugin_arg =
	    e->raw[V_PLUGIN_ARG] != NULL ? e->raw[V_PLUGIN_ARG] : "";
	if (c->log == NULL && c->plugin == NULL) {
		snprintf(why, wl,
		    "nowhere to store events: set HOOKLINE_LOG "
		    "or HOOKLINE_PLUGIN");
		goto fail;
	}
	*out = e;
	return HL_OK;
nomem:
	rc = HL_EINTERNAL;
	snprintf(why, wl, "out of memory reading the configuration");
fail:
	entry_free(e);
	return rc;
}

/*
 * The HMAC context for alg keyed with cfg's secret, or NULL when there is
 * no secret or OpenSSL fails.  Keyed on first use: a CGI process, which
 * verifies one header, sets up one context, not two.  Owned by the cache.
 */
EVP_MAC_CTX *
config_hmac(const struct hl_config *cfg, enum hl_alg alg)
{
	struct entry *e = (struct entry *)((char *)(uintptr_t)cfg -
	    offsetof(struct entry, cfg));

	if (e->secret == NULL || alg == HL_ALG_NONE)
		return NULL;
	if (e->hmac[alg] == NULL &&
	    sig_hmac_key(&e->hmac[alg], alg, e->secret, cfg->secret_len) == -1)
		return NULL;
	return e->hmac[alg];
}

/*
 * Looks up and parses the configuration of the request behind io.  On
 * HL_OK *cfg points into the cache and stays valid until the next call.
 * Otherwise why (wl bytes) says which variable is wrong; it never holds
 * the secret.
 */
enum hl_err
config_get(struct hl_config_cache *cache, struct hl_io *io,
    const struct hl_config **cfg, char *why, size_t wl)
{
	static int told;
	const char *raw[V__MAX];
	struct entry *e;
	struct stat st;
	enum hl_err rc;
	int i, ignored;

	if (cache->file_why[0] != '\0') {
		snprintf(why, wl, "%s", cache->file_why);
		return HL_ECONFIG;
	}
	if (resolve(cache, io, raw, &ignored) == LAYER_REQUEST &&
	    (raw[V_PLUGIN] != NULL || raw[V_PLUGIN_ARG] != NULL)) {
		/* A plugin is code and a command: only the administrator
		 * who started the process chooses them. */
		snprintf(why, wl,
		    "%s is set by the request, but a FastCGI process takes "
		    "its plugin only from its own environment (hookline(8))",
		    raw[V_PLUGIN] != NULL ? "HOOKLINE_PLUGIN"
		                          : "HOOKLINE_PLUGIN_ARG");
		return HL_ECONFIG;
	}
	/* Once per process: a pinned pool is routed to by many requests. */
	if (ignored && !told) {
		told = 1;
		io_log(io, "ignoring HOOKLINE_* request parameters (SetEnv): "
		    "%s sets hookline's configuration, which a request "
		    "cannot change",
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
		*cfg = &e->cfg;
		return HL_OK;
	}
	if ((rc = entry_build(&e, raw, why, wl)) != HL_OK)
		return rc;
	/* Replace the stale entry just found, or else the oldest. */
	if (i == CACHE_SLOTS || cache->slot[i] == NULL)
		i = CACHE_SLOTS - 1;
	entry_free(cache->slot[i]);
	memmove(&cache->slot[1], &cache->slot[0], i * sizeof(e));
	cache->slot[0] = e;
	*cfg = &e->cfg;
	return HL_OK;
}
