/*
 * fuzz-sig: the signature header parser and verifier.
 *
 * Input: one byte choosing the header (even: X-Hub-Signature, HMAC-SHA1;
 * odd: X-Hub-Signature-256), then the header value up to the first
 * newline (a NUL ends it, as in an environment string), then the body.
 *
 * sig_parse() must accept exactly an optional "sha1="/"sha256=" prefix
 * (any case) followed by exactly the MAC's length in hex digits (any
 * case), and decode it right; sig_verify() must say yes exactly when the
 * decoded MAC is the HMAC of the body, computed here with OpenSSL's
 * one-shot HMAC(); and the right MAC, in either case, with or without its
 * prefix, must always verify.  Any disagreement aborts.
 */
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "hookline.h"

#define CHECK(c)                                                               \
	do {                                                                   \
		if (!(c)) {                                                    \
			fprintf(stderr, "fuzz-sig: check failed: %s\n", #c);   \
			abort();                                               \
		}                                                              \
	} while (0)

static const char key[] = "fuzz-sig-secret";
static EVP_MAC_CTX *ctx[3];

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

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
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

	if (size < 1)
		return 0;
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
	return 0;
}
