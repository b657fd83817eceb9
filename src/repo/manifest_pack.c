/*
 * manifest_pack.c - compact storage of one backup's manifest entries (manifest_pack.h).
 *
 * Owns the record layout and nothing else: no validation (manifest_stream did it), no
 * knowledge of what restore does with the entries.
 *
 * A record is a fixed header (PackHead, HEAD_LEN bytes without padding, copied field by
 * field: records are not aligned), the SHA-256 as 32 bytes when the entry has one in canonical form (64 lowercase
 * hex), then NUL-terminated texts: the path, the checksum when it is not canonical, the
 * object when it is not the content address of the checksum, and the symlink target or
 * chunk list. Records live in blocks that never move; the index holds a pointer per record.
 */
#include "pgpitr/repo/manifest_pack.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pgpitr/common/hexstr.h"
#include "pgpitr/pipe/pipe.h"

#define PACK_BLOCK ((size_t)1 << 20)

/* PackHead.flags */
#define F_SHA_BIN 0x01u       /* 32 bytes of digest follow the head */
#define F_SHA_TEXT 0x02u      /* the checksum follows the path as text ("" needs neither) */
#define F_OBJ_ADDR 0x04u      /* object = repo_object_path(checksum, codec) */
#define F_OBJ_TEXT 0x08u      /* the object follows as text */
#define F_LINK 0x10u          /* link_target / chunk_list follows as text */
#define F_CRC 0x20u           /* crc32c, 4 bytes right after the head (a backup's entries) */

typedef struct PackHead {
    uint64_t size;
    int64_t mtime;
    uint64_t stored_size;
    uint32_t tablespace;
    uint16_t mode;
    uint8_t type;
    uint8_t chunk_shift;
    uint8_t flags;
    uint8_t codec;            /* PipeCodec, with F_OBJ_ADDR */
} PackHead;

#define HEAD_LEN 34           /* PackHead's fields end to end (sizeof: 40, with padding) */

static void head_put(unsigned char *at, const PackHead *h)
{
    memcpy(at, &h->size, 8);
    memcpy(at + 8, &h->mtime, 8);
    memcpy(at + 16, &h->stored_size, 8);
    memcpy(at + 24, &h->tablespace, 4);
    memcpy(at + 28, &h->mode, 2);
    at[30] = h->type;
    at[31] = h->chunk_shift;
    at[32] = h->flags;
    at[33] = h->codec;
}

struct ManifestPack {
    unsigned char **blocks;
    size_t n_blocks, cap_blocks;
    unsigned char *cur;       /* free space of the newest ordinary block */
    size_t left;
    const unsigned char **items;
    size_t n, cap;
};

ManifestPack *manifest_pack_new(void)
{
    return calloc(1, sizeof(ManifestPack));
}

void manifest_pack_free(ManifestPack *p)
{
    if (p == NULL)
        return;
    for (size_t i = 0; i < p->n_blocks; i++)
        free(p->blocks[i]);
    free(p->blocks);
    free(p->items);
    free(p);
}

static unsigned char *new_block(ManifestPack *p, size_t len)
{
    if (p->n_blocks == p->cap_blocks) {
        size_t ncap = p->cap_blocks == 0 ? 16 : p->cap_blocks * 2;
        unsigned char **n = reallocarray(p->blocks, ncap, sizeof *n);
        if (n == NULL)
            return NULL;
        p->blocks = n;
        p->cap_blocks = ncap;
    }
    unsigned char *b = malloc(len);
    if (b != NULL)
        p->blocks[p->n_blocks++] = b;
    return b;
}

/* len bytes that never move; a big record gets a block of its own. */
static unsigned char *reserve(ManifestPack *p, size_t len)
{
    if (len > PACK_BLOCK / 16)
        return new_block(p, len);
    if (len > p->left) {
        if ((p->cur = new_block(p, PACK_BLOCK)) == NULL)
            return NULL;
        p->left = PACK_BLOCK;
    }
    unsigned char *r = p->cur;
    p->cur += len;
    p->left -= len;
    return r;
}

static int hexval(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c - 'a' + 10;
}

/* The object path restore would derive from sha and the object's own extension, if it is
 * exactly e->object: then only the codec needs keeping. */
static bool object_is_address(const ManifestEntry *e, bool sha_bin, uint8_t *codec)
{
    PipeCodec c;
    char want[REPO_PATH_MAX];
    PgpErr err = {0};
    if (!sha_bin || e->object == NULL || !repo_object_codec(e->object, &c) ||
        repo_object_path(e->sha256, c, want, &err) != 0 || strcmp(want, e->object) != 0)
        return false;
    *codec = (uint8_t)c;
    return true;
}

static size_t put_text(unsigned char *at, const char *s)
{
    size_t n = strlen(s) + 1;
    memcpy(at, s, n);
    return n;
}

int manifest_pack_add(ManifestPack *p, const ManifestEntry *e, PgpErr *err)
{
    PackHead h = {.size = e->size, .mtime = e->mtime, .stored_size = e->stored_size,
                  .tablespace = e->tablespace, .mode = e->mode, .type = e->type,
                  .chunk_shift = e->chunk_shift};
    const char *path = e->path != NULL ? e->path : "";
    bool sha_bin = hexstr_exact(e->sha256, 64, HEX_LOWER);
    h.flags = sha_bin ? F_SHA_BIN : e->sha256[0] != '\0' ? F_SHA_TEXT : 0;
    if (object_is_address(e, sha_bin, &h.codec))
        h.flags |= F_OBJ_ADDR;
    else if (e->object != NULL)
        h.flags |= F_OBJ_TEXT;
    /* link_target and chunk_list share their storage (a union) */
    const char *link = e->type == MANIFEST_FILE ? (e->chunk_shift != 0 ? e->chunk_list : NULL)
                                                : e->link_target;
    if (link != NULL)
        h.flags |= F_LINK;
    if (e->has_crc32c)
        h.flags |= F_CRC;
    size_t len = HEAD_LEN + (e->has_crc32c ? 4 : 0) + (sha_bin ? 32 : 0) + strlen(path) + 1;
    len += (h.flags & F_SHA_TEXT) ? strnlen(e->sha256, sizeof e->sha256 - 1) + 1 : 0;
    len += (h.flags & F_OBJ_TEXT) ? strlen(e->object) + 1 : 0;
    len += link != NULL ? strlen(link) + 1 : 0;
    if (p->n == p->cap) {
        size_t ncap = p->cap == 0 ? 64 : p->cap * 2;
        const unsigned char **n = reallocarray(p->items, ncap, sizeof *n);
        if (n == NULL)
            return PGP_FAIL(err, PGP_ERR_NOMEM, "out of memory");
        p->items = n;
        p->cap = ncap;
    }
    unsigned char *r = reserve(p, len), *at = r;
    if (r == NULL)
        return PGP_FAIL(err, PGP_ERR_NOMEM, "out of memory");
    head_put(at, &h);
    at += HEAD_LEN;
    if (e->has_crc32c) {
        memcpy(at, &e->crc32c, 4);
        at += 4;
    }
    for (size_t i = 0; sha_bin && i < 32; i++)
        *at++ = (unsigned char)(hexval(e->sha256[2 * i]) << 4 | hexval(e->sha256[2 * i + 1]));
    at += put_text(at, path);
    if (h.flags & F_SHA_TEXT) {
        char sha[sizeof e->sha256];
        snprintf(sha, sizeof sha, "%s", e->sha256);
        at += put_text(at, sha);
    }
    if (h.flags & F_OBJ_TEXT)
        at += put_text(at, e->object);
    if (link != NULL)
        put_text(at, link);
    p->items[p->n++] = r;
    return 0;
}

size_t manifest_pack_count(const ManifestPack *p)
{
    return p != NULL ? p->n : 0;
}

const ManifestPackItem *manifest_pack_at(const ManifestPack *p, size_t i)
{
    return (const ManifestPackItem *)p->items[i];
}

static PackHead head(const ManifestPackItem *it)
{
    const unsigned char *at = (const unsigned char *)it;
    PackHead h;
    memcpy(&h.size, at, 8);
    memcpy(&h.mtime, at + 8, 8);
    memcpy(&h.stored_size, at + 16, 8);
    memcpy(&h.tablespace, at + 24, 4);
    memcpy(&h.mode, at + 28, 2);
    h.type = at[30];
    h.chunk_shift = at[31];
    h.flags = at[32];
    h.codec = at[33];
    return h;
}

ManifestEntryType manifest_pack_item_type(const ManifestPackItem *it)
{
    return (ManifestEntryType)head(it).type;
}

uint64_t manifest_pack_item_size(const ManifestPackItem *it)
{
    return head(it).size;
}

uint32_t manifest_pack_item_tablespace(const ManifestPackItem *it)
{
    return head(it).tablespace;
}

static const unsigned char *digest_of(const ManifestPackItem *it)
{
    return (const unsigned char *)it + HEAD_LEN + ((head(it).flags & F_CRC) ? 4 : 0);
}

const char *manifest_pack_item_path(const ManifestPackItem *it)
{
    return (const char *)digest_of(it) + ((head(it).flags & F_SHA_BIN) ? 32 : 0);
}

static void hex_of(const unsigned char *d, char out[65])
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < 32; i++) {
        out[2 * i] = digits[d[i] >> 4];
        out[2 * i + 1] = digits[d[i] & 15];
    }
    out[64] = '\0';
}

/* The texts after the path, in order: checksum, object, link (NULL where absent). */
static void texts(const ManifestPackItem *it, const char **sha, const char **object,
                  const char **link)
{
    PackHead h = head(it);
    const char *at = manifest_pack_item_path(it);
    at += strlen(at) + 1;
    *sha = *object = *link = NULL;
    if (h.flags & F_SHA_TEXT) {
        *sha = at;
        at += strlen(at) + 1;
    }
    if (h.flags & F_OBJ_TEXT) {
        *object = at;
        at += strlen(at) + 1;
    }
    if (h.flags & F_LINK)
        *link = at;
}

static void address(const ManifestPackItem *it, char buf[REPO_PATH_MAX])
{
    char hex[65];
    PgpErr err = {0};
    hex_of(digest_of(it), hex);
    if (repo_object_path(hex, (PipeCodec)head(it).codec, buf, &err) != 0)
        buf[0] = '\0';   /* cannot happen: it was this path when added */
}

void manifest_pack_unpack(const ManifestPackItem *it, ManifestUnpacked *out)
{
    PackHead h = head(it);
    const char *sha, *object, *link;
    texts(it, &sha, &object, &link);
    out->e = (ManifestEntry){.path = (char *)manifest_pack_item_path(it),
                             .tablespace = h.tablespace, .type = h.type,
                             .chunk_shift = h.chunk_shift, .size = h.size, .mtime = h.mtime,
                             .stored_size = h.stored_size, .mode = h.mode};
    if (h.flags & F_SHA_BIN)
        hex_of(digest_of(it), out->e.sha256);
    else if (sha != NULL)
        snprintf(out->e.sha256, sizeof out->e.sha256, "%s", sha);
    out->object[0] = '\0';
    if (h.flags & F_OBJ_ADDR) {
        address(it, out->object);
        out->e.object = out->object;
    } else {
        out->e.object = (char *)object;
    }
    out->e.link_target = (char *)link;   /* or chunk_list: the same storage */
    if (h.flags & F_CRC) {
        memcpy(&out->e.crc32c, (const unsigned char *)it + HEAD_LEN, 4);
        out->e.has_crc32c = true;
    }
}

const char *manifest_pack_item_content(const ManifestPackItem *it, char buf[REPO_PATH_MAX])
{
    PackHead h = head(it);
    const char *sha, *object, *link;
    if (h.type != MANIFEST_FILE)
        return NULL;
    texts(it, &sha, &object, &link);
    if (h.chunk_shift != 0)
        return link;
    if (h.flags & F_OBJ_ADDR) {
        address(it, buf);
        return buf;
    }
    return object;
}

bool manifest_pack_item_chunked(const ManifestPackItem *it)
{
    PackHead h = head(it);
    return h.type == MANIFEST_FILE && h.chunk_shift != 0;
}

static bool content_is_address(const ManifestPackItem *it)
{
    PackHead h = head(it);
    return h.type == MANIFEST_FILE && h.chunk_shift == 0 && (h.flags & F_OBJ_ADDR);
}

int manifest_pack_content_cmp(const ManifestPackItem *a, const ManifestPackItem *b)
{
    if (content_is_address(a) && content_is_address(b)) {
        /* "objects/<hex[0:2]>/<hex><ext>": lowercase hex sorts as its bytes do */
        int c = memcmp(digest_of(a), digest_of(b), 32);
        return c != 0 ? c : strcmp(pipe_codec_ext((PipeCodec)head(a).codec),
                                   pipe_codec_ext((PipeCodec)head(b).codec));
    }
    char ba[REPO_PATH_MAX], bb[REPO_PATH_MAX];
    const char *x = manifest_pack_item_content(a, ba), *y = manifest_pack_item_content(b, bb);
    if (x == NULL || y == NULL)
        return (x != NULL) - (y != NULL);
    return strcmp(x, y);
}

const ManifestEntry *manifest_entry_at(const BackupManifest *m, size_t i, ManifestUnpacked *u)
{
    if (m->pack == NULL)
        return &m->entries[i];
    manifest_pack_unpack(manifest_pack_at(m->pack, i), u);
    return &u->e;
}

/* ---- loading -------------------------------------------------------------------------------- */

static int pack_entry(void *ud, const BackupManifest *m, const ManifestEntry *e, size_t i,
                      PgpErr *err)
{
    (void)m;
    (void)i;
    return manifest_pack_add(ud, e, err);
}

static int by_place(const void *a, const void *b)
{
    const ManifestPackItem *x = *(const ManifestPackItem *const *)a,
                           *y = *(const ManifestPackItem *const *)b;
    uint32_t tx = manifest_pack_item_tablespace(x), ty = manifest_pack_item_tablespace(y);
    if (tx != ty)
        return tx < ty ? -1 : 1;
    return strcmp(manifest_pack_item_path(x), manifest_pack_item_path(y));
}

int manifest_pack_check_duplicates(const ManifestPack *p, PgpErr *err)
{
    if (p->n < 2)
        return 0;
    const unsigned char **v = malloc(p->n * sizeof *v);
    if (v == NULL)
        return PGP_FAIL(err, PGP_ERR_NOMEM, "out of memory");
    memcpy(v, p->items, p->n * sizeof *v);
    qsort(v, p->n, sizeof *v, by_place);
    int rc = 0;
    for (size_t i = 1; i < p->n && rc == 0; i++) {
        const ManifestPackItem *a = (const void *)v[i - 1], *b = (const void *)v[i];
        if (by_place(&a, &b) == 0) {
            char q[PGP_QUOTE_BUF];
            rc = PGP_FAIL(err, PGP_ERR_CORRUPT, "invalid backup manifest: duplicate entry \"%s\" "
                          "in tablespace %u", pgp_quote(manifest_pack_item_path(b), q),
                          (unsigned)manifest_pack_item_tablespace(b));
        }
    }
    free(v);
    return rc;
}

int manifest_load_packed(Storage *s, const CryptoRepoKey *key, const char *label,
                         BackupManifest **m, ManifestPack **files, PgpErr *err)
{
    *m = NULL;
    *files = manifest_pack_new();
    if (*files == NULL)
        return PGP_FAIL(err, PGP_ERR_NOMEM, "out of memory");
    /* Duplicates by sorting the records (8 bytes an entry, after reading) instead of the
     * reader's hash set (16 bytes a slot, at most 70% full, while the pack grows beside it):
     * the peak of a restore is the entries plus the smaller of the two. */
    ManifestReadOpts o = {.fn = pack_entry, .ud = *files, .caller_checks_dups = true};
    int rc = manifest_stream(s, key, label, &o, m, err);
    if (rc == 0 && (rc = manifest_pack_check_duplicates(*files, err)) != 0) {
        char path[REPO_PATH_MAX];
        if (manifest_path(label, path, &(PgpErr){0}) == 0)
            pgp_err_context(err, "\"%s\"", path);
    }
    if (rc != 0) {
        manifest_free(*m);
        *m = NULL;
        manifest_pack_free(*files);
        *files = NULL;
    }
    return rc;
}
