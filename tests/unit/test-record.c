/* test-record: the log line keeps the body verbatim and stays one line. */
#include <string.h>

#include <cjson/cJSON.h>

#include "hookline.h"
#include "tap.h"

static char line[4096];

static size_t
fmt(const char *body, const char *remote, const char *sig)
{
	struct hl_record r = {
	    .when = {1795933348, 123456789},
	    .id = "ab",
	    .remote = remote,
	    .signature = sig,
	    .scheme = "hub",
	    .key = 1,
	    .body = body,
	    .len = strlen(body),
	};
	size_t n = record_format(line, &r);

	line[n] = '\0';
	ok(n <= record_max(&r), "line fits record_max (%zu)", n);
	return n;
}

int
main(void)
{
	const char *precise = "{\"n\":9007199254740993,\"f\":[2.50,-0,1e400],"
	                      "\"s\":\"caf\\u00e9 \xc3\xa9\"}";
	cJSON *j;
	size_t n;

	n = fmt(precise, "203.0.113.9", "sha1=00ff");
	ok(strcmp(line,
	       "{\"received\":\"2026-11-29T06:22:28.123456Z\","
	       "\"id\":\"ab\",\"remote\":\"203.0.113.9\",\"scheme\":\"hub\","
	       "\"delivery\":null,\"key\":1,\"signature\":"
	       "\"sha1=00ff\",\"event\":{\"n\":9007199254740993,\"f\":[2.50,-0,"
	       "1e400],\"s\":\"caf\\u00e9 \xc3\xa9\"}}\n") == 0,
	    "line is exact, body byte for byte");
	ok(line[n - 1] == '\n' && strchr(line, '\n') == line + n - 1,
	    "one newline, at the end");
	ok((j = cJSON_Parse(line)) != NULL, "line is JSON");
	cJSON_Delete(j);

	fmt("{\r\n  \"a\": 1\r\n}\n", NULL, NULL);
	ok(strstr(line,
	       "\"remote\":null,\"scheme\":\"hub\",\"delivery\":null,"
	       "\"key\":1,\"signature\":null,"
	       "\"raw\":\"ew0KICAiYSI6IDENCn0K\",\"event\":{    "
	       "\"a\": 1  } }\n") != NULL,
	    "CR and LF become spaces, the exact body is in raw; nulls");

	fmt("\xef\xbb\xbf{}", "::1", "x");
	ok(strstr(line, "\"raw\":\"77u/e30=\",\"event\":{}}\n") != NULL,
	    "leading BOM dropped from event, kept in raw");
	fmt("{\"a\":1}", "::1", "x");
	ok(strstr(line, "\"raw\"") == NULL,
	    "no raw when event is the body byte for byte");

	fmt("{}", "a\"b\\c\nd\x01\xff", "\"");
	ok(strstr(line, "\"remote\":\"a\\\"b\\\\c\\u000ad\\u0001?\",") !=
	            NULL &&
	        strstr(line, "\"signature\":\"\\\"\"") != NULL,
	    "header values escaped");
	fmt("{}", "msg_\xc3\xa9\xe2\x82\xac\xc3|\xed\xa0\x80.", "x");
	ok(strstr(line, "\"remote\":\"msg_\xc3\xa9\xe2\x82\xac?|???.\",") !=
	        NULL,
	    "well-formed UTF-8 kept as sent, a cut or a surrogate byte by byte "
	    "'?'");
	ok((j = cJSON_Parse(line)) != NULL, "escaped line is JSON");
	cJSON_Delete(j);
	return tap_done();
}
