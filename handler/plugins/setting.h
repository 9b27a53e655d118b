/*
 * setting.h: reading HOOKLINE_PLUGIN_ARG, shared by the plugins that take
 * blank-separated key=value settings (redis.so, jetstream.so,
 * postgres.so).  Each plugin compiles setting.c in; nothing here is part
 * of the plugin ABI.
 */
#ifndef HOOKLINE_PLUGIN_SETTING_H
#define HOOKLINE_PLUGIN_SETTING_H

#include <stddef.h>

/*
 * Splits the next blank-separated word at *cursor, in place, into *key
 * and *value at its first '=' and advances *cursor.  Returns 1 with both
 * set, 0 when no word is left, or -1 for a word without '=' or with an
 * empty key or value: then *key is the word, whole, to quote in a message.
 * The words live in the caller's buffer.
 */
int setting_next(char **cursor, char **key, char **value);

/*
 * Undoes the split of the word at key (after setting_next() returned 1),
 * so that the setting can be quoted whole.
 */
void setting_rejoin(char *key, char *value);

/* s as a decimal number within [lo, hi], or -1 (lo must be >= 0). */
long long setting_number(const char *s, long long lo, long long hi);

/*
 * Reads the first line of the file at path, without its line end, into
 * buf (size bytes, always NUL-terminated).  Returns 0, or -1 with *why set
 * to a static string or strerror()'s.  Meant for secrets: the caller wipes
 * buf when done.
 */
int setting_read_line(const char *path, char *buf, size_t size,
    const char **why);

#endif /* HOOKLINE_PLUGIN_SETTING_H */
