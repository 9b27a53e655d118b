/*
 * line.c: one line of hookline's event log, as hookline-follow needs it.
 *
 *   {"received":"...Z","id":"<64 hex>","remote":...,"signature":...,
 *    "event":{...}}
 *
 * Everything is read from the line, nothing recomputed: the id is the
 * line's "id", the body is the "event" value's text exactly as it stands
 * in the line (hookline wrote the sender's bytes there, with CR and LF
 * turned into spaces), and the environment's fields are the event's
 * top-level strings.  The signature scheme is what the exec plugin gives
 * (sig.c): see scheme_of().  No I/O happens here.
 */
#define _GNU_SOURCE /* memmem, strptime, timegm */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "follow.h"

/* How every record starts (hookline's RECORD_PREFIX). */
#define PREFIX "{\"received\":\""
#define EVENT_KEY ",\"event\":"

static const char *
string_of(const cJSON *obj, const char *key)
{
	const cJSON *f = cJSON_GetObjectItemCaseSensitive(obj, key);

	return cJSON_IsString(f) ? f->valuestring : NULL;
}

/* The value of a lowercase hex digit, or -1. */
static int
hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

static int
is_id(const char *s)
{
	size_t i;

	for (i = 0; s[i] != '\0'; i++)
		if (hex_digit(s[i]) == -1)
			return 0;
	return i == 64;
}

/*
 * HOOKLINE_SIGNATURE_SCHEME, as the exec plugin gives it: what verified
 * the event.  For the hub scheme that is the header's algorithm, "sha256"
 * when hookline logged X-Hub-Signature-256 ("sha256=..."), "sha1" for
 * X-Hub-Signature; for every other scheme its name ("stripe", "gitlab",
 * whose header is the secret and is not logged).  NULL when no secret
 * verified the event ("key":null: HOOKLINE_ALLOW_UNSIGNED).  Records
 * from before "scheme" and "key" were logged hold a hub signature, or
 * none.
 */
static const char *
scheme_of(const cJSON *root)
{
	const char *scheme = string_of(root, "scheme");
	const char *sig = string_of(root, "signature");
	const cJSON *key = cJSON_GetObjectItemCaseSensitive(root, "key");

	if (key != NULL && !cJSON_IsNumber(key))
		return NULL;
	if (scheme != NULL && strcmp(scheme, "hub") != 0)
		return scheme;
	if (sig == NULL)
		return NULL;
	/* X-Hub-Signature-256, logged when it came, with or without its
	 * prefix; X-Hub-Signature otherwise (40 hex digits). */
	return strncasecmp(sig, "sha256=", 7) == 0 || strlen(sig) == 64
	    ? "sha256"
	    : "sha1";
}

/*
 * Parses the record text (len bytes, without its newline; borrowed, and
 * it must outlive l).  Returns 0, or -1 with *why set when the line is
 * not one of hookline's records.  l is cleared either way; line_clear()
 * frees what a 0 return holds.
 */
int
line_parse(struct fl_line *l, const char *text, size_t len, const char **why)
{
	const char *end = NULL, *id, *ev;
	const cJSON *last;

	memset(l, 0, sizeof(*l));
	l->text = text;
	l->len = len;
	if (len < sizeof(PREFIX) ||
	    memcmp(text, PREFIX, sizeof(PREFIX) - 1) != 0 ||
	    text[len - 1] != '}') {
		*why = "not a hookline record";
		return -1;
	}
	l->root = cJSON_ParseWithLengthOpts(text, len, &end, 0);
	if (l->root == NULL || end != text + len || !cJSON_IsObject(l->root)) {
		*why = "not a JSON object";
		goto fail;
	}
	l->event = cJSON_GetObjectItemCaseSensitive(l->root, "event");
	last = l->root->child;
	while (last != NULL && last->next != NULL)
		last = last->next;
	if (!cJSON_IsObject(l->event) || last != l->event) {
		*why = "no \"event\" object at the end";
		goto fail;
	}
	if ((id = string_of(l->root, "id")) == NULL || !is_id(id)) {
		*why = "no 64-digit hex \"id\"";
		goto fail;
	}
	memcpy(l->id, id, 65);
	l->received = string_of(l->root, "received");
	l->remote = string_of(l->root, "remote");
	/* The first ,"event": is the top-level key's: a string before it
	 * cannot hold an unescaped quote. */
	if ((ev = memmem(text, len, EVENT_KEY, sizeof(EVENT_KEY) - 1)) ==
	    NULL) {
		*why = "no \"event\" key";
		goto fail;
	}
	l->body = ev + sizeof(EVENT_KEY) - 1;
	l->body_len = (size_t)(text + len - 1 - l->body);
	l->scheme = scheme_of(l->root);
	l->status = string_of(l->event, "status");
	l->job_id = string_of(l->event, "job_id");
	l->flow_id = string_of(l->event, "flow_id");
	l->tenant = string_of(l->event, "tenant");
	return 0;
fail:
	line_clear(l);
	return -1;
}

/* Frees the parsed tree; the text stays the caller's. */
void
line_clear(struct fl_line *l)
{
	cJSON_Delete(l->root);
	l->root = l->event = NULL;
}

/* Whether one top-level value of the event equals value. */
static int
value_is(const cJSON *f, const char *value)
{
	double d;
	char *end;

	if (cJSON_IsString(f))
		return strcmp(f->valuestring, value) == 0;
	if (cJSON_IsTrue(f))
		return strcmp(value, "true") == 0;
	if (cJSON_IsFalse(f))
		return strcmp(value, "false") == 0;
	if (cJSON_IsNull(f))
		return strcmp(value, "null") == 0;
	if (cJSON_IsNumber(f)) {
		d = strtod(value, &end);
		return *value != '\0' && *end == '\0' && d == f->valuedouble;
	}
	return 0; /* arrays and objects never match */
}

/*
 * Whether the event passes the --match filters m (n of them): for every
 * key named, one of the values given for that key equals the event's
 * top-level value (a string exactly, a number numerically, true, false
 * and null by name).  No filter passes everything.
 */
int
line_match(const struct fl_line *l, const struct fl_match *m, size_t n)
{
	char key[256];

	for (size_t i = 0; i < n; i++) {
		const cJSON *f;
		int seen = 0, hit = 0;

		/* Each key once, at its first filter. */
		for (size_t k = 0; k < i && !seen; k++)
			seen = m[k].key_len == m[i].key_len &&
			    memcmp(m[k].key, m[i].key, m[i].key_len) == 0;
		if (seen)
			continue;
		if (m[i].key_len >= sizeof(key))
			return 0;
		memcpy(key, m[i].key, m[i].key_len);
		key[m[i].key_len] = '\0';
		f = cJSON_GetObjectItemCaseSensitive(l->event, key);
		for (size_t k = i; k < n && !hit; k++)
			hit = m[k].key_len == m[i].key_len &&
			    memcmp(m[k].key, key, m[i].key_len) == 0 &&
			    f != NULL && value_is(f, m[k].value);
		if (!hit)
			return 0;
	}
	return 1;
}

/*
 * Copies the "received" time of the record that starts text (len bytes,
 * a file's first line) into out (ol bytes); "" when the line is not one
 * of hookline's records.  Only what hookline writes there is taken.
 */
void
line_received(const char *text, size_t len, char *out, size_t ol)
{
	const size_t p = sizeof(PREFIX) - 1;
	size_t i;

	out[0] = '\0';
	if (len < p || memcmp(text, PREFIX, p) != 0)
		return;
	for (i = p; i < len && i - p < ol - 1 && text[i] != '"'; i++)
		if (!((text[i] >= '0' && text[i] <= '9') || text[i] == '-' ||
		        text[i] == ':' || text[i] == '.' || text[i] == 'T' ||
		        text[i] == 'Z'))
			return;
	if (i == p || i == len || text[i] != '"')
		return;
	memcpy(out, text + p, i - p);
	out[i - p] = '\0';
}

/*
 * Decodes the 2 * n lowercase hex digits at s into out (n bytes).
 * Returns 0, or -1 when one is no such digit.
 */
int
hex_decode(const char *s, unsigned char *out, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		int hi = hex_digit(s[2 * i]), lo;

		if (hi == -1 || (lo = hex_digit(s[2 * i + 1])) == -1)
			return -1;
		out[i] = (unsigned char)(hi << 4 | lo);
	}
	return 0;
}

/* The seconds since the epoch of a "received" time ("...Z", UTC). */
int
received_time(const char *s, time_t *t)
{
	struct tm tm;
	const char *end;

	memset(&tm, 0, sizeof(tm));
	end = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
	if (end == NULL || (*end != '.' && *end != 'Z'))
		return -1;
	*t = timegm(&tm);
	return 0;
}

/* Formats t as hookline formats "received" (microseconds 0). */
void
received_format(char *out, size_t ol, time_t t)
{
	struct tm tm;

	gmtime_r(&t, &tm);
	snprintf(out, ol, "%04d-%02d-%02dT%02d:%02d:%02d.000000Z",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
	    tm.tm_sec);
}
