/*
 * fuzz-event: the event validator and the log line formatter.
 *
 * The input is a request body.  event_parse() must agree with an
 * independent strict JSON reader (oracle.h): whatever it accepts is a
 * JSON object in valid UTF-8, and every such object (nested less deeply
 * than cJSON's limit of 1000 levels) is accepted.  Its id must be the
 * SHA-256 of the body.  Then record_format() must write, within
 * record_max() bytes, exactly one line that is itself a strict JSON
 * object whose "event" member is the body byte for byte (a leading BOM
 * dropped, CR and LF as spaces), whatever the remote address and
 * signature strings (cut from the input) hold.  Any disagreement aborts.
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "hookline.h"
#include "oracle.h"

static void
check_record(const struct hl_event *ev, const uint8_t *data, size_t size)
{
	char remote[48], sig[80], *line;
	struct hl_record r = {.scheme = "hub"};
	const char *body = ev->body, *ebeg;
	size_t len = ev->len, n, k, rl, sl;
	int object, depth;

	/* Header values: any bytes but NUL, taken from the input. */
	rl = size < sizeof(remote) - 1 ? size : sizeof(remote) - 1;
	memcpy(remote, data, rl);
	remote[strnlen(remote, rl)] = '\0';
	remote[rl] = '\0';
	sl = size > rl ? size - rl : 0;
	sl = sl < sizeof(sig) - 1 ? sl : sizeof(sig) - 1;
	memcpy(sig, data + rl, sl);
	sig[sl] = '\0';
	sig[strnlen(sig, sl)] = '\0';

	r.when.tv_sec = 1795933348 + (time_t)(size % 100000);
	r.when.tv_nsec = (long)(size * 7919 % 1000000000);
	r.id = ev->id;
	r.remote = size % 3 == 0 ? NULL : remote;
	r.signature = size % 5 == 0 ? NULL : sig;
	r.delivery = size % 7 == 0 ? NULL : sig;
	r.timestamp = size % 2 == 0 ? NULL : remote;
	r.key = (int)(size % 9);
	r.body = body;
	r.len = len;
	CHECK((line = malloc(record_max(&r))) != NULL);
	n = record_format(line, &r);
	CHECK(n <= record_max(&r));
	CHECK(n >= 2 && line[n - 1] == '\n' && line[n - 2] == '}');
	CHECK(memchr(line, '\n', n) == line + n - 1);
	CHECK(memchr(line, '\r', n) == NULL);
	CHECK(oracle_json((const unsigned char *)line, n - 1, &object, &depth));
	CHECK(object);

	/*
	 * The event member is the body, verbatim but for BOM, CR and LF.  The
	 * line is not NUL-terminated (memmem, not strstr); header values are
	 * escaped, so the first ,"event": is the record's own.
	 */
	ebeg = memmem(line, n, ",\"event\":", 9);
	CHECK(ebeg != NULL);
	ebeg += 9;
	if (len >= 3 && memcmp(body, "\xef\xbb\xbf", 3) == 0)
		body += 3, len -= 3;
	CHECK((size_t)(line + n - 2 - ebeg) == len);
	for (k = 0; k < len; k++)
		CHECK(ebeg[k] ==
		    (body[k] == '\r' || body[k] == '\n' ? ' ' : body[k]));
	/* Where event is not the body byte for byte, raw is, in base64. */
	{
		const char *raw = memmem(line, n, ",\"raw\":\"", 8);
		int differs = len != ev->len || memchr(body, '\r', len) ||
		    memchr(body, '\n', len);
		unsigned char *dec;
		size_t rlen;
		ssize_t dl;

		CHECK((raw != NULL && raw < ebeg) == (differs != 0));
		if (raw != NULL && raw < ebeg) {
			raw += 8;
			rlen = (size_t)((const char *)memchr(raw, '"',
			                    (size_t)(line + n - raw)) -
			    raw);
			CHECK((dec = malloc(rlen)) != NULL);
			dl = sig_b64_decode(raw, rlen, dec, rlen);
			CHECK(dl == (ssize_t)ev->len &&
			    memcmp(dec, ev->body, ev->len) == 0);
			free(dec);
		}
	}
	free(line);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen;
	char hex[2 * EVP_MAX_MD_SIZE + 1];
	struct hl_event ev;
	struct hl_why why = {""};
	int valid, object, depth;
	enum hl_err rc;
	char *body;

	/* request.c hands over a NUL-terminated body. */
	if ((body = malloc(size + 1)) == NULL)
		return 0;
	memcpy(body, data, size);
	body[size] = '\0';
	rc = event_parse(&ev, body, size, &why);
	valid = oracle_json(data, size, &object, &depth);
	CHECK(rc == HL_OK || rc == HL_EJSON);
	if (rc == HL_OK) {
		CHECK(valid && object);
		CHECK(EVP_Digest(data, size, md, &mdlen, EVP_sha256(), NULL));
		hex_encode(hex, md, mdlen);
		CHECK(strcmp(hex, ev.id) == 0);
		check_record(&ev, data, size);
	} else {
		CHECK(why.text[0] != '\0');
		/* A valid object is refused only beyond cJSON's nesting limit. */
		CHECK(!(valid && object && depth < 1000));
	}
	event_clear(&ev);
	free(body);
	return 0;
}
