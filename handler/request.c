/*
 * request.c: reads what hookline needs of a request before trusting it:
 * the method, the declared length and the raw body, bounded by
 * HOOKLINE_MAX_BODY before a byte of the body is stored.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hookline.h"

/* Read granularity when no length was declared (FastCGI only). */
#define CHUNK (64 * 1024)

/* Makes room for n bytes in b.  Returns 0, or -1 when out of memory. */
int
buf_reserve(struct hl_buf *b, size_t n)
{
	char *p;

	if (n <= b->cap)
		return 0;
	if ((p = realloc(b->p, n)) == NULL)
		return -1;
	b->p = p;
	b->cap = n;
	return 0;
}

/*
 * Empties b, and frees its memory when it grew beyond keep bytes, so that
 * one large event does not pin its size for the life of the process.
 */
void
buf_release(struct hl_buf *b, size_t keep)
{
	b->len = 0;
	if (b->cap > keep) {
		free(b->p);
		b->p = NULL;
		b->cap = 0;
	}
}

static enum hl_err read_body(struct hl_io *, size_t, struct hl_buf *, char *,
    size_t);

/* HL_OK for POST, HL_EMETHOD for anything else. */
enum hl_err
request_check_method(const struct hl_io *io)
{
	const char *m = io_param(io, "REQUEST_METHOD");

	return m != NULL && strcmp(m, "POST") == 0 ? HL_OK : HL_EMETHOD;
}

/* Reads a body of unknown length up to max bytes (FastCGI marks its end). */
static enum hl_err
read_to_end(struct hl_io *io, size_t max, struct hl_buf *b, char *why,
    size_t wl)
{
	long n;

	b->len = 0;
	for (;;) {
		if (buf_reserve(b, b->len + CHUNK + 1) == -1) {
			snprintf(why, wl, "out of memory reading the body");
			return HL_EINTERNAL;
		}
		if ((n = io_read(io, b->p + b->len, CHUNK)) < 0) {
			snprintf(why, wl, "error reading the body");
			return HL_EINCOMPLETE;
		}
		b->len += (size_t)n;
		if (b->len > max) {
			snprintf(why, wl, "body of more than %zu bytes", max);
			return HL_ETOOBIG;
		}
		if (n < CHUNK)
			break;
	}
	b->p[b->len] = '\0';
	return HL_OK;
}

/*
 * Reads the body into b, NUL-terminated, refusing more than max bytes and
 * giving up (HL_ETIMEOUT) when all of it has not come within timeout
 * seconds: a client that trickles a large body would otherwise hold a
 * worker of a small pool before anyone is authenticated.  Returns HL_OK,
 * or an error with why (wl bytes) set for the error log.
 */
enum hl_err
request_read_body(struct hl_io *io, size_t max, unsigned timeout,
    struct hl_buf *b, char *why, size_t wl)
{
	enum hl_err rc;

	if (deadline_arm(timeout * 1000U) == -1) {
		snprintf(why, wl, "cannot set the read deadline: %s",
		    strerror(errno));
		return HL_EINTERNAL;
	}
	rc = read_body(io, max, b, why, wl);
	deadline_disarm();
	if (rc == HL_EINCOMPLETE && deadline_passed()) {
		snprintf(why, wl,
		    "body not received within HOOKLINE_READ_TIMEOUT (%u s)",
		    timeout);
		return HL_ETIMEOUT;
	}
	return rc;
}

/* request_read_body without the deadline. */
static enum hl_err
read_body(struct hl_io *io, size_t max, struct hl_buf *b, char *why,
    size_t wl)
{
	const char *cl = io_param(io, "CONTENT_LENGTH");
	unsigned long long len;
	char *end;
	long got;

	if (cl == NULL || *cl == '\0') {
		if (io->fcgx != NULL)
			return read_to_end(io, max, b, why, wl);
		snprintf(why, wl, "no CONTENT_LENGTH");
		return HL_ENOLENGTH;
	}
	errno = 0;
	len = strtoull(cl, &end, 10);
	if (*cl < '0' || *cl > '9' || *end != '\0' || errno != 0) {
		snprintf(why, wl, "CONTENT_LENGTH \"%.32s\" is not a number",
		    cl);
		return HL_EBADLENGTH;
	}
	if (len > max) {
		snprintf(why, wl, "declared body of %llu bytes, limit %zu", len,
		    max);
		return HL_ETOOBIG;
	}
	if (buf_reserve(b, (size_t)len + 1) == -1) {
		snprintf(why, wl, "out of memory for a body of %llu bytes",
		    len);
		return HL_EINTERNAL;
	}
	got = io_read(io, b->p, (size_t)len);
	if (got < 0 || (unsigned long long)got < len) {
		snprintf(why, wl, "body ended after %ld of %llu bytes",
		    got < 0 ? 0 : got, len);
		return HL_EINCOMPLETE;
	}
	b->len = (size_t)len;
	b->p[b->len] = '\0';
	return HL_OK;
}
