// SPDX-License-Identifier: GPL-2.0
/*
 * replay-log: read a dm-log-writes log and replay a prefix of it onto a disk.
 *
 * Written for the dm-sis crash tests from the log format described in the
 * kernel's Documentation/admin-guide/device-mapper/log-writes.rst and the
 * structure layout that document refers to:
 *
 *   - the log starts with one "super" block of <sectorsize> bytes:
 *       le64 magic (0x6a736677736872), le64 version (1), le64 nr_entries,
 *       le32 sectorsize (the logical block size of the logged device);
 *   - then, for each entry, one header block of <sectorsize> bytes:
 *       le64 sector, le64 nr_sectors (both in <sectorsize> units of the
 *       logged device), le64 flags, le64 data_len;
 *     a MARK entry keeps its label (data_len bytes) in the header block right
 *     after those 32 bytes; any other entry except a DISCARD is followed by
 *     nr_sectors * sectorsize bytes of the data that was written;
 *   - flags: FLUSH 1, FUA 2, DISCARD 4, MARK 8, METADATA 16.
 *
 * Writes appear in the log in the order they reached stable storage: a
 * plain write only after the flush that made it durable, so replaying the
 * first N entries gives the disk as it could be after a power cut at that
 * moment, and every FLUSH or FUA entry is a point where the file system (or
 * dm-sis) on top may have acknowledged something durable.
 *
 * Usage:
 *   replay-log info LOG                   header: entries, sector size
 *   replay-log list LOG                   one line per entry
 *   replay-log marks LOG                  "INDEX LABEL" for every mark
 *   replay-log points LOG                 indexes of FLUSH/FUA entries
 *   replay-log find LOG MARK              index of the first mark MARK
 *   replay-log replay LOG DEV [--from N] [--to N | --to-mark MARK]
 *                            [--discard zero|discard|skip]
 *       apply entries FROM..TO (inclusive, 0-based; default: all) to DEV;
 *       entries before FROM are assumed to be applied already, so a test
 *       can advance a replay disk from one check point to the next.
 *
 * Exit status: 0 ok, 1 error (bad log, I/O error, mark not found), 2 usage.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/fs.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#define LW_MAGIC	0x6a736677736872ULL
#define LW_VERSION	1ULL

#define F_FLUSH		(1u << 0)
#define F_FUA		(1u << 1)
#define F_DISCARD	(1u << 2)
#define F_MARK		(1u << 3)
#define F_META		(1u << 4)
#define F_KNOWN		(F_FLUSH | F_FUA | F_DISCARD | F_MARK | F_META)

#define HDR_BYTES	32		/* fixed part of a header block */
#define CHUNK		(1u << 20)	/* data copy unit */

struct entry {
	uint64_t off;		/* byte offset of the header block in the log */
	uint64_t sector;	/* in log sectors (ss bytes) */
	uint64_t nr;		/* in log sectors */
	uint64_t flags;
	char *mark;		/* label of a MARK entry, else NULL */
};

struct log {
	int fd;
	bool direct;
	uint32_t ss;		/* sector size */
	uint64_t nr_entries;
	uint64_t size;		/* bytes of the log device or file */
	struct entry *e;
};

static const char *prog = "replay-log";

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

static void usage(void) __attribute__((noreturn));
static void usage(void)
{
	fprintf(stderr,
		"usage: %s info|list|marks|points LOG\n"
		"       %s find LOG MARK\n"
		"       %s replay LOG DEV [--from N] [--to N | --to-mark MARK]\n"
		"                         [--discard zero|discard|skip]\n",
		prog, prog, prog);
	exit(2);
}

static uint64_t le64(const unsigned char *p)
{
	uint64_t v = 0;
	int i;

	for (i = 7; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

static uint32_t le32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

static void *abuf(size_t len)
{
	void *p;

	if (posix_memalign(&p, 4096, len))
		die("out of memory");
	memset(p, 0, len);
	return p;
}

static uint64_t dev_size(int fd, const char *path)
{
	struct stat st;
	uint64_t sz;

	if (fstat(fd, &st))
		die("%s: %s", path, strerror(errno));
	if (S_ISBLK(st.st_mode)) {
		if (ioctl(fd, BLKGETSIZE64, &sz))
			die("%s: BLKGETSIZE64: %s", path, strerror(errno));
		return sz;
	}
	return (uint64_t)st.st_size;
}

/* Open with O_DIRECT when the file system allows it (the page cache of a
 * log device written by a dm target through bios may be stale). */
static int open_dev(const char *path, int flags, bool *direct)
{
	int fd = open(path, flags | O_DIRECT);

	*direct = fd >= 0;
	if (fd < 0)
		fd = open(path, flags);
	if (fd < 0)
		die("%s: %s", path, strerror(errno));
	return fd;
}

static void read_at(struct log *l, void *buf, size_t len, uint64_t off)
{
	size_t done = 0;

	if (off + len > l->size)
		die("log truncated: %zu bytes at offset %" PRIu64 " past its end (%" PRIu64 ")",
		    len, off, l->size);
	while (done < len) {
		ssize_t n = pread(l->fd, (char *)buf + done, len - done, (off_t)(off + done));

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			die("log read at %" PRIu64 ": %s", off + done,
			    n < 0 ? strerror(errno) : "unexpected end");
		done += (size_t)n;
	}
}

/*
 * Header blocks are read through a sequential window so that listing a log
 * of many thousands of entries does not cost one small read per entry.
 */
struct window {
	unsigned char *buf;
	uint64_t start;
	size_t len;
};

static const unsigned char *win_get(struct log *l, struct window *w, uint64_t off)
{
	if (!w->buf)
		w->buf = abuf(CHUNK);
	if (!w->len || off < w->start || off + l->ss > w->start + w->len) {
		uint64_t left = l->size - off;

		w->start = off;
		w->len = left < CHUNK ? (size_t)left : CHUNK;
		if (w->len < l->ss)
			die("log truncated at offset %" PRIu64, off);
		w->len -= w->len % l->ss;
		read_at(l, w->buf, w->len, off);
	}
	return w->buf + (off - w->start);
}

static void open_log(struct log *l, const char *path)
{
	struct window w = { 0 };
	unsigned char *sb;
	uint64_t i, off, version, magic;

	memset(l, 0, sizeof(*l));
	l->fd = open_dev(path, O_RDONLY, &l->direct);
	l->size = dev_size(l->fd, path);
	sb = abuf(4096);
	l->ss = 512;
	if (l->size < 4096)
		die("%s: too small to hold a log", path);
	read_at(l, sb, 4096, 0);
	magic = le64(sb);
	version = le64(sb + 8);
	l->nr_entries = le64(sb + 16);
	l->ss = le32(sb + 24);
	if (magic != LW_MAGIC)
		die("%s: not a dm-log-writes log (magic %#" PRIx64 ")", path, magic);
	if (version != LW_VERSION)
		die("%s: log version %" PRIu64 " not supported", path, version);
	if (l->ss < 512 || l->ss > 4096 || (l->ss & (l->ss - 1)))
		die("%s: bad sector size %u", path, l->ss);
	free(sb);
	if (l->nr_entries > l->size / l->ss)
		die("%s: %" PRIu64 " entries cannot fit in %" PRIu64 " bytes", path,
		    l->nr_entries, l->size);

	l->e = calloc(l->nr_entries ? l->nr_entries : 1, sizeof(*l->e));
	if (!l->e)
		die("out of memory");
	off = l->ss;
	for (i = 0; i < l->nr_entries; i++) {
		const unsigned char *h = win_get(l, &w, off);
		struct entry *e = &l->e[i];
		uint64_t data_len;

		e->off = off;
		e->sector = le64(h);
		e->nr = le64(h + 8);
		e->flags = le64(h + 16);
		data_len = le64(h + 24);
		if (e->flags & ~(uint64_t)F_KNOWN)
			die("entry %" PRIu64 ": unknown flags %#" PRIx64, i, e->flags);
		if (e->flags & F_MARK) {
			if (data_len > l->ss - HDR_BYTES)
				die("entry %" PRIu64 ": mark of %" PRIu64 " bytes", i, data_len);
			e->mark = strndup((const char *)h + HDR_BYTES, (size_t)data_len);
			if (!e->mark)
				die("out of memory");
		}
		off += l->ss;
		if (!(e->flags & (F_DISCARD | F_MARK))) {
			if (e->nr > (l->size - off) / l->ss)
				die("entry %" PRIu64 ": %" PRIu64 " sectors of data past the end of the log",
				    i, e->nr);
			off += e->nr * l->ss;
		}
	}
	free(w.buf);
}

static bool is_point(const struct entry *e)
{
	return e->flags & (F_FLUSH | F_FUA);
}

static void flag_str(uint64_t f, char *buf, size_t len)
{
	static const char *const names[] = { "FLUSH", "FUA", "DISCARD", "MARK", "META" };
	size_t i, n = 0;

	buf[0] = '\0';
	for (i = 0; i < 5; i++)
		if (f & (1u << i))
			n += (size_t)snprintf(buf + n, len - n, "%s%s", n ? "|" : "", names[i]);
	if (!n)
		snprintf(buf, len, "WRITE");
}

static int64_t find_mark(struct log *l, const char *name)
{
	uint64_t i;

	for (i = 0; i < l->nr_entries; i++)
		if (l->e[i].mark && !strcmp(l->e[i].mark, name))
			return (int64_t)i;
	return -1;
}

static uint64_t parse_num(const char *s, const char *what)
{
	char *end;
	unsigned long long v;

	errno = 0;
	if (!s || *s < '0' || *s > '9')
		usage();
	v = strtoull(s, &end, 10);
	if (errno || *end) {
		fprintf(stderr, "%s: bad %s '%s'\n", prog, what, s);
		exit(2);
	}
	return v;
}

static void write_all(int fd, const void *buf, size_t len, uint64_t off, const char *dev)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = pwrite(fd, (const char *)buf + done, len - done, (off_t)(off + done));

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			die("%s: write at %" PRIu64 ": %s", dev, off + done,
			    n < 0 ? strerror(errno) : "short write");
		done += (size_t)n;
	}
}

enum discard_mode { DISCARD_ZERO, DISCARD_REAL, DISCARD_SKIP };

static void do_discard(int fd, bool blk, enum discard_mode m, uint64_t off, uint64_t len,
		       unsigned char *zero, const char *dev)
{
	uint64_t range[2] = { off, len };

	if (m == DISCARD_SKIP || !len)
		return;
	if (m == DISCARD_REAL) {
		if (blk ? ioctl(fd, BLKDISCARD, range) :
			  fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
				    (off_t)off, (off_t)len))
			die("%s: discard of %" PRIu64 "+%" PRIu64 ": %s", dev, off, len,
			    strerror(errno));
		return;
	}
	while (len) {
		size_t n = len < CHUNK ? (size_t)len : CHUNK;

		write_all(fd, zero, n, off, dev);
		off += n;
		len -= n;
	}
}

static int cmd_replay(struct log *l, int argc, char **argv)
{
	const char *dev = argv[0];
	uint64_t from = 0, to = l->nr_entries ? l->nr_entries - 1 : 0, i, devsz;
	enum discard_mode dm = DISCARD_ZERO;
	unsigned char *buf, *zero;
	bool direct, blk, have_to = false;
	uint64_t nw = 0, nd = 0, bytes = 0;
	struct stat st;
	int fd, a;

	for (a = 1; a < argc; a++) {
		if (!strcmp(argv[a], "--from") && a + 1 < argc) {
			from = parse_num(argv[++a], "entry");
		} else if (!strcmp(argv[a], "--to") && a + 1 < argc) {
			to = parse_num(argv[++a], "entry");
			have_to = true;
		} else if (!strcmp(argv[a], "--to-mark") && a + 1 < argc) {
			int64_t m = find_mark(l, argv[++a]);

			if (m < 0)
				die("no mark '%s' in the log", argv[a]);
			to = (uint64_t)m;
			have_to = true;
		} else if (!strcmp(argv[a], "--discard") && a + 1 < argc) {
			a++;
			if (!strcmp(argv[a], "zero"))
				dm = DISCARD_ZERO;
			else if (!strcmp(argv[a], "discard"))
				dm = DISCARD_REAL;
			else if (!strcmp(argv[a], "skip"))
				dm = DISCARD_SKIP;
			else
				usage();
		} else {
			usage();
		}
	}
	if (!l->nr_entries) {
		if (have_to)
			die("the log is empty");
		return 0;
	}
	if (to >= l->nr_entries)
		die("entry %" PRIu64 " out of range (the log has %" PRIu64 ")", to, l->nr_entries);
	if (from > to + 1)
		die("--from %" PRIu64 " is past --to %" PRIu64, from, to);

	fd = open_dev(dev, O_RDWR, &direct);
	if (fstat(fd, &st))
		die("%s: %s", dev, strerror(errno));
	blk = S_ISBLK(st.st_mode);
	devsz = dev_size(fd, dev);
	buf = abuf(CHUNK);
	zero = abuf(CHUNK);

	for (i = from; i <= to; i++) {
		const struct entry *e = &l->e[i];
		uint64_t off = e->sector * l->ss, len = e->nr * l->ss, src, done;

		if (e->flags & F_MARK)
			continue;
		if (e->nr && (off > devsz || len > devsz - off))
			die("entry %" PRIu64 ": %" PRIu64 "+%" PRIu64 " past the end of %s (%" PRIu64 ")",
			    i, off, len, dev, devsz);
		if (e->flags & F_DISCARD) {
			do_discard(fd, blk, dm, off, len, zero, dev);
			nd++;
			continue;
		}
		src = e->off + l->ss;
		for (done = 0; done < len; ) {
			size_t n = len - done < CHUNK ? (size_t)(len - done) : CHUNK;

			read_at(l, buf, n, src + done);
			write_all(fd, buf, n, off + done, dev);
			done += n;
		}
		if (len)
			nw++;
		bytes += len;
	}
	if (fsync(fd))
		die("%s: fsync: %s", dev, strerror(errno));
	if (blk && !direct)
		ioctl(fd, BLKFLSBUF, 0);
	close(fd);
	fprintf(stderr, "%s: replayed entries %" PRIu64 "..%" PRIu64 ": %" PRIu64
		" writes (%" PRIu64 " bytes), %" PRIu64 " discards\n",
		prog, from, to, nw, bytes, nd);
	return 0;
}

int main(int argc, char **argv)
{
	struct log l;
	const char *cmd;
	uint64_t i;
	char fl[64];

	if (argc < 3)
		usage();
	cmd = argv[1];
	if (strcmp(cmd, "info") && strcmp(cmd, "list") && strcmp(cmd, "marks") &&
	    strcmp(cmd, "points") && strcmp(cmd, "find") && strcmp(cmd, "replay"))
		usage();
	if ((!strcmp(cmd, "find") && argc != 4) || (!strcmp(cmd, "replay") && argc < 4))
		usage();
	open_log(&l, argv[2]);

	if (!strcmp(cmd, "info")) {
		uint64_t points = 0, marks = 0, end = l.ss;

		for (i = 0; i < l.nr_entries; i++) {
			points += is_point(&l.e[i]);
			marks += !!l.e[i].mark;
		}
		if (l.nr_entries) {
			const struct entry *e = &l.e[l.nr_entries - 1];

			end = e->off + l.ss +
			      ((e->flags & (F_DISCARD | F_MARK)) ? 0 : e->nr * l.ss);
		}
		printf("entries %" PRIu64 "\nsectorsize %u\nflush_points %" PRIu64
		       "\nmarks %" PRIu64 "\nlog_bytes %" PRIu64 "\n",
		       l.nr_entries, l.ss, points, marks, end);
	} else if (!strcmp(cmd, "list")) {
		for (i = 0; i < l.nr_entries; i++) {
			flag_str(l.e[i].flags, fl, sizeof(fl));
			printf("%" PRIu64 " %s sector=%" PRIu64 " nr=%" PRIu64 "%s%s\n", i, fl,
			       l.e[i].sector, l.e[i].nr, l.e[i].mark ? " mark=" : "",
			       l.e[i].mark ? l.e[i].mark : "");
		}
	} else if (!strcmp(cmd, "marks")) {
		for (i = 0; i < l.nr_entries; i++)
			if (l.e[i].mark)
				printf("%" PRIu64 " %s\n", i, l.e[i].mark);
	} else if (!strcmp(cmd, "points")) {
		for (i = 0; i < l.nr_entries; i++)
			if (is_point(&l.e[i]))
				printf("%" PRIu64 "\n", i);
	} else if (!strcmp(cmd, "find")) {
		int64_t m = find_mark(&l, argv[3]);

		if (m < 0)
			die("no mark '%s' in the log", argv[3]);
		printf("%" PRId64 "\n", m);
	} else {
		return cmd_replay(&l, argc - 3, argv + 3);
	}
	return 0;
}
