/*
 * opts.c: hookline-follow's command line.
 *
 *   hookline-follow --state DIR [options] LOG [-- command [argument ...]]
 *
 * Options come before LOG (as in OpenBSD's tools, and so that nothing
 * after "--" is ever taken for an option).  Numbers are parsed with
 * bounds; every refusal names the option and the accepted range.  No I/O
 * happens here, so that the unit test can drive every case.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "follow.h"

#define JOBS_MAX 256
#define TIMEOUT_MAX_S 86400
#define DEDUPE_COUNT_MAX 1000000
#define DEDUPE_AGE_MAX_S (366 * 86400)

/* Defaults: hookline-follow(1) names each. */
#define DEFAULT_TIMEOUT_S 60
#define DEFAULT_BACKOFF_MIN_MS 1000
#define DEFAULT_BACKOFF_MAX_MS 300000
#define DEFAULT_DEDUPE_COUNT 10000
#define DEFAULT_DEDUPE_AGE_S 86400

enum {
	OPT_STATE = 256,
	OPT_ONCE,
	OPT_MATCH,
	OPT_BACKOFF,
	OPT_STOP,
	OPT_DEDUPE,
	OPT_NO_DEDUPE,
	OPT_HELP
};

static const struct option longopts[] = {
    {"state", required_argument, NULL, OPT_STATE},
    {"once", no_argument, NULL, OPT_ONCE},
    {"match", required_argument, NULL, OPT_MATCH},
    {"backoff", required_argument, NULL, OPT_BACKOFF},
    {"stop-on-failure", no_argument, NULL, OPT_STOP},
    {"dedupe", required_argument, NULL, OPT_DEDUPE},
    {"no-dedupe", no_argument, NULL, OPT_NO_DEDUPE},
    {"jobs", required_argument, NULL, 'j'},
    {"timeout", required_argument, NULL, 't'},
    {"help", no_argument, NULL, OPT_HELP},
    {"version", no_argument, NULL, 'V'},
    {NULL, 0, NULL, 0},
};

/* The usage text, for a refused command line and --help. */
const char *
opts_usage(void)
{
	return "usage: hookline-follow --state DIR [-j N] [-t SECONDS] [--once]\n"
	       "           [--match KEY=VALUE] [--backoff MIN,MAX] "
	       "[--stop-on-failure]\n"
	       "           [--dedupe COUNT,SECONDS | --no-dedupe] LOG "
	       "[-- command [argument ...]]\n";
}

/* A whole decimal number from min to max. */
static int
parse_uint(const char *s, unsigned long min, unsigned long max, unsigned *out)
{
	unsigned long v;
	char *end;

	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < min || v > max)
		return -1;
	*out = (unsigned)v;
	return 0;
}

/*
 * Seconds with at most three decimals ("0.25", "300") as milliseconds,
 * from 1 ms to max_s; *end gets what follows the number.
 */
static int
parse_ms(const char *s, unsigned max_s, unsigned *ms, const char **end)
{
	unsigned long whole = 0, frac = 0;
	int digits = 0, fdigits = 0;

	for (; *s >= '0' && *s <= '9'; s++, digits++) {
		whole = whole * 10 + (unsigned long)(*s - '0');
		if (whole > max_s)
			return -1;
	}
	if (*s == '.')
		for (s++; *s >= '0' && *s <= '9'; s++, fdigits++) {
			if (fdigits == 3)
				return -1;
			frac = frac * 10 + (unsigned long)(*s - '0');
		}
	if (digits == 0 && fdigits == 0)
		return -1;
	for (int i = fdigits; i < 3; i++)
		frac *= 10;
	if (whole * 1000 + frac < 1 || whole * 1000 + frac > max_s * 1000UL)
		return -1;
	*ms = (unsigned)(whole * 1000 + frac);
	*end = s;
	return 0;
}

static enum fl_err
refuse(char *why, size_t wl, const char *what, const char *value)
{
	snprintf(why, wl, "%s: %.200s", what, value);
	return FL_EUSAGE;
}

static enum fl_err
add_match(struct fl_opts *o, const char *arg, char *why, size_t wl)
{
	const char *eq = strchr(arg, '=');
	struct fl_match *m;

	if (eq == NULL || eq == arg)
		return refuse(why, wl, "--match wants KEY=VALUE", arg);
	m = realloc(o->matches, (o->nmatches + 1) * sizeof(*m));
	if (m == NULL) {
		snprintf(why, wl, "out of memory");
		return FL_ENOMEM;
	}
	o->matches = m;
	m[o->nmatches].key = arg;
	m[o->nmatches].key_len = (size_t)(eq - arg);
	m[o->nmatches].value = eq + 1;
	o->nmatches++;
	return FL_OK;
}

/*
 * Fills o from argv (borrowed: o points into it).  Returns FL_OK,
 * FL_EUSAGE with why set, or FL_ENOMEM; -h (--help) and -V stop there
 * with FL_OK and o->help or o->version set.
 */
enum fl_err
opts_parse(struct fl_opts *o, int argc, char **argv, char *why, size_t wl)
{
	const char *end;
	enum fl_err rc;
	int c;

	memset(o, 0, sizeof(*o));
	o->jobs = 1;
	o->timeout_ms = DEFAULT_TIMEOUT_S * 1000;
	o->backoff_min_ms = DEFAULT_BACKOFF_MIN_MS;
	o->backoff_max_ms = DEFAULT_BACKOFF_MAX_MS;
	o->dedupe_count = DEFAULT_DEDUPE_COUNT;
	o->dedupe_age_s = DEFAULT_DEDUPE_AGE_S;
	opterr = 0;
	optind = 0; /* GNU: start over, for the unit test's many calls */
	while ((c = getopt_long(argc, argv, "+j:t:hV", longopts, NULL)) != -1) {
		switch (c) {
		case OPT_STATE:
			o->state_dir = optarg;
			break;
		case OPT_ONCE:
			o->once = 1;
			break;
		case OPT_MATCH:
			if ((rc = add_match(o, optarg, why, wl)) != FL_OK)
				return rc;
			break;
		case OPT_BACKOFF:
			if (parse_ms(optarg, TIMEOUT_MAX_S, &o->backoff_min_ms,
			        &end) == -1 ||
			    *end != ',' ||
			    parse_ms(end + 1, TIMEOUT_MAX_S, &o->backoff_max_ms,
			        &end) == -1 ||
			    *end != '\0' ||
			    o->backoff_min_ms > o->backoff_max_ms)
				return refuse(why, wl,
				    "--backoff wants MIN,MAX in seconds (up to "
				    "3 decimals, MIN <= MAX <= 86400)",
				    optarg);
			break;
		case OPT_STOP:
			o->stop_on_failure = 1;
			break;
		case OPT_DEDUPE: {
			char count[16];
			const char *comma = strchr(optarg, ',');
			size_t n =
			    comma ? (size_t)(comma - optarg) : strlen(optarg);

			if (n >= sizeof(count))
				return refuse(why, wl,
				    "--dedupe wants "
				    "COUNT,SECONDS",
				    optarg);
			memcpy(count, optarg, n);
			count[n] = '\0';
			if (parse_uint(count, 1, DEDUPE_COUNT_MAX,
			        &o->dedupe_count) == -1 ||
			    (comma != NULL &&
			        parse_uint(comma + 1, 1, DEDUPE_AGE_MAX_S,
			            &o->dedupe_age_s) == -1))
				return refuse(why, wl,
				    "--dedupe wants COUNT (1-1000000) and "
				    "optionally ,SECONDS (1-31622400)",
				    optarg);
			break;
		}
		case OPT_NO_DEDUPE:
			o->dedupe_count = 0;
			break;
		case 'j':
			if (parse_uint(optarg, 1, JOBS_MAX, &o->jobs) == -1)
				return refuse(why, wl, "-j wants 1 to 256",
				    optarg);
			break;
		case 't':
			if (parse_uint(optarg, 1, TIMEOUT_MAX_S,
			        &o->timeout_ms) == -1)
				return refuse(why, wl,
				    "-t wants seconds from 1 to 86400", optarg);
			o->timeout_ms *= 1000;
			break;
		case 'h':
		case OPT_HELP:
			o->help = 1;
			return FL_OK;
		case 'V':
			o->version = 1;
			return FL_OK;
		default:
			return refuse(why, wl,
			    "unknown option or missing value",
			    argv[optind - 1]);
		}
	}
	if (o->state_dir == NULL || *o->state_dir == '\0') {
		snprintf(why, wl, "--state DIR is required");
		return FL_EUSAGE;
	}
	if (optind >= argc) {
		snprintf(why, wl, "LOG is required");
		return FL_EUSAGE;
	}
	o->log = argv[optind++];
	if (o->log[0] != '/' || strchr(o->log, '\n') != NULL)
		return refuse(why, wl,
		    "LOG must be an absolute path, as "
		    "HOOKLINE_LOG",
		    o->log);
	if (optind < argc) {
		if (strcmp(argv[optind], "--") != 0)
			return refuse(why, wl,
			    "options go before LOG, and "
			    "the command after \"--\"",
			    argv[optind]);
		if (++optind == argc) {
			snprintf(why, wl,
			    "\"--\" must be followed by a command");
			return FL_EUSAGE;
		}
		o->argv = argv + optind;
	}
	return FL_OK;
}

/* Frees what opts_parse allocated; the rest is argv's. */
void
opts_free(struct fl_opts *o)
{
	free(o->matches);
	o->matches = NULL;
	o->nmatches = 0;
}
