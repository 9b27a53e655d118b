/*
 * test-follow-seen: the window of recent successes (seen.c): by count, by
 * age, kept across restarts through the ring file and the state file's
 * ids, a ring resized when the count changes, and the hash table against
 * a plain list under many additions.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "follow/follow.h"
#include "tap.h"

static char dir[] = "/tmp/hookline-follow-seen-XXXXXX", why[FL_WHY_MAX];

/* A distinct id for n (the window's hash takes its first bytes). */
static const char *
id(unsigned n)
{
	static char buf[4][65];
	static int k;
	char *b = buf[k++ % 4];

	for (int i = 0; i < 8; i++)
		snprintf(b + 8 * i, 9, "%08x", n * 2654435761u + (unsigned)i * 97);
	return b;
}

static off_t
size_of(const char *name)
{
	char path[256];
	struct stat sb;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return stat(path, &sb) == 0 ? sb.st_size : -1;
}

int
main(void)
{
	struct fl_state st, back;
	struct seen *s = NULL;
	int64_t now = 1796000000;
	int all, none;
	char cmd[256];

	ok(mkdtemp(dir) != NULL, "temporary directory");
	memset(&st, 0, sizeof(st));
	ok(seen_open(&s, dir, 0, 60, &st, why, sizeof(why)) == FL_OK && s == NULL,
	    "count 0 (--no-dedupe): no window");
	ok(!seen_has(NULL, id(1), now), "no window has nothing");
	seen_add(NULL, id(1), now);
	ok(seen_sync(NULL, 1, why, sizeof(why)) == FL_OK, "and syncs nothing");

	ok(seen_open(&s, dir, 100, 60, &st, why, sizeof(why)) == FL_OK &&
	        s != NULL,
	    "a window of 100 (%s)", why);
	ok(size_of("seen") == 100 * 96, "its file: 100 slots of 96 bytes");
	seen_add(s, id(1), now);
	ok(seen_has(s, id(1), now) && !seen_has(s, id(2), now),
	    "an id added is had, another is not");
	ok(seen_has(s, id(1), now + 60) && !seen_has(s, id(1), now + 61),
	    "ids older than the age no longer count");
	ok(!seen_has(s, "not hex", now), "a malformed id is never had");
	for (unsigned i = 2; i <= 100; i++)
		seen_add(s, id(i), now);
	ok(seen_has(s, id(1), now) && seen_has(s, id(100), now),
	    "100 ids fit");
	seen_add(s, id(101), now);
	ok(!seen_has(s, id(1), now) && seen_has(s, id(2), now) &&
	        seen_has(s, id(101), now),
	    "the 101st pushes out the oldest");
	ok(size_of("seen") == 100 * 96, "the file never grows");

	/* What a crash leaves: the ring as last synced, and the state's ids. */
	ok(seen_sync(s, 0, why, sizeof(why)) == FL_OK && seen_export(s, &st) == 0 &&
	        st.nids == 0 && st.seen_synced == 101,
	    "%d ids waiting or more: written to the ring", FL_SEEN_BATCH);
	seen_add(s, id(102), now);
	ok(seen_sync(s, 0, why, sizeof(why)) == FL_OK && seen_export(s, &st) == 0 &&
	        st.seen_next == 102 && st.nids == 1 &&
	        strcmp(st.ids[0].id, id(102)) == 0,
	    "fewer: they travel in the state file");
	ok(state_save(dir, &st, why, sizeof(why)) == FL_OK, "state saved");
	seen_free(s);
	s = NULL;
	ok(state_load(dir, &back, why, sizeof(why)) == FL_OK &&
	        seen_open(&s, dir, 100, 60, &back, why, sizeof(why)) == FL_OK,
	    "reopened after a crash (%s)", why);
	all = 1;
	for (unsigned i = 3; i <= 102; i++)
		all &= seen_has(s, id(i), now);
	ok(all && !seen_has(s, id(2), now),
	    "the window is whole again: ring file plus state ids");
	seen_add(s, id(103), now);
	ok(seen_export(s, &st) == 0 && st.seen_next == 103 && st.nids == 1,
	    "reopening wrote the state's ids to the ring (1 new pending)");
	ok(seen_sync(s, 1, why, sizeof(why)) == FL_OK && seen_export(s, &st) == 0 &&
	        st.nids == 0 && st.seen_synced == 103,
	    "a forced sync empties the pending list");
	state_clear(&back);
	seen_free(s);
	s = NULL;

	/* A smaller count: the newest ids are kept, the file shrinks. */
	ok(seen_open(&s, dir, 10, 60, &st, why, sizeof(why)) == FL_OK &&
	        size_of("seen") == 10 * 96 && size_of("seen.tmp") == -1,
	    "count 100 -> 10: the ring is rewritten to 10 slots");
	all = 1;
	none = 1;
	for (unsigned i = 94; i <= 103; i++)
		all &= seen_has(s, id(i), now);
	for (unsigned i = 3; i <= 93; i++)
		none &= !seen_has(s, id(i), now);
	ok(all && none, "the 10 newest ids are kept, the rest dropped");
	seen_free(s);
	s = NULL;

	/* The table against a plain record, with repeats and evictions. */
	{
		enum { N = 257, ROUNDS = 20000 };
		unsigned last[4096];
		int good = 1;

		free(st.ids);
		memset(&st, 0, sizeof(st));
		snprintf(cmd, sizeof(cmd), "%s/seen", dir);
		unlink(cmd);
		ok(seen_open(&s, dir, N, 1000000, &st, why, sizeof(why)) == FL_OK,
		    "a window of %d", N);
		for (unsigned k = 0; k < 4096; k++)
			last[k] = 0;
		srand(7);
		for (unsigned q = 1; q <= ROUNDS; q++) {
			unsigned k = (unsigned)rand() % 600;

			seen_add(s, id(k), now);
			last[k] = q;
			if (q % 97 == 0)
				for (unsigned i = 0; i < 600; i++) {
					int want = last[i] != 0 && q - last[i] < N;

					good &= seen_has(s, id(i), now) == want;
				}
		}
		ok(good, "%d additions of 600 ids: had exactly when among the "
		    "last %d", ROUNDS, N);
		seen_free(s);
	}
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	(void)!system(cmd);
	return tap_done();
}
