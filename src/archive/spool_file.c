/*
 * spool_file.c - one segment file of the prefetch spool: its record, publishing, and the checks
 * and SHA-256 done when archive-get takes it (see spool_file.h for the contract). Nothing here
 * waits, scans the spool or reads the repository.
 *
 * Why a take hashes the file again although the prefetcher verified it: what makes a spooled
 * file trustworthy is that it is still the file the prefetcher verified. The directory checks
 * (owner, mode 0700) keep other users out; the owner, link count and size checks catch a file
 * planted before that; only the content hash catches a file replaced or rewritten in place
 * by anything else running as the same user, or torn by a bug. A 16 MiB segment hashes in
 * about 9 ms from the page cache (OpenSSL with SHA extensions): the price of never handing
 * PostgreSQL bytes nobody checked.
 *
 * Why rename first and hash after: the hash must cover exactly what PostgreSQL will read. Once
 * renamed, dest is in PostgreSQL's pg_wal, and checking that dest is the inode we opened and
 * hashing that inode proves it; a swap in the spool between our open and our rename is then
 * caught as "not the file that was checked".
 */
#include "pgpitr/archive/spool_file.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pgpitr/common/hexstr.h"
#include "pgpitr/pipe/pipe.h"
#include "pgpitr/common/fdio.h"

#define HASH_CHUNK (1u << 20)
#define RECORD_MAX 128

typedef struct Record {
    char sha256_hex[PIPE_SHA256_HEX_LEN + 1];
    uint64_t size;
} Record;

bool spool_record_name(char out[SPOOL_RECORD_NAME_MAX], const char *name)
{
    int n = snprintf(out, SPOOL_RECORD_NAME_MAX, SPOOL_RECORD_PREFIX "%s", name);
    return n > 0 && n < SPOOL_RECORD_NAME_MAX;
}

/* ---- publishing (the prefetcher) ------------------------------------------------------------ */

static int write_record(int dfd, const char *rname, const char *sha256_hex, uint64_t size,
                        PgpErr *err)
{
    char line[RECORD_MAX];
    int len = snprintf(line, sizeof line, "%s %" PRIu64 "\n", sha256_hex, size);
    int fd = openat(dfd, rname, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0)
        return PGP_FAIL_SYS(err, errno, "cannot create \"%s\"", rname);
    int e = write(fd, line, (size_t)len) == len ? 0 : (errno ? errno : ENOSPC);
    if (close(fd) != 0 && e == 0)
        e = errno;
    if (e != 0) {
        unlinkat(dfd, rname, 0);
        return PGP_FAIL_SYS(err, e, "cannot write \"%s\"", rname);
    }
    return 0;
}

int spool_file_publish(int dfd, const char *work, const char *name, const char *sha256_hex,
                       uint64_t size, PgpErr *err)
{
    char rname[SPOOL_RECORD_NAME_MAX];
    if (!spool_record_name(rname, name) ||
        !hexstr_exact(sha256_hex, PIPE_SHA256_HEX_LEN, HEX_LOWER))
        return PGP_FAIL(err, PGP_ERR_INTERNAL, "cannot record \"%s\"", name);
    int rc = write_record(dfd, rname, sha256_hex, size, err);
    if (rc == 0 && renameat(dfd, work, dfd, name) != 0) {
        rc = PGP_FAIL_SYS(err, errno, "cannot rename \"%s\" to \"%s\"", work, name);
        unlinkat(dfd, rname, 0);
    }
    return rc;
}

/* ---- taking (archive-get) ------------------------------------------------------------------- */

/* A file in the spool must be a regular file of ours; a segment also has one link. */
static int check_owned(int fd, const char *name, bool one_link, struct stat *sb, PgpErr *err)
{
    if (fstat(fd, sb) != 0)
        return PGP_FAIL_SYS(err, errno, "cannot stat \"%s\"", name);
    if (!S_ISREG(sb->st_mode))
        return PGP_FAIL(err, PGP_ERR_CORRUPT, "\"%s\" is not a regular file", name);
    if (sb->st_uid != geteuid())
        return PGP_FAIL(err, PGP_ERR_CORRUPT, "\"%s\" belongs to uid %u, not to uid %u", name,
                        (unsigned)sb->st_uid, (unsigned)geteuid());
    if (one_link && sb->st_nlink != 1)
        return PGP_FAIL(err, PGP_ERR_CORRUPT, "\"%s\" has %ju links", name,
                        (uintmax_t)sb->st_nlink);
    return 0;
}

static int read_record(int dfd, const char *name, Record *rec, PgpErr *err)
{
    char rname[SPOOL_RECORD_NAME_MAX], buf[RECORD_MAX];
    if (!spool_record_name(rname, name))
        return PGP_FAIL(err, PGP_ERR_CORRUPT, "no record for \"%s\"", name);
    int fd = openat(dfd, rname, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return PGP_FAIL_SYS(err, errno, "cannot open the record \"%s\"", rname);
    struct stat sb;
    int rc = check_owned(fd, rname, false, &sb, err);
    ssize_t n = rc == 0 ? read(fd, buf, sizeof buf - 1) : 0;
    close(fd);
    if (rc != 0)
        return rc;
    buf[n > 0 ? n : 0] = '\0';
    char *end = NULL;
    if (n > PIPE_SHA256_HEX_LEN + 1 && buf[PIPE_SHA256_HEX_LEN] == ' ' &&
        buf[PIPE_SHA256_HEX_LEN + 1] >= '0' && buf[PIPE_SHA256_HEX_LEN + 1] <= '9') {
        rec->size = strtoull(buf + PIPE_SHA256_HEX_LEN + 1, &end, 10);
        buf[PIPE_SHA256_HEX_LEN] = '\0';
    }
    if (end == NULL || strcmp(end, "\n") != 0 || !hexstr_exact(buf, PIPE_SHA256_HEX_LEN, HEX_LOWER))
        return PGP_FAIL(err, PGP_ERR_CORRUPT, "the record \"%s\" is malformed", rname);
    memcpy(rec->sha256_hex, buf, sizeof rec->sha256_hex);
    return 0;
}

static int write_all(void *ud, const void *buf, size_t len, PgpErr *err)
{
    int e = fd_write_all(*(int *)ud, buf, len, -1, NULL);
    return e == 0 ? 0 : PGP_FAIL_SYS(err, e, "cannot write");
}

/* SHA-256 of fd's content from offset 0 (also written to out_fd if >= 0), compared with the
 * record: both the digest and the number of bytes must match. */
static int hash_check(int fd, int out_fd, const char *name, const Record *rec, PgpErr *err)
{
    PipeSink sink = {out_fd >= 0 ? write_all : NULL, &out_fd};
    PipeFilter *sha = NULL;
    uint8_t *buf = malloc(HASH_CHUNK);
    uint64_t total = 0;
    int rc = buf ? pipe_sha256_new(sink, &sha, err) : PGP_FAIL(err, PGP_ERR_NOMEM, "out of memory");
    for (off_t off = 0; rc == 0;) {
        ssize_t n = pread(fd, buf, HASH_CHUNK, off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            rc = PGP_FAIL_SYS(err, errno, "cannot read \"%s\"", name);
        if (n <= 0)
            break;
        rc = pipe_filter_push(sha, buf, (size_t)n, err);
        off += n;
        total += (uint64_t)n;
    }
    if (rc == 0)
        rc = pipe_filter_finish(sha, err);
    if (rc == 0) {
        uint8_t digest[PIPE_SHA256_LEN];
        char hex[PIPE_SHA256_HEX_LEN + 1];
        pipe_sha256_result(sha, digest);
        pipe_hex(digest, sizeof digest, hex);
        if (total != rec->size || strcmp(hex, rec->sha256_hex) != 0)
            rc = PGP_FAIL(err, PGP_ERR_CORRUPT, "\"%s\" changed after it was verified: %" PRIu64
                          " bytes with sha256 %s, recorded %" PRIu64 " bytes with sha256 %s",
                          name, total, hex, rec->size, rec->sha256_hex);
    }
    pipe_filter_free(sha);
    free(buf);
    return rc;
}

/* Renamed: dest must be the inode we opened and checked, with the recorded content. */
static int check_moved(int fd, const struct stat *sb, const char *name, const char *dest,
                       const Record *rec, PgpErr *err)
{
    struct stat db;
    if (lstat(dest, &db) != 0)
        return PGP_FAIL_SYS(err, errno, "cannot stat \"%s\"", dest);
    if (db.st_dev != sb->st_dev || db.st_ino != sb->st_ino)
        return PGP_FAIL(err, PGP_ERR_CORRUPT, "\"%s\" was replaced while it was taken", name);
    return hash_check(fd, -1, name, rec, err);
}

/* The spool is on another filesystem than dest: copy to a temp beside dest while hashing,
 * rename the temp only if the hash matches, then remove the spool's file. */
static int take_by_copy(int dfd, int fd, const char *name, const char *dest, const Record *rec,
                        PgpErr *err)
{
    char tmp[PATH_MAX];
    const char *slash = strrchr(dest, '/');
    int dirlen = slash ? (int)(slash - dest + 1) : 0;
    int n = snprintf(tmp, sizeof tmp, "%.*s.%s.pgpitr-spool.%ld", dirlen, dest,
                     slash ? slash + 1 : dest, (long)getpid());
    if (n < 0 || n >= (int)sizeof tmp)
        return PGP_FAIL(err, PGP_ERR_USAGE, "destination path \"%s\" is too long", dest);
    int out = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (out < 0)
        return PGP_FAIL_SYS(err, errno, "cannot create \"%s\"", tmp);
    int rc = hash_check(fd, out, name, rec, err);
    if (close(out) != 0 && rc == 0)
        rc = PGP_FAIL_SYS(err, errno, "cannot write \"%s\"", tmp);
    if (rc == 0 && rename(tmp, dest) != 0)
        rc = PGP_FAIL_SYS(err, errno, "cannot rename \"%s\" to \"%s\"", tmp, dest);
    if (rc != 0)
        unlink(tmp);
    else
        unlinkat(dfd, name, 0);
    return rc;
}

int spool_file_take(int dfd, const char *name, uint64_t segsize, const char *dest, PgpErr *err)
{
    int fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT)
        return PGP_FAIL(err, PGP_ERR_NOT_FOUND, "\"%s\" is not in the spool", name);
    if (fd < 0)
        return PGP_FAIL_SYS(err, errno == ELOOP ? EPERM : errno, "cannot open \"%s\"%s", name,
                            errno == ELOOP ? " (a symbolic link)" : "");
    struct stat sb;
    Record rec;
    int rc = check_owned(fd, name, true, &sb, err);
    if (rc == 0 && (uint64_t)sb.st_size != segsize)
        rc = PGP_FAIL(err, PGP_ERR_CORRUPT, "\"%s\" has %jd bytes, not one segment (%" PRIu64
                      ")", name, (intmax_t)sb.st_size, segsize);
    if (rc == 0)
        rc = read_record(dfd, name, &rec, err);
    if (rc == 0 && rec.size != (uint64_t)sb.st_size)
        rc = PGP_FAIL(err, PGP_ERR_CORRUPT, "\"%s\" has %jd bytes, recorded %" PRIu64, name,
                      (intmax_t)sb.st_size, rec.size);
    if (rc == 0) {
        if (renameat(dfd, name, AT_FDCWD, dest) == 0) {
            rc = check_moved(fd, &sb, name, dest, &rec, err);
            if (rc != 0)
                unlink(dest);   /* what we moved there is not what was verified */
        } else if (errno == EXDEV) {
            rc = take_by_copy(dfd, fd, name, dest, &rec, err);
        } else {
            rc = PGP_FAIL_SYS(err, errno, "cannot rename \"%s\" to \"%s\"", name, dest);
        }
    }
    close(fd);
    if (rc == PGP_ERR_NOT_FOUND && err != NULL)
        err->code = PGP_ERR_IO;   /* only an absent segment is "not in the spool" */
    return rc == PGP_ERR_NOT_FOUND ? PGP_ERR_IO : rc;
}
