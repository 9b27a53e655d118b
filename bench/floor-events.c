/*
 * floor-events.c: the least work a verified event needs, for callgrind
 * (scripts/bench).
 *
 *   HOOKLINE_SECRET=... floor-events N BODY SIGNATURE
 *
 * For each of N events: HMAC-SHA1 of the body with one OpenSSL context
 * keyed once and re-initialised per event (as hookline does), a constant
 * time comparison with SIGNATURE (hex), then cJSON_ParseWithLengthOpts()
 * and cJSON_Delete() of the body.  No id, no UTF-8 check, no log line, no
 * file: hookline's per-event count is compared against this.  The loop is
 * bench_events(), for --toggle-collect; one event runs first, outside it.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>

/* One event: verify, parse, free.  Returns 1 when it verified and parsed. */
static int
one_event(EVP_MAC_CTX *ctx, const char *body, size_t len,
    const unsigned char *want)
{
	unsigned char got[EVP_MAX_MD_SIZE];
	const char *end = NULL;
	size_t gotlen;
	cJSON *root;
	int ok;

	if (EVP_MAC_init(ctx, NULL, 0, NULL) != 1 ||
	    EVP_MAC_update(ctx, (const unsigned char *)body, len) != 1 ||
	    EVP_MAC_final(ctx, got, &gotlen, sizeof(got)) != 1 ||
	    gotlen != 20 || CRYPTO_memcmp(got, want, 20) != 0)
		return 0;
	root = cJSON_ParseWithLengthOpts(body, len, &end, 0);
	ok = root != NULL && cJSON_IsObject(root);
	cJSON_Delete(root);
	return ok;
}

/* The measured loop.  Returns how many events verified and parsed. */
__attribute__((noinline)) static long
bench_events(EVP_MAC_CTX *ctx, const char *body, size_t len,
    const unsigned char *want, long n)
{
	long ok = 0;

	for (long i = 0; i < n; i++)
		ok += one_event(ctx, body, len, want);
	return ok;
}

int
main(int argc, char *argv[])
{
	OSSL_PARAM params[2];
	unsigned char want[64];
	const char *secret = getenv("HOOKLINE_SECRET");
	EVP_MAC_CTX *ctx;
	EVP_MAC *mac;
	struct stat st;
	size_t wantlen = 0;
	char *body;
	long n, ok;
	int fd;

	if (argc != 4 || (n = strtol(argv[1], NULL, 10)) <= 0 ||
	    secret == NULL) {
		fprintf(stderr,
		    "usage: HOOKLINE_SECRET=... floor-events N BODY "
		    "SIGNATURE\n");
		return 2;
	}
	if ((fd = open(argv[2], O_RDONLY)) == -1 || fstat(fd, &st) == -1 ||
	    (body = malloc((size_t)st.st_size + 1)) == NULL ||
	    read(fd, body, (size_t)st.st_size) != st.st_size) {
		perror(argv[2]);
		return 2;
	}
	body[st.st_size] = '\0';
	close(fd);
	if (OPENSSL_hexstr2buf_ex(want, sizeof(want), &wantlen, argv[3],
	        '\0') != 1 ||
	    wantlen != 20) {
		fprintf(stderr, "floor-events: SIGNATURE is not 40 hex\n");
		return 2;
	}
	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
	    (char *)"SHA1", 0);
	params[1] = OSSL_PARAM_construct_end();
	if ((mac = EVP_MAC_fetch(NULL, "HMAC", NULL)) == NULL ||
	    (ctx = EVP_MAC_CTX_new(mac)) == NULL ||
	    EVP_MAC_init(ctx, (const unsigned char *)secret, strlen(secret),
	        params) != 1) {
		fprintf(stderr, "floor-events: OpenSSL HMAC setup failed\n");
		return 1;
	}
	/* One event outside the count, as hl-events does. */
	if (!one_event(ctx, body, (size_t)st.st_size, want))
		return 1;
	ok = bench_events(ctx, body, (size_t)st.st_size, want, n);
	EVP_MAC_CTX_free(ctx);
	EVP_MAC_free(mac);
	free(body);
	printf("events %ld verified %ld\n", n, ok);
	return ok == n ? 0 : 1;
}
