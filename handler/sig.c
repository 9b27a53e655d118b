/*
 * sig.c: signature schemes (hookline(8), "Signatures"; docs/design.md).
 *
 * One entry of schemes[] per sender family, chosen per location with
 * HOOKLINE_SCHEME: its headers, how its header value is parsed, what it
 * signs besides the body (a timestamp, a message id) and which header
 * carries the sender's delivery id.  Every MAC is compared with
 * CRYPTO_memcmp on decoded bytes, against every configured secret (secret
 * rotation), so the time taken does not depend on where a forged MAC
 * first differs.  The HMAC contexts are keyed once per secret (config.c)
 * and only re-initialised per request.  The header names live here and
 * nowhere else; nothing here does I/O but reading request parameters.
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include "hookline.h"

static const struct {
	const char *digest; /* OpenSSL digest name */
	const char *prefix; /* optional X-Hub-Signature prefix */
	size_t len; /* MAC length in bytes */
	const char *param; /* the X-Hub-Signature header, as a CGI parameter */
	const char *scheme; /* its name for plugins and the error log */
} algs[HL_ALG_COUNT] = {
    [HL_ALG_NONE] = {NULL, NULL, 0, NULL, NULL},
    [HL_ALG_SHA1] = {"SHA1", "sha1=", 20, "HTTP_X_HUB_SIGNATURE", "sha1"},
    [HL_ALG_SHA256] = {"SHA256", "sha256=", 32, "HTTP_X_HUB_SIGNATURE_256",
        "sha256"},
};

/* What a scheme's parser found in the headers, all borrowed. */
struct signed_parts {
	const char *header; /* the signature header's value, as received */
	const char *id; /* standard: webhook-id, signed */
	const char *ts; /* standard, stripe: the signed timestamp */
};

static enum hl_err check_hub(struct hl_request *, struct signed_parts *);
static enum hl_err check_standard(struct hl_request *, struct signed_parts *);
static enum hl_err check_stripe(struct hl_request *, struct signed_parts *);
static enum hl_err check_shopify(struct hl_request *, struct signed_parts *);
static enum hl_err check_gitlab(struct hl_request *, struct signed_parts *);

static const struct {
	const char *name; /* HOOKLINE_SCHEME */
	struct sig_params p; /* its headers, as CGI parameters */
	int logs_header; /* the header may be logged (it is no secret) */
	enum hl_err (*check)(struct hl_request *, struct signed_parts *);
} schemes[HL_SCHEME_COUNT] = {
    [HL_SCHEME_HUB] = {"hub",
        {"HTTP_X_HUB_SIGNATURE_256", "HTTP_X_HUB_SIGNATURE",
            "HTTP_X_GITHUB_DELIVERY", NULL},
        1, check_hub},
    [HL_SCHEME_STANDARD] = {"standard",
        {"HTTP_WEBHOOK_SIGNATURE", NULL, "HTTP_WEBHOOK_ID",
            "HTTP_WEBHOOK_TIMESTAMP"},
        1, check_standard},
    [HL_SCHEME_STRIPE] = {"stripe", {"HTTP_STRIPE_SIGNATURE", NULL, NULL, NULL},
        1, check_stripe},
    [HL_SCHEME_SHOPIFY] = {"shopify",
        {"HTTP_X_SHOPIFY_HMAC_SHA256", NULL, "HTTP_X_SHOPIFY_WEBHOOK_ID", NULL},
        1, check_shopify},
    /* The GitLab token is the secret itself: never logged. */
    [HL_SCHEME_GITLAB] = {"gitlab",
        {"HTTP_X_GITLAB_TOKEN", NULL, "HTTP_IDEMPOTENCY_KEY", NULL}, 0,
        check_gitlab},
};

/*
 * The request parameters that carry scheme s's headers (hookline-verify
 * puts a record's values back under these names).
 */
const struct sig_params *
sig_params(enum hl_scheme s)
{
	return &schemes[s].p;
}

/*
 * The scheme called name ("github" is another name of "hub").  Returns 0
 * and sets *out, or -1.
 */
int
sig_scheme(const char *name, enum hl_scheme *out)
{
	if (strcmp(name, "github") == 0)
		name = "hub";
	for (int i = 0; i < HL_SCHEME_COUNT; i++)
		if (strcmp(name, schemes[i].name) == 0) {
			*out = (enum hl_scheme)i;
			return 0;
		}
	return -1;
}

/* The name of scheme s, as HOOKLINE_SCHEME spells it. */
const char *
sig_scheme_name(enum hl_scheme s)
{
	return schemes[s].name;
}

/*
 * Makes *ctx an HMAC context for alg keyed with key (len bytes); the key
 * is copied by OpenSSL.  Returns 0, or -1 on an OpenSSL failure.
 */
int
sig_hmac_key(EVP_MAC_CTX **ctx, enum hl_alg alg, const unsigned char *key,
    size_t len)
{
	static EVP_MAC *mac;
	OSSL_PARAM params[2];

	/* Fetching is the costly part of OpenSSL 3's HMAC: do it once. */
	if (mac == NULL && (mac = EVP_MAC_fetch(NULL, "HMAC", NULL)) == NULL)
		return -1;
	if ((*ctx = EVP_MAC_CTX_new(mac)) == NULL)
		return -1;
	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
	    (char *)algs[alg].digest, 0);
	params[1] = OSSL_PARAM_construct_end();
	if (EVP_MAC_init(*ctx, key, len, params) != 1) {
		EVP_MAC_CTX_free(*ctx);
		*ctx = NULL;
		return -1;
	}
	return 0;
}

/*
 * Decodes the n bytes of standard base64 at s into out (cap bytes): only
 * the alphabet, a length that is a multiple of 4, '=' padding only at the
 * end.  Returns the decoded length, or -1.
 */
ssize_t
sig_b64_decode(const char *s, size_t n, unsigned char *out, size_t cap)
{
	unsigned char small[66], *buf = small;
	size_t pad = 0;
	int len;

	if (n == 0 || n % 4 != 0 || n > INT_MAX)
		return -1;
	while (pad < 2 && s[n - 1 - pad] == '=')
		pad++;
	if (n / 4 * 3 - pad > cap)
		return -1;
	for (size_t i = 0; i < n - pad; i++)
		if (s[i] == '\0' ||
		    strchr(
		        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/",
		        s[i]) == NULL)
			return -1;
	/* EVP_DecodeBlock writes the padding as zero bytes too. */
	if (n / 4 * 3 > sizeof(small) && (buf = malloc(n / 4 * 3)) == NULL)
		return -1;
	if ((len = EVP_DecodeBlock(buf, (const unsigned char *)s, (int)n)) >= 0)
		memcpy(out, buf, (size_t)len - pad);
	if (buf != small)
		free(buf);
	return len < 0 ? -1 : (ssize_t)((size_t)len - pad);
}

/* Decodes exactly len bytes of hex (either case) at s into out. */
static int
hex_decode(const char *s, size_t n, unsigned char *out, size_t len)
{
	size_t got = 0;
	char buf[2 * HL_MAC_MAX + 1];

	if (n != 2 * len || n >= sizeof(buf))
		return -1;
	memcpy(buf, s, n);
	buf[n] = '\0';
	return OPENSSL_hexstr2buf_ex(out, HL_MAC_MAX, &got, buf, '\0') == 1 &&
	        got == len
	    ? 0
	    : -1;
}

/*
 * Decodes X-Hub-Signature value v for alg into mac (HL_MAC_MAX bytes): an
 * optional "sha1=" or "sha256=" prefix, then exactly the MAC's length in
 * hex.  Returns HL_OK, or HL_ESIG with why set.
 */
enum hl_err
sig_parse(const char *v, enum hl_alg alg, unsigned char *mac,
    struct hl_why *why)
{
	size_t plen = strlen(algs[alg].prefix);

	if (strncasecmp(v, algs[alg].prefix, plen) == 0)
		v += plen;
	if (strlen(v) != 2 * algs[alg].len) {
		why_set(why, "signature has the wrong length");
		return HL_ESIG;
	}
	if (hex_decode(v, strlen(v), mac, algs[alg].len) == -1) {
		why_set(why, "signature is not hexadecimal");
		return HL_ESIG;
	}
	return HL_OK;
}

/*
 * Computes into got the HMAC with ctx of the parts (NULL-ended, each with
 * its length) followed by body.  Returns 0, or -1 when OpenSSL fails.
 */
static int
mac_of(EVP_MAC_CTX *ctx, const char *const *parts, const size_t *lens,
    const unsigned char *body, size_t len, unsigned char *got, size_t want)
{
	size_t gotlen = 0;

	/* A NULL key re-initialises with the key already set. */
	if (EVP_MAC_init(ctx, NULL, 0, NULL) != 1)
		return -1;
	for (int i = 0; parts != NULL && parts[i] != NULL; i++)
		if (EVP_MAC_update(ctx, (const unsigned char *)parts[i],
		        lens[i]) != 1)
			return -1;
	if (EVP_MAC_update(ctx, body, len) != 1 ||
	    EVP_MAC_final(ctx, got, &gotlen, EVP_MAX_MD_SIZE) != 1 ||
	    gotlen != want)
		return -1;
	return 0;
}

/*
 * Verifies header value hdr for alg over body (len bytes) with ctx, a
 * context from sig_hmac_key().  Returns HL_OK, or HL_ESIG (or HL_EINTERNAL
 * when OpenSSL fails) with why set.  The computed MAC is wiped before
 * returning.
 */
enum hl_err
sig_verify(EVP_MAC_CTX *ctx, enum hl_alg alg, const char *hdr,
    const unsigned char *body, size_t len, struct hl_why *why)
{
	unsigned char want[HL_MAC_MAX], got[EVP_MAX_MD_SIZE];
	enum hl_err rc;

	if ((rc = sig_parse(hdr, alg, want, why)) != HL_OK)
		return rc;
	if (mac_of(ctx, NULL, NULL, body, len, got, algs[alg].len) == -1) {
		why_set(why, "HMAC computation failed (OpenSSL)");
		rc = HL_EINTERNAL;
	} else if (CRYPTO_memcmp(want, got, algs[alg].len) != 0) {
		why_set(why, "signature does not match the body");
		rc = HL_ESIG;
	}
	OPENSSL_cleanse(got, sizeof(got));
	return rc;
}

/*
 * Whether one of the candidate MACs (n of them, each algs[alg].len bytes)
 * is the HMAC, under one of the configured secrets, of the parts followed
 * by the body.  Sets req->key to the secret's number (1 = first line).
 * Every secret is tried against every candidate: the time depends on
 * their numbers only.  Returns HL_OK, HL_ESIG or HL_EINTERNAL.
 */
static enum hl_err
match_any(struct hl_request *req, enum hl_alg alg, const char *const *parts,
    const size_t *lens, unsigned char (*cand)[HL_MAC_MAX], int n)
{
	unsigned char got[EVP_MAX_MD_SIZE];
	EVP_MAC_CTX *ctx;
	int found = 0;

	for (int k = 0; k < req->cfg->nkeys; k++) {
		if ((ctx = config_hmac(req->cfg, k, alg)) == NULL ||
		    mac_of(ctx, parts, lens,
		        (const unsigned char *)req->body->p, req->body->len,
		        got, algs[alg].len) == -1) {
			OPENSSL_cleanse(got, sizeof(got));
			why_set(&req->why, "HMAC computation failed (OpenSSL)");
			return HL_EINTERNAL;
		}
		for (int c = 0; c < n; c++)
			if (CRYPTO_memcmp(cand[c], got, algs[alg].len) == 0 &&
			    !found)
				found = k + 1;
	}
	OPENSSL_cleanse(got, sizeof(got));
	if (!found) {
		why_set(&req->why, "signature does not match the body");
		return HL_ESIG;
	}
	req->key = found;
	return HL_OK;
}

/*
 * A signed timestamp: plain decimal digits (no sign, no spaces, at most
 * 18 of them) within HOOKLINE_TOLERANCE of now, both ways.  Returns HL_OK
 * or HL_ESIG with why set.
 */
static enum hl_err
check_timestamp(struct hl_request *req, const char *ts, size_t n)
{
	long long t = 0, now;

	if (req->now == 0) /* tests set their own clock */
		req->now = time(NULL);
	now = (long long)req->now;
	if (n == 0 || n > 18 || strspn(ts, "0123456789") < n) {
		why_set(&req->why,
		    "timestamp \"%.*s\" is not a plain decimal number of seconds",
		    (int)(n > 32 ? 32 : n), ts);
		return HL_ESIG;
	}
	for (size_t i = 0; i < n; i++)
		t = t * 10 + (ts[i] - '0');
	if (t < now - (long long)req->cfg->tolerance ||
	    t > now + (long long)req->cfg->tolerance) {
		why_set(&req->why,
		    "timestamp %lld is %lld s from now, outside HOOKLINE_TOLERANCE (%u s)",
		    t, t - now, req->cfg->tolerance);
		return HL_ESIG;
	}
	return HL_OK;
}

/*
 * hub (hotglue, GitHub): X-Hub-Signature-256 "sha256=hex" when it came
 * (it decides when both did), X-Hub-Signature "hex" or "sha1=hex".
 */
static enum hl_err
check_hub(struct hl_request *req, struct signed_parts *sp)
{
	unsigned char mac[1][HL_MAC_MAX];
	enum hl_alg alg = HL_ALG_SHA256;
	enum hl_err rc;

	if ((sp->header = io_param(req->io, algs[alg].param)) == NULL) {
		alg = HL_ALG_SHA1;
		sp->header = io_param(req->io, algs[alg].param);
	}
	if (sp->header == NULL) {
		why_set(&req->why,
		    "no X-Hub-Signature or X-Hub-Signature-256 header");
		return HL_ESIG;
	}
	req->scheme = algs[alg].scheme;
	if ((rc = sig_parse(sp->header, alg, mac[0], &req->why)) != HL_OK)
		return rc;
	return match_any(req, alg, NULL, NULL, mac, 1);
}

#define CANDIDATES 8 /* signatures looked at in one header */

/*
 * Standard Webhooks 1.0: webhook-signature is a space-separated list of
 * "version,base64"; any v1 that matches HMAC-SHA256(id.timestamp.body)
 * verifies, other versions are ignored.
 */
static enum hl_err
check_standard(struct hl_request *req, struct signed_parts *sp)
{
	unsigned char cand[CANDIDATES][HL_MAC_MAX];
	const char *p, *e, *parts[5];
	size_t lens[4];
	int n = 0;
	enum hl_err rc;

	sp->id = io_param(req->io, schemes[HL_SCHEME_STANDARD].p.delivery);
	sp->ts = io_param(req->io, schemes[HL_SCHEME_STANDARD].p.timestamp);
	sp->header = io_param(req->io, schemes[HL_SCHEME_STANDARD].p.signature);
	if (sp->id == NULL || sp->ts == NULL || sp->header == NULL) {
		why_set(&req->why, "no %s header",
		    sp->id == NULL       ? "webhook-id"
		        : sp->ts == NULL ? "webhook-timestamp"
		                         : "webhook-signature");
		return HL_ESIG;
	}
	if (*sp->id == '\0' || strchr(sp->id, '.') != NULL) {
		why_set(&req->why, "webhook-id is empty or holds a '.'");
		return HL_ESIG;
	}
	if ((rc = check_timestamp(req, sp->ts, strlen(sp->ts))) != HL_OK)
		return rc;
	for (p = sp->header; *p != '\0' && n < CANDIDATES; p = e) {
		p += strspn(p, " ");
		e = p + strcspn(p, " ");
		if (e - p > 3 && strncmp(p, "v1,", 3) == 0 &&
		    sig_b64_decode(p + 3, (size_t)(e - p - 3), cand[n],
		        HL_MAC_MAX) == 32)
			n++;
		else if (e - p > 3 && strncmp(p, "v1,", 3) == 0) {
			why_set(&req->why,
			    "a v1 signature is not 32 bytes of base64");
			return HL_ESIG;
		}
	}
	if (n == 0) {
		why_set(&req->why, "webhook-signature holds no v1 signature");
		return HL_ESIG;
	}
	parts[0] = sp->id, lens[0] = strlen(sp->id);
	parts[1] = ".", lens[1] = 1;
	parts[2] = sp->ts, lens[2] = strlen(sp->ts);
	parts[3] = ".", lens[3] = 1;
	parts[4] = NULL;
	return match_any(req, HL_ALG_SHA256, parts, lens, cand, n);
}

/*
 * Stripe: "t=timestamp,v1=hex[,v1=hex][,v0=hex]"; any v1 that matches
 * HMAC-SHA256(timestamp.body), keyed with the whole secret string, verifies.
 */
static enum hl_err
check_stripe(struct hl_request *req, struct signed_parts *sp)
{
	unsigned char cand[CANDIDATES][HL_MAC_MAX];
	const char *p, *e, *parts[3];
	size_t lens[2], tslen = 0;
	int n = 0;
	enum hl_err rc;

	if ((sp->header = io_param(req->io,
	         schemes[HL_SCHEME_STRIPE].p.signature)) == NULL) {
		why_set(&req->why, "no Stripe-Signature header");
		return HL_ESIG;
	}
	for (p = sp->header; *p != '\0'; p = *e == ',' ? e + 1 : e) {
		e = p + strcspn(p, ",");
		if (strncmp(p, "t=", 2) == 0) {
			if (sp->ts != NULL) {
				why_set(&req->why,
				    "Stripe-Signature has two timestamps");
				return HL_ESIG;
			}
			sp->ts = p + 2, tslen = (size_t)(e - p - 2);
		} else if (strncmp(p, "v1=", 3) == 0 && n < CANDIDATES) {
			if (hex_decode(p + 3, (size_t)(e - p - 3), cand[n],
			        32) == -1) {
				why_set(&req->why,
				    "a v1 signature is not 64 hex digits");
				return HL_ESIG;
			}
			n++;
		} else if (p == e || strchr(p, '=') == NULL ||
		    strchr(p, '=') > e) {
			why_set(&req->why,
			    "Stripe-Signature has a part that is no key=value");
			return HL_ESIG;
		}
	}
	if (sp->ts == NULL || n == 0) {
		why_set(&req->why, "Stripe-Signature has no %s",
		    sp->ts == NULL ? "timestamp (t=)" : "v1 signature");
		return HL_ESIG;
	}
	if ((rc = check_timestamp(req, sp->ts, tslen)) != HL_OK)
		return rc;
	parts[0] = sp->ts, lens[0] = tslen;
	parts[1] = ".", lens[1] = 1;
	parts[2] = NULL;
	return match_any(req, HL_ALG_SHA256, parts, lens, cand, n);
}

/* Shopify: X-Shopify-Hmac-Sha256 is the base64 HMAC-SHA256 of the body. */
static enum hl_err
check_shopify(struct hl_request *req, struct signed_parts *sp)
{
	unsigned char mac[1][HL_MAC_MAX];

	if ((sp->header = io_param(req->io,
	         schemes[HL_SCHEME_SHOPIFY].p.signature)) == NULL) {
		why_set(&req->why, "no X-Shopify-Hmac-Sha256 header");
		return HL_ESIG;
	}
	if (sig_b64_decode(sp->header, strlen(sp->header), mac[0],
	        HL_MAC_MAX) != 32) {
		why_set(&req->why,
		    "X-Shopify-Hmac-Sha256 is not 32 bytes of base64");
		return HL_ESIG;
	}
	return match_any(req, HL_ALG_SHA256, NULL, NULL, mac, 1);
}

/*
 * GitLab: X-Gitlab-Token is the secret itself; it signs nothing.  Both
 * are hashed before the comparison, which then takes the same time
 * whatever their lengths.
 */
static enum hl_err
check_gitlab(struct hl_request *req, struct signed_parts *sp)
{
	unsigned char a[EVP_MAX_MD_SIZE], b[EVP_MAX_MD_SIZE];
	unsigned int alen, blen;
	const struct hl_key *k;
	int found = 0;

	if ((sp->header = io_param(req->io,
	         schemes[HL_SCHEME_GITLAB].p.signature)) == NULL) {
		why_set(&req->why, "no X-Gitlab-Token header");
		return HL_ESIG;
	}
	if (EVP_Digest(sp->header, strlen(sp->header), a, &alen, EVP_sha256(),
	        NULL) != 1) {
		why_set(&req->why, "SHA-256 computation failed (OpenSSL)");
		return HL_EINTERNAL;
	}
	for (int i = 0; i < req->cfg->nkeys; i++) {
		k = config_key(req->cfg, i);
		if (EVP_Digest(k->text, k->text_len, b, &blen, EVP_sha256(),
		        NULL) != 1) {
			why_set(&req->why,
			    "SHA-256 computation failed (OpenSSL)");
			return HL_EINTERNAL;
		}
		if (CRYPTO_memcmp(a, b, alen) == 0 && !found)
			found = i + 1;
	}
	OPENSSL_cleanse(a, sizeof(a));
	OPENSSL_cleanse(b, sizeof(b));
	if (!found) {
		why_set(&req->why, "X-Gitlab-Token is not the secret");
		return HL_ESIG;
	}
	req->key = found;
	return HL_OK;
}

/*
 * Verifies req's signature under its location's scheme, if a secret is
 * configured, with every secret the configuration holds.  Sets
 * req->signature (the header as received, NULL for a scheme whose header
 * is the secret), req->scheme (what verified it; NULL when unsigned events
 * are allowed and nothing was), req->key, req->delivery and
 * req->timestamp.  Returns HL_OK, or HL_ESIG (or HL_EINTERNAL) with
 * req->why set.
 */
enum hl_err
sig_check(struct hl_request *req)
{
	enum hl_scheme s = req->cfg->scheme;
	struct signed_parts sp = {NULL, NULL, NULL};
	enum hl_err rc;

	req->scheme = NULL;
	req->delivery = schemes[s].p.delivery
	    ? io_param(req->io, schemes[s].p.delivery)
	    : NULL;
	if (req->cfg->nkeys == 0) {
		/* HOOKLINE_ALLOW_UNSIGNED=1 and no secret: what came is
		 * logged, unverified. */
		if (s == HL_SCHEME_HUB &&
		    (req->signature = io_param(req->io,
		         algs[HL_ALG_SHA256].param)) == NULL)
			req->signature =
			    io_param(req->io, algs[HL_ALG_SHA1].param);
		return HL_OK;
	}
	if (s != HL_SCHEME_HUB)
		req->scheme = schemes[s].name;
	rc = schemes[s].check(req, &sp);
	req->signature = schemes[s].logs_header ? sp.header : NULL;
	if (s == HL_SCHEME_STANDARD)
		req->delivery = sp.id;
	/* Stripe's timestamp is within its header, which is logged. */
	req->timestamp = s == HL_SCHEME_STANDARD ? sp.ts : NULL;
	return rc;
}
