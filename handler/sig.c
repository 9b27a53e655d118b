/*
 * sig.c: checks X-Hub-Signature (HMAC-SHA1) and X-Hub-Signature-256
 * (HMAC-SHA256) against the raw body (docs/design.md, "Signatures").
 *
 * The header is "hex" (hotglue) or "sha1=hex" / "sha256=hex" (GitHub),
 * hex in either case.  The hex is decoded by OpenSSL and the bytes are
 * compared with CRYPTO_memcmp, so the time taken does not depend on where
 * a forged MAC first differs.  The HMAC contexts are keyed once per secret
 * (config.c) and only re-initialised per request.  The header names live
 * here and nowhere else; no I/O happens here.
 */
#include <string.h>
#include <strings.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/params.h>

#include "hookline.h"

static const struct {
	const char *digest; /* OpenSSL digest name */
	const char *prefix; /* optional header prefix */
	size_t len; /* MAC length in bytes */
	const char *param; /* the header, as a CGI parameter */
	const char *scheme; /* its name for plugins and the error log */
} algs[HL_ALG_COUNT] = {
    [HL_ALG_NONE] = {NULL, NULL, 0, NULL, NULL},
    [HL_ALG_SHA1] = {"SHA1", "sha1=", 20, "HTTP_X_HUB_SIGNATURE", "sha1"},
    [HL_ALG_SHA256] = {"SHA256", "sha256=", 32, "HTTP_X_HUB_SIGNATURE_256",
        "sha256"},
};

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
 * Decodes header value v for alg into mac (HL_MAC_MAX bytes): an optional
 * "sha1=" or "sha256=" prefix, then exactly the MAC's length in hex.
 * Returns HL_OK, or HL_ESIG with why set.
 */
enum hl_err
sig_parse(const char *v, enum hl_alg alg, unsigned char *mac, struct hl_why *why)
{
	size_t plen = strlen(algs[alg].prefix), got = 0;

	if (strncasecmp(v, algs[alg].prefix, plen) == 0)
		v += plen;
	if (strlen(v) != 2 * algs[alg].len) {
		why_set(why, "signature has the wrong length");
		return HL_ESIG;
	}
	if (OPENSSL_hexstr2buf_ex(mac, HL_MAC_MAX, &got, v, '\0') != 1 ||
	    got != algs[alg].len) {
		why_set(why, "signature is not hexadecimal");
		return HL_ESIG;
	}
	return HL_OK;
}

/*
 * Verifies header value hdr for alg over body (len bytes) with ctx, a
 * context from sig_hmac_key().  Returns HL_OK, or HL_ESIG (or HL_EINTERNAL
 * when OpenSSL fails) with why set.
 * The computed MAC is wiped before returning.
 */
enum hl_err
sig_verify(EVP_MAC_CTX *ctx, enum hl_alg alg, const char *hdr,
    const unsigned char *body, size_t len, struct hl_why *why)
{
	unsigned char want[HL_MAC_MAX], got[EVP_MAX_MD_SIZE];
	size_t gotlen = 0;
	enum hl_err rc;

	if ((rc = sig_parse(hdr, alg, want, why)) != HL_OK)
		return rc;
	/* A NULL key re-initialises with the key already set. */
	if (EVP_MAC_init(ctx, NULL, 0, NULL) != 1 ||
	    EVP_MAC_update(ctx, body, len) != 1 ||
	    EVP_MAC_final(ctx, got, &gotlen, sizeof(got)) != 1 ||
	    gotlen != algs[alg].len) {
		why_set(why, "HMAC computation failed (OpenSSL)");
		rc = HL_EINTERNAL;
	} else if (CRYPTO_memcmp(want, got, gotlen) != 0) {
		why_set(why, "signature does not match the body");
		rc = HL_ESIG;
	}
	OPENSSL_cleanse(got, sizeof(got));
	return rc;
}

/*
 * Verifies req's signature header over its body, if a secret is
 * configured: X-Hub-Signature-256 when it came (it decides when both
 * did), X-Hub-Signature otherwise.  Sets req->signature to the header
 * value and req->scheme to what verified it (NULL when unsigned events are
 * allowed and nothing was verified).  Returns HL_OK, or HL_ESIG (or
 * HL_EINTERNAL) with req->why set.
 */
enum hl_err
sig_check(struct hl_request *req)
{
	enum hl_alg alg = HL_ALG_SHA256;
	EVP_MAC_CTX *ctx;

	if ((req->signature = io_param(req->io, algs[alg].param)) == NULL) {
		alg = HL_ALG_SHA1;
		req->signature = io_param(req->io, algs[alg].param);
	}
	req->scheme = NULL;
	if (req->cfg->secret == NULL)
		return HL_OK; /* HOOKLINE_ALLOW_UNSIGNED=1 and no secret */
	if (req->signature == NULL) {
		why_set(&req->why,
		    "no X-Hub-Signature or X-Hub-Signature-256 header");
		return HL_ESIG;
	}
	req->scheme = algs[alg].scheme;
	if ((ctx = config_hmac(req->cfg, alg)) == NULL) {
		why_set(&req->why, "cannot set up HMAC (OpenSSL)");
		return HL_EINTERNAL;
	}
	return sig_verify(ctx, alg, req->signature,
	    (const unsigned char *)req->body->p, req->body->len, &req->why);
}
