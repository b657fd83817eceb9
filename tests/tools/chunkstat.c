/*
 * chunkstat.c - what block-level incremental storage would store, measured on two snapshots of
 * a data directory (tests/bench/chunk-size.sh, docs/chunking.md). Not part of pgpitr: a bench
 * tool, built by `make build/chunkstat`.
 *
 *   chunkstat OLD_DIR NEW_DIR SIZE...
 *
 * For every SIZE (bytes, a multiple of 8192; 0 = whole files, what pgpitr stores today) every
 * regular file under OLD_DIR is cut into SIZE-byte chunks (the last one shorter; a file smaller
 * than SIZE is one chunk, i.e. stays a whole object) and each chunk is named by the SHA-256 of
 * its raw bytes, as a content-addressed repository would: the first backup stores each
 * distinct chunk once. Then NEW_DIR (the same files, later) is cut the same way and a chunk
 * whose digest is not stored yet is what the second backup stores. Stored bytes are given raw
 * and compressed per chunk with zstd level 1 (one frame per chunk, as an object would be).
 * "changed" counts NEW chunks whose bytes differ from the same offset of the same file in
 * OLD_DIR (or that did not exist there), a positional view independent of deduplication.
 *
 * "puts" counts the S3 requests the stored objects would take with pgpitr's 16 MiB parts
 * (one PUT, or create + parts + complete above 16 MiB compressed).
 * One line per SIZE on stdout, tab-separated, after a header line; the bench script formats
 * it. Exit status 1 on any I/O error (message on stderr).
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <zstd.h>

#define PIECE (16u << 20)   /* read buffer: a chunk up to this size is hashed and compressed in memory */
#define PAGE 8192u
/* pgpitr's S3 part size (STORAGE_S3_PART_DEFAULT): a larger object is a multipart upload,
 * create + one request per part + complete. */
#define S3_PART (16u << 20)

typedef struct {
    unsigned char d[32];
} Digest;

/* Open-addressing set of digests (a digest is already uniformly distributed: its first 8
 * bytes are the hash). */
typedef struct {
    Digest *slot;
    unsigned char *used;
    size_t cap, n;
} Set;

typedef struct {
    uint64_t refs, objects, raw, zst, changed, bytes, puts;
} Tally;

static char **files;
static size_t nfiles, capfiles;
static const char *walk_root;
static unsigned char *buf, *obuf, *zbuf;
static size_t zcap;
static ZSTD_CCtx *cctx;
static EVP_MD_CTX *md;

static void die(const char *what, const char *path)
{
    fprintf(stderr, "chunkstat: %s \"%s\": %s\n", what, path, strerror(errno));
    exit(1);
}

static void *xcalloc(size_t n, size_t sz)
{
    void *p = calloc(n, sz);
    if (p == NULL) {
        fprintf(stderr, "chunkstat: out of memory\n");
        exit(1);
    }
    return p;
}

static bool set_add(Set *s, const Digest *d)   /* true if d was not in s */
{
    if (2 * (s->n + 1) > s->cap) {
        Set g = { xcalloc(s->cap ? 2 * s->cap : 1024, sizeof(Digest)),
                  xcalloc(s->cap ? 2 * s->cap : 1024, 1), s->cap ? 2 * s->cap : 1024, 0 };
        for (size_t i = 0; i < s->cap; i++)
            if (s->used[i])
                set_add(&g, &s->slot[i]);
        free(s->slot);
        free(s->used);
        *s = g;
    }
    uint64_t h;
    memcpy(&h, d->d, sizeof h);
    for (size_t i = h & (s->cap - 1);; i = (i + 1) & (s->cap - 1)) {
        if (!s->used[i]) {
            s->used[i] = 1;
            s->slot[i] = *d;
            s->n++;
            return true;
        }
        if (memcmp(s->slot[i].d, d->d, sizeof d->d) == 0)
            return false;
    }
}

static bool set_has(const Set *s, const Digest *d)
{
    if (s->cap == 0)
        return false;
    uint64_t h;
    memcpy(&h, d->d, sizeof h);
    for (size_t i = h & (s->cap - 1); s->used[i]; i = (i + 1) & (s->cap - 1))
        if (memcmp(s->slot[i].d, d->d, sizeof d->d) == 0)
            return true;
    return false;
}

static void set_free(Set *s)
{
    free(s->slot);
    free(s->used);
    memset(s, 0, sizeof *s);
}

static int walk_one(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    (void)st;
    (void)ftw;
    if (type != FTW_F)
        return 0;
    if (nfiles == capfiles) {
        capfiles = capfiles ? 2 * capfiles : 1024;
        files = realloc(files, capfiles * sizeof *files);
        if (files == NULL)
            die("out of memory listing", path);
    }
    files[nfiles++] = strdup(path + strlen(walk_root) + 1);
    return 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static ssize_t read_full(int fd, unsigned char *p, size_t len, off_t off)
{
    size_t got = 0;
    while (got < len) {
        ssize_t n = pread(fd, p + got, len - got, off + (off_t)got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        if (n == 0)
            break;
        got += (size_t)n;
    }
    return (ssize_t)got;
}

/* zstd -1 size of [off, off+len) of fd, as one frame, streamed in PIECE reads. */
static uint64_t zstd_size(int fd, off_t off, uint64_t len, const char *path)
{
    uint64_t out = 0;
    ZSTD_CCtx_reset(cctx, ZSTD_reset_session_only);
    ZSTD_CCtx_setPledgedSrcSize(cctx, len);
    for (uint64_t done = 0;;) {
        size_t want = len - done < PIECE ? (size_t)(len - done) : PIECE;
        if (want > 0 && read_full(fd, buf, want, off + (off_t)done) != (ssize_t)want)
            die("cannot re-read", path);
        done += want;
        ZSTD_inBuffer in = { buf, want, 0 };
        ZSTD_EndDirective end = done == len ? ZSTD_e_end : ZSTD_e_continue;
        size_t left;
        do {
            ZSTD_outBuffer o = { zbuf, zcap, 0 };
            left = ZSTD_compressStream2(cctx, &o, &in, end);
            if (ZSTD_isError(left)) {
                fprintf(stderr, "chunkstat: zstd: %s\n", ZSTD_getErrorName(left));
                exit(1);
            }
            out += o.pos;
        } while (end == ZSTD_e_end ? left != 0 : in.pos < in.size);
        if (done == len)
            return out;
    }
}

/* Cuts one file into chunks of size (0: whole file); counts into t. With stored != NULL
 * (the second snapshot) a chunk is new unless stored has it, and is compared with oldfd. */
static void cut_file(const char *dir, const char *rel, uint64_t size, Set *seen, const Set *stored,
                     Tally *t)
{
    char path[4096], opath[4096];
    snprintf(path, sizeof path, "%s/%s", dir, rel);
    int fd = open(path, O_RDONLY), oldfd = -1;
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0)
        die("cannot open", path);
    if (stored != NULL) {
        snprintf(opath, sizeof opath, "%s", rel);   /* resolved by the caller's cwd: OLD_DIR */
        oldfd = open(opath, O_RDONLY);
    }
    uint64_t flen = (uint64_t)st.st_size, csize = size ? size : flen;
    t->bytes += flen;
    for (uint64_t off = 0; off < flen || (flen == 0 && off == 0); off += csize) {
        uint64_t len = flen - off < csize ? flen - off : csize;
        bool differs = oldfd < 0;
        EVP_DigestInit_ex(md, EVP_sha256(), NULL);
        for (uint64_t done = 0; done < len || len == 0;) {
            size_t want = len - done < PIECE ? (size_t)(len - done) : PIECE;
            if (read_full(fd, buf, want, (off_t)(off + done)) != (ssize_t)want)
                die("short read of", path);
            EVP_DigestUpdate(md, buf, want);
            if (!differs && (read_full(oldfd, obuf, want, (off_t)(off + done)) != (ssize_t)want
                             || memcmp(buf, obuf, want) != 0))
                differs = true;
            done += want;
            if (len == 0)
                break;
        }
        Digest d;
        EVP_DigestFinal_ex(md, d.d, NULL);
        t->refs++;
        if (stored != NULL && differs)
            t->changed++;
        if ((stored == NULL || !set_has(stored, &d)) && set_add(seen, &d)) {
            uint64_t z0;
            t->objects++;
            t->raw += len;
            if (len <= PIECE) {   /* still in buf */
                size_t z = ZSTD_compressCCtx(cctx, zbuf, zcap, buf, (size_t)len, 1);
                if (ZSTD_isError(z)) {
                    fprintf(stderr, "chunkstat: zstd: %s\n", ZSTD_getErrorName(z));
                    exit(1);
                }
                z0 = z;
            } else {
                z0 = zstd_size(fd, (off_t)off, len, path);
            }
            t->zst += z0;
            t->puts += z0 <= S3_PART ? 1 : (z0 + S3_PART - 1) / S3_PART + 2;
        }
        if (flen == 0)
            break;
    }
    if (oldfd >= 0)
        close(oldfd);
    close(fd);
}

static void list_files(const char *root)
{
    walk_root = root;
    if (nftw(root, walk_one, 32, FTW_PHYS) != 0)
        die("cannot walk", root);
    qsort(files, nfiles, sizeof *files, cmp_str);
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: chunkstat OLD_DIR NEW_DIR SIZE...\n");
        return 2;
    }
    char oldroot[4096], newroot[4096];
    if (realpath(argv[1], oldroot) == NULL || realpath(argv[2], newroot) == NULL)
        die("cannot resolve", argv[1]);
    buf = xcalloc(PIECE, 1);
    obuf = xcalloc(PIECE, 1);
    zcap = ZSTD_compressBound(PIECE);
    zbuf = xcalloc(zcap, 1);
    cctx = ZSTD_createCCtx();
    md = EVP_MD_CTX_new();
    ZSTD_CCtx_setParameter(cctx, ZSTD_c_compressionLevel, 1);

    /* The file lists of both snapshots: a file only in NEW is all new chunks. */
    list_files(oldroot);
    char **oldfiles = files;
    size_t noldfiles = nfiles;
    files = NULL;
    nfiles = capfiles = 0;
    list_files(newroot);
    if (chdir(oldroot) != 0)
        die("cannot enter", oldroot);

    printf("size\tfiles\tbytes1\trefs1\tobjects1\traw1\tzst1\tputs1\tbytes2\trefs2\tchanged2\tobjects2\traw2\tzst2\tputs2\n");
    for (int a = 3; a < argc; a++) {
        char *end;
        unsigned long long size = strtoull(argv[a], &end, 10);
        if (*end != '\0' || size % PAGE != 0) {
            fprintf(stderr, "chunkstat: size \"%s\" is not a multiple of %u\n", argv[a], PAGE);
            return 2;
        }
        Set stored = { 0 }, fresh = { 0 };
        Tally t1 = { 0 }, t2 = { 0 };
        for (size_t i = 0; i < noldfiles; i++)
            cut_file(oldroot, oldfiles[i], size, &stored, NULL, &t1);
        for (size_t i = 0; i < nfiles; i++)
            cut_file(newroot, files[i], size, &fresh, &stored, &t2);
        printf("%llu\t%zu\t%" PRIu64 "\t%" PRIu64 "\t%" PRIu64 "\t%" PRIu64 "\t%" PRIu64 "\t%" PRIu64
               "\t%" PRIu64 "\t%" PRIu64 "\t%" PRIu64 "\t%" PRIu64 "\t%" PRIu64 "\t%" PRIu64 "\t%" PRIu64 "\n",
               size, nfiles, t1.bytes, t1.refs, t1.objects, t1.raw, t1.zst, t1.puts, t2.bytes,
               t2.refs, t2.changed, t2.objects, t2.raw, t2.zst, t2.puts);
        fflush(stdout);
        set_free(&stored);
        set_free(&fresh);
    }
    for (size_t i = 0; i < noldfiles; i++)
        free(oldfiles[i]);
    for (size_t i = 0; i < nfiles; i++)
        free(files[i]);
    free(oldfiles);
    free(files);
    free(buf);
    free(obuf);
    free(zbuf);
    ZSTD_freeCCtx(cctx);
    EVP_MD_CTX_free(md);
    return 0;
}
