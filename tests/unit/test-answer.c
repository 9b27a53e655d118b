/* test-answer: every outcome maps to the status and body of hookline(8). */
#include <string.h>

#include <cjson/cJSON.h>

#include "hookline.h"
#include "tap.h"

static const struct {
	enum hl_err e;
	int status;
	const char *error;
	const char *header;
} want[] = {
    {HL_EMETHOD, 405, "method not allowed", "Allow: POST\r\n"},
    {HL_ENOLENGTH, 411, "length required", NULL},
    {HL_EBADLENGTH, 400, "invalid content length", NULL},
    {HL_ETOOBIG, 413, "body too large", NULL},
    {HL_EINCOMPLETE, 400, "incomplete body", NULL},
    {HL_ESIG, 401, "invalid signature", NULL},
    {HL_EJSON, 400, "invalid JSON", NULL},
    {HL_ECONFIG, 500, "server misconfigured", NULL},
    {HL_ESTORE, 503, "temporarily unavailable", "Retry-After: "},
    {HL_EREJECT, 422, "rejected", NULL},
    {HL_EINTERNAL, 503, "temporarily unavailable", "Retry-After: "},
};

int
main(void)
{
	char buf[512], status[32];
	const char *body;
	size_t n;
	cJSON *j;

	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		n = answer_format(buf, sizeof(buf), want[i].e, NULL);
		snprintf(status, sizeof(status), "Status: %d ", want[i].status);
		ok(answer_status(want[i].e) == want[i].status, "%s: status %d",
		    want[i].error, want[i].status);
		ok(strncmp(buf, status, strlen(status)) == 0, "%s: Status line",
		    want[i].error);
		ok(strstr(buf, "\r\nContent-Type: application/json\r\n") !=
		        NULL,
		    "%s: JSON content type", want[i].error);
		ok(want[i].header == NULL ||
		        strstr(buf, want[i].header) != NULL,
		    "%s: extra header", want[i].error);
		body = strstr(buf, "\r\n\r\n") + 4;
		j = cJSON_Parse(body);
		ok(j != NULL &&
		        cJSON_IsString(cJSON_GetObjectItem(j, "error")) &&
		        strcmp(cJSON_GetObjectItem(j, "error")->valuestring,
		            want[i].error) == 0,
		    "%s: JSON body", want[i].error);
		ok(buf[n - 1] == '\n' && strchr(body, '\n') == buf + n - 1,
		    "%s: body is one line", want[i].error);
		cJSON_Delete(j);
	}
	n = answer_format(buf, sizeof(buf), HL_OK, "abc123");
	ok(strncmp(buf, "Status: 200 OK\r\n", 16) == 0, "200 status line");
	ok(strstr(buf, "\r\n\r\n{\"ok\":true,\"id\":\"abc123\"}\n") != NULL &&
	        buf[n - 1] == '\n',
	    "200 body carries the id");
	return tap_done();
}
