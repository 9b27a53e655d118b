/*
 * test-schemes: every signature scheme against the senders' vectors
 * (tests/vectors/schemes.json, each checked with the clock its entry
 * gives), then per scheme a table of malformed headers, each refused with
 * a reason, and secret rotation: a signature made with any configured
 * secret verifies, and the log says which one.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "hookline.h"
#include "tap.h"

#define MAXP 16

static struct hl_config_cache *cache;

/*
 * Runs sig_check() for a request with headers (NULL-ended "Name: value"
 * pairs as a sender sends them), body, scheme and secret (several secrets
 * go through a secret file), at clock now.  *key gets the secret that
 * verified; why gets the reason.
 */
static enum hl_err
check(const char *scheme, const char *secret_file_text, const char *secret,
    char **headers, const char *body, long now, int *key, char *why,
    size_t wl)
{
	char *params[MAXP + 6], sch[64], sec[512], sf[128], path[64] = "";
	struct hl_buf b = {(char *)body, strlen(body), strlen(body)};
	struct hl_io io = {NULL, params, 0};
	struct hl_request req = {.io = &io, .body = &b};
	enum hl_err rc;
	int n = 0;

	snprintf(sch, sizeof(sch), "HOOKLINE_SCHEME=%s", scheme);
	params[n++] = sch;
	params[n++] = "HOOKLINE_LOG=/tmp/x.jsonl";
	if (secret_file_text != NULL) {
		FILE *f;

		snprintf(path, sizeof(path), "/tmp/hookline-schemes-XXXXXX");
		close(mkstemp(path));
		f = fopen(path, "w");
		fputs(secret_file_text, f);
		fclose(f);
		snprintf(sf, sizeof(sf), "HOOKLINE_SECRET_FILE=%s", path);
		params[n++] = sf;
	} else {
		snprintf(sec, sizeof(sec), "HOOKLINE_SECRET=%s", secret);
		params[n++] = sec;
	}
	for (int i = 0; headers[i] != NULL && n < MAXP + 5; i++)
		params[n++] = headers[i];
	params[n] = NULL;
	if ((rc = config_get(cache, &req)) == HL_OK) {
		req.now = (time_t)now;
		rc = sig_check(&req);
	}
	*key = req.key;
	snprintf(why, wl, "%s", req.why.text);
	if (path[0] != '\0')
		unlink(path);
	return rc;
}

/* "X-Foo-Bar" -> "HTTP_X_FOO_BAR=value", as a CGI server hands it on. */
static char *
cgi_param(const char *name, const char *value)
{
	size_t n = strlen(name);
	char *p = malloc(5 + n + 1 + strlen(value) + 1);

	memcpy(p, "HTTP_", 5);
	for (size_t i = 0; i < n; i++)
		p[5 + i] = name[i] == '-' ? '_' : (char)toupper(name[i]);
	p[5 + n] = '=';
	strcpy(p + 6 + n, value);
	return p;
}

static char *
slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf;
	long n;

	if (f == NULL || fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0)
		return NULL;
	rewind(f);
	buf = malloc((size_t)n + 1);
	if (fread(buf, 1, (size_t)n, f) != (size_t)n)
		n = 0;
	buf[n] = '\0';
	fclose(f);
	return buf;
}

static void
vectors(void)
{
	const char *src = getenv("HOOKLINE_SRCDIR");
	char path[4096], why[HL_WHY_MAX], *text, *headers[MAXP + 1];
	const cJSON *v, *h;
	cJSON *all;
	int key, n;

	snprintf(path, sizeof(path), "%s/tests/vectors/schemes.json",
	    src != NULL ? src : ".");
	ok((text = slurp(path)) != NULL && (all = cJSON_Parse(text)) != NULL,
	    "schemes.json read");
	if (text == NULL || all == NULL)
		return;
	cJSON_ArrayForEach(v, all)
	{
		const cJSON *now = cJSON_GetObjectItem(v, "now");
		int valid = cJSON_IsTrue(cJSON_GetObjectItem(v, "valid"));
		enum hl_err rc;

		n = 0;
		cJSON_ArrayForEach(h, cJSON_GetObjectItem(v, "headers"))
		    headers[n++] = cgi_param(h->string, h->valuestring);
		headers[n] = NULL;
		rc = check(cJSON_GetObjectItem(v, "scheme")->valuestring, NULL,
		    cJSON_GetObjectItem(v, "secret")->valuestring, headers,
		    cJSON_GetObjectItem(v, "body")->valuestring,
		    now != NULL ? (long)now->valuedouble : 1, &key, why,
		    sizeof(why));
		ok(valid ? rc == HL_OK && key == 1 : rc == HL_ESIG && *why,
		    "%s: %s%s%s",
		    cJSON_GetObjectItem(v, "name")->valuestring,
		    valid ? "verifies" : "refused: ", valid ? "" : why,
		    rc == HL_OK || valid ? "" : "");
		for (int i = 0; i < n; i++)
			free(headers[i]);
	}
	cJSON_Delete(all);
	free(text);
}

/* One malformed case: scheme, headers, why it must fail (a substring). */
struct bad {
	const char *scheme;
	const char *h[4];
	const char *reason;
	const char *label;
};

#define STD_ID "HTTP_WEBHOOK_ID=msg_p5jXN8AQM9LWM0D4loKWxJek"
#define STD_TS "HTTP_WEBHOOK_TIMESTAMP=1614265330"
#define STD_SIG "g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
#define ST_T "t=1614265330"
#define ST_V1 "v1=af4ead0627a34a8cca29808e8de9ada8e41a92e6237c63cef6eacf51d36cca34"

static const struct bad bads[] = {
    {"standard", {STD_ID, STD_TS}, "no webhook-signature", "missing signature"},
    {"standard", {STD_TS, "HTTP_WEBHOOK_SIGNATURE=v1," STD_SIG}, "no webhook-id",
        "missing id"},
    {"standard", {STD_ID, "HTTP_WEBHOOK_SIGNATURE=v1," STD_SIG},
        "no webhook-timestamp", "missing timestamp"},
    {"standard", {STD_ID, STD_TS, "HTTP_WEBHOOK_SIGNATURE="}, "no v1",
        "empty list"},
    {"standard", {STD_ID, STD_TS, "HTTP_WEBHOOK_SIGNATURE=v2," STD_SIG},
        "no v1", "only another version"},
    {"standard", {STD_ID, STD_TS, "HTTP_WEBHOOK_SIGNATURE=" STD_SIG}, "no v1",
        "no version prefix"},
    {"standard", {STD_ID, STD_TS, "HTTP_WEBHOOK_SIGNATURE=v1,@@@@"},
        "not 32 bytes", "bad base64"},
    {"standard", {STD_ID, STD_TS, "HTTP_WEBHOOK_SIGNATURE=v1,AAAA"},
        "not 32 bytes", "wrong length"},
    {"standard", {STD_ID, STD_TS, "HTTP_WEBHOOK_SIGNATURE=v1, " STD_SIG},
        "no v1", "a space after the comma"},
    {"standard",
        {STD_ID, "HTTP_WEBHOOK_TIMESTAMP=99999999999999999999999",
            "HTTP_WEBHOOK_SIGNATURE=v1," STD_SIG},
        "not a plain decimal", "overflowing timestamp"},
    {"standard",
        {STD_ID, "HTTP_WEBHOOK_TIMESTAMP=+1614265330",
            "HTTP_WEBHOOK_SIGNATURE=v1," STD_SIG},
        "not a plain decimal", "signed timestamp"},
    {"standard",
        {STD_ID, "HTTP_WEBHOOK_TIMESTAMP= 1614265330",
            "HTTP_WEBHOOK_SIGNATURE=v1," STD_SIG},
        "not a plain decimal", "whitespace in the timestamp"},
    {"standard",
        {"HTTP_WEBHOOK_ID=", STD_TS, "HTTP_WEBHOOK_SIGNATURE=v1," STD_SIG},
        "empty", "empty id"},
    {"stripe", {NULL}, "no Stripe-Signature", "missing header"},
    {"stripe", {"HTTP_STRIPE_SIGNATURE=" ST_V1}, "no timestamp",
        "missing timestamp"},
    {"stripe", {"HTTP_STRIPE_SIGNATURE=" ST_T}, "no v1", "missing v1"},
    {"stripe", {"HTTP_STRIPE_SIGNATURE=" ST_T "," ST_T "," ST_V1},
        "two timestamps", "duplicated timestamp"},
    {"stripe", {"HTTP_STRIPE_SIGNATURE=" ST_T ",v1=zz"}, "not 64 hex",
        "bad hex"},
    {"stripe", {"HTTP_STRIPE_SIGNATURE=" ST_T ",v1=af4e"}, "not 64 hex",
        "wrong length"},
    {"stripe", {"HTTP_STRIPE_SIGNATURE=" ST_T ",," ST_V1}, "no key=value",
        "empty part"},
    {"stripe", {"HTTP_STRIPE_SIGNATURE=t=-1614265330," ST_V1},
        "not a plain decimal", "signed timestamp"},
    {"stripe", {"HTTP_STRIPE_SIGNATURE=" ST_T ", " ST_V1}, "no v1",
        "whitespace"},
    {"stripe",
        {"HTTP_STRIPE_SIGNATURE=" ST_T ",V1=af4ead0627a34a8cca29808e8de9ada8e"
         "41a92e6237c63cef6eacf51d36cca34"},
        "no v1", "wrong prefix case"},
    {"shopify", {NULL}, "no X-Shopify-Hmac-Sha256", "missing header"},
    {"shopify", {"HTTP_X_SHOPIFY_HMAC_SHA256="}, "not 32 bytes", "empty"},
    {"shopify", {"HTTP_X_SHOPIFY_HMAC_SHA256=sha256=" STD_SIG},
        "not 32 bytes", "a prefix"},
    {"shopify", {"HTTP_X_SHOPIFY_HMAC_SHA256= " STD_SIG}, "not 32 bytes",
        "whitespace"},
    {"gitlab", {NULL}, "no X-Gitlab-Token", "missing header"},
    {"gitlab", {"HTTP_X_GITLAB_TOKEN="}, "not the secret", "empty token"},
    {"gitlab", {"HTTP_X_GITLAB_TOKEN=glt-token-1 "}, "not the secret",
        "trailing space"},
    {"hub", {"HTTP_X_HUB_SIGNATURE=sha1="}, "wrong length", "empty hex"},
};

static void
malformed(void)
{
	char why[HL_WHY_MAX], *h[5];
	int key;

	for (size_t i = 0; i < sizeof(bads) / sizeof(bads[0]); i++) {
		const struct bad *b = &bads[i];
		int n = 0;

		for (; n < 4 && b->h[n] != NULL; n++)
			h[n] = (char *)b->h[n];
		h[n] = NULL;
		ok(check(b->scheme, NULL,
		       strcmp(b->scheme, "standard") == 0
		           ? "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
		       : strcmp(b->scheme, "gitlab") == 0 ? "glt-token-1"
		                                          : "whsec_test_secret",
		       h, "{\"test\": 2432232314}", 1614265330, &key, why,
		       sizeof(why)) == HL_ESIG &&
		        strstr(why, b->reason) != NULL,
		    "%s: %s: 401, %s", b->scheme, b->label, why);
	}
}

static void
rotation(void)
{
	/* The official Standard Webhooks vector's secret, second of 2 and
	 * third of 3; the others are another valid secret. */
	const char *other = "whsec_dGhlIG9sZCBvbmUgdGhhdCBpcyBnb2luZyBhd2F5";
	const char *good = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
	char *h[] = {STD_ID, STD_TS, "HTTP_WEBHOOK_SIGNATURE=v1," STD_SIG, NULL};
	char file[512], why[HL_WHY_MAX];
	int key;

	snprintf(file, sizeof(file), "%s\n%s\n", other, good);
	ok(check("standard", file, NULL, h, "{\"test\": 2432232314}",
	       1614265330, &key, why, sizeof(why)) == HL_OK &&
	        key == 2,
	    "rotation, 2 secrets: the second verifies, key 2 (%s)", why);
	snprintf(file, sizeof(file), "%s\r\n\n%s\r\n%s\n", other, other, good);
	ok(check("standard", file, NULL, h, "{\"test\": 2432232314}",
	       1614265330, &key, why, sizeof(why)) == HL_OK &&
	        key == 3,
	    "rotation, 3 secrets (CRLF, a blank line): the third, key 3");
	snprintf(file, sizeof(file), "%s\n%s\n", good, other);
	ok(check("standard", file, NULL, h, "{\"test\": 2432232314}",
	       1614265330, &key, why, sizeof(why)) == HL_OK &&
	        key == 1,
	    "rotation: the new secret first, key 1");
	snprintf(file, sizeof(file), "%s\n%s\n", other, other);
	ok(check("standard", file, NULL, h, "{\"test\": 2432232314}",
	       1614265330, &key, why, sizeof(why)) == HL_ESIG,
	    "rotation: neither secret: 401");
	snprintf(file, sizeof(file), "%s\nnot base64!\n", good);
	ok(check("standard", file, NULL, h, "{\"test\": 2432232314}",
	       1614265330, &key, why, sizeof(why)) == HL_ECONFIG &&
	        strstr(why, "secret 2 is not whsec_") != NULL &&
	        strstr(why, "not base64!") == NULL,
	    "a secret that is not base64 for standard: 500, named by its "
	    "number, not quoted");
	snprintf(file, sizeof(file), "a\nb\nc\nd\ne\nf\ng\nh\ni\n");
	ok(check("hub", file, NULL, h, "{}", 1, &key, why, sizeof(why)) ==
	            HL_ECONFIG &&
	        strstr(why, "more than 8") != NULL,
	    "more than 8 secrets: 500");
	ok(check("nosuch", NULL, "s", h, "{}", 1, &key, why, sizeof(why)) ==
	            HL_ECONFIG &&
	        strstr(why, "HOOKLINE_SCHEME") != NULL,
	    "an unknown scheme: 500 naming HOOKLINE_SCHEME");
}

int
main(void)
{
	cache = config_cache_new();
	vectors();
	malformed();
	rotation();
	config_cache_free(cache);
	return tap_done();
}
