/*
 * hookline-verify: verifies event logs again, offline, with the secret
 * file (hookline-verify(1)).
 *
 * Every line is taken apart the way record.c put it together: the JSON
 * (cJSON, no member twice), the exact body (the base64 "raw" when there
 * is one, else the event member's text: everything after ,"event": up to
 * the line's last '}'), which must be a JSON object as event.c wants it
 * and whose SHA-256 must be the recorded id, and the recorded signature
 * headers, handed as request parameters to the very config_get() and
 * sig_check() that accepted the event, under the recorded scheme and
 * with the clock set to the recorded timestamp.  A line that fails is
 * printed as file:line: reason; a last line without its newline is a
 * record torn by a writer that died, never acknowledged, and is reported
 * apart.  At the end, a summary and how many events each secret
 * verified, so that an operator sees when an old secret is no longer
 * used.
 *
 * The secret file is named by -s or HOOKLINE_SECRET_FILE, never a secret
 * on the command line; every other HOOKLINE_* variable is removed from
 * the environment first, so that config_get() takes the settings from the
 * parameters built here.  Exit status: 0 all verified, 1 a line failed,
 * 2 usage or I/O errors.
 */
#define _GNU_SOURCE /* memmem */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "hookline.h"

extern char **environ;

#define BOM "\xef\xbb\xbf"
#define EVENT_KEY ",\"event\":"
#define MAX_PARAMS 8

/* What one run counts; lines = all the others added up. */
struct tally {
	unsigned long lines, verified, failed, unsigned_, gitlab, torn;
	unsigned long by_key[HL_KEYS_MAX + 1]; /* [k]: verified by secret k */
	int nkeys;
	int io_error;
};

/* One run: the secret file, a configuration cache per scheme, the counts. */
struct verifier {
	char *sfile; /* owned */
	struct hl_config_cache *cache[HL_SCHEME_COUNT];
	struct tally t;
};

/* One line's record: every pointer borrowed from its tree or the line. */
struct rec {
	const char *id, *scheme, *signature, *delivery, *timestamp, *raw;
	int key; /* which secret verified it when stored; 0: null */
	const char *event; /* the event member's text in the line */
	size_t event_len;
};

/* The exact body a record stands for: owned, NUL-terminated. */
struct body {
	char *p;
	size_t len;
};

static void
usage(void)
{
	fprintf(stderr,
	    "usage: hookline-verify [-s secret-file] [file ...]\n"
	    "  verifies each line of hookline's event logs (\"-\" or none: standard input)\n"
	    "  with the secrets of the file named by -s or $HOOKLINE_SECRET_FILE\n");
}

/*
 * Removes every HOOKLINE_* variable from the environment: config_get()
 * then takes the settings from the parameters this program builds.
 */
static void
scrub_env(void)
{
	char name[256];
	size_t n;

	for (int again = 1; again;) {
		again = 0;
		for (char **e = environ; e != NULL && *e != NULL; e++) {
			if (strncmp(*e, "HOOKLINE_", 9) != 0)
				continue;
			n = strcspn(*e, "=");
			if (n >= sizeof(name))
				n = sizeof(name) - 1;
			memcpy(name, *e, n);
			name[n] = '\0';
			unsetenv(name);
			again = 1;
			break;
		}
	}
}

/* Appends "name=value" (a new string) to params; n counts them. */
static int
param_add(char **params, int *n, const char *name, const char *value)
{
	size_t a = strlen(name), b = strlen(value);

	if (*n >= MAX_PARAMS || (params[*n] = malloc(a + b + 2)) == NULL)
		return -1;
	memcpy(params[*n], name, a);
	params[*n][a] = '=';
	memcpy(params[*n] + a + 1, value, b + 1);
	params[++*n] = NULL;
	return 0;
}

static void
params_free(char **params)
{
	for (int i = 0; params[i] != NULL; i++)
		free(params[i]);
}

/* The settings a location of scheme s would have, with this secret file. */
static int
params_config(char **params, int *n, const char *sfile, enum hl_scheme s)
{
	return param_add(params, n, "HOOKLINE_SCHEME", sig_scheme_name(s)) ||
	    param_add(params, n, "HOOKLINE_SECRET_FILE", sfile) ||
	    param_add(params, n, "HOOKLINE_LOG", "/dev/null");
}

/*
 * Opens a configuration cache per scheme and reads the secret file once
 * under the hub scheme, so that an unusable file is told at once.
 * Returns 0, or -1 having said why.
 */
static int
verifier_init(struct verifier *v)
{
	char *params[MAX_PARAMS + 1] = {NULL};
	struct hl_io io = {NULL, params, 0};
	struct hl_request req = {.io = &io};
	int n = 0, rc = -1;

	for (int s = 0; s < HL_SCHEME_COUNT; s++)
		if ((v->cache[s] = config_cache_new()) == NULL) {
			fprintf(stderr, "hookline-verify: out of memory\n");
			return -1;
		}
	if (params_config(params, &n, v->sfile, HL_SCHEME_HUB) != 0)
		fprintf(stderr, "hookline-verify: out of memory\n");
	else if (config_get(v->cache[HL_SCHEME_HUB], &req) != HL_OK)
		fprintf(stderr, "hookline-verify: %s\n", req.why.text);
	else if (req.cfg->nkeys == 0)
		fprintf(stderr, "hookline-verify: no secret in %s\n", v->sfile);
	else {
		v->t.nkeys = req.cfg->nkeys;
		rc = 0;
	}
	params_free(params);
	return rc;
}

static void
verifier_free(struct verifier *v)
{
	for (int s = 0; s < HL_SCHEME_COUNT; s++)
		config_cache_free(v->cache[s]);
	free(v->sfile);
}

/* Whether an object holds a member name twice (record.c never writes so). */
static int
has_duplicates(const cJSON *obj)
{
	for (const cJSON *a = obj->child; a != NULL; a = a->next)
		for (const cJSON *b = a->next; b != NULL; b = b->next)
			if (a->string != NULL && b->string != NULL &&
			    strcmp(a->string, b->string) == 0)
				return 1;
	return 0;
}

/*
 * Member name of obj as a string, or NULL when it is absent or null.
 * Returns -1 when it is there but neither.
 */
static int
string_member(const cJSON *obj, const char *name, const char **out)
{
	const cJSON *m = cJSON_GetObjectItemCaseSensitive(obj, name);

	*out = NULL;
	if (m == NULL || cJSON_IsNull(m))
		return 0;
	if (!cJSON_IsString(m))
		return -1;
	*out = m->valuestring;
	return 0;
}

/* The record's members, from its tree.  Returns 0, or -1 with why set. */
static int
rec_members(const cJSON *root, struct rec *r, struct hl_why *why)
{
	const cJSON *k = cJSON_GetObjectItemCaseSensitive(root, "key");

	if (string_member(root, "id", &r->id) || r->id == NULL ||
	    string_member(root, "scheme", &r->scheme) || r->scheme == NULL ||
	    string_member(root, "signature", &r->signature) ||
	    string_member(root, "delivery", &r->delivery) ||
	    string_member(root, "timestamp", &r->timestamp) ||
	    string_member(root, "raw", &r->raw)) {
		why_set(why,
		    "id, scheme, signature, delivery, timestamp or raw is missing or not a string");
		return -1;
	}
	if (cJSON_IsNumber(k) && k->valuedouble >= 1 &&
	    k->valuedouble <= HL_KEYS_MAX && k->valuedouble == k->valueint)
		r->key = k->valueint;
	else if (cJSON_IsNull(k))
		r->key = 0;
	else {
		why_set(why, "key is neither a secret's number nor null");
		return -1;
	}
	return 0;
}

/*
 * Parses line (len bytes, its newline gone) into *root and r.  The event
 * member's text is what follows the first ,"event": up to the last '}':
 * the members before it are strings, numbers and null, in which that
 * sequence cannot stand.  Returns 0, or -1 with why set.
 */
static int
rec_parse(const char *line, size_t len, cJSON **root, struct rec *r,
    struct hl_why *why)
{
	const char *end = NULL, *ev;

	memset(r, 0, sizeof(*r));
	*root = cJSON_ParseWithLengthOpts(line, len, &end, 0);
	if (*root == NULL || end != line + len || !cJSON_IsObject(*root)) {
		why_set(why, "not one JSON object");
		return -1;
	}
	if (has_duplicates(*root)) {
		why_set(why, "a member name stands twice");
		return -1;
	}
	if (rec_members(*root, r, why) == -1)
		return -1;
	if ((ev = memmem(line, len, EVENT_KEY, strlen(EVENT_KEY))) == NULL ||
	    line[len - 1] != '}' || !cJSON_HasObjectItem(*root, "event")) {
		why_set(why, "no event member as hookline writes it");
		return -1;
	}
	r->event = ev + strlen(EVENT_KEY);
	r->event_len = (size_t)(line + len - 1 - r->event);
	return 0;
}

/* Whether the logged event would differ from body: CR, LF or a BOM. */
static int
needs_raw(const char *p, size_t n)
{
	return (n >= 3 && memcmp(p, BOM, 3) == 0) ||
	    memchr(p, '\n', n) != NULL || memchr(p, '\r', n) != NULL;
}

/*
 * Whether r's event text is what record.c makes of body: the byte order
 * mark dropped, CR and LF as spaces.
 */
static int
event_is_body(const struct rec *r, const struct body *b)
{
	const char *p = b->p;
	size_t n = b->len;

	if (n >= 3 && memcmp(p, BOM, 3) == 0)
		p += 3, n -= 3;
	if (n != r->event_len)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = p[i] == '\r' || p[i] == '\n' ? ' ' : p[i];

		if (c != r->event[i])
			return 0;
	}
	return 1;
}

/*
 * Rebuilds the exact body of r into b: raw when the line has it (and
 * then the event must be what record.c makes of it), else the event's
 * text (which then must need no raw).  Returns 0, or -1 with why set.
 */
static int
body_rebuild(const struct rec *r, struct body *b, struct hl_why *why)
{
	size_t n = r->raw != NULL ? strlen(r->raw) : r->event_len;
	ssize_t got;

	if ((b->p = malloc(n + 1)) == NULL) {
		why_set(why, "out of memory for a body of %zu bytes", n);
		return -1;
	}
	if (r->raw == NULL) {
		memcpy(b->p, r->event, n);
		b->p[b->len = n] = '\0';
		if (!needs_raw(b->p, b->len))
			return 0;
		why_set(why,
		    "the event holds a CR or a byte order mark, but the line has no raw");
		return -1;
	}
	if ((got = sig_b64_decode(r->raw, n, (unsigned char *)b->p, n)) < 0) {
		why_set(why, "raw is not base64");
		return -1;
	}
	b->p[b->len = (size_t)got] = '\0';
	if (!needs_raw(b->p, b->len))
		why_set(why,
		    "raw is there, but the body has no CR, LF or byte order mark that would need it");
	else if (!event_is_body(r, b))
		why_set(why, "the event is not the body that raw holds");
	else
		return 0;
	return -1;
}

/*
 * The body must be an event hookline accepts (event.c), and its SHA-256
 * the recorded id.  Returns 0, or -1 with why set.
 */
static int
check_id(const struct rec *r, const struct body *b, struct hl_why *why)
{
	struct hl_event ev;
	struct hl_why ewhy = {""};
	int rc = -1;

	if (event_parse(&ev, b->p, b->len, &ewhy) != HL_OK)
		why_set(why, "the body is no event hookline accepts: %s",
		    ewhy.text);
	else if (strcmp(ev.id, r->id) != 0)
		why_set(why,
		    "id %.16s... is not the SHA-256 of the body (%.16s...)",
		    r->id, ev.id);
	else
		rc = 0;
	event_clear(&ev);
	return rc;
}

/*
 * The clock for a scheme that signs a timestamp: the recorded one, so
 * that the tolerance holds by construction and only the MAC decides.  A
 * timestamp that is no plain number gives a clock of 1, which then fails
 * with sig.c's own reason.
 */
static time_t
recorded_clock(enum hl_scheme s, const struct rec *r)
{
	const char *p = NULL;
	long long t = 0;
	size_t n;

	if (s == HL_SCHEME_STANDARD)
		p = r->timestamp;
	else if (s == HL_SCHEME_STRIPE && r->signature != NULL)
		for (p = r->signature; p != NULL && strncmp(p, "t=", 2) != 0;)
			if ((p = strchr(p, ',')) != NULL)
				p++;
	if (p == NULL)
		return 1;
	if (s == HL_SCHEME_STRIPE)
		p += 2;
	n = strspn(p, "0123456789");
	if (n == 0 || n > 18)
		return 1;
	for (size_t i = 0; i < n; i++)
		t = t * 10 + (p[i] - '0');
	return t > 0 ? (time_t)t : 1;
}

/*
 * The headers that brought r, as request parameters.  hub's value goes
 * to X-Hub-Signature-256 when it is one ("sha256=" or 64 hex digits),
 * else to X-Hub-Signature.  Returns 0, or -1 when out of memory.
 */
static int
params_headers(char **params, int *n, enum hl_scheme s, const struct rec *r)
{
	const char *sig = sig_params(s)->signature;

	if (s == HL_SCHEME_HUB && r->signature != NULL &&
	    strncasecmp(r->signature, "sha256=", 7) != 0 &&
	    strlen(r->signature) != 64)
		sig = sig_params(s)->signature_alt;
	if (sig != NULL && r->signature != NULL &&
	    param_add(params, n, sig, r->signature) != 0)
		return -1;
	if (sig_params(s)->delivery != NULL && r->delivery != NULL &&
	    param_add(params, n, sig_params(s)->delivery, r->delivery) != 0)
		return -1;
	if (sig_params(s)->timestamp != NULL && r->timestamp != NULL &&
	    param_add(params, n, sig_params(s)->timestamp, r->timestamp) != 0)
		return -1;
	return 0;
}

/*
 * Verifies r's signature over b with sig_check(), as the location of its
 * scheme did.  Returns the secret's number (1 = first), or 0 with why
 * set.
 */
static int
check_signature(struct verifier *v, enum hl_scheme s, const struct rec *r,
    const struct body *b, struct hl_why *why)
{
	char *params[MAX_PARAMS + 1] = {NULL};
	struct hl_io io = {NULL, params, 0};
	struct hl_buf buf = {b->p, b->len, b->len + 1};
	struct hl_request req = {.io = &io, .body = &buf};
	enum hl_err rc;
	int n = 0, key = 0;

	if (params_config(params, &n, v->sfile, s) != 0 ||
	    params_headers(params, &n, s, r) != 0)
		why_set(why, "out of memory");
	else if ((rc = config_get(v->cache[s], &req)) != HL_OK)
		why_set(why, "%s", req.why.text);
	else {
		req.now = recorded_clock(s, r);
		if ((rc = sig_check(&req)) == HL_OK && req.key > 0)
			key = req.key;
		else
			why_set(why, "%s: %s", sig_scheme_name(s),
			    rc == HL_OK ? "no secret verified it"
			                : req.why.text);
	}
	params_free(params);
	return key;
}

/*
 * Verifies one line (len bytes, its newline gone): the record, the body,
 * the id, the signature.  Counts it, and prints why when it fails.
 */
static void
verify_line(struct verifier *v, const char *name, unsigned long lineno,
    const char *line, size_t len)
{
	struct hl_why why = {""};
	struct body b = {NULL, 0};
	cJSON *root = NULL;
	struct rec r;
	enum hl_scheme s = HL_SCHEME_HUB;
	int key = 0;

	v->t.lines++;
	if (memchr(line, '\0', len) != NULL)
		why_set(&why, "the line holds a NUL byte");
	else if (rec_parse(line, len, &root, &r, &why) == 0 &&
	    body_rebuild(&r, &b, &why) == 0 && check_id(&r, &b, &why) == 0) {
		if (sig_scheme(r.scheme, &s) == -1)
			why_set(&why, "unknown scheme \"%.40s\"", r.scheme);
		else if (r.key == 0)
			v->t.unsigned_++;
		else if (s == HL_SCHEME_GITLAB)
			v->t.gitlab++;
		else if ((key = check_signature(v, s, &r, &b, &why)) > 0) {
			v->t.verified++;
			v->t.by_key[key]++;
		}
	}
	if (why.text[0] != '\0') {
		v->t.failed++;
		printf("%s:%lu: %s\n", name, lineno, why.text);
	}
	cJSON_Delete(root);
	free(b.p);
}

/*
 * Verifies every line of f, called name in the messages.  A last line
 * without its newline is a torn record: reported, not verified.
 */
static void
verify_stream(struct verifier *v, const char *name, FILE *f)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	unsigned long lineno = 0;

	while ((n = getline(&line, &cap, f)) > 0) {
		lineno++;
		if (line[n - 1] != '\n') {
			v->t.lines++;
			v->t.torn++;
			printf(
			    "%s:%lu: torn last line (no newline at the end): a record cut short, never acknowledged; not verified\n",
			    name, lineno);
			break;
		}
		verify_line(v, name, lineno, line, (size_t)n - 1);
	}
	if (ferror(f)) {
		fprintf(stderr, "hookline-verify: %s: %s\n", name,
		    strerror(errno));
		v->t.io_error = 1;
	}
	free(line);
}

/* Verifies the file at path ("-": standard input). */
static void
verify_file(struct verifier *v, const char *path)
{
	FILE *f;

	if (strcmp(path, "-") == 0) {
		verify_stream(v, "(standard input)", stdin);
		return;
	}
	if ((f = fopen(path, "r")) == NULL) {
		fprintf(stderr, "hookline-verify: %s: %s\n", path,
		    strerror(errno));
		v->t.io_error = 1;
		return;
	}
	verify_stream(v, path, f);
	fclose(f);
}

/* The summary, then how many events each secret verified. */
static void
print_summary(const struct tally *t)
{
	printf(
	    "%lu lines: %lu verified, %lu failed, %lu unsigned, %lu gitlab-not-signed, %lu torn\n",
	    t->lines, t->verified, t->failed, t->unsigned_, t->gitlab, t->torn);
	for (int k = 1; k <= t->nkeys; k++)
		printf("key %d: %lu events\n", k, t->by_key[k]);
}

/* The secret file from -s or the environment, and the first file's index. */
static int
parse_args(int argc, char *argv[], struct verifier *v)
{
	const char *sfile = getenv("HOOKLINE_SECRET_FILE");
	int c;

	while ((c = getopt(argc, argv, "s:h")) != -1)
		switch (c) {
		case 's':
			sfile = optarg;
			break;
		default:
			usage();
			return -1;
		}
	if (sfile == NULL || *sfile == '\0') {
		fprintf(stderr,
		    "hookline-verify: name the secret file with -s or HOOKLINE_SECRET_FILE (a secret is never taken from the command line)\n");
		return -1;
	}
	if ((v->sfile = strdup(sfile)) == NULL) {
		fprintf(stderr, "hookline-verify: out of memory\n");
		return -1;
	}
	return optind;
}

int
main(int argc, char *argv[])
{
	struct verifier v;
	int first, rc = 2;

	memset(&v, 0, sizeof(v));
	if ((first = parse_args(argc, argv, &v)) == -1)
		goto out;
	scrub_env();
	if (verifier_init(&v) == -1)
		goto out;
	if (first == argc)
		verify_file(&v, "-");
	for (int i = first; i < argc; i++)
		verify_file(&v, argv[i]);
	print_summary(&v.t);
	if (fflush(stdout) != 0)
		v.t.io_error = 1;
	rc = v.t.io_error ? 2 : v.t.failed > 0 ? 1 : 0;
out:
	verifier_free(&v);
	return rc;
}
