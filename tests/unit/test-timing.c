/*
 * test-timing: a statistical smoke test that sig_verify() takes as long for a
 * forged signature that differs from the right one in its first byte as
 * for one that differs in its last byte.
 *
 * For each algorithm, 100,000 samples of each kind are taken, interleaved
 * in a random order (so that both kinds see the same noise from a shared,
 * busy machine); a sample is the time of 4 consecutive calls.  The medians
 * must agree within 3% (or 15 ns a call).  A positive control shows that
 * the same method does see a real difference: a body one SHA block longer
 * (one more compression, tens of nanoseconds) must come out measurably
 * slower.
 *
 * This is a smoke test, not a proof.  It catches a verifier that returns
 * early on a mismatch before or instead of computing the whole MAC, or
 * that compares in a way whose cost grows with the matching prefix by
 * more than the tolerance; a byte-by-byte memcmp() that exits a few
 * nanoseconds early is below what it can resolve on a noisy machine.
 * That guarantee comes from reading sig.c: the MAC is always computed in
 * full and compared with CRYPTO_memcmp().
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "hookline.h"
#include "../unit/tap.h"

#define SAMPLES 100000
#define CALLS 4

static const char key[] = "timing-smoke-test-secret";

static uint64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Nanoseconds per call at quantile q of n sorted samples. */
static double
quantile(const uint64_t *s, size_t n, double q)
{
	return (double)s[(size_t)(q * (double)(n - 1))] / CALLS;
}

static uint64_t
sample(EVP_MAC_CTX *ctx, enum hl_alg alg, const char *hdr,
    const unsigned char *body, size_t len, int want)
{
	struct hl_why why;
	uint64_t t = now_ns();

	for (int k = 0; k < CALLS; k++)
		if ((sig_verify(ctx, alg, hdr, body, len, &why) == HL_OK) !=
		    want)
			abort();
	return now_ns() - t;
}

/*
 * Times verifications of two headers (or two bodies), interleaved at
 * random.  Fills the sorted samples a[] and b[].
 */
static void
race(EVP_MAC_CTX *ctx, enum hl_alg alg, const char *ha, const char *hb,
    const unsigned char *ba, size_t la, const unsigned char *bb, size_t lb,
    int want, uint64_t *a, uint64_t *b, unsigned *seed)
{
	for (size_t i = 0; i < SAMPLES; i++) {
		if (rand_r(seed) & 1) {
			a[i] = sample(ctx, alg, ha, ba, la, want);
			b[i] = sample(ctx, alg, hb, bb, lb, want);
		} else {
			b[i] = sample(ctx, alg, hb, bb, lb, want);
			a[i] = sample(ctx, alg, ha, ba, la, want);
		}
	}
	qsort(a, SAMPLES, sizeof(*a), cmp_u64);
	qsort(b, SAMPLES, sizeof(*b), cmp_u64);
}

static void
one(enum hl_alg alg, const char *name, uint64_t *a, uint64_t *b, unsigned *seed)
{
	unsigned char body[200], mac[EVP_MAX_MD_SIZE];
	unsigned int maclen;
	char good[2 * EVP_MAX_MD_SIZE + 1], first[sizeof(good)],
	    last[sizeof(good)];
	EVP_MAC_CTX *ctx = NULL;
	double ma, mb, diff, tol;
	size_t n;

	memset(body, 'e', sizeof(body));
	ok(sig_hmac_key(&ctx, alg, (const unsigned char *)key, strlen(key)) ==
	        0,
	    "%s: HMAC keyed", name);
	HMAC(alg == HL_ALG_SHA1 ? EVP_sha1() : EVP_sha256(), key,
	    (int)strlen(key), body, 40, mac, &maclen);
	hex_encode(good, mac, maclen);
	n = strlen(good);
	memcpy(first, good, n + 1);
	memcpy(last, good, n + 1);
	/* Change a whole byte: both of its hex digits. */
	first[0] = first[0] == 'f' ? '0' : 'f';
	first[1] = first[1] == 'f' ? '0' : 'f';
	last[n - 2] = last[n - 2] == 'f' ? '0' : 'f';
	last[n - 1] = last[n - 1] == 'f' ? '0' : 'f';

	race(ctx, alg, first, last, body, 40, body, 40, 0, a, b, seed);
	ma = quantile(a, SAMPLES, 0.5);
	mb = quantile(b, SAMPLES, 0.5);
	diff = ma > mb ? ma - mb : mb - ma;
	tol = 0.03 * (ma < mb ? ma : mb);
	if (tol < 15)
		tol = 15;
	printf("# %s, first byte wrong: median %.1f ns, quartiles %.1f-%.1f\n",
	    name, ma, quantile(a, SAMPLES, 0.25), quantile(a, SAMPLES, 0.75));
	printf("# %s, last byte wrong:  median %.1f ns, quartiles %.1f-%.1f\n",
	    name, mb, quantile(b, SAMPLES, 0.25), quantile(b, SAMPLES, 0.75));
	ok(diff <= tol,
	    "%s: first-byte and last-byte forgeries take the same time "
	    "(medians differ by %.1f ns, tolerance %.1f ns)",
	    name, diff, tol);

	/*
	 * Positive control: 40 and 120 bytes of body differ by one HMAC
	 * compression block or two; the method must see that.
	 */
	HMAC(alg == HL_ALG_SHA1 ? EVP_sha1() : EVP_sha256(), key,
	    (int)strlen(key), body, 120, mac, &maclen);
	hex_encode(last, mac, maclen);
	race(ctx, alg, good, last, body, 40, body, 120, 1, a, b, seed);
	ma = quantile(a, SAMPLES, 0.5);
	mb = quantile(b, SAMPLES, 0.5);
	printf("# %s control: 40-byte body %.1f ns, 120-byte body %.1f ns\n",
	    name, ma, mb);
	ok(mb > ma + tol,
	    "%s: control: the method sees the cost of a longer body "
	    "(+%.1f ns > tolerance)",
	    name, mb - ma);
	EVP_MAC_CTX_free(ctx);
}

int
main(void)
{
	uint64_t *a = malloc(SAMPLES * sizeof(*a)),
	         *b = malloc(SAMPLES * sizeof(*b));
	unsigned seed = (unsigned)now_ns();

	if (a == NULL || b == NULL)
		return 1;
	one(HL_ALG_SHA1, "HMAC-SHA1", a, b, &seed);
	one(HL_ALG_SHA256, "HMAC-SHA256", a, b, &seed);
	free(a);
	free(b);
	return tap_done();
}
