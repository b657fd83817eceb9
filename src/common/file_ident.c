/*
 * file_ident.c - a file's identity as stat gives it (file_ident.h).
 */
#include "pgpitr/common/file_ident.h"

#include <errno.h>
#include <time.h>

static int64_t ns_of(struct timespec t)
{
    return (int64_t)t.tv_sec * 1000000000LL + t.tv_nsec;
}

void file_ident_of(const struct stat *st, FileIdent *id)
{
    *id = (FileIdent){
        .dev = (uint64_t)st->st_dev,
        .ino = (uint64_t)st->st_ino,
        .size = (uint64_t)st->st_size,
        .mtime_ns = ns_of(st->st_mtim),
        .ctime_ns = ns_of(st->st_ctim),
    };
}

int file_ident_path(const char *path, FileIdent *id)
{
    struct stat st;
    if (stat(path, &st) != 0)
        return errno;
    file_ident_of(&st, id);
    return 0;
}

bool file_ident_equal(const FileIdent *a, const FileIdent *b)
{
    return a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
           a->mtime_ns == b->mtime_ns && a->ctime_ns == b->ctime_ns;
}

bool file_ident_settled(const FileIdent *id, int64_t now_ns)
{
    int64_t last = id->mtime_ns > id->ctime_ns ? id->mtime_ns : id->ctime_ns;
    return last <= now_ns && now_ns - last >= FILE_IDENT_SETTLE_NS;
}

int64_t file_ident_now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    return ns_of(t);
}
