/*
 * seen.c: the ids of the events whose command succeeded recently, so that
 * a sender's retried delivery (the same id, logged twice) is not acted on
 * twice.  The window is bounded by count and by age.
 *
 * It lives in DIR/seen, a ring of count fixed-size slots (96 bytes each,
 * "<seq hex> <id> <seconds>\n"; slot seq % count), written in place and
 * never larger.  Writing and syncing it at every event would double the
 * cost of a commit, so new ids travel in the state file (state.c), whose
 * commit is atomic with the position, and are written to the ring, and
 * synced, once FL_SEEN_BATCH of them have gathered.  After a crash the
 * ring and the state file's ids together are the window.
 *
 * In memory: the ring, and an open-addressing hash table of ids (linear
 * probing, backward-shift deletion) pointing into it.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "follow.h"

#define SLOT 96

struct entry {
	uint64_t seq;
	int64_t when;
	unsigned char id[32];
	int used;
};

struct seen {
	char path[PATH_MAX]; /* DIR/seen */
	char dir[PATH_MAX];
	int fd;
	unsigned count; /* slots */
	int64_t age; /* seconds */
	struct entry *ring;
	uint32_t *table; /* slot + 1, 0 when empty */
	size_t tmask;
	uint64_t next; /* the seq of the next id */
	uint64_t synced; /* ids below this seq are in the file */
};

static size_t
home(const struct seen *s, const unsigned char *id)
{
	/* The id is a SHA-256: its first bytes are as good as any hash. */
	return ((size_t)id[0] | (size_t)id[1] << 8 | (size_t)id[2] << 16 |
	           (size_t)id[3] << 24) &
	    s->tmask;
}

/* The table position of id, or of the empty place it would go. */
static size_t
find(const struct seen *s, const unsigned char *id)
{
	size_t i = home(s, id);

	while (s->table[i] != 0 &&
	    memcmp(s->ring[s->table[i] - 1].id, id, 32) != 0)
		i = (i + 1) & s->tmask;
	return i;
}

static void
table_put(struct seen *s, size_t slot)
{
	s->table[find(s, s->ring[slot].id)] = (uint32_t)slot + 1;
}

/* Removes id from the table if it points at slot (backward shift). */
static void
table_del(struct seen *s, size_t slot)
{
	size_t i = find(s, s->ring[slot].id), j, h;

	if (s->table[i] != slot + 1)
		return;
	for (j = (i + 1) & s->tmask; s->table[j] != 0; j = (j + 1) & s->tmask) {
		h = home(s, s->ring[s->table[j] - 1].id);
		/* Move j back to i unless its home lies in (i, j]. */
		if ((j > i && (h <= i || h > j)) ||
		    (j < i && h <= i && h > j)) {
			s->table[i] = s->table[j];
			i = j;
		}
	}
	s->table[i] = 0;
}

/* Puts an entry in its slot, unless the slot holds a newer one. */
static void
place(struct seen *s, uint64_t seq, const unsigned char *id, int64_t when)
{
	struct entry *e = &s->ring[seq % s->count];

	if (e->used && e->seq >= seq)
		return;
	if (e->used)
		table_del(s, seq % s->count);
	e->seq = seq;
	e->when = when;
	memcpy(e->id, id, 32);
	e->used = 1;
	table_put(s, seq % s->count);
}

static void
format_slot(char out[SLOT + 1], const struct entry *e)
{
	int n = snprintf(out, SLOT + 1, "%016" PRIx64 " ", e->seq);

	for (int i = 0; i < 32; i++)
		n +=
		    snprintf(out + n, (size_t)(SLOT + 1 - n), "%02x", e->id[i]);
	snprintf(out + n, (size_t)(SLOT + 1 - n), " %013lld\n",
	    (long long)e->when);
}

/* Reads the slots of the file open at fd (any size) into the ring. */
static void
load_file(struct seen *s, int fd)
{
	char slot[SLOT + 1];
	unsigned char id[32];
	uint64_t seq, max = 0;
	long long when;
	off_t off;
	int pass;

	/* Pass 0 finds the newest seq; pass 1 keeps the newest count. */
	for (pass = 0; pass < 2; pass++)
		for (off = 0; pread(fd, slot, SLOT, off) == SLOT; off += SLOT) {
			slot[SLOT] = '\0';
			if (slot[SLOT - 1] != '\n' || slot[16] != ' ' ||
			    slot[81] != ' ' ||
			    sscanf(slot, "%16" SCNx64, &seq) != 1 ||
			    hex_decode(slot + 17, id, 32) == -1 ||
			    sscanf(slot + 82, "%13lld", &when) != 1)
				continue; /* never written */
			if (pass == 0 && seq + 1 > max)
				max = seq + 1;
			else if (pass == 1 && seq + s->count >= max)
				place(s, seq, id, when);
		}
	if (max > s->next)
		s->next = max;
}

static int
write_slot(const struct seen *s, int fd, const struct entry *e)
{
	char slot[SLOT + 1];
	ssize_t n;

	format_slot(slot, e);
	n = pwrite(fd, slot, SLOT, (off_t)(e->seq % s->count) * SLOT);
	if (n >= 0 && n < SLOT)
		errno = ENOSPC;
	return n == SLOT ? 0 : -1;
}

/*
 * Writes the whole ring to DIR/seen anew (temporary file, fsync, rename,
 * fsync of DIR): when the file is new, or count changed.
 */
static int
rewrite(struct seen *s)
{
	char tmp[PATH_MAX + 8];
	int fd;

	snprintf(tmp, sizeof(tmp), "%s.tmp", s->path);
	if ((fd = open(tmp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)) ==
	    -1)
		return -1;
	if (ftruncate(fd, (off_t)s->count * SLOT) == -1)
		goto fail;
	for (unsigned i = 0; i < s->count; i++)
		if (s->ring[i].used && write_slot(s, fd, &s->ring[i]) == -1)
			goto fail;
	if (fsync(fd) == -1 || rename(tmp, s->path) == -1 ||
	    state_sync_dir(s->dir) == -1)
		goto fail;
	if (s->fd != -1)
		close(s->fd);
	s->fd = fd;
	s->synced = s->next;
	return 0;
fail:
	close(fd);
	return -1;
}

/*
 * Opens the window in DIR: count ids at most (0: no window, *sp NULL), none
 * older than age seconds.  The state's ids (st, borrowed) join what DIR/seen
 * holds, and all of it is written to DIR/seen at once.  Returns FL_OK,
 * FL_ESTATE or FL_ENOMEM with why set.
 */
enum fl_err
seen_open(struct seen **sp, const char *dir, unsigned count, unsigned age,
    const struct fl_state *st, char *why, size_t wl)
{
	struct seen *s;
	unsigned char id[32];
	struct stat sb;
	size_t tsize = 4;

	*sp = NULL;
	if (count == 0)
		return FL_OK;
	while (tsize < 2 * (size_t)count)
		tsize *= 2;
	if ((s = calloc(1, sizeof(*s))) != NULL) {
		s->fd = -1;
		s->ring = calloc(count, sizeof(*s->ring));
		s->table = calloc(tsize, sizeof(*s->table));
	}
	if (s == NULL || s->ring == NULL || s->table == NULL) {
		seen_free(s);
		snprintf(why, wl, "out of memory for a window of %u ids",
		    count);
		return FL_ENOMEM;
	}
	s->count = count;
	s->age = age;
	s->tmask = tsize - 1;
	snprintf(s->dir, sizeof(s->dir), "%s", dir);
	snprintf(s->path, sizeof(s->path), "%s/seen", dir);
	s->next = st->seen_next;
	if ((s->fd = open(s->path, O_RDWR | O_CLOEXEC)) == -1 &&
	    errno != ENOENT)
		goto fail;
	if (s->fd != -1)
		load_file(s, s->fd);
	for (size_t i = 0; i < st->nids; i++)
		if (st->ids[i].seq + count >= s->next &&
		    hex_decode(st->ids[i].id, id, 32) == 0)
			place(s, st->ids[i].seq, id, st->ids[i].when);
	if (s->fd == -1 || fstat(s->fd, &sb) == -1 ||
	    sb.st_size != (off_t)count * SLOT) {
		if (rewrite(s) == -1)
			goto fail;
	} else {
		s->synced =
		    st->seen_synced < s->next ? st->seen_synced : s->next;
		if (seen_sync(s, 1, why, wl) != FL_OK) {
			seen_free(s);
			return FL_ESTATE;
		}
	}
	*sp = s;
	return FL_OK;
fail:
	snprintf(why, wl, "cannot set up %s: %s", s->path, strerror(errno));
	seen_free(s);
	return FL_ESTATE;
}

/* Closes the window; NULL does nothing. */
void
seen_free(struct seen *s)
{
	if (s == NULL)
		return;
	if (s->fd != -1)
		close(s->fd);
	free(s->ring);
	free(s->table);
	free(s);
}

/* Whether id (hex) succeeded within the window, as of now. */
int
seen_has(const struct seen *s, const char *idhex, int64_t now)
{
	unsigned char id[32];
	size_t i;

	if (s == NULL || hex_decode(idhex, id, 32) == -1)
		return 0;
	i = find(s, id);
	return s->table[i] != 0 &&
	    now - s->ring[s->table[i] - 1].when <= s->age;
}

/* Records that id (hex) succeeded at now; it is kept in memory and in
 * the next state file until seen_sync writes it. */
void
seen_add(struct seen *s, const char *idhex, int64_t now)
{
	unsigned char id[32];

	if (s == NULL || hex_decode(idhex, id, 32) == -1)
		return;
	place(s, s->next++, id, now);
}

/*
 * Writes the ids added since the last call to DIR/seen and syncs it, once
 * FL_SEEN_BATCH of them (or the whole window) have gathered, or always
 * with force.  Returns FL_OK or FL_ESTATE with why set.
 */
enum fl_err
seen_sync(struct seen *s, int force, char *why, size_t wl)
{
	uint64_t from;

	if (s == NULL || s->next == s->synced)
		return FL_OK;
	if (!force && s->next - s->synced < FL_SEEN_BATCH &&
	    s->next - s->synced < s->count)
		return FL_OK;
	from = s->next - s->synced > s->count ? s->next - s->count : s->synced;
	for (uint64_t q = from; q < s->next; q++)
		if (write_slot(s, s->fd, &s->ring[q % s->count]) == -1)
			goto fail;
	if (fdatasync(s->fd) == -1)
		goto fail;
	s->synced = s->next;
	return FL_OK;
fail:
	snprintf(why, wl, "cannot write %s: %s", s->path, strerror(errno));
	return FL_ESTATE;
}

/*
 * Fills st's window part: the next seq, what DIR/seen holds, and the ids
 * not yet written there (st->ids, replaced; at most FL_SEEN_BATCH).
 * Returns 0, or -1 when out of memory.
 */
int
seen_export(const struct seen *s, struct fl_state *st)
{
	uint64_t from;
	size_t n = 0;

	free(st->ids);
	st->ids = NULL;
	st->nids = 0;
	if (s == NULL)
		return 0;
	st->seen_next = s->next;
	st->seen_synced = s->synced;
	if (s->next == s->synced)
		return 0;
	from = s->next - s->synced > s->count ? s->next - s->count : s->synced;
	if ((st->ids = calloc((size_t)(s->next - from), sizeof(*st->ids))) ==
	    NULL)
		return -1;
	for (uint64_t q = from; q < s->next; q++, n++) {
		const struct entry *e = &s->ring[q % s->count];

		st->ids[n].seq = e->seq;
		st->ids[n].when = e->when;
		for (int i = 0; i < 32; i++)
			snprintf(st->ids[n].id + 2 * i, 3, "%02x", e->id[i]);
	}
	st->nids = n;
	return 0;
}
