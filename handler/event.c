/*
 * event.c: decides whether a verified body is an event (a JSON object in
 * UTF-8) and computes its id, the hex SHA-256 of the raw body, so that a
 * retried delivery gets the same id.  No I/O happens here.
 *
 * cJSON does the parsing, but it is lenient where it matters for a log
 * whose lines are the bodies themselves: it passes any bytes through
 * strings (invalid UTF-8 included), takes raw control characters (a raw
 * newline among them) inside strings and as whitespace, and hands number
 * tokens to strtod.  json_text_ok() closes those gaps in one pass,
 * so that every logged event parses in any strict JSON reader.  libc's
 * mbrtowc() is not used for UTF-8: its answer depends on the locale the web
 * server happens to give us.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <openssl/evp.h>

#include "hookline.h"

/* Writes len bytes as lowercase hex plus a NUL into out (2 * len + 1). */
void
hex_encode(char *out, const unsigned char *in, size_t len)
{
	/* OPENSSL_buf2hexstr_ex writes uppercase; ids are sha256sum's case. */
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < len; i++) {
		*out++ = digits[in[i] >> 4];
		*out++ = digits[in[i] & 15];
	}
	*out = '\0';
}

/* Length of the well-formed UTF-8 sequence at s (n bytes left), or 0. */
size_t
event_utf8_len(const unsigned char *s, size_t n)
{
	unsigned char lo = 0x80, hi = 0xbf;
	size_t len;

	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		len = 2;
	else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		len = 3;
		if (s[0] == 0xe0)
			lo = 0xa0; /* overlong */
		else if (s[0] == 0xed)
			hi = 0x9f; /* UTF-16 surrogates */
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		len = 4;
		if (s[0] == 0xf0)
			lo = 0x90; /* overlong */
		else if (s[0] == 0xf4)
			hi = 0x8f; /* above U+10FFFF */
	} else
		return 0;
	if (n < len || s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < len; i++)
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
	return len;
}

static int
is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

/* Whether s (n bytes left) starts with the four hex digits of a \u escape. */
static int
hex4(const unsigned char *s, size_t n)
{
	if (n < 4)
		return 0;
	for (size_t i = 0; i < 4; i++)
		if (!is_digit(s[i]) && (s[i] < 'a' || s[i] > 'f') &&
		    (s[i] < 'A' || s[i] > 'F'))
			return 0;
	return 1;
}

/* Length of the RFC 8259 number at s (n bytes left), or 0 if malformed. */
static size_t
number_len(const unsigned char *s, size_t n)
{
	size_t i = 0;

	if (i < n && s[i] == '-')
		i++;
	if (i < n && s[i] == '0')
		i++;
	else if (i < n && is_digit(s[i]))
		while (i < n && is_digit(s[i]))
			i++;
	else
		return 0;
	if (i < n && s[i] == '.') {
		if (++i >= n || !is_digit(s[i]))
			return 0;
		while (i < n && is_digit(s[i]))
			i++;
	}
	if (i < n && (s[i] == 'e' || s[i] == 'E')) {
		if (++i < n && (s[i] == '+' || s[i] == '-'))
			i++;
		if (i >= n || !is_digit(s[i]))
			return 0;
		while (i < n && is_digit(s[i]))
			i++;
	}
	/* "01", "1.2.3", "1e5e5": the number must end here. */
	if (i < n &&
	    (is_digit(s[i]) || s[i] == '.' || s[i] == 'e' || s[i] == 'E' ||
	        s[i] == '+' || s[i] == '-'))
		return 0;
	return i;
}

/*
 * Checks what cJSON lets through but RFC 8259 does not, and what would
 * break the log's consumers: invalid UTF-8, NUL bytes, control characters
 * (cJSON treats every byte below 0x21 as whitespace, and takes raw control
 * characters inside strings), \u escapes without four hex digits (cJSON
 * reads those as \u0000), and numbers such as 01 or 1. that cJSON hands
 * to strtod.  Returns 1, or 0 with why set.  Kept out of line so that
 * profiles (scripts/bench) show its cost apart from cJSON's.
 */
static __attribute__((noinline)) int
json_text_ok(const unsigned char *s, size_t n, struct hl_why *why)
{
	int in_string = 0, escaped = 0;
	size_t i = 0, k;

	while (i < n) {
		if (s[i] >= 0x80) {
			if ((k = event_utf8_len(s + i, n - i)) == 0) {
				why_set(why, "body is not valid UTF-8");
				return 0;
			}
			i += k;
			escaped = 0;
			continue;
		}
		if (in_string) {
			/* Most of a body is plain text inside strings: skip
			 * it in a tight loop (a third of the instructions). */
			if (!escaped) {
				while (i < n && s[i] >= 0x20 && s[i] < 0x80 &&
				    s[i] != '"' && s[i] != '\\')
					i++;
				if (i == n || s[i] >= 0x80)
					continue;
			}
			if (s[i] < 0x20) {
				why_set(why,
				    "control character in a JSON string");
				return 0;
			}
			if (escaped) {
				escaped = 0;
				/* cJSON reads "\u12x4" as "\u0000": found by
				 * fuzz-event, it would log a line that strict
				 * readers refuse. */
				if (s[i] == 'u' &&
				    !hex4(s + i + 1, n - i - 1)) {
					why_set(why,
					    "malformed \\u escape in a JSON string");
					return 0;
				}
			} else if (s[i] == '\\')
				escaped = 1;
			else if (s[i] == '"')
				in_string = 0;
		} else if (s[i] == '"')
			in_string = 1;
		else if (s[i] == '-' || is_digit(s[i])) {
			if ((k = number_len(s + i, n - i)) == 0) {
				why_set(why, "malformed JSON number");
				return 0;
			}
			i += k;
			continue;
		} else if (s[i] < 0x20 && s[i] != '\t' && s[i] != '\n' &&
		    s[i] != '\r') {
			why_set(why,
			    "control character or NUL outside a JSON string");
			return 0;
		}
		i++;
	}
	return 1;
}

/*
 * cJSON allocates one block per value and one per string: about 120
 * malloc/free pairs for a 670-byte hotglue event, a tenth of hookline's
 * per-event instructions, and under load the FastCGI loop's malloc then
 * consolidates them again at every request.  While hookline parses or
 * deletes its own tree, cJSON's hooks hand out a static buffer instead
 * (malloc when it runs out), emptied when the tree is deleted.  Outside
 * those two calls the hooks are cJSON's defaults, so a plugin's cJSON
 * trees never land in the buffer.  Sanitizer builds keep one malloc per
 * block, so that ASan still sees each one.
 */
#if defined(__SANITIZE_ADDRESS__) /* gcc */
#define HL_ASAN 1
#elif defined(__has_feature) /* clang */
#if __has_feature(address_sanitizer)
#define HL_ASAN 1
#endif
#endif
#ifdef HL_ASAN
#define ARENA_SIZE 0
#else
#define ARENA_SIZE 65536
#endif
static _Alignas(16) unsigned char arena[ARENA_SIZE + 16];
static size_t arena_used; /* a multiple of 16, at most ARENA_SIZE */

static void *
arena_alloc(size_t n)
{
	void *p;

	if (n > ARENA_SIZE ||
	    ((n + 15) & ~(size_t)15) > ARENA_SIZE - arena_used)
		return malloc(n);
	p = arena + arena_used;
	arena_used += (n + 15) & ~(size_t)15;
	return p;
}

static void
arena_free(void *p)
{
	uintptr_t a = (uintptr_t)p, lo = (uintptr_t)arena;

	if (a < lo || a >= lo + ARENA_SIZE)
		free(p);
}

static cJSON_Hooks arena_hooks = {arena_alloc, arena_free};

/* Deletes a tree parsed by event_parse() and empties the buffer. */
static void
tree_free(cJSON *root)
{
	cJSON_InitHooks(&arena_hooks);
	cJSON_Delete(root);
	cJSON_InitHooks(NULL);
	arena_used = 0;
}

static const char *
string_field(const cJSON *root, const char *name)
{
	const cJSON *f = cJSON_GetObjectItemCaseSensitive(root, name);

	return cJSON_IsString(f) ? f->valuestring : NULL;
}

/*
 * Fills ev from body (len bytes, borrowed, NUL-terminated at body[len]):
 * its id, and the parsed tree with the common hotglue fields.  Returns
 * HL_OK, or HL_EJSON with *why set when the body is not a JSON object in
 * UTF-8 (then ev holds nothing to clear), or HL_EINTERNAL.
 */
enum hl_err
event_parse(struct hl_event *ev, const char *body, size_t len,
    struct hl_why *why)
{
	static EVP_MD *sha256;
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen;
	const char *end = NULL;
	cJSON *root;

	memset(ev, 0, sizeof(*ev));
	ev->body = body;
	ev->len = len;
	if (!json_text_ok((const unsigned char *)body, len, why))
		return HL_EJSON;
	cJSON_InitHooks(&arena_hooks);
	root = cJSON_ParseWithLengthOpts(body, len, &end, 0);
	cJSON_InitHooks(NULL);
	if (root == NULL) {
		arena_used = 0; /* cJSON freed what it had parsed */
		why_set(why, "body is not valid JSON");
		return HL_EJSON;
	}
	/* Only JSON whitespace may follow the value. */
	if (end == NULL ||
	    strspn(end, " \t\r\n") != len - (size_t)(end - body)) {
		tree_free(root);
		why_set(why, "trailing data after the JSON value");
		return HL_EJSON;
	}
	if (!cJSON_IsObject(root)) {
		tree_free(root);
		why_set(why, "body is JSON but not an object");
		return HL_EJSON;
	}
	/* Fetched once: an implicit fetch per digest is OpenSSL 3's slow path. */
	if ((sha256 == NULL &&
	        (sha256 = EVP_MD_fetch(NULL, "SHA256", NULL)) == NULL) ||
	    EVP_Digest(body, len, md, &mdlen, sha256, NULL) != 1) {
		tree_free(root);
		why_set(why, "SHA-256 computation failed (OpenSSL)");
		return HL_EINTERNAL;
	}
	hex_encode(ev->id, md, mdlen);
	ev->root = root;
	ev->status = string_field(root, "status");
	ev->job_id = string_field(root, "job_id");
	ev->flow_id = string_field(root, "flow_id");
	ev->tenant = string_field(root, "tenant");
	return HL_OK;
}

/* Frees what event_parse() allocated; a cleared event may be cleared again. */
void
event_clear(struct hl_event *ev)
{
	if (ev->root != NULL)
		tree_free(ev->root);
	ev->root = NULL;
	ev->status = ev->job_id = ev->flow_id = ev->tenant = NULL;
}
