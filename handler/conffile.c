/*
 * conffile.c: hookline.conf, the settings file of a CGI program.
 *
 * Shared hosts run CGI programs through suEXEC, which hands the program
 * only its own list of variables: SetEnv HOOKLINE_* in an .htaccess never
 * arrives.  So a CGI hookline also reads hookline.conf from the directory
 * that holds its executable, written by the program's owner: NAME=value
 * lines, blank lines and # comments.  The value is everything after the
 * '=', verbatim (no quotes, no expansion), like the sender's secret field.
 * The file must not be readable or writable by others nor writable by the
 * group: it may hold the secret, and then the web server (another user
 * under suEXEC) cannot serve it either.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "hookline.h"

#define CONFFILE_NAME "hookline.conf"
#define CONFFILE_MAX (64 * 1024)
#define CONFFILE_LINES 64

/*
 * Writes the path of hookline.conf beside the running program into buf
 * (n bytes).  Returns 0, or -1 when the program's path is unknown (no
 * /proc: then there is no file to read).
 */
int
conffile_path(char *buf, size_t n)
{
	char exe[PATH_MAX];
	ssize_t k;
	char *slash;

	if ((k = readlink("/proc/self/exe", exe, sizeof(exe) - 1)) <= 0)
		return -1;
	exe[k] = '\0';
	if ((slash = strrchr(exe, '/')) == NULL)
		return -1;
	*slash = '\0';
	if ((size_t)snprintf(buf, n, "%s/%s", exe[0] ? exe : "",
	        CONFFILE_NAME) >= n)
		return -1;
	return 0;
}

/* Frees what conffile_read returned, wiping it; NULL does nothing. */
void
conffile_free(char **entries)
{
	char *text;

	if (entries == NULL)
		return;
	/* The text follows the pointer array in the same block. */
	text = (char *)(entries + CONFFILE_LINES + 1);
	OPENSSL_cleanse(text, CONFFILE_MAX + 1);
	free(entries);
}

/* Reads all of fd (at most CONFFILE_MAX bytes) into text. */
static int
slurp(int fd, char *text, size_t *len)
{
	ssize_t r;

	*len = 0;
	while ((r = read(fd, text + *len, CONFFILE_MAX + 1 - *len)) != 0) {
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -1;
		*len += (size_t)r;
		if (*len > CONFFILE_MAX)
			return -1;
	}
	text[*len] = '\0';
	return 0;
}

/*
 * Splits text into "NAME=value" lines in entries (NULL-ended), dropping
 * comments and blank lines.  Returns 0, or -1 with why set.
 */
static int
split(char *text, char **entries, const char *path, struct hl_why *why)
{
	char *line, *next, *eq;
	int n = 0, no = 0;

	for (line = text; line != NULL && *line != '\0'; line = next) {
		no++;
		if ((next = strchr(line, '\n')) != NULL)
			*next++ = '\0';
		line[strcspn(line, "\r")] = '\0';
		if (line[strspn(line, " \t")] == '\0' ||
		    line[strspn(line, " \t")] == '#')
			continue;
		eq = strchr(line, '=');
		if (eq == NULL || eq == line ||
		    line[strspn(line, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")] !=
		        '=') {
			why_set(why,
			    "%s, line %d: expected NAME=value (no spaces around '=')",
			    path, no);
			return -1;
		}
		if (n == CONFFILE_LINES) {
			why_set(why, "%s: more than %d settings", path,
			    CONFFILE_LINES);
			return -1;
		}
		entries[n++] = line;
	}
	entries[n] = NULL;
	return 0;
}

/*
 * Reads the settings file at path.  Returns 1 and sets *out (free with
 * conffile_free) when it was read, 0 when there is no such file, -1 with
 * why (wl bytes) set when it is there but unusable.  Never quotes a value.
 */
int
conffile_read(const char *path, char ***out, struct hl_why *why)
{
	struct stat st;
	char **entries = NULL, *text;
	size_t len;
	int fd;

	*out = NULL;
	/* O_NONBLOCK: a FIFO put there must not hang the request. */
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK)) ==
	    -1) {
		if (errno == ENOENT)
			return 0;
		why_set(why, "cannot open %s: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		why_set(why, "%s is not a regular file", path);
		goto fail;
	}
	if (st.st_mode & (S_IRWXO | S_IWGRP)) {
		why_set(why,
		    "%s may be read or changed by others (mode %04o); run chmod 600 on it",
		    path, (unsigned)(st.st_mode & 07777));
		goto fail;
	}
	entries =
	    malloc((CONFFILE_LINES + 1) * sizeof(char *) + CONFFILE_MAX + 1);
	if (entries == NULL) {
		why_set(why, "out of memory reading %s", path);
		goto fail;
	}
	text = (char *)(entries + CONFFILE_LINES + 1);
	if (slurp(fd, text, &len) == -1) {
		why_set(why, "cannot read %s (larger than %d bytes?)", path,
		    CONFFILE_MAX);
		goto fail;
	}
	if (split(text, entries, path, why) == -1)
		goto fail;
	close(fd);
	*out = entries;
	return 1;
fail:
	conffile_free(entries);
	close(fd);
	return -1;
}
