/*
 * spool_file.h - one segment file of the archive-get prefetch spool (spool.h): publishing it
 * with its record, and the checks done when archive-get takes it.
 *
 * Every spooled segment <name> has a record ".sha256.<name>" ("<sha256 hex> <size>\n"), written
 * by the prefetcher just before the rename that publishes the segment: the SHA-256 and size of
 * the archived object it was verified against. A take re-checks the file as it hands it over,
 * because the name in the spool proves nothing once the file is out of the prefetcher's hands:
 *   - opened through the spool's directory handle with O_NOFOLLOW (no symlink, no path swap);
 *   - a regular file owned by the effective user, one link, the size of the record and of a
 *     segment;
 *   - the record is a regular file owned by the effective user as well;
 *   - renamed to dest, then dest must be the very inode that was opened, and its content's
 *     SHA-256 must equal the record's (else dest is removed again).
 * The record is trustworthy because spool_dir_open only accepts a directory that is the
 * effective user's, mode 0700: nobody else can write it. Records are removed by the
 * prefetcher (rescan, wipe), never by a take.
 *
 * Operations take the spool directory's file descriptor; names are plain file names.
 */
#ifndef PGPITR_SPOOL_FILE_H
#define PGPITR_SPOOL_FILE_H

#include <stdbool.h>
#include <stdint.h>

#include "pgpitr/common/err.h"

#define SPOOL_RECORD_PREFIX ".sha256."
#define SPOOL_RECORD_NAME_MAX 64

/* ".sha256.<name>" into out; false if name is too long. */
bool spool_record_name(char out[SPOOL_RECORD_NAME_MAX], const char *name);

/* Prefetcher: writes the record of `name` (sha256_hex: 64 lowercase hex; size in bytes),
 * then renames the verified work file `work` to `name`, both in dfd. On failure neither the
 * segment nor its record is left. */
int spool_file_publish(int dfd, const char *work, const char *name, const char *sha256_hex,
                       uint64_t size, PgpErr *err);

/* archive-get: moves dfd/name to dest after the checks above (across filesystems: copies it to
 * a temp beside dest, hashing while copying, and renames that). PGP_ERR_NOT_FOUND when name
 * is not in the spool; any other failure (a check failed, an I/O error) leaves dest absent and
 * says why in err. A file failing a check before it was moved is left where it is. */
int spool_file_take(int dfd, const char *name, uint64_t segsize, const char *dest, PgpErr *err);

#endif
