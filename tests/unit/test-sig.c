/*
 * test-sig: signature parsing and verification, first against every entry
 * of tests/vectors/vectors.json, then against hostile header values.
 */
#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <openssl/evp.h>

#include "hookline.h"
#include "tap.h"

static char *
slurp(const char *path)
{
	FILE *f = fopen(path, "rb");
	static char buf[1 << 20];
	size_t n;

	if (f == NULL)
		return NULL;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	return buf;
}

/* Decodes base64 s into out; returns the length. */
static size_t
b64(unsigned char *out, const char *s)
{
	size_t len = strlen(s);
	int n = EVP_DecodeBlock(out, (const unsigned char *)s, (int)len);

	if (n < 0)
		return 0;
	if (len > 0 && s[len - 1] == '=')
		n--;
	if (len > 1 && s[len - 2] == '=')
		n--;
	return (size_t)n;
}

static enum hl_err
verify(const char *secret, enum hl_alg alg, const char *hdr,
    const unsigned char *body, size_t len)
{
	EVP_MAC_CTX *ctx = NULL;
	struct hl_why why = {""};
	enum hl_err rc;

	if (sig_hmac_key(&ctx, alg, (const unsigned char *)secret,
	        strlen(secret)) == -1)
		return HL_EINTERNAL;
	rc = sig_verify(ctx, alg, hdr, body, len, &why);
	/* A second run on the same context must agree: it is reused. */
	if (sig_verify(ctx, alg, hdr, body, len, &why) != rc)
		rc = HL_EINTERNAL;
	EVP_MAC_CTX_free(ctx);
	return rc;
}

static void
vectors(void)
{
	static unsigned char body[1 << 16];
	const char *text = slurp(tap_srcpath("tests/vectors/vectors.json"));
	cJSON *all = text ? cJSON_Parse(text) : NULL, *v, *h;
	const char *name, *hdr;
	enum hl_alg alg;
	size_t len;
	int valid;

	ok(cJSON_GetArraySize(all) >= 12, "vectors.json has the entries");
	cJSON_ArrayForEach(v, all)
	{
		name = cJSON_GetObjectItem(v, "name")->valuestring;
		len =
		    b64(body, cJSON_GetObjectItem(v, "body_b64")->valuestring);
		h = cJSON_GetObjectItem(v, "headers");
		alg = HL_ALG_SHA256;
		if (!cJSON_HasObjectItem(h, "X-Hub-Signature-256"))
			alg = HL_ALG_SHA1;
		hdr = cJSON_GetObjectItem(h,
		    alg == HL_ALG_SHA1 ? "X-Hub-Signature"
		                       : "X-Hub-Signature-256")
		          ->valuestring;
		valid = cJSON_IsTrue(cJSON_GetObjectItem(v, "signature_valid"));
		ok((verify(cJSON_GetObjectItem(v, "secret")->valuestring, alg,
		        hdr, body, len) == HL_OK) == valid,
		    "vector \"%s\": %s", name, valid ? "valid" : "invalid");
	}
	cJSON_Delete(all);
}

int
main(void)
{
	const unsigned char *b = (const unsigned char *)"{}";
	unsigned char mac[HL_MAC_MAX];
	struct hl_why why = {""};
	char good[80];
	size_t i;

	vectors();

	/* Compute the expected values with the code under test, then
	 * check every malformed variant of them is refused. */
	{
		EVP_MAC_CTX *ctx = NULL;
		unsigned char m[EVP_MAX_MD_SIZE];
		size_t ml = 0;

		sig_hmac_key(&ctx, HL_ALG_SHA1, (const unsigned char *)"k", 1);
		EVP_MAC_update(ctx, b, 2);
		EVP_MAC_final(ctx, m, &ml, sizeof(m));
		hex_encode(good, m, ml);
		EVP_MAC_CTX_free(ctx);
	}
	ok(verify("k", HL_ALG_SHA1, good, b, 2) == HL_OK, "bare hex accepted");
	{
		char p[200];

		snprintf(p, sizeof(p), "sha1=%s", good);
		ok(verify("k", HL_ALG_SHA1, p, b, 2) == HL_OK,
		    "sha1= accepted");
		snprintf(p, sizeof(p), "SHA1=%s", good);
		ok(verify("k", HL_ALG_SHA1, p, b, 2) == HL_OK,
		    "SHA1= accepted");
		snprintf(p, sizeof(p), "sha256=%s", good);
		ok(verify("k", HL_ALG_SHA1, p, b, 2) == HL_ESIG,
		    "sha256= prefix on X-Hub-Signature refused");
		snprintf(p, sizeof(p), " %s", good);
		ok(verify("k", HL_ALG_SHA1, p, b, 2) == HL_ESIG,
		    "leading space refused");
		snprintf(p, sizeof(p), "%s, %s", good, good);
		ok(verify("k", HL_ALG_SHA1, p, b, 2) == HL_ESIG,
		    "two headers joined by a comma refused");
		snprintf(p, sizeof(p), "%s00", good);
		ok(verify("k", HL_ALG_SHA1, p, b, 2) == HL_ESIG,
		    "overlong hex refused");
		snprintf(p, sizeof(p), "sha1=%s%s", good, good + 16);
		ok(verify("k", HL_ALG_SHA1, p, b, 2) == HL_ESIG,
		    "sha1= with SHA-256 length refused");
	}
	ok(verify("K", HL_ALG_SHA1, good, b, 2) == HL_ESIG,
	    "other secret refused");
	ok(verify("k", HL_ALG_SHA1, good, (const unsigned char *)"{ }", 3) ==
	        HL_ESIG,
	    "other body refused");
	for (i = 0; i < 40; i += 7) {
		char bad[41];

		memcpy(bad, good, 41);
		bad[i] = bad[i] == 'g' ? 'h' : 'g';
		ok(sig_parse(bad, HL_ALG_SHA1, mac, &why) == HL_ESIG,
		    "non-hex digit at %zu refused", i);
	}
	ok(sig_parse("", HL_ALG_SHA1, mac, &why) == HL_ESIG, "empty refused");
	ok(sig_parse("sha1=", HL_ALG_SHA1, mac, &why) == HL_ESIG,
	    "bare prefix refused");
	ok(sig_parse("sha256=", HL_ALG_SHA256, mac, &why) == HL_ESIG,
	    "bare sha256 prefix refused");
	ok(sig_parse(
	       "0123456789abcdef0123456789abcdef0123456789abcdef0123456789"
	       "abcdef",
	       HL_ALG_SHA256, mac, &why) == HL_OK,
	    "bare hex for SHA-256 parsed");
	ok(sig_parse("0123456789abcdef0123456789abcdef0123456", HL_ALG_SHA1,
	       mac, &why) == HL_ESIG,
	    "odd length refused");
	return tap_done();
}
