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

/* HL_OK for POST, HL_EMETHOD for anything else. */
enum hl_err
request_check_method(struct hl_request *req)
{
	const char *m = io_param(req->io, "REQUEST_METHOD");

	if (m != NULL && strcmp(m, "POST") == 0)
		return HL_OK;
	why_set(&req->why, "only POST is accepted");
	return HL_EMETHOD;
}

/* Reads a body of unknown length up to max bytes (FastCGI marks its end). */
static enum hl_err
read_to_end(struct hl_io *io, size_t max, struct hl_buf *b, struct hl_why *why)
{
	long n;

	b->len = 0;
	for (;;) {
		if (buf_reserve(b, b->len + CHUNK + 1) == -1) {
			why_set(why, "out of memory reading the body");
			return HL_EINTERNAL;
		}
		if ((n = io_read(io, b->p + b->len, CHUNK)) < 0) {
			why_set(why, "error reading the body");
			return HL_EINCOMPLETE;
		}
		b->len += (size_t)n;
		if (b->len > max) {
			why_set(why, "body of more than %zu bytes", max);
			return HL_ETOOBIG;
		}
		if (n < CHUNK)
			break;
	}
	b->p[b->len] = '\0';
	return HL_OK;
}

/* Reads a body of the declared length, refusing one over max bytes. */
static enum hl_err
read_declared(struct hl_io *io, unsigned long long len, size_t max,
    struct hl_buf *b, struct hl_why *why)
{
	long got;

	if (len > max) {
		why_set(why, "declared body of %llu bytes, limit %zu", len,
		    max);
		return HL_ETOOBIG;
	}
	if (buf_reserve(b, (size_t)len + 1) == -1) {
		why_set(why, "out of memory for a body of %llu bytes", len);
		return HL_EINTERNAL;
	}
	got = io_read(io, b->p, (size_t)len);
	if (got < 0 || (unsigned long long)got < len) {
		why_set(why, "body ended after %ld of %llu bytes",
		    got < 0 ? 0 : got, len);
		return HL_EINCOMPLETE;
	}
	b->len = (size_t)len;
	b->p[b->len] = '\0';
	return HL_OK;
}

/* request_read_body without the deadline. */
static enum hl_err
read_body(struct hl_request *req)
{
	unsigned long long len;

	switch (io_content_length(req->io, &len)) {
	case IO_LENGTH_NONE:
		/* FastCGI marks the end of the body; CGI has no other way. */
		if (req->io->fcgx != NULL)
			return read_to_end(req->io, req->cfg->max_body,
			    req->body, &req->why);
		why_set(&req->why, "no CONTENT_LENGTH");
		return HL_ENOLENGTH;
	case IO_LENGTH_BAD:
		why_set(&req->why, "CONTENT_LENGTH \"%.32s\" is not a number",
		    io_param(req->io, "CONTENT_LENGTH"));
		return HL_EBADLENGTH;
	default:
		return read_declared(req->io, len, req->cfg->max_body,
		    req->body, &req->why);
	}
}

/*
 * Reads the body into req->body, NUL-terminated, refusing more than
 * HOOKLINE_MAX_BODY and giving up (HL_ETIMEOUT) when all of it has not
 * come within HOOKLINE_READ_TIMEOUT: a client that trickles a large body
 * would otherwise hold a worker of a small pool before anyone is
 * authenticated.  Returns HL_OK, or an error with req->why set.
 */
enum hl_err
request_read_body(struct hl_request *req)
{
	unsigned timeout = req->cfg->read_timeout;
	enum hl_err rc;

	if (deadline_arm(timeout * 1000U) == -1) {
		why_set(&req->why, "cannot set the read deadline: %s",
		    strerror(errno));
		return HL_EINTERNAL;
	}
	rc = read_body(req);
	deadline_disarm();
	if (rc == HL_EINCOMPLETE && deadline_passed()) {
		why_set(&req->why,
		    "body not received within HOOKLINE_READ_TIMEOUT (%u s)",
		    timeout);
		return HL_ETIMEOUT;
	}
	return rc;
}
