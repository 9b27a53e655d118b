/*
 * answer.c: the one table that maps each outcome to its HTTP answer
 * (hookline(8), DIAGNOSTICS), and the formatting of that answer as CGI
 * response headers plus a one-line JSON body.
 */
#include <stdarg.h>
#include <stdio.h>

#include "hookline.h"

/* Formats the reason a step failed into why. */
void
why_set(struct hl_why *why, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why->text, sizeof(why->text), fmt, ap);
	va_end(ap);
}

static const struct {
	int status;
	const char *reason; /* HTTP reason phrase */
	const char *message; /* the JSON body's "error" */
	const char *extra; /* more header lines, each ending in CRLF */
} answers[HL_ERR__MAX] = {
    [HL_OK] = {200, "OK", NULL, ""},
    [HL_EMETHOD] = {405, "Method Not Allowed", "method not allowed",
        "Allow: POST\r\n"},
    [HL_ENOLENGTH] = {411, "Length Required", "length required", ""},
    [HL_EBADLENGTH] = {400, "Bad Request", "invalid content length", ""},
    [HL_ETOOBIG] = {413, "Content Too Large", "body too large", ""},
    [HL_EINCOMPLETE] = {400, "Bad Request", "incomplete body", ""},
    [HL_ESIG] = {401, "Unauthorized", "invalid signature", ""},
    [HL_EJSON] = {400, "Bad Request", "invalid JSON", ""},
    [HL_ECONFIG] = {500, "Internal Server Error", "server misconfigured", ""},
    [HL_ESTORE] = {503, "Service Unavailable", "temporarily unavailable",
        "Retry-After: 30\r\n"},
    [HL_EREJECT] = {422, "Unprocessable Content", "rejected", ""},
    [HL_ETIMEOUT] = {408, "Request Timeout", "request timeout", ""},
    [HL_EINTERNAL] = {503, "Service Unavailable", "temporarily unavailable",
        "Retry-After: 30\r\n"},
};

/* The HTTP status for an outcome. */
int
answer_status(enum hl_err e)
{
	return answers[e].status;
}

/* The short text of an outcome, as in the JSON body; "ok" for HL_OK. */
const char *
answer_message(enum hl_err e)
{
	return e == HL_OK ? "ok" : answers[e].message;
}

/*
 * Writes the whole CGI response for outcome e into buf (cap bytes): Status
 * line, headers, blank line, body.  id is the event id, used only for
 * HL_OK.  Returns the length written; cap of 512 always suffices.
 */
size_t
answer_format(char *buf, size_t cap, enum hl_err e, const char *id)
{
	int n;

	if (e == HL_OK)
		n = snprintf(buf, cap,
		    "Status: 200 OK\r\n"
		    "Content-Type: application/json\r\n"
		    "Cache-Control: no-store\r\n\r\n"
		    "{\"ok\":true,\"id\":\"%s\"}\n",
		    id);
	else
		n = snprintf(buf, cap,
		    "Status: %d %s\r\n"
		    "Content-Type: application/json\r\n"
		    "Cache-Control: no-store\r\n%s\r\n"
		    "{\"error\":\"%s\"}\n",
		    answers[e].status, answers[e].reason, answers[e].extra,
		    answers[e].message);
	if (n < 0)
		return 0;
	return (size_t)n < cap ? (size_t)n : cap - 1;
}
