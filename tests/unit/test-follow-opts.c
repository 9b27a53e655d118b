/*
 * test-follow-opts: hookline-follow's command line (opts.c): defaults,
 * every option, bounds, and the place of LOG and "--".
 */
#include <stdarg.h>
#include <string.h>

#include "follow/follow.h"
#include "tap.h"

static struct fl_opts o;
static char why[FL_WHY_MAX];

/* Parses a NULL-terminated list of arguments after the program name. */
static enum fl_err
run(const char *first, ...)
{
	static char *argv[32];
	va_list ap;
	int argc = 0;

	opts_free(&o);
	argv[argc++] = "hookline-follow";
	va_start(ap, first);
	for (const char *a = first; a != NULL; a = va_arg(ap, const char *))
		argv[argc++] = (char *)a;
	va_end(ap);
	argv[argc] = NULL;
	why[0] = '\0';
	return opts_parse(&o, argc, argv, why, sizeof(why));
}

int
main(void)
{
	ok(run("--state", "/s", "/var/log/h.jsonl", NULL) == FL_OK &&
	        strcmp(o.state_dir, "/s") == 0 &&
	        strcmp(o.log, "/var/log/h.jsonl") == 0 && o.argv == NULL,
	    "--state DIR LOG: print mode");
	ok(o.jobs == 1 && o.timeout_ms == 60000 && o.backoff_min_ms == 1000 &&
	        o.backoff_max_ms == 300000 && o.dedupe_count == 10000 &&
	        o.dedupe_age_s == 86400 && !o.once && !o.stop_on_failure &&
	        o.nmatches == 0,
	    "defaults: -j 1, -t 60, --backoff 1,300, --dedupe 10000,86400");
	ok(run("--state", "/s", "/l", "--", "cmd", "-x", "--", NULL) == FL_OK &&
	        o.argv != NULL && strcmp(o.argv[0], "cmd") == 0 &&
	        strcmp(o.argv[1], "-x") == 0 && strcmp(o.argv[2], "--") == 0 &&
	        o.argv[3] == NULL,
	    "everything after -- is the command, options and -- included");
	ok(run("-j", "8", "-t", "5", "--once", "--stop-on-failure",
	       "--backoff", "0.25,2.5", "--dedupe", "50,60", "--match",
	       "status=JOB_COMPLETED", "--match", "tenant=a=b", "--state", "/s",
	       "/l", NULL) == FL_OK &&
	        o.jobs == 8 && o.timeout_ms == 5000 && o.once &&
	        o.stop_on_failure && o.backoff_min_ms == 250 &&
	        o.backoff_max_ms == 2500 && o.dedupe_count == 50 &&
	        o.dedupe_age_s == 60 && o.nmatches == 2,
	    "every option");
	ok(o.nmatches == 2 && o.matches[1].key_len == 6 &&
	        strncmp(o.matches[1].key, "tenant", 6) == 0 &&
	        strcmp(o.matches[1].value, "a=b") == 0,
	    "--match splits at the first '='");
	ok(run("--dedupe", "7", "--state", "/s", "/l", NULL) == FL_OK &&
	        o.dedupe_count == 7 && o.dedupe_age_s == 86400,
	    "--dedupe COUNT alone keeps the default age");
	ok(run("--no-dedupe", "--state", "/s", "/l", NULL) == FL_OK &&
	        o.dedupe_count == 0,
	    "--no-dedupe");
	ok(run("-h", NULL) == FL_OK && o.help, "-h");
	ok(run("--version", NULL) == FL_OK && o.version, "--version");

	ok(run("/l", NULL) == FL_EUSAGE && strstr(why, "--state") != NULL,
	    "--state is required (%s)", why);
	ok(run("--state", "/s", NULL) == FL_EUSAGE, "LOG is required (%s)", why);
	ok(run("--state", "/s", "rel.jsonl", NULL) == FL_EUSAGE,
	    "LOG must be absolute (%s)", why);
	ok(run("--state", "/s", "/l", "cmd", NULL) == FL_EUSAGE,
	    "the command needs -- (%s)", why);
	ok(run("--state", "/s", "/l", "--", NULL) == FL_EUSAGE,
	    "-- needs a command (%s)", why);
	ok(run("--state", "/s", "/l", "-j", "2", NULL) == FL_EUSAGE,
	    "options after LOG are refused (%s)", why);
	ok(run("-j", "0", "--state", "/s", "/l", NULL) == FL_EUSAGE &&
	        run("-j", "257", "--state", "/s", "/l", NULL) == FL_EUSAGE &&
	        run("-j", "2x", "--state", "/s", "/l", NULL) == FL_EUSAGE &&
	        run("-j", "-1", "--state", "/s", "/l", NULL) == FL_EUSAGE,
	    "-j: 1 to 256 only (%s)", why);
	ok(run("-t", "0", "--state", "/s", "/l", NULL) == FL_EUSAGE &&
	        run("-t", "86401", "--state", "/s", "/l", NULL) == FL_EUSAGE,
	    "-t: 1 to 86400 only (%s)", why);
	ok(run("--backoff", "2,1", "--state", "/s", "/l", NULL) == FL_EUSAGE &&
	        run("--backoff", "1", "--state", "/s", "/l", NULL) == FL_EUSAGE &&
	        run("--backoff", "0.0001,1", "--state", "/s", "/l", NULL) ==
	            FL_EUSAGE &&
	        run("--backoff", "0,1", "--state", "/s", "/l", NULL) ==
	            FL_EUSAGE &&
	        run("--backoff", "1,99999", "--state", "/s", "/l", NULL) ==
	            FL_EUSAGE,
	    "--backoff: MIN <= MAX, 1 ms to 86400 s (%s)", why);
	ok(run("--dedupe", "0", "--state", "/s", "/l", NULL) == FL_EUSAGE &&
	        run("--dedupe", "5,0", "--state", "/s", "/l", NULL) ==
	            FL_EUSAGE &&
	        run("--dedupe", "1000001", "--state", "/s", "/l", NULL) ==
	            FL_EUSAGE,
	    "--dedupe: bounded (%s)", why);
	ok(run("--match", "=x", "--state", "/s", "/l", NULL) == FL_EUSAGE &&
	        run("--match", "x", "--state", "/s", "/l", NULL) == FL_EUSAGE,
	    "--match wants KEY=VALUE (%s)", why);
	ok(run("--bogus", "--state", "/s", "/l", NULL) == FL_EUSAGE,
	    "an unknown option is refused (%s)", why);
	opts_free(&o);
	return tap_done();
}
