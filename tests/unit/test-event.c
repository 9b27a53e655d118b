/*
 * test-event: what counts as an event (a JSON object in UTF-8, nothing
 * after it), its id, and the common hotglue fields.
 */
#include <string.h>

#include "hookline.h"
#include "tap.h"

static enum hl_err
parse(const char *body, size_t len)
{
	struct hl_event ev;
	struct hl_why why = {""};
	char buf[256];
	enum hl_err rc;

	/* event_parse wants body[len] == '\0', as request.c leaves it. */
	memcpy(buf, body, len);
	buf[len] = '\0';
	rc = event_parse(&ev, buf, len, &why);
	event_clear(&ev);
	return rc;
}

#define P(lit) parse(lit, sizeof(lit) - 1)

static void
deep(void)
{
	static char buf[200010];
	size_t n = 100000;
	struct hl_event ev;
	struct hl_why why;

	memset(buf, '[', n);
	memset(buf + n, ']', n);
	buf[2 * n] = '\0';
	ok(event_parse(&ev, buf, 2 * n, &why) == HL_EJSON,
	    "100000 nested arrays refused without a crash");
	event_clear(&ev);
}

int
main(void)
{
	struct hl_event ev;
	struct hl_why why = {""};
	char body[] = "{\"status\":\"JOB_COMPLETED\",\"job_id\":\"j1\","
	              "\"flow_id\":\"f1\",\"tenant\":7}";

	ok(P("{}") == HL_OK, "empty object");
	ok(P(" \r\n{\"a\":1}\r\n\t ") == HL_OK, "object with whitespace");
	ok(P("\xef\xbb\xbf{}") == HL_OK, "object after a UTF-8 BOM");
	ok(P("{\"s\":\"caf\xc3\xa9 \xe6\xbc\xa2 \xf0\x9f\x98\x80\"}") == HL_OK,
	    "UTF-8 in strings");
	ok(P("{\"a\":1,\"a\":2}") == HL_OK, "duplicate keys accepted");
	ok(P("{\"s\":\"\\ud83d\\ude00\"}") == HL_OK, "surrogate pair escape");
	ok(P("[]") == HL_EJSON, "array refused");
	ok(P("1") == HL_EJSON, "number refused");
	ok(P("\"s\"") == HL_EJSON, "string refused");
	ok(P("null") == HL_EJSON, "null refused");
	ok(P("") == HL_EJSON, "empty body refused");
	ok(P("   ") == HL_EJSON, "whitespace body refused");
	ok(P("{}x") == HL_EJSON, "trailing garbage refused");
	ok(P("{}{}") == HL_EJSON, "two objects refused");
	ok(P("{} \n x") == HL_EJSON, "garbage after whitespace refused");
	ok(P("{\"a\":1") == HL_EJSON, "truncated object refused");
	ok(P("{}\0") == HL_EJSON, "NUL after the object refused");
	ok(P("{\"a\":\"x\0y\"}") == HL_EJSON, "NUL in a string refused");
	ok(P("{\"a\":\"x\ny\"}") == HL_EJSON,
	    "raw newline in a string refused");
	ok(P("{\"a\":\"x\ty\"}") == HL_EJSON, "raw tab in a string refused");
	ok(P("{\"a\":\"\\\"\ny\"}") == HL_EJSON,
	    "raw newline after an escaped quote refused");
	ok(P("{\"a\":\"x\\\\\"}") == HL_OK, "escaped backslash ends a string");
	ok(P("{\"a\":\"\xff\"}") == HL_EJSON, "byte 0xff refused");
	ok(P("{\"a\":\"\xc0\xaf\"}") == HL_EJSON, "overlong '/' refused");
	ok(P("{\"a\":\"\xe0\x80\xaf\"}") == HL_EJSON,
	    "3-byte overlong refused");
	ok(P("{\"a\":\"\xed\xa0\x80\"}") == HL_EJSON,
	    "encoded surrogate refused");
	ok(P("{\"a\":\"\xf4\x90\x80\x80\"}") == HL_EJSON,
	    "code point above U+10FFFF refused");
	ok(P("{\"a\":\"\xc3\"}") == HL_EJSON, "truncated sequence refused");
	ok(P("{\"a\":\"\xe6\xbc\"}") == HL_EJSON, "truncated 3-byte refused");
	ok(P("{\"a\":\"\\ud800\"}") == HL_EJSON, "lone high surrogate refused");
	ok(P("{\"a\":\"\\udc00\"}") == HL_EJSON, "lone low surrogate refused");
	/* cJSON reads a \u escape with a non-hex digit as \u0000. */
	ok(P("{\"a\":\"\\ud8p0\"}") == HL_EJSON,
	    "\\u with a non-hex digit refused");
	ok(P("{\"a\":\"\\u000p\"}") == HL_EJSON, "\\u000p refused");
	ok(P("{\"a\":\"\\u00\"}") == HL_EJSON, "short \\u escape refused");
	ok(P("{\"a\":\"\\u") == HL_EJSON, "\\u at the end refused");
	ok(P("{\"a\":\"\\uABcd\\\\u\"}") == HL_OK,
	    "\\uABcd accepted, an escaped backslash before u is no escape");
	ok(P("{'a':1}") == HL_EJSON, "single quotes refused");
	ok(P("{\"a\":01}") == HL_EJSON, "leading zero refused");
	ok(P("{\"a\":1.}") == HL_EJSON, "1. refused");
	ok(P("{\"a\":.5}") == HL_EJSON, ".5 refused");
	ok(P("{\"a\":+1}") == HL_EJSON, "+1 refused");
	ok(P("{\"a\":-}") == HL_EJSON, "lone minus refused");
	ok(P("{\"a\":1e}") == HL_EJSON, "1e refused");
	ok(P("{\"a\":1.5.5}") == HL_EJSON, "1.5.5 refused");
	ok(P("{\"a\":[0,-0,0.5,-1.25e+10,1E-3,9007199254740993,1e400]}") ==
	        HL_OK,
	    "every number form of RFC 8259 accepted");
	ok(P("{\"a\":\"-01 is fine in a string\"}") == HL_OK,
	    "numbers inside strings not checked");
	ok(P("{\"a\":1}\x0b") == HL_EJSON,
	    "vertical tab as whitespace refused");
	ok(P("\x01{}") == HL_EJSON, "control byte before the object refused");
	deep();

	ok(event_parse(&ev, body, strlen(body), &why) == HL_OK,
	    "hotglue event");
	ok(ev.status && strcmp(ev.status, "JOB_COMPLETED") == 0,
	    "status field");
	ok(ev.job_id && strcmp(ev.job_id, "j1") == 0, "job_id field");
	ok(ev.flow_id && strcmp(ev.flow_id, "f1") == 0, "flow_id field");
	ok(ev.tenant == NULL, "non-string tenant reads as absent");
	event_clear(&ev);
	ok(event_parse(&ev, "{}", 2, &why) == HL_OK &&
	        strcmp(ev.id,
	            "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61c"
	            "aaff8a") == 0,
	    "id is the SHA-256 of the body");
	ok(ev.status == NULL, "absent status is NULL");
	event_clear(&ev);
	event_clear(&ev);
	ok(ev.root == NULL && ev.status == NULL && ev.job_id == NULL,
	    "clearing twice is harmless: nothing left to free");

	/* A tree larger than event.c's allocation buffer: the rest of it
	 * comes from malloc, and both parts are freed. */
	{
		size_t cap = 20000 * 24 + 64, len = 0;
		char *big = malloc(cap);

		len += (size_t)sprintf(big, "{\"status\":\"SYNC_FAILED\"");
		for (int i = 0; i < 20000; i++)
			len += (size_t)sprintf(big + len, ",\"k%d\":[%d]", i, i);
		len += (size_t)sprintf(big + len, "}");
		for (int round = 0; round < 2; round++) {
			ok(event_parse(&ev, big, len, &why) == HL_OK &&
			        ev.status != NULL &&
			        strcmp(ev.status, "SYNC_FAILED") == 0,
			    "%zu-byte event of 40001 values, round %d", len,
			    round + 1);
			event_clear(&ev);
		}
		big[len - 1] = ',';
		ok(event_parse(&ev, big, len, &why) == HL_EJSON,
		    "the same, cut short: 400 (the partial tree is freed)");
		free(big);
		ok(event_parse(&ev, body, strlen(body), &why) == HL_OK &&
		        strcmp(ev.job_id, "j1") == 0,
		    "a small event after the large one");
		event_clear(&ev);
	}
	return tap_done();
}
