/*
 * test-follow-line: hookline-follow's reading of one log line (line.c):
 * the fields, the body exactly as it stands, the signature scheme, what
 * is not a record, --match, and the times files are ordered by.
 */
#define _GNU_SOURCE /* memmem */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "follow/follow.h"
#include "tap.h"

#define ID "8c9619a4fdc66ae0bb6f6229fda3cb5f340179f7f234f7de08fcf2ac5132430a"

static const char *why;

static int
parse(struct fl_line *l, const char *text)
{
	why = "";
	return line_parse(l, text, strlen(text), &why);
}

static const char *
body(const struct fl_line *l)
{
	static char buf[512];

	snprintf(buf, sizeof(buf), "%.*s", (int)l->body_len, l->body);
	return buf;
}

static int
matches(const struct fl_line *l, int n, const char *const *args)
{
	struct fl_match m[8];

	for (int i = 0; i < n; i++) {
		const char *eq = strchr(args[i], '=');

		m[i].key = args[i];
		m[i].key_len = (size_t)(eq - args[i]);
		m[i].value = eq + 1;
	}
	return line_match(l, m, (size_t)n);
}

int
main(void)
{
	const char *hotglue =
	    "{\"received\":\"2026-11-29T06:22:28.123456Z\",\"id\":\"" ID
	    "\",\"remote\":\"203.0.113.9\",\"signature\":\"eb37c112766af41915a711990acf042389de488d\","
	    "\"event\":{\"job_id\":\"tVN_B\",\"status\":\"JOB_COMPLETED\",\"flow_id\":\"F1\","
	    "\"tenant\":\"t-1\",\"n\":9007199254740993,\"ok\":true,\"none\":null,"
	    "\"nested\":{\"event\":{\"status\":\"x\"}},  \"s\":\"\\u00e9\\n\"}}";
	char rec[FL_RECEIVED_MAX];
	struct fl_line l;
	time_t t;

	ok(parse(&l, hotglue) == 0, "a hotglue record parses (%s)", why);
	ok(strcmp(l.id, ID) == 0, "id read from the line");
	ok(l.received && strcmp(l.received, "2026-11-29T06:22:28.123456Z") == 0,
	    "received read from the line");
	ok(l.remote && strcmp(l.remote, "203.0.113.9") == 0, "remote");
	ok(l.scheme && strcmp(l.scheme, "sha1") == 0,
	    "bare hex signature: sha1 (X-Hub-Signature)");
	ok(l.status && strcmp(l.status, "JOB_COMPLETED") == 0 && l.job_id &&
	        strcmp(l.job_id, "tVN_B") == 0 && l.flow_id &&
	        strcmp(l.flow_id, "F1") == 0 && l.tenant &&
	        strcmp(l.tenant, "t-1") == 0,
	    "the common hotglue fields");
	ok(strcmp(body(&l), strstr(hotglue, "{\"job_id\"")) != 0 &&
	        strncmp(body(&l), "{\"job_id\"", 9) == 0 &&
	        l.body + l.body_len == hotglue + strlen(hotglue) - 1,
	    "body: the event value's text, up to the last '}' before the end");
	ok(memmem(l.body, l.body_len, "9007199254740993", 16) != NULL &&
	        memmem(l.body, l.body_len, "  \"s\":\"\\u00e9\\n\"", 16) !=
	            NULL,
	    "body: numbers, spacing and escapes exactly as in the line");
	{
		const char *a[] = {"status=JOB_COMPLETED"},
		           *b[] = {"status=SYNC_FAILED"},
		           *c[] = {"status=SYNC_FAILED",
		               "status=JOB_COMPLETED"},
		           *d[] = {"status=JOB_COMPLETED", "tenant=t-2"},
		           *e[] = {"n=9007199254740993"}, *f[] = {"ok=true"},
		           *g[] = {"none=null"}, *h[] = {"nested={}"},
		           *i[] = {"missing=x"}, *j[] = {"ok=1"},
		           *k[] = {"status=JOB_COMPLETED", "tenant=t-1",
		               "ok=true"};

		ok(matches(&l, 0, NULL), "no --match: everything passes");
		ok(matches(&l, 1, a) && !matches(&l, 1, b),
		    "--match on a string");
		ok(matches(&l, 2, c), "the same key twice: either value");
		ok(!matches(&l, 2, d), "two keys: both must match");
		ok(matches(&l, 3, k), "three keys, all matching");
		ok(matches(&l, 1, e), "a number compares numerically");
		ok(matches(&l, 1, f) && matches(&l, 1, g) && !matches(&l, 1, j),
		    "true and null by name, not 1");
		ok(!matches(&l, 1, h) && !matches(&l, 1, i),
		    "objects and missing keys never match");
	}
	line_clear(&l);
	line_clear(&l); /* twice is harmless */

	ok(parse(&l,
	       "{\"received\":\"2026-11-29T06:22:28.123456Z\",\"id\":\"" ID
	       "\",\"remote\":null,\"signature\":\"SHA256=ab\",\"event\":{}}") ==
	            0 &&
	        l.remote == NULL && strcmp(l.scheme, "sha256") == 0 &&
	        l.status == NULL && strcmp(body(&l), "{}") == 0,
	    "null remote, sha256= in any case, no fields, empty event");
	line_clear(&l);
	ok(parse(&l,
	       "{\"received\":\"2026-11-29T06:22:28.123456Z\",\"id\":\"" ID
	       "\",\"remote\":\"a\",\"signature\":null,\"event\":{\"status\":7}}") ==
	            0 &&
	        l.scheme == NULL && l.status == NULL,
	    "unsigned: no scheme; a status that is no string is unset");
	line_clear(&l);
	{
		/* Records as hookline writes them now: "scheme" and "key". */
		const char *cases[][3] = {
		    {"\"hub\"", "1", "\"sha256=ab\""},
		    {"\"hub\"", "2", "\"ab\""},
		    {"\"hub\"", "1",
		        "\"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\""},
		    {"\"stripe\"", "1", "\"t=1,v1=ab\""},
		    {"\"standard\"", "3", "\"v1,q83v\""},
		    {"\"gitlab\"", "1", "null"},
		    {"\"hub\"", "null", "\"sha1=ab\""},
		    {"\"stripe\"", "null", "\"t=1,v1=ab\""},
		};
		const char *want[] = {"sha256", "sha1", "sha256", "stripe",
		    "standard", "gitlab", NULL, NULL};
		char text[512];
		size_t i, good = 0;

		for (i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
			snprintf(text, sizeof(text),
			    "{\"received\":\"x\",\"id\":\"" ID
			    "\",\"remote\":\"a\",\"scheme\":%s,"
			    "\"delivery\":null,\"key\":%s,\"signature\":%s,"
			    "\"event\":{}}",
			    cases[i][0], cases[i][1], cases[i][2]);
			if (parse(&l, text) == 0 &&
			    (want[i] == NULL ? l.scheme == NULL
			                     : l.scheme != NULL &&
			                strcmp(l.scheme, want[i]) == 0))
				good++;
			else
				printf("# case %zu: %s -> %s\n", i, text,
				    l.scheme ? l.scheme : "(unset)");
			line_clear(&l);
		}
		ok(good == i,
		    "scheme as the exec plugin gives it: hub's algorithm, the "
		    "other schemes' names (gitlab: no signature logged), unset "
		    "when no secret verified it (%zu of %zu)",
		    good, i);
	}
	ok(parse(&l,
	       "{\"received\":\"x\",\"id\":\"" ID
	       "\",\"remote\":\"a\\\",\\\"event\\\":{}\",\"signature\":null,\"event\":{\"a\":1}}") ==
	            0 &&
	        strcmp(body(&l), "{\"a\":1}") == 0,
	    "an escaped \",\"event\": inside a string is not the key");
	line_clear(&l);

	ok(parse(&l, "") == -1 && parse(&l, "garbage") == -1,
	    "empty and foreign lines are refused (%s)", why);
	ok(parse(&l,
	       "{\"received\":\"2026-11-29T06:22:28.123456Z\",\"id\":\"" ID
	       "\",\"remote\":\"a\",\"signature\":null,\"event\":{\"a\":") ==
	        -1,
	    "a torn record is refused (%s)", why);
	ok(parse(&l, "{\"received\":\"t\",\"id\":\"abc\",\"event\":{}}") == -1,
	    "an id that is not 64 hex digits is refused (%s)", why);
	ok(parse(&l, "{\"received\":\"t\",\"id\":\"" ID "\",\"event\":[1]}") ==
	        -1,
	    "an event that is not an object is refused (%s)", why);
	ok(parse(&l,
	       "{\"received\":\"t\",\"id\":\"" ID
	       "\",\"event\":{},\"x\":1}") == -1,
	    "\"event\" must be the last member (%s)", why);
	ok(parse(&l, "{\"received\":\"t\",\"id\":\"" ID "\",\"event\":{}} }") ==
	        -1,
	    "trailing text is refused (%s)", why);
	ok(parse(&l, "{\"received\":\"t\",\"id\":\"" ID "\",\"event\":{}}") ==
	        0,
	    "a minimal record parses");
	line_clear(&l);

	line_received(hotglue, strlen(hotglue), rec, sizeof(rec));
	ok(strcmp(rec, "2026-11-29T06:22:28.123456Z") == 0,
	    "line_received: the first record's time");
	line_received("{\"received\":\"2026\"", 14, rec, sizeof(rec));
	ok(strcmp(rec, "") == 0, "line_received: cut short, nothing");
	line_received("{\"received\":\"20 26\"}", 21, rec, sizeof(rec));
	ok(strcmp(rec, "") == 0,
	    "line_received: unexpected characters, nothing");
	line_received("hello\n", 6, rec, sizeof(rec));
	ok(strcmp(rec, "") == 0, "line_received: not a record, nothing");
	ok(received_time("2026-11-29T06:22:28.123456Z", &t) == 0 &&
	        t == 1795933348,
	    "received_time: UTC seconds");
	ok(received_time("", &t) == -1 && received_time("2026-11-29", &t) == -1,
	    "received_time: refuses what is not a time");
	received_format(rec, sizeof(rec), 1795933348);
	ok(strcmp(rec, "2026-11-29T06:22:28.000000Z") == 0,
	    "received_format: hookline's format");
	return tap_done();
}
