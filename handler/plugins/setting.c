/*
 * setting.c: HOOKLINE_PLUGIN_ARG words and secret files for the plugins
 * (see setting.h).  Pure but for setting_read_line(), which reads one file.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "setting.h"

int
setting_next(char **cursor, char **key, char **value)
{
	char *w = *cursor, *eq;

	w += strspn(w, " \t");
	if (*w == '\0')
		return 0;
	*cursor = w + strcspn(w, " \t");
	if (**cursor != '\0')
		*(*cursor)++ = '\0';
	*key = w;
	if ((eq = strchr(w, '=')) == NULL || eq == w || eq[1] == '\0')
		return -1;
	*eq = '\0';
	*value = eq + 1;
	return 1;
}

void
setting_rejoin(char *key, char *value)
{
	if (value > key && value[-1] == '\0')
		value[-1] = '=';
}

long long
setting_number(const char *s, long long lo, long long hi)
{
	char *end;
	long long n;

	errno = 0;
	n = strtoll(s, &end, 10);
	if (errno != 0 || *end != '\0' || end == s || n < lo || n > hi)
		return -1;
	return n;
}

int
setting_read_line(const char *path, char *buf, size_t size, const char **why)
{
	FILE *f = fopen(path, "r");

	buf[0] = '\0';
	if (f == NULL) {
		*why = strerror(errno);
		return -1;
	}
	if (fgets(buf, (int)size, f) == NULL) {
		*why = ferror(f) ? strerror(errno) : "empty";
		fclose(f);
		return -1;
	}
	fclose(f);
	buf[strcspn(buf, "\r\n")] = '\0';
	if (buf[0] == '\0') {
		*why = "empty first line";
		return -1;
	}
	return 0;
}
