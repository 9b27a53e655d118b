/*
 * record.c: formats one line of the event log (hookline(8), "The event log"):
 *
 *   {"received":"...Z","id":"...","remote":"...","scheme":"hub",
 *    "delivery":"..."|null,"key":1|null,"signature":"..."|null,
 *    ["timestamp":"...",]["raw":"<base64>",]"event":<the body verbatim>}\n
 *
 * The body is copied byte for byte, never re-serialised, so numbers, key
 * order and escapes stay as the sender wrote them.  Only CR and LF become
 * spaces: in a valid JSON text (event.c checked) they can only be
 * insignificant whitespace, and the line must stay one line.  A leading
 * UTF-8 byte order mark, which RFC 8259 lets a parser ignore, is dropped
 * for the same reason: a BOM in mid-line breaks JSON Lines readers.  Only
 * then, when "event" is not the body byte for byte, "raw" holds the exact
 * body in base64, so that the line alone can be hashed and verified again
 * (hookline-verify).  "timestamp" is what a scheme signs besides the body
 * and its header, when it signs one.  No I/O happens here.
 */
#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>

#include "hookline.h"

#define BOM "\xef\xbb\xbf"

/* The fixed part of a line: keys, punctuation, timestamp, id, newline. */
#define RECORD_FIXED 320

/* Whether the logged event would differ from the body: CR, LF or a BOM. */
static int
needs_raw(const struct hl_record *r)
{
	return (r->len >= 3 && memcmp(r->body, BOM, 3) == 0) ||
	    memchr(r->body, '\n', r->len) != NULL ||
	    memchr(r->body, '\r', r->len) != NULL;
}

/* Upper bound of the line length for r, to size the buffer. */
size_t
record_max(const struct hl_record *r)
{
	size_t n = RECORD_FIXED + r->len;

	/* Escaping turns a byte into at most six ("\u00XX"). */
	if (r->remote != NULL)
		n += 6 * strlen(r->remote);
	if (r->signature != NULL)
		n += 6 * strlen(r->signature);
	if (r->delivery != NULL)
		n += 6 * strlen(r->delivery);
	if (r->timestamp != NULL)
		n += 6 * strlen(r->timestamp);
	/* base64: 4 bytes for every 3, and a NUL that EVP_EncodeBlock adds. */
	if (needs_raw(r))
		n += 12 + (r->len + 2) / 3 * 4 + 1;
	return n;
}

/*
 * Appends s to p as a JSON string (or null) and returns the new end.
 * Header values may hold anything a client sent: control characters are
 * escaped, well-formed UTF-8 is kept (a Standard Webhooks webhook-id is
 * signed: hookline-verify needs it as sent) and any other byte above 0x7e
 * becomes '?', so the line stays valid JSON and valid UTF-8 whatever came
 * in.
 */
static char *
put_string(char *p, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	const char *end;
	size_t k;

	if (s == NULL) {
		memcpy(p, "null", 4);
		return p + 4;
	}
	end = s + strlen(s);
	*p++ = '"';
	for (; s < end; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\') {
			*p++ = '\\';
			*p++ = (char)c;
		} else if (c < 0x20 || c == 0x7f) {
			memcpy(p, "\\u00", 4);
			p[4] = hex[c >> 4];
			p[5] = hex[c & 15];
			p += 6;
		} else if (c < 0x80)
			*p++ = (char)c;
		else if ((k = event_utf8_len((const unsigned char *)s,
		              (size_t)(end - s))) == 0)
			*p++ = '?';
		else {
			memcpy(p, s, k);
			p += k;
			s += k - 1;
		}
	}
	*p++ = '"';
	return p;
}

/*
 * Writes the line for r, newline included, into buf, which has room for
 * record_max(r) bytes.  Returns its length.
 */
size_t
record_format(char *buf, const struct hl_record *r)
{
	struct tm tm;
	const char *body = r->body;
	size_t len = r->len;
	char *p = buf;
	int n;

	gmtime_r(&r->when.tv_sec, &tm);
	n = snprintf(p, 64,
	    RECORD_PREFIX "%04d-%02d-%02dT%02d:%02d:%02d.%06ldZ\"",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
	    tm.tm_sec, (long)(r->when.tv_nsec / 1000));
	p += n;
	p += sprintf(p, ",\"id\":\"%.64s\",\"remote\":", r->id);
	p = put_string(p, r->remote);
	memcpy(p, ",\"scheme\":", 10);
	p = put_string(p + 10, r->scheme);
	memcpy(p, ",\"delivery\":", 12);
	p = put_string(p + 12, r->delivery);
	memcpy(p, ",\"key\":", 7);
	p += 7;
	/* At most HL_KEYS_MAX secrets: one digit. */
	if (r->key > 0 && r->key < 10)
		*p++ = (char)('0' + r->key);
	else
		memcpy(p, "null", 4), p += 4;
	memcpy(p, ",\"signature\":", 13);
	p = put_string(p + 13, r->signature);
	if (r->timestamp != NULL) {
		memcpy(p, ",\"timestamp\":", 13);
		p = put_string(p + 13, r->timestamp);
	}
	if (needs_raw(r)) {
		memcpy(p, ",\"raw\":\"", 8);
		p += 8;
		p += EVP_EncodeBlock((unsigned char *)p,
		    (const unsigned char *)body, (int)len);
		*p++ = '"';
	}
	memcpy(p, ",\"event\":", 9);
	p += 9;
	if (len >= 3 && memcmp(body, BOM, 3) == 0)
		body += 3, len -= 3;
	memcpy(p, body, len);
	for (char *q = p; (q = memchr(q, '\n', (size_t)(p + len - q))) != NULL;)
		*q++ = ' ';
	for (char *q = p; (q = memchr(q, '\r', (size_t)(p + len - q))) != NULL;)
		*q++ = ' ';
	p += len;
	*p++ = '}';
	*p++ = '\n';
	return (size_t)(p - buf);
}
