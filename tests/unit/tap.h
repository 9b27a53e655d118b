/*
 * tap.h: the few lines of the Test Anything Protocol that the unit tests
 * need; automake's tap-driver.sh reads what they print.
 */
#ifndef TAP_H
#define TAP_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

static int tap_count, tap_failed;

static void tap_ok(int, const char *, int, const char *, ...)
    __attribute__((format(printf, 4, 5)));

/* Prints one test point: "ok N - name" or "not ok N - name" and where. */
static void
tap_ok(int pass, const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	printf("%sok %d - ", pass ? "" : "not ", ++tap_count);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	if (!pass) {
		tap_failed++;
		printf("# failed at %s:%d\n", file, line);
	}
	fflush(stdout);
}

#define ok(cond, ...) tap_ok((cond) ? 1 : 0, __FILE__, __LINE__, __VA_ARGS__)

/* Prints a test point that cannot run here: "ok N - name # SKIP reason". */
static inline void
tap_skip(const char *name, const char *reason)
{
	printf("ok %d - %s # SKIP %s\n", ++tap_count, name, reason);
	fflush(stdout);
}

/* Prints the plan; the exit status says whether all passed. */
static int
tap_done(void)
{
	printf("1..%d\n", tap_count);
	return tap_failed == 0 && tap_count > 0 ? 0 : 1;
}

/* The path of a file in the source tree (HOOKLINE_SRCDIR, or "."). */
static inline const char *
tap_srcpath(const char *rel)
{
	static char buf[4096];
	const char *top = getenv("HOOKLINE_SRCDIR");

	snprintf(buf, sizeof(buf), "%s/%s", top ? top : ".", rel);
	return buf;
}

#endif
