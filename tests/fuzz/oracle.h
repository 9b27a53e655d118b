/*
 * oracle.h: an independent, strict RFC 8259 + RFC 3629 validator that the
 * fuzz targets compare hookline against.
 *
 * It shares no code with event.c or cJSON: a plain recursive-descent
 * reader over bytes.  Beyond the RFC grammar it refuses what hookline's
 * contract refuses on purpose: escapes that leave a lone UTF-16 surrogate
 * (\ud800 alone, \udc00 first), since a decoder cannot turn them into
 * UTF-8.  It accepts one leading byte order mark, as hookline does.
 *
 * oracle_json() returns 1 for a valid JSON text, 0 otherwise; *object is
 * set when the top-level value is an object, and *depth to the deepest
 * nesting met (cJSON refuses more than 1000 levels: hookline may then say
 * no to a valid text, and the targets allow that).
 */
#ifndef HOOKLINE_FUZZ_ORACLE_H
#define HOOKLINE_FUZZ_ORACLE_H

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>

/*
 * Every target's assertion: a failed check names itself and aborts, which
 * libFuzzer reports as a crash and saves the input for.
 */
#define CHECK(c)                                                               \
	do {                                                                   \
		if (!(c)) {                                                    \
			fprintf(stderr, "%s: check failed: %s\n", __FILE__,    \
			    #c);                                               \
			abort();                                               \
		}                                                              \
	} while (0)

struct oracle {
	const unsigned char *s;
	size_t n, i;
	int depth, max_depth;
};

static int oracle_value(struct oracle *);

static void
oracle_ws(struct oracle *o)
{
	while (o->i < o->n &&
	    (o->s[o->i] == ' ' || o->s[o->i] == '\t' || o->s[o->i] == '\n' ||
	        o->s[o->i] == '\r'))
		o->i++;
}

static int
oracle_lit(struct oracle *o, const char *lit)
{
	size_t k = 0;

	while (lit[k] != '\0') {
		if (o->i + k >= o->n || o->s[o->i + k] != (unsigned char)lit[k])
			return 0;
		k++;
	}
	o->i += k;
	return 1;
}

static int
oracle_digit(struct oracle *o)
{
	return o->i < o->n && o->s[o->i] >= '0' && o->s[o->i] <= '9';
}

static int
oracle_number(struct oracle *o)
{
	if (o->i < o->n && o->s[o->i] == '-')
		o->i++;
	if (o->i < o->n && o->s[o->i] == '0')
		o->i++;
	else if (oracle_digit(o) && o->s[o->i] != '0')
		while (oracle_digit(o))
			o->i++;
	else
		return 0;
	if (o->i < o->n && o->s[o->i] == '.') {
		o->i++;
		if (!oracle_digit(o))
			return 0;
		while (oracle_digit(o))
			o->i++;
	}
	if (o->i < o->n && (o->s[o->i] == 'e' || o->s[o->i] == 'E')) {
		o->i++;
		if (o->i < o->n && (o->s[o->i] == '+' || o->s[o->i] == '-'))
			o->i++;
		if (!oracle_digit(o))
			return 0;
		while (oracle_digit(o))
			o->i++;
	}
	return 1;
}

static int
oracle_hex4(struct oracle *o, unsigned *u)
{
	*u = 0;
	if (o->i + 4 > o->n)
		return 0;
	for (int k = 0; k < 4; k++) {
		unsigned char c = o->s[o->i + k];

		*u <<= 4;
		if (c >= '0' && c <= '9')
			*u |= c - '0';
		else if (c >= 'a' && c <= 'f')
			*u |= c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			*u |= c - 'A' + 10;
		else
			return 0;
	}
	o->i += 4;
	return 1;
}

/* One UTF-8 encoded code point (RFC 3629: no overlongs, no surrogates). */
static int
oracle_utf8(struct oracle *o)
{
	unsigned char c = o->s[o->i];
	unsigned cp;
	size_t len;

	if (c < 0x80) {
		o->i++;
		return 1;
	}
	if ((c & 0xe0) == 0xc0)
		len = 2, cp = c & 0x1f;
	else if ((c & 0xf0) == 0xe0)
		len = 3, cp = c & 0x0f;
	else if ((c & 0xf8) == 0xf0)
		len = 4, cp = c & 0x07;
	else
		return 0;
	if (o->i + len > o->n)
		return 0;
	for (size_t k = 1; k < len; k++) {
		if ((o->s[o->i + k] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (o->s[o->i + k] & 0x3f);
	}
	if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) ||
	    (len == 4 && cp < 0x10000) || cp > 0x10ffff ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	o->i += len;
	return 1;
}

static int
oracle_string(struct oracle *o)
{
	unsigned u, v;

	if (o->i >= o->n || o->s[o->i] != '"')
		return 0;
	o->i++;
	for (;;) {
		if (o->i >= o->n)
			return 0;
		if (o->s[o->i] == '"') {
			o->i++;
			return 1;
		}
		if (o->s[o->i] < 0x20)
			return 0;
		if (o->s[o->i] != '\\') {
			if (!oracle_utf8(o))
				return 0;
			continue;
		}
		o->i++;
		if (o->i >= o->n)
			return 0;
		switch (o->s[o->i++]) {
		case '"':
		case '\\':
		case '/':
		case 'b':
		case 'f':
		case 'n':
		case 'r':
		case 't':
			break;
		case 'u':
			if (!oracle_hex4(o, &u))
				return 0;
			if (u >= 0xdc00 && u <= 0xdfff)
				return 0; /* low surrogate first */
			if (u >= 0xd800 && u <= 0xdbff) {
				if (!oracle_lit(o, "\\u") ||
				    !oracle_hex4(o, &v) || v < 0xdc00 ||
				    v > 0xdfff)
					return 0; /* high surrogate alone */
			}
			break;
		default:
			return 0;
		}
	}
}

static int
oracle_container(struct oracle *o, unsigned char open, unsigned char close)
{
	int first = 1;

	o->i++; /* the opening bracket */
	if (++o->depth > o->max_depth)
		o->max_depth = o->depth;
	if (o->depth > 4000)
		return 0; /* far beyond any limit that matters here */
	oracle_ws(o);
	if (o->i < o->n && o->s[o->i] == close) {
		o->i++;
		o->depth--;
		return 1;
	}
	for (;;) {
		if (!first) {
			oracle_ws(o);
			if (o->i < o->n && o->s[o->i] == close) {
				o->i++;
				o->depth--;
				return 1;
			}
			if (o->i >= o->n || o->s[o->i] != ',')
				return 0;
			o->i++;
		}
		first = 0;
		oracle_ws(o);
		if (open == '{') {
			if (!oracle_string(o))
				return 0;
			oracle_ws(o);
			if (o->i >= o->n || o->s[o->i] != ':')
				return 0;
			o->i++;
			oracle_ws(o);
		}
		if (!oracle_value(o))
			return 0;
	}
}

static int
oracle_value(struct oracle *o)
{
	if (o->i >= o->n)
		return 0;
	switch (o->s[o->i]) {
	case '{':
		return oracle_container(o, '{', '}');
	case '[':
		return oracle_container(o, '[', ']');
	case '"':
		return oracle_string(o);
	case 't':
		return oracle_lit(o, "true");
	case 'f':
		return oracle_lit(o, "false");
	case 'n':
		return oracle_lit(o, "null");
	default:
		return oracle_number(o);
	}
}

static int
oracle_json(const unsigned char *s, size_t n, int *object, int *depth)
{
	struct oracle o = {s, n, 0, 0, 0};
	int ok;

	if (n >= 3 && s[0] == 0xef && s[1] == 0xbb && s[2] == 0xbf)
		o.i = 3;
	oracle_ws(&o);
	*object = o.i < n && s[o.i] == '{';
	ok = oracle_value(&o);
	*depth = o.max_depth;
	if (!ok)
		return 0;
	oracle_ws(&o);
	return o.i == n;
}

#endif
