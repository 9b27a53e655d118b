/*
 * fuzz-sig: the signature header parsers and verifiers of every scheme.
 *
 * Input: one byte choosing what is fuzzed, then the rest.
 *
 * 0 or 1: hub's value parser alone, as sig_parse() and sig_verify() see
 * it (even: X-Hub-Signature, HMAC-SHA1; odd: X-Hub-Signature-256), the
 * value up to the first newline (a NUL ends it, as in an environment
 * string), then the body.  sig_parse() must accept exactly an optional
 * "sha1="/"sha256=" prefix (any case) followed by exactly the MAC's
 * length in hex digits (any case), and decode it right; sig_verify()
 * must say yes exactly when the decoded MAC is the HMAC of the body,
 * computed here with OpenSSL's one-shot HMAC(); the right MAC, in either
 * case, with or without its prefix, must always verify.
 *
 * 2 to 255: a whole sig_check() of scheme (b - 2) % 5 with flags
 * (b - 2) / 5, against a fixed configuration per scheme (two secrets,
 * HOOKLINE_TOLERANCE 300) and a fixed clock.  The first line is the
 * signature header's value, the second the delivery id (standard's
 * webhook-id; for hub, with flag 32, X-Hub-Signature beside line one as
 * X-Hub-Signature-256), the third standard's webhook-timestamp, the rest
 * the body.  Flags 1, 2 and 4 leave out the signature, the id and the
 * timestamp header; 16 sends hub's line one as X-Hub-Signature-256.
 * Oracles, all computed here with OpenSSL's HMAC() and base64, never
 * with sig.c:
 *   - a refusal is HL_ESIG with a reason, never anything else;
 *   - an acceptance names secret 1 or 2, whose correct MAC stands in
 *     the header as the scheme writes it, with a timestamp within the
 *     tolerance; GitLab's token is never handed on to be logged;
 *   - the header the sender would build for this body (with the input's
 *     id, a timestamp the input puts anywhere within the tolerance, the
 *     secret flag 8 picks, and other versions' signatures beside it
 *     when the body's length is odd) verifies, with that secret's number.
 * Any disagreement aborts.
 */
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "hookline.h"
#include "oracle.h"

static const char key[] = "fuzz-sig-secret";
static EVP_MAC_CTX *ctx[3];

/* ---- 0, 1: hub's value parser --------------------------------------- */

/* The oracle: decodes v for alg the way hookline(8), "Signatures", says. */
static int
expect(const char *v, enum hl_alg alg, unsigned char *mac)
{
	const char *prefix = alg == HL_ALG_SHA1 ? "sha1=" : "sha256=";
	size_t len = alg == HL_ALG_SHA1 ? 20 : 32, plen = strlen(prefix);

	if (strncasecmp(v, prefix, plen) == 0)
		v += plen;
	if (strlen(v) != 2 * len)
		return 0;
	for (size_t i = 0; i < len; i++) {
		char pair[3] = {v[2 * i], v[2 * i + 1], '\0'};

		if (!isxdigit((unsigned char)pair[0]) ||
		    !isxdigit((unsigned char)pair[1]))
			return 0;
		mac[i] = (unsigned char)strtoul(pair, NULL, 16);
	}
	return 1;
}

static void
fuzz_hub_value(const uint8_t *data, size_t size)
{
	unsigned char want[HL_MAC_MAX], got[HL_MAC_MAX], mac[EVP_MAX_MD_SIZE];
	unsigned int maclen;
	char hdr[4096], good[2 * HL_MAC_MAX + 16];
	struct hl_why why;
	const char *nl;
	const unsigned char *body;
	size_t hlen, blen;
	enum hl_alg alg;
	enum hl_err rc;
	int ok;

	alg = data[0] & 1 ? HL_ALG_SHA256 : HL_ALG_SHA1;
	if (ctx[alg] == NULL)
		CHECK(sig_hmac_key(&ctx[alg], alg, (const unsigned char *)key,
		          strlen(key)) == 0);
	nl = memchr(data + 1, '\n', size - 1);
	hlen = nl != NULL ? (size_t)(nl - (const char *)data - 1) : size - 1;
	if (hlen >= sizeof(hdr))
		hlen = sizeof(hdr) - 1;
	memcpy(hdr, data + 1, hlen);
	hdr[hlen] = '\0';
	body = nl != NULL ? (const unsigned char *)nl + 1 : data + size;
	blen = (size_t)(data + size - body);

	ok = expect(hdr, alg, want);
	why.text[0] = '\0';
	rc = sig_parse(hdr, alg, got, &why);
	CHECK((rc == HL_OK) == ok);
	CHECK(rc == HL_OK || rc == HL_ESIG);
	CHECK(rc == HL_OK || why.text[0] != '\0');
	if (ok)
		CHECK(memcmp(got, want, alg == HL_ALG_SHA1 ? 20 : 32) == 0);

	CHECK(HMAC(alg == HL_ALG_SHA1 ? EVP_sha1() : EVP_sha256(), key,
	          (int)strlen(key), body, blen, mac, &maclen) != NULL);
	why.text[0] = '\0';
	rc = sig_verify(ctx[alg], alg, hdr, body, blen, &why);
	CHECK((rc == HL_OK) == (ok && memcmp(want, mac, maclen) == 0));
	CHECK(rc == HL_OK || why.text[0] != '\0');

	/* The right signature, written any way the contract allows. */
	hex_encode(good + 7, mac, maclen);
	if (size & 2)
		for (char *p = good + 7; *p != '\0'; p++)
			*p = (char)toupper((unsigned char)*p);
	if (size & 4) {
		const char *pre = alg == HL_ALG_SHA1
		    ? (size & 8 ? "SHA1=" : "sha1=")
		    : (size & 8 ? "Sha256=" : "sha256=");
		size_t pl = strlen(pre);

		memmove(good + pl, good + 7, 2 * maclen + 1);
		memcpy(good, pre, pl);
		CHECK(
		    sig_verify(ctx[alg], alg, good, body, blen, &why) == HL_OK);
	} else
		CHECK(sig_verify(ctx[alg], alg, good + 7, body, blen, &why) ==
		    HL_OK);
}

/* ---- 2 to 255: sig_check() of every scheme ---------------------------- */

#define NOW 1614265330L /* the fixed clock */
#define TOLERANCE 300L /* HOOKLINE_TOLERANCE's default */

enum { NO_SIG = 1, NO_ID = 2, NO_TS = 4, KEY2 = 8, HUB256 = 16, HUB_BOTH = 32 };

/* The two secrets of every scheme's configuration: whsec_ and base64,
 * which every scheme takes (standard keys with the decoded bytes). */
static const char *const secrets[2] = {
    "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
    "whsec_dGhlIG9sZCBvbmUgdGhhdCBpcyBnb2luZyBhd2F5",
};
static const struct hl_config *cfgs[HL_SCHEME_COUNT];
static struct hl_config_cache *caches[HL_SCHEME_COUNT];

/* The configuration of each scheme, read once from a secret file. */
static void
setup(void)
{
	char path[] = "/tmp/hookline-fuzz-sig-XXXXXX", sf[64], sch[64];
	char *params[] = {sch, sf, "HOOKLINE_LOG=/dev/null", NULL};
	struct hl_io io = {NULL, params, 0};
	struct hl_request req = {.io = &io};
	FILE *f;
	int fd;

	unsetenv("HOOKLINE_SECRET");
	unsetenv("HOOKLINE_SECRET_FILE");
	unsetenv("HOOKLINE_SCHEME");
	unsetenv("HOOKLINE_LOG");
	CHECK((fd = mkstemp(path)) != -1 && (f = fdopen(fd, "w")) != NULL);
	fprintf(f, "%s\n%s\n", secrets[0], secrets[1]);
	fclose(f);
	snprintf(sf, sizeof(sf), "HOOKLINE_SECRET_FILE=%s", path);
	for (int s = 0; s < HL_SCHEME_COUNT; s++) {
		snprintf(sch, sizeof(sch), "HOOKLINE_SCHEME=%s",
		    sig_scheme_name((enum hl_scheme)s));
		CHECK((caches[s] = config_cache_new()) != NULL);
		CHECK(config_get(caches[s], &req) == HL_OK);
		CHECK(req.cfg->nkeys == 2 && req.cfg->tolerance == TOLERANCE);
		cfgs[s] = req.cfg;
	}
	unlink(path);
}

/* The HMAC key of secret k (0 or 1) for scheme s, into out. */
static size_t
mac_key(enum hl_scheme s, int k, unsigned char *out)
{
	const char *t = secrets[k];

	if (s != HL_SCHEME_STANDARD) {
		memcpy(out, t, strlen(t));
		return strlen(t);
	}
	return (size_t)EVP_DecodeBlock(out, (const unsigned char *)t + 6,
	           (int)strlen(t + 6)) -
	    (t[strlen(t) - 1] == '=') - (t[strlen(t) - 2] == '=');
}

/* HMAC-SHA256 (or SHA-1) of head then body with secret k of scheme s. */
static void
mac_of(enum hl_scheme s, int k, const EVP_MD *md, const char *head,
    const unsigned char *body, size_t blen, unsigned char *mac)
{
	unsigned char kb[64], *msg;
	size_t klen = mac_key(s, k, kb), hlen = strlen(head);
	unsigned int maclen;

	CHECK((msg = malloc(hlen + blen + 1)) != NULL);
	memcpy(msg, head, hlen);
	memcpy(msg + hlen, body, blen);
	CHECK(HMAC(md, kb, (int)klen, msg, hlen + blen, mac, &maclen) != NULL);
	free(msg);
}

/* Whether tok (n bytes) is the base64 of the 32 bytes at mac. */
static int
b64_is(const char *tok, size_t n, const unsigned char *mac)
{
	unsigned char out[48];

	if (n != 44 || tok[43] != '=' || tok[42] == '=')
		return 0;
	for (size_t i = 0; i < 43; i++)
		if (!isalnum((unsigned char)tok[i]) && tok[i] != '+' &&
		    tok[i] != '/')
			return 0;
	return EVP_DecodeBlock(out, (const unsigned char *)tok, 44) == 33 &&
	    memcmp(out, mac, 32) == 0;
}

/* Whether tok (n bytes) is the hex of the 32 bytes at mac, any case. */
static int
hex_is(const char *tok, size_t n, const unsigned char *mac)
{
	char hex[65];

	hex_encode(hex, mac, 32);
	return n == 64 && strncasecmp(tok, hex, 64) == 0;
}

/* A signed timestamp the clock accepts: plain digits within tolerance. */
static int
ts_ok(const char *ts, size_t n)
{
	long long t = 0;

	if (n == 0 || n > 18 || strspn(ts, "0123456789") < n)
		return 0;
	for (size_t i = 0; i < n; i++)
		t = t * 10 + (ts[i] - '0');
	return t >= NOW - TOLERANCE && t <= NOW + TOLERANCE;
}

/* What one input sends: the header values (NULL: not sent), the body. */
struct sent {
	const char *sig; /* the scheme's signature header */
	const char *sig1; /* hub: X-Hub-Signature beside (or instead of) -256 */
	const char *id; /* the delivery id: standard's signed webhook-id */
	const char *ts; /* standard: webhook-timestamp */
	const unsigned char *body;
	size_t blen;
};

/* standard accepted with secret k: a v1 token is the right MAC. */
static int
standard_has_mac(const struct sent *in, int k)
{
	unsigned char mac[EVP_MAX_MD_SIZE];
	char head[8400];
	const char *p, *e;

	if (in->id == NULL || in->ts == NULL || in->sig == NULL ||
	    !ts_ok(in->ts, strlen(in->ts)) || *in->id == '\0' ||
	    strchr(in->id, '.') != NULL)
		return 0;
	snprintf(head, sizeof(head), "%s.%s.", in->id, in->ts);
	mac_of(HL_SCHEME_STANDARD, k, EVP_sha256(), head, in->body, in->blen,
	    mac);
	for (p = in->sig; *p != '\0'; p = e) {
		p += strspn(p, " ");
		e = p + strcspn(p, " ");
		if (e - p > 3 && strncmp(p, "v1,", 3) == 0 &&
		    b64_is(p + 3, (size_t)(e - p - 3), mac))
			return 1;
	}
	return 0;
}

/* stripe accepted with secret k: t= in time, a v1= is the right MAC. */
static int
stripe_has_mac(const struct sent *in, int k)
{
	unsigned char mac[EVP_MAX_MD_SIZE];
	char head[64];
	const char *p, *e, *t = NULL;
	size_t tlen = 0;

	for (p = in->sig; p != NULL && *p != '\0'; p = *e == ',' ? e + 1 : e) {
		e = p + strcspn(p, ",");
		if (strncmp(p, "t=", 2) == 0 && t == NULL)
			t = p + 2, tlen = (size_t)(e - p - 2);
	}
	if (t == NULL || !ts_ok(t, tlen))
		return 0;
	snprintf(head, sizeof(head), "%.*s.", (int)tlen, t);
	mac_of(HL_SCHEME_STRIPE, k, EVP_sha256(), head, in->body, in->blen,
	    mac);
	for (p = in->sig; *p != '\0'; p = *e == ',' ? e + 1 : e) {
		e = p + strcspn(p, ",");
		if (strncmp(p, "v1=", 3) == 0 &&
		    hex_is(p + 3, (size_t)(e - p - 3), mac))
			return 1;
	}
	return 0;
}

/* Whether what scheme s accepted with secret k carries k's right MAC. */
static int
has_mac(enum hl_scheme s, const struct sent *in, int k)
{
	unsigned char mac[EVP_MAX_MD_SIZE], want[HL_MAC_MAX];
	int sha1 = in->sig == NULL; /* the -256 header decides when it came */

	switch (s) {
	case HL_SCHEME_HUB:
		if ((sha1 ? in->sig1 : in->sig) == NULL)
			return 0;
		mac_of(s, k, sha1 ? EVP_sha1() : EVP_sha256(), "", in->body,
		    in->blen, mac);
		return expect(sha1 ? in->sig1 : in->sig,
		           sha1 ? HL_ALG_SHA1 : HL_ALG_SHA256, want) &&
		    memcmp(want, mac, sha1 ? 20 : 32) == 0;
	case HL_SCHEME_STANDARD:
		return standard_has_mac(in, k);
	case HL_SCHEME_STRIPE:
		return stripe_has_mac(in, k);
	case HL_SCHEME_SHOPIFY:
		mac_of(s, k, EVP_sha256(), "", in->body, in->blen, mac);
		return in->sig != NULL && b64_is(in->sig, strlen(in->sig), mac);
	default:
		return in->sig != NULL && strcmp(in->sig, secrets[k]) == 0;
	}
}

/* The CGI parameter names of the headers, per scheme (sig.c's). */
static const char *const sig_names[HL_SCHEME_COUNT] = {
    [HL_SCHEME_HUB] = "HTTP_X_HUB_SIGNATURE_256",
    [HL_SCHEME_STANDARD] = "HTTP_WEBHOOK_SIGNATURE",
    [HL_SCHEME_STRIPE] = "HTTP_STRIPE_SIGNATURE",
    [HL_SCHEME_SHOPIFY] = "HTTP_X_SHOPIFY_HMAC_SHA256",
    [HL_SCHEME_GITLAB] = "HTTP_X_GITLAB_TOKEN",
};
static const char *const id_names[HL_SCHEME_COUNT] = {
    [HL_SCHEME_HUB] = "HTTP_X_GITHUB_DELIVERY",
    [HL_SCHEME_STANDARD] = "HTTP_WEBHOOK_ID",
    [HL_SCHEME_SHOPIFY] = "HTTP_X_SHOPIFY_WEBHOOK_ID",
    [HL_SCHEME_GITLAB] = "HTTP_IDEMPOTENCY_KEY",
};

/* Appends "name=value" in its own static buffer to params[*n]. */
static void
param(char **params, int *n, const char *name, const char *value)
{
	static char buf[5][8400];

	snprintf(buf[*n], sizeof(buf[0]), "%s=%s", name, value);
	params[*n] = buf[*n];
	(*n)++;
}

/*
 * Runs sig_check() of scheme s at the fixed clock on what in sends.  req
 * borrows static buffers, valid until the next call.
 */
static enum hl_err
run(enum hl_scheme s, const struct sent *in, struct hl_request *req)
{
	static char *params[6];
	static struct hl_io io = {NULL, params, 0};
	static struct hl_buf b;
	int n = 0;

	if (in->sig != NULL)
		param(params, &n, sig_names[s], in->sig);
	if (in->sig1 != NULL && s == HL_SCHEME_HUB)
		param(params, &n, "HTTP_X_HUB_SIGNATURE", in->sig1);
	if (in->id != NULL && id_names[s] != NULL)
		param(params, &n, id_names[s], in->id);
	if (in->ts != NULL && s == HL_SCHEME_STANDARD)
		param(params, &n, "HTTP_WEBHOOK_TIMESTAMP", in->ts);
	params[n] = NULL;
	b.p = (char *)in->body, b.len = in->blen, b.cap = in->blen;
	memset(req, 0, sizeof(*req));
	req->io = &io;
	req->body = &b;
	req->cfg = cfgs[s];
	req->now = NOW;
	return sig_check(req);
}

/*
 * The header the sender would build for in's body with secret k, at a
 * timestamp within the tolerance, into hdr (hlen bytes); out says what
 * is sent.  Odd bodies get other versions' signatures beside it.
 */
static void
build_good(enum hl_scheme s, const struct sent *in, int k, char *hdr,
    size_t hlen, char *ts, struct sent *out)
{
	unsigned char mac[EVP_MAX_MD_SIZE];
	char head[8400], enc[128];
	int odd = in->blen & 1;

	*out = (struct sent){NULL, NULL, in->id, NULL, in->body, in->blen};
	snprintf(ts, 32, "%ld", NOW + (long)(in->blen % 601) - TOLERANCE);
	if (s == HL_SCHEME_STANDARD) {
		if (in->id == NULL || *in->id == '\0' ||
		    strchr(in->id, '.') != NULL)
			out->id = "msg_fuzz";
		snprintf(head, sizeof(head), "%s.%s.", out->id, ts);
		out->ts = ts;
	} else if (s == HL_SCHEME_STRIPE)
		snprintf(head, sizeof(head), "%s.", ts);
	else
		head[0] = '\0';
	mac_of(s, k, EVP_sha256(), head, in->body, in->blen, mac);
	if (s == HL_SCHEME_STANDARD || s == HL_SCHEME_SHOPIFY)
		EVP_EncodeBlock((unsigned char *)enc, mac, 32);
	else
		hex_encode(enc, mac, 32);
	if (s == HL_SCHEME_HUB)
		snprintf(hdr, hlen, "sha256=%s", enc);
	else if (s == HL_SCHEME_STANDARD)
		snprintf(hdr, hlen, "%sv1,%s", odd ? "v2,AAAA v1a,x " : "",
		    enc);
	else if (s == HL_SCHEME_STRIPE)
		snprintf(hdr, hlen, "t=%s,v1=%s%s", ts, enc,
		    odd ? ",v0=00,scheme=x" : "");
	else if (s == HL_SCHEME_SHOPIFY)
		snprintf(hdr, hlen, "%s", enc);
	else
		snprintf(hdr, hlen, "%s", secrets[k]);
	out->sig = hdr;
}

/* The sender's own header verifies, with that secret's number. */
static void
check_good(enum hl_scheme s, const struct sent *in, int k)
{
	char hdr[256], ts[32];
	struct hl_request req;
	struct sent good;

	build_good(s, in, k, hdr, sizeof(hdr), ts, &good);
	CHECK(run(s, &good, &req) == HL_OK && req.key == k + 1);
	if (s == HL_SCHEME_GITLAB)
		CHECK(req.signature == NULL);
	else
		CHECK(req.signature != NULL && strcmp(req.signature, hdr) == 0);
	if (s == HL_SCHEME_STANDARD)
		CHECK(strcmp(req.delivery, good.id) == 0 &&
		    strcmp(req.timestamp, ts) == 0);
	else
		CHECK(req.timestamp == NULL);
}

/* The next line of *p (n bytes left) as a string, or "" at the end. */
static const char *
next_line(const uint8_t **p, size_t *n, char *buf, size_t cap)
{
	const uint8_t *nl = memchr(*p, '\n', *n);
	size_t len = nl != NULL ? (size_t)(nl - *p) : *n;

	if (len >= cap)
		len = cap - 1;
	memcpy(buf, *p, len);
	buf[len] = '\0';
	*n -= nl != NULL ? (size_t)(nl - *p) + 1 : *n;
	*p = nl != NULL ? nl + 1 : *p + len;
	return buf;
}

static void
fuzz_scheme(const uint8_t *data, size_t size)
{
	static char l1[4096], l2[4096], l3[4096];
	enum hl_scheme s = (enum hl_scheme)((data[0] - 2) % HL_SCHEME_COUNT);
	int flags = (data[0] - 2) / HL_SCHEME_COUNT;
	const uint8_t *p = data + 1;
	size_t n = size - 1;
	struct sent in = {NULL, NULL, NULL, NULL, NULL, 0};
	struct hl_request req;
	enum hl_err rc;

	if (cfgs[0] == NULL)
		setup();
	in.sig = next_line(&p, &n, l1, sizeof(l1));
	in.id = next_line(&p, &n, l2, sizeof(l2));
	in.ts = next_line(&p, &n, l3, sizeof(l3));
	in.body = p, in.blen = n;
	if (s == HL_SCHEME_HUB && !(flags & (HUB256 | HUB_BOTH)))
		in.sig1 = in.sig, in.sig = NULL;
	else if (s == HL_SCHEME_HUB && flags & HUB_BOTH)
		in.sig1 = in.id, in.id = NULL;
	if (flags & NO_SIG)
		in.sig = in.sig1 = NULL;
	if (flags & NO_ID)
		in.id = NULL;
	if (flags & NO_TS)
		in.ts = NULL;

	rc = run(s, &in, &req);
	CHECK(rc == HL_OK || rc == HL_ESIG);
	CHECK(rc == HL_OK || req.why.text[0] != '\0');
	if (s == HL_SCHEME_GITLAB)
		CHECK(req.signature == NULL);
	if (rc == HL_OK)
		CHECK((req.key == 1 || req.key == 2) &&
		    has_mac(s, &in, req.key - 1));
	check_good(s, &in, flags & KEY2 ? 1 : 0);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	if (data[0] < 2)
		fuzz_hub_value(data, size);
	else
		fuzz_scheme(data, size);
	return 0;
}
