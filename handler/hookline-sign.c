/*
 * hookline-sign: prints the X-Hub-Signature value for a body, the way a
 * sender computes it, so that events can be sent by hand or by scripts:
 *
 *   curl -H "X-Hub-Signature: $(hookline-sign event.json)" \
 *        --data-binary @event.json http://127.0.0.1:8080/hook
 *
 * The secret comes from HOOKLINE_SECRET or from the file named by
 * HOOKLINE_SECRET_FILE (or -f), never from the command line, where every
 * local user could read it in ps(1).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "hookline.h"

static void
usage(void)
{
	fprintf(stderr,
	    "usage: hookline-sign [-2] [-p] [-f secret-file] "
	    "[file]\n"
	    "  prints the hex HMAC-SHA1 of file (or stdin) keyed with "
	    "$HOOKLINE_SECRET\n"
	    "  -2  HMAC-SHA256, printed as sha256=hex (X-Hub-Signature-256)\n"
	    "  -p  print sha1=hex (GitHub style) instead of bare hex\n"
	    "  -f  read the secret from this file (one trailing newline "
	    "ignored)\n");
}

/* Reads all of f into a new buffer; returns it (len in *n) or NULL. */
static unsigned char *
slurp(FILE *f, size_t *n)
{
	unsigned char *p = NULL, *q;
	size_t cap = 0, k;

	*n = 0;
	do {
		if (*n == cap) {
			cap = cap ? 2 * cap : 65536;
			if ((q = realloc(p, cap)) == NULL) {
				free(p);
				return NULL;
			}
			p = q;
		}
		k = fread(p + *n, 1, cap - *n, f);
		*n += k;
	} while (k > 0);
	if (ferror(f)) {
		free(p);
		return NULL;
	}
	return p;
}

int
main(int argc, char *argv[])
{
	const char *sfile = getenv("HOOKLINE_SECRET_FILE"), *env;
	unsigned char *body = NULL, *key = NULL, mac[EVP_MAX_MD_SIZE];
	char hex[2 * EVP_MAX_MD_SIZE + 1];
	size_t blen, klen = 0, maclen = 0;
	enum hl_alg alg = HL_ALG_SHA1;
	EVP_MAC_CTX *ctx = NULL;
	int c, prefix = 0, rc = 1;
	FILE *f;

	while ((c = getopt(argc, argv, "2pf:h")) != -1)
		switch (c) {
		case '2':
			alg = HL_ALG_SHA256;
			break;
		case 'p':
			prefix = 1;
			break;
		case 'f':
			sfile = optarg;
			break;
		default:
			usage();
			return 2;
		}
	if (argc - optind > 1) {
		usage();
		return 2;
	}
	if ((env = getenv("HOOKLINE_SECRET")) != NULL && *env != '\0' &&
	    sfile == NULL) {
		klen = strlen(env);
		key = (unsigned char *)strdup(env);
	} else if (sfile != NULL) {
		if ((f = fopen(sfile, "rb")) == NULL) {
			fprintf(stderr, "hookline-sign: %s: %s\n", sfile,
			    strerror(errno));
			return 1;
		}
		key = slurp(f, &klen);
		fclose(f);
		if (key != NULL && klen > 0 && key[klen - 1] == '\n')
			klen--;
		if (key != NULL && klen > 0 && key[klen - 1] == '\r')
			klen--;
	} else {
		fprintf(stderr,
		    "hookline-sign: set HOOKLINE_SECRET or "
		    "HOOKLINE_SECRET_FILE, or use -f\n");
		return 2;
	}
	if (key == NULL || klen == 0) {
		fprintf(stderr, "hookline-sign: empty or unreadable secret\n");
		goto out;
	}
	if (optind < argc) {
		if ((f = fopen(argv[optind], "rb")) == NULL) {
			fprintf(stderr, "hookline-sign: %s: %s\n", argv[optind],
			    strerror(errno));
			goto out;
		}
		body = slurp(f, &blen);
		fclose(f);
	} else
		body = slurp(stdin, &blen);
	if (body == NULL) {
		fprintf(stderr, "hookline-sign: cannot read the body\n");
		goto out;
	}
	if (sig_hmac_key(&ctx, alg, key, klen) == -1 ||
	    EVP_MAC_update(ctx, body, blen) != 1 ||
	    EVP_MAC_final(ctx, mac, &maclen, sizeof(mac)) != 1) {
		fprintf(stderr, "hookline-sign: HMAC failed (OpenSSL)\n");
		goto out;
	}
	hex_encode(hex, mac, maclen);
	printf("%s%s\n",
	    alg == HL_ALG_SHA256 ? "sha256="
	        : prefix         ? "sha1="
	                         : "",
	    hex);
	rc = fflush(stdout) == 0 ? 0 : 1;
out:
	if (key != NULL)
		OPENSSL_cleanse(key, klen);
	free(key);
	free(body);
	EVP_MAC_CTX_free(ctx);
	return rc;
}
