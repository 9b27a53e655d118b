/*
 * hookline-sign: signs a body the way a sender does, so that events can
 * be sent by hand or by scripts (hookline-sign(1)).
 *
 * Without --scheme it prints the X-Hub-Signature value alone, as it
 * always did:
 *
 *   curl -H "X-Hub-Signature: $(hookline-sign event.json)" \
 *        --data-binary @event.json http://127.0.0.1:8080/hook
 *
 * With --scheme it prints every header that sender sends, one "Name:
 * value" a line, ready for curl -H @-:
 *
 *   hookline-sign --scheme standard event.json |
 *       curl -H @- --data-binary @event.json http://127.0.0.1:8080/hook
 *
 * The secret comes from HOOKLINE_SECRET or the first secret of the file
 * named by HOOKLINE_SECRET_FILE (or -f), read the way hookline reads it;
 * never from the command line, where every local user could read it in
 * ps(1).  Each scheme's key is derived as sig.c and config.c derive it.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "hookline.h"

/* What the command line asked for; every string borrowed from argv. */
struct opts {
	const char *sfile; /* -f, else $HOOKLINE_SECRET_FILE, or NULL */
	const char *file; /* the body, or NULL for stdin */
	int scheme_set; /* --scheme given: print headers */
	enum hl_scheme scheme;
	enum hl_alg alg; /* without --scheme: -2 */
	int prefix; /* without --scheme: -p */
	const char *ts; /* -t */
	const char *id; /* -i */
};

/* The secret and the body; both owned, the secret wiped when freed. */
struct input {
	unsigned char *secret;
	size_t secret_len;
	unsigned char *body;
	size_t body_len;
};

static void
usage(void)
{
	fprintf(stderr,
	    "usage: hookline-sign [-2] [-p] [-f secret-file] [file]\n"
	    "       hookline-sign --scheme scheme [-t timestamp] [-i id] [-f secret-file] [file]\n"
	    "  prints the hex HMAC-SHA1 of file (or stdin) keyed with $HOOKLINE_SECRET\n"
	    "  or the first secret of $HOOKLINE_SECRET_FILE\n"
	    "  -2  HMAC-SHA256, printed as sha256=hex (X-Hub-Signature-256)\n"
	    "  -p  print sha1=hex (GitHub style) instead of bare hex\n"
	    "  -f  read the secret from this file\n"
	    "  --scheme  hub, standard, stripe, shopify or gitlab: print the headers\n"
	    "            that sender sends, one \"Name: value\" a line\n"
	    "  -t  the signed timestamp (standard, stripe; default now)\n"
	    "  -i  the delivery id (standard: webhook-id, default msg_ and random hex)\n");
}

/* A header value from the command line: no control character, not empty. */
static int
header_safe(const char *s)
{
	if (*s == '\0')
		return 0;
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return 0;
	return 1;
}

/* Whether -t and -i fit o's mode and scheme; says why not. */
static int
check_opts(const struct opts *o)
{
	const char *why = NULL;

	if (!o->scheme_set && (o->ts != NULL || o->id != NULL))
		why = "-t and -i go with --scheme";
	else if (o->scheme_set && (o->alg != HL_ALG_SHA1 || o->prefix))
		why = "-2 and -p go without --scheme";
	else if (o->ts != NULL && o->scheme != HL_SCHEME_STANDARD &&
	    o->scheme != HL_SCHEME_STRIPE)
		why = "-t: only standard and stripe sign a timestamp";
	else if (o->ts != NULL &&
	    (strlen(o->ts) > 18 ||
	        strspn(o->ts, "0123456789") != strlen(o->ts) || *o->ts == '\0'))
		why = "-t takes whole seconds since 1970, digits only";
	else if (o->id != NULL && o->scheme == HL_SCHEME_STRIPE)
		why = "-i: stripe sends no delivery id";
	else if (o->id != NULL && !header_safe(o->id))
		why = "-i: the id must not be empty or hold control characters";
	else if (o->id != NULL && o->scheme == HL_SCHEME_STANDARD &&
	    strchr(o->id, '.') != NULL)
		why = "-i: a webhook-id must not hold a '.'";
	if (why == NULL)
		return 0;
	fprintf(stderr, "hookline-sign: %s\n", why);
	return -1;
}

/* Fills o from the command line.  Returns 0, or 2 after a usage message. */
static int
parse_args(int argc, char *argv[], struct opts *o)
{
	static const struct option longs[] = {
	    {"scheme", required_argument, NULL, 'S'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	int c;

	while ((c = getopt_long(argc, argv, "2pf:t:i:h", longs, NULL)) != -1)
		switch (c) {
		case '2':
			o->alg = HL_ALG_SHA256;
			break;
		case 'p':
			o->prefix = 1;
			break;
		case 'f':
			o->sfile = optarg;
			break;
		case 't':
			o->ts = optarg;
			break;
		case 'i':
			o->id = optarg;
			break;
		case 'S':
			if (sig_scheme(optarg, &o->scheme) == -1) {
				fprintf(stderr,
				    "hookline-sign: no scheme \"%s\"\n",
				    optarg);
				return 2;
			}
			o->scheme_set = 1;
			break;
		default:
			usage();
			return 2;
		}
	if (argc - optind > 1) {
		usage();
		return 2;
	}
	o->file = optind < argc ? argv[optind] : NULL;
	return check_opts(o) == 0 ? 0 : 2;
}

/*
 * Reads all of f into a new buffer, NUL-terminated past its end; returns
 * it (len in *n) or NULL.
 */
static unsigned char *
slurp(FILE *f, size_t *n)
{
	unsigned char *p = NULL, *q;
	size_t cap = 0, k;

	*n = 0;
	do {
		if (*n + 1 >= cap) {
			cap = cap ? 2 * cap : 65536;
			if ((q = realloc(p, cap)) == NULL) {
				free(p);
				return NULL;
			}
			p = q;
		}
		k = fread(p + *n, 1, cap - *n - 1, f);
		*n += k;
	} while (k > 0);
	if (ferror(f)) {
		free(p);
		return NULL;
	}
	p[*n] = '\0';
	return p;
}

/*
 * Keeps only the first secret of a secret file's text (p, *n bytes and a
 * NUL), as hookline reads it (config_secret_next()).  Moves it,
 * NUL-terminated, to the start of p and sets *n.
 */
static void
first_secret(unsigned char *p, size_t *n)
{
	unsigned char *q = p, *s;
	size_t len = 0;

	if ((s = config_secret_next(&q, p + *n, &len)) == NULL)
		len = 0;
	else
		memmove(p, s, len);
	p[len] = '\0';
	*n = len;
}

/*
 * The secret: $HOOKLINE_SECRET exactly as typed, unless a secret file
 * is named (-f or $HOOKLINE_SECRET_FILE), whose first secret counts.
 * Returns 0, or 1 (unreadable or empty) or 2 (none named), having said
 * why.
 */
static int
read_secret(const struct opts *o, struct input *in)
{
	const char *env = getenv("HOOKLINE_SECRET");
	FILE *f;

	if (o->sfile == NULL && (env == NULL || *env == '\0')) {
		fprintf(stderr,
		    "hookline-sign: set HOOKLINE_SECRET or HOOKLINE_SECRET_FILE, or use -f\n");
		return 2;
	}
	if (o->sfile == NULL) {
		in->secret_len = strlen(env);
		in->secret = (unsigned char *)strdup(env);
	} else if ((f = fopen(o->sfile, "rb")) == NULL) {
		fprintf(stderr, "hookline-sign: %s: %s\n", o->sfile,
		    strerror(errno));
		return 1;
	} else {
		in->secret = slurp(f, &in->secret_len);
		fclose(f);
		if (in->secret != NULL)
			first_secret(in->secret, &in->secret_len);
	}
	if (in->secret == NULL || in->secret_len == 0) {
		fprintf(stderr, "hookline-sign: empty or unreadable secret\n");
		return 1;
	}
	return 0;
}

/* The body from o->file or standard input.  Returns 0, or 1 and says why. */
static int
read_body(const struct opts *o, struct input *in)
{
	FILE *f = stdin;

	if (o->file != NULL && (f = fopen(o->file, "rb")) == NULL) {
		fprintf(stderr, "hookline-sign: %s: %s\n", o->file,
		    strerror(errno));
		return 1;
	}
	in->body = slurp(f, &in->body_len);
	if (f != stdin)
		fclose(f);
	if (in->body == NULL) {
		fprintf(stderr, "hookline-sign: cannot read the body\n");
		return 1;
	}
	return 0;
}

/*
 * HMAC with alg, keyed with key (klen bytes), of head (hlen bytes: what
 * the scheme signs before the body) and the body, into mac (*maclen).
 * Returns 0, or -1 when OpenSSL fails.
 */
static int
mac_of(enum hl_alg alg, const unsigned char *key, size_t klen, const char *head,
    size_t hlen, const struct input *in, unsigned char *mac, size_t *maclen)
{
	EVP_MAC_CTX *ctx = NULL;
	int rc = -1;

	if (sig_hmac_key(&ctx, alg, key, klen) == 0 &&
	    EVP_MAC_update(ctx, (const unsigned char *)head, hlen) == 1 &&
	    EVP_MAC_update(ctx, in->body, in->body_len) == 1 &&
	    EVP_MAC_final(ctx, mac, maclen, EVP_MAX_MD_SIZE) == 1)
		rc = 0;
	EVP_MAC_CTX_free(ctx);
	if (rc == -1)
		fprintf(stderr, "hookline-sign: HMAC failed (OpenSSL)\n");
	return rc;
}

/* Without --scheme: the X-Hub-Signature(-256) value alone, as always. */
static int
print_value(const struct opts *o, const struct input *in)
{
	unsigned char mac[EVP_MAX_MD_SIZE];
	char hex[2 * EVP_MAX_MD_SIZE + 1];
	size_t maclen = 0;

	if (mac_of(o->alg, in->secret, in->secret_len, "", 0, in, mac,
	        &maclen) == -1)
		return 1;
	hex_encode(hex, mac, maclen);
	printf("%s%s\n",
	    o->alg == HL_ALG_SHA256 ? "sha256="
	        : o->prefix         ? "sha1="
	                            : "",
	    hex);
	return 0;
}

/* hub: both headers, as GitHub sends them, and X-GitHub-Delivery (-i). */
static int
print_hub(const struct opts *o, const struct input *in)
{
	unsigned char mac[EVP_MAX_MD_SIZE];
	char hex[2 * EVP_MAX_MD_SIZE + 1];
	size_t maclen = 0;

	if (mac_of(HL_ALG_SHA256, in->secret, in->secret_len, "", 0, in, mac,
	        &maclen) == -1)
		return 1;
	hex_encode(hex, mac, maclen);
	printf("X-Hub-Signature-256: sha256=%s\n", hex);
	if (mac_of(HL_ALG_SHA1, in->secret, in->secret_len, "", 0, in, mac,
	        &maclen) == -1)
		return 1;
	hex_encode(hex, mac, maclen);
	printf("X-Hub-Signature: sha1=%s\n", hex);
	if (o->id != NULL)
		printf("X-GitHub-Delivery: %s\n", o->id);
	return 0;
}

/*
 * Standard Webhooks: webhook-id (-i, or msg_ and 24 random hex digits),
 * webhook-timestamp (-t, or now) and webhook-signature "v1,base64" of
 * HMAC-SHA256(id.timestamp.body), keyed with the base64 after "whsec_".
 */
static int
print_standard(const struct opts *o, const struct input *in, const char *ts)
{
	unsigned char key[4096], mac[EVP_MAX_MD_SIZE], rnd[12];
	char id[32], head[512], b64[4 * EVP_MAX_MD_SIZE / 3 + 4];
	const char *t = (const char *)in->secret;
	size_t n = in->secret_len, maclen = 0;
	ssize_t klen;
	int rc;

	if (n > 6 && memcmp(t, "whsec_", 6) == 0)
		t += 6, n -= 6;
	if ((klen = sig_b64_decode(t, n, key, sizeof(key))) <= 0) {
		fprintf(stderr,
		    "hookline-sign: the secret is not whsec_ and base64, as --scheme standard wants\n");
		return 1;
	}
	if (o->id == NULL) {
		if (RAND_bytes(rnd, sizeof(rnd)) != 1) {
			fprintf(stderr,
			    "hookline-sign: no random bytes (OpenSSL)\n");
			return 1;
		}
		memcpy(id, "msg_", 4);
		hex_encode(id + 4, rnd, sizeof(rnd));
	}
	n = (size_t)snprintf(head, sizeof(head), "%s.%s.",
	    o->id != NULL ? o->id : id, ts);
	if (n >= sizeof(head)) {
		fprintf(stderr, "hookline-sign: -i: the id is too long\n");
		return 1;
	}
	rc =
	    mac_of(HL_ALG_SHA256, key, (size_t)klen, head, n, in, mac, &maclen);
	OPENSSL_cleanse(key, sizeof(key));
	if (rc == -1)
		return 1;
	EVP_EncodeBlock((unsigned char *)b64, mac, (int)maclen);
	printf("webhook-id: %s\n"
	       "webhook-timestamp: %s\n"
	       "webhook-signature: v1,%s\n",
	    o->id != NULL ? o->id : id, ts, b64);
	return 0;
}

/* Stripe: "t=timestamp,v1=hex" of HMAC-SHA256(timestamp.body). */
static int
print_stripe(const struct input *in, const char *ts)
{
	unsigned char mac[EVP_MAX_MD_SIZE];
	char hex[2 * EVP_MAX_MD_SIZE + 1], head[32];
	size_t maclen = 0;
	int n;

	n = snprintf(head, sizeof(head), "%s.", ts);
	if (mac_of(HL_ALG_SHA256, in->secret, in->secret_len, head, (size_t)n,
	        in, mac, &maclen) == -1)
		return 1;
	hex_encode(hex, mac, maclen);
	printf("Stripe-Signature: t=%s,v1=%s\n", ts, hex);
	return 0;
}

/* Shopify: the base64 HMAC-SHA256 of the body; the webhook id with -i. */
static int
print_shopify(const struct opts *o, const struct input *in)
{
	unsigned char mac[EVP_MAX_MD_SIZE];
	char b64[4 * EVP_MAX_MD_SIZE / 3 + 4];
	size_t maclen = 0;

	if (mac_of(HL_ALG_SHA256, in->secret, in->secret_len, "", 0, in, mac,
	        &maclen) == -1)
		return 1;
	EVP_EncodeBlock((unsigned char *)b64, mac, (int)maclen);
	printf("X-Shopify-Hmac-Sha256: %s\n", b64);
	if (o->id != NULL)
		printf("X-Shopify-Webhook-Id: %s\n", o->id);
	return 0;
}

/*
 * GitLab: the token is the secret itself, which is what GitLab sends;
 * Idempotency-Key with -i.  A secret that cannot be a header value is
 * refused rather than printed into the header block.
 */
static int
print_gitlab(const struct opts *o, const struct input *in)
{
	if (memchr(in->secret, '\0', in->secret_len) != NULL ||
	    !header_safe((const char *)in->secret)) {
		fprintf(stderr,
		    "hookline-sign: the secret holds control characters: it cannot be an X-Gitlab-Token\n");
		return 1;
	}
	printf("X-Gitlab-Token: %s\n", (const char *)in->secret);
	if (o->id != NULL)
		printf("Idempotency-Key: %s\n", o->id);
	return 0;
}

/* With --scheme: every header the scheme's sender sends, in order. */
static int
print_headers(const struct opts *o, const struct input *in)
{
	char now[32];

	snprintf(now, sizeof(now), "%lld", (long long)time(NULL));
	switch (o->scheme) {
	case HL_SCHEME_HUB:
		return print_hub(o, in);
	case HL_SCHEME_STANDARD:
		return print_standard(o, in, o->ts != NULL ? o->ts : now);
	case HL_SCHEME_STRIPE:
		return print_stripe(in, o->ts != NULL ? o->ts : now);
	case HL_SCHEME_SHOPIFY:
		return print_shopify(o, in);
	case HL_SCHEME_GITLAB:
		return print_gitlab(o, in);
	default:
		return 1;
	}
}

int
main(int argc, char *argv[])
{
	struct opts o = {.sfile = getenv("HOOKLINE_SECRET_FILE"),
	    .alg = HL_ALG_SHA1};
	struct input in = {NULL, 0, NULL, 0};
	int rc;

	if (o.sfile != NULL && *o.sfile == '\0')
		o.sfile = NULL;
	if ((rc = parse_args(argc, argv, &o)) != 0 ||
	    (rc = read_secret(&o, &in)) != 0 || (rc = read_body(&o, &in)) != 0)
		goto out;
	rc = o.scheme_set ? print_headers(&o, &in) : print_value(&o, &in);
	if (rc == 0 && fflush(stdout) != 0)
		rc = 1;
out:
	if (in.secret != NULL)
		OPENSSL_cleanse(in.secret, in.secret_len);
	free(in.secret);
	free(in.body);
	return rc;
}
