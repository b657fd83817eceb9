/*
 * object_io.c - reading and writing repository objects (contracts in object_io.h).
 *
 * Why the shapes. Reading: PostgreSQL waits on archive-get for every segment, and hashing
 * 16 MiB costs more than decoding and writing it, so the hash may run on a worker thread (a
 * tee hands every decoded piece to it and to the sink); the digest still covers exactly the
 * bytes handed on. Writing: archive-push's cost per segment decides whether pg_wal fills up
 * under heavy WAL, so the SHA-256 of the source runs on a worker thread over the caller's
 * buffer while this thread compresses into the storage writer, and a second worker decodes
 * the compressed stream as it is produced and compares it with the source: when the object
 * is committed we know, without reading it back, that it decodes to exactly the bytes whose
 * checksum is in its name. Encoding ahead (object_io_encode, archive-push) has the whole
 * source in memory and compresses it in one go, then decodes and compares it in the same
 * thread (encode_in_memory): cheaper, with the same checks.
 */
#include "pgpitr/repo/object_io.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "pgpitr/common/bufpool.h"
#include "pgpitr/common/grow.h"
#include "pgpitr/common/hexstr.h"

#define READ_CHUNK_DEFAULT (64u << 10)
#define WRITE_CHUNK (1u << 20)
/* First room for an object encoded in memory; it doubles from there (a compressed WAL
 * segment is typically 1 to 8 MiB). */
#define ENCODED_FIRST (1u << 20)
/* Queue in front of a hashing or verifying thread: small enough to stay in cache, large
 * enough that the producer rarely waits (it hands on pieces of up to 1 MiB). A big one only
 * costs fresh pages: the ring is written end to end before it wraps. */
#define THREAD_QUEUE_BYTES (2u << 20)

/* ---- names ------------------------------------------------------------------------------- */

int object_io_name_hex(const CryptoRepoKey *key, const uint8_t digest[PIPE_SHA256_LEN],
                       char out[PIPE_SHA256_HEX_LEN + 1], PgpErr *err)
{
    if (key != NULL)
        return crypto_keyed_name(key, digest, out, err);
    pipe_hex(digest, PIPE_SHA256_LEN, out);
    return 0;
}

int object_io_name_hex_of(const CryptoRepoKey *key, const char *sha256_hex,
                          char out[PIPE_SHA256_HEX_LEN + 1], PgpErr *err)
{
    uint8_t digest[PIPE_SHA256_LEN];
    size_t n = 0;
    if (!hexstr_exact(sha256_hex, PIPE_SHA256_HEX_LEN, HEX_LOWER) ||
        OPENSSL_hexstr2buf_ex(digest, sizeof digest, &n, sha256_hex, '\0') != 1 ||
        n != sizeof digest)
        return PGP_FAIL(err, PGP_ERR_INTERNAL, "\"%.70s\" is not a sha256", sha256_hex);
    return object_io_name_hex(key, digest, out, err);
}

int object_io_seal_of(const CryptoRepoKey *key, const char *path, ObjectSeal *seal,
                      char ad[REPO_PATH_MAX], bool *by_name, PgpErr *err)
{
    *seal = (ObjectSeal){key, OBJECT_AD_CONTENT};
    *by_name = strncmp(path, "archive/", 8) == 0;
    if (!*by_name)
        return 0;
    const char *slash = strrchr(path, '/');
    const char *base = slash + 1;     /* "archive/" has one */
    const char *dash = strrchr(base, '-');
    if (dash == NULL || dash == base || (size_t)(dash - base) >= REPO_PATH_MAX)
        return PGP_FAIL(err, PGP_ERR_INTERNAL, "\"%s\" is not an archived object's path", path);
    memcpy(ad, base, (size_t)(dash - base));
    ad[dash - base] = '\0';
    seal->ad = ad;
    return 0;
}

static int seal_check(const ObjectSeal *seal, PgpErr *err)
{
    if (seal->key != NULL && seal->ad == NULL)
        return PGP_FAIL(err, PGP_ERR_INTERNAL, "an encrypted object needs its associated data");
    return 0;
}

/* ---- read -------------------------------------------------------------------------------- */

/* The caller's sink, counting what reaches it. */
typedef struct CountSink {
    PipeSink next;
    uint64_t n;
} CountSink;

static int count_write(void *ud, const void *buf, size_t len, PgpErr *err)
{
    CountSink *c = ud;
    int rc = c->next.write(c->next.ud, buf, len, err);
    if (rc == 0)
        c->n += len;
    return rc;
}

/* The filters of one read: [decrypt ->] decompress -> [sha256 ->] sink, or with the hash on
 * a thread, [decrypt ->] decompress -> tee(thread(sha256), sink). head is where stored bytes
 * go in. */
typedef struct ReadChain {
    PipeFilter *decrypt, *dec, *sha, *thread, *tee;
    PipeFilter *head;
} ReadChain;

static int read_chain_build(ReadChain *c, const char *path, const ObjectReadOptions *opt,
                            PipeSink out, PgpErr *err)
{
    memset(c, 0, sizeof *c);
    int rc = 0;
    if (opt->expect_sha256 != NULL && opt->hash_thread) {
        rc = pipe_sha256_new((PipeSink){NULL, NULL}, &c->sha, err);
        if (rc == 0)
            rc = pipe_thread_new(pipe_filter_sink(c->sha), THREAD_QUEUE_BYTES, &c->thread, err);
        if (rc == 0)
            rc = pipe_tee_new(pipe_filter_sink(c->thread), out, &c->tee, err);
        if (rc == 0)
            out = pipe_filter_sink(c->tee);
    } else if (opt->expect_sha256 != NULL) {
        rc = pipe_sha256_new(out, &c->sha, err);
        if (rc == 0)
            out = pipe_filter_sink(c->sha);
    }
    if (rc == 0)
        rc = pipe_decompress_new(opt->codec, out, &c->dec, err);
    c->head = c->dec;
    if (rc == 0 && opt->seal.key != NULL)
        rc = pipe_decrypt_new(opt->seal.key, opt->seal.ad, pipe_filter_sink(c->dec), &c->decrypt,
                              err);
    /* "decryption of \"pgpitr/content-addressed\"" would name no object: name its path */
    if (rc == 0 && c->decrypt != NULL && strcmp(opt->seal.ad, OBJECT_AD_CONTENT) == 0)
        rc = pipe_decrypt_set_label(c->decrypt, path, err);
    if (c->decrypt != NULL)
        c->head = c->decrypt;
    return rc;
}

static void read_chain_free(ReadChain *c)
{
    pipe_filter_free(c->decrypt);
    pipe_filter_free(c->dec);
    pipe_filter_free(c->tee);
    pipe_filter_free(c->thread);   /* stops and joins the worker first if it still runs */
    pipe_filter_free(c->sha);
}

/* storage -> into, then into's finish, which cascades down the chain behind it (a thread
 * stage joins its worker first, so every byte has been hashed when this returns). */
static int pump(Storage *s, const char *path, PipeFilter *into, void *buf, size_t size,
                uint64_t *stored, PgpErr *err)
{
    StorageReader *rd = NULL;
    int rc = storage_open_read(s, path, &rd, err);
    while (rc == 0) {
        size_t got = 0;
        rc = storage_read(rd, buf, size, &got, err);
        if (rc != 0 || got == 0)
            break;
        *stored += got;
        rc = pipe_filter_push(into, buf, got, err);
    }
    if (rc == 0)
        rc = pipe_filter_finish(into, err);
    storage_reader_close(rd);
    return rc;
}

static int compare_digest(const ReadChain *c, const ObjectReadOptions *opt,
                          ObjectReadResult *res, PgpErr *err)
{
    uint8_t digest[PIPE_SHA256_LEN];
    pipe_sha256_result(c->sha, digest);
    pipe_hex(digest, sizeof digest, res->content_sha256);
    bool keyed = opt->expect_name && opt->seal.key != NULL;
    int rc = keyed ? crypto_keyed_name(opt->seal.key, digest, res->sha256_hex, err) : 0;
    if (rc != 0)
        return rc;
    if (!keyed)
        pipe_hex(digest, sizeof digest, res->sha256_hex);
    if (strcmp(res->sha256_hex, opt->expect_sha256) == 0)
        return 0;
    res->mismatch = true;
    return PGP_FAIL(err, PGP_ERR_CORRUPT, "checksum mismatch: content has %s %s, expected %s",
                    keyed ? "keyed name" : "sha256", res->sha256_hex, opt->expect_sha256);
}

int object_io_read_verify(Storage *s, const char *path, const ObjectReadOptions *opt,
                          PipeSink out, ObjectReadResult *res, PgpErr *err)
{
    memset(res, 0, sizeof *res);
    CountSink count = {.next = out};
    ReadChain c;
    void *own = NULL, *buf = opt->buf;
    size_t size = opt->buf_size;
    if (buf == NULL) {
        size = READ_CHUNK_DEFAULT;
        buf = own = malloc(size);
    }
    memset(&c, 0, sizeof c);
    int rc = buf != NULL ? seal_check(&opt->seal, err)
                         : PGP_FAIL(err, PGP_ERR_NOMEM, "out of memory");
    if (rc == 0)
        rc = read_chain_build(&c, path, opt, (PipeSink){count_write, &count}, err);
    if (rc == 0)
        rc = pump(s, path, c.head, buf, size, &res->stored, err);
    res->size = count.n;
    if (rc == 0 && opt->expect_sha256 != NULL)
        rc = compare_digest(&c, opt, res, err);
    read_chain_free(&c);
    free(own);
    return rc;
}

/* ---- write ------------------------------------------------------------------------------- */

static int storage_sink_write(void *ud, const void *buf, size_t len, PgpErr *err)
{
    return storage_write(ud, buf, len, err);
}

/* compress -> [encrypt ->] size -> storage, or with verify,
 * compress -> tee([encrypt ->] size -> storage, thread(decompress -> compare with the
 * source)): what is verified is the compressed stream, before encryption. */
typedef struct WriteChain {
    PipeFilter *compress, *encrypt, *size, *tee, *thread, *decompress;
    PipeCompare *compare;
} WriteChain;

static void write_chain_free(WriteChain *c)
{
    pipe_filter_free(c->compress);
    pipe_filter_free(c->encrypt);
    pipe_filter_free(c->size);
    pipe_filter_free(c->tee);
    pipe_filter_free(c->thread);
    pipe_filter_free(c->decompress);
    pipe_compare_free(c->compare);
}

static int write_chain_build(WriteChain *c, const ObjectWriteOptions *opt, const void *data,
                             size_t size, PipeSink store, PgpErr *err)
{
    memset(c, 0, sizeof *c);
    int rc = pipe_size_new(store, &c->size, err);
    if (rc == 0)
        store = pipe_filter_sink(c->size);
    if (rc == 0 && opt->seal.key != NULL)
        rc = pipe_encrypt_new(opt->seal.key, opt->seal.ad, NULL, store, &c->encrypt, err);
    if (c->encrypt != NULL)
        store = pipe_filter_sink(c->encrypt);
    if (rc == 0 && opt->verify) {
        rc = pipe_compare_new(data, size, &c->compare, err);
        if (rc == 0)
            rc = pipe_decompress_new(opt->codec, pipe_compare_sink(c->compare), &c->decompress,
                                     err);
        if (rc == 0)
            rc = pipe_thread_new(pipe_filter_sink(c->decompress), THREAD_QUEUE_BYTES,
                                 &c->thread, err);
        if (rc == 0)
            rc = pipe_tee_new(store, pipe_filter_sink(c->thread), &c->tee, err);
        if (rc == 0)
            store = pipe_filter_sink(c->tee);
    }
    if (rc == 0)
        rc = pipe_compress_new(opt->codec, opt->level, opt->zstd_workers, store, &c->compress,
                               err);
    return rc;
}

/* stop (may be NULL): checked between pieces; once set, the run ends with PGP_ERR_INTERNAL. */
static int write_chain_run(WriteChain *c, const uint8_t *data, size_t size,
                           const atomic_bool *stop, PgpErr *err)
{
    int rc = 0;
    for (size_t off = 0; rc == 0 && off < size; off += WRITE_CHUNK) {
        if (stop != NULL && atomic_load(stop))
            return PGP_FAIL(err, PGP_ERR_INTERNAL, "encoding stopped by its caller");
        size_t n = size - off < WRITE_CHUNK ? size - off : WRITE_CHUNK;
        rc = pipe_filter_push(c->compress, data + off, n, err);
    }
    if (rc == 0)
        rc = pipe_filter_finish(c->compress, err);     /* finishes the whole chain */
    if (rc == 0 && c->compare != NULL && !pipe_compare_complete(c->compare))
        rc = PGP_FAIL(err, PGP_ERR_CODEC, "compressed stream decodes to fewer bytes than the source");
    if (rc == PGP_ERR_CORRUPT && c->compare != NULL)
        pgp_err_context(err, "verification of the compressed object failed");
    return rc;
}

int object_io_write(Storage *s, const char *path, const ObjectWriteOptions *opt,
                    const void *data, size_t size, ObjectNameFn name, void *name_ud,
                    ObjectWriteResult *res, PgpErr *err)
{
    memset(res, 0, sizeof *res);
    PipeHashJob *hash = NULL;
    StorageWriter *w = NULL;
    WriteChain chain;
    memset(&chain, 0, sizeof chain);
    size_t len = strlen(path);
    if (len >= sizeof res->path)
        return PGP_FAIL(err, PGP_ERR_INVALID_NAME, "repository path \"%.64s...\" is too long", path);
    memcpy(res->path, path, len + 1);
    int rc = seal_check(&opt->seal, err);
    if (rc == 0 && name != NULL)
        rc = pipe_sha256_async(data, size, &hash, err);
    if (rc == 0)
        rc = opt->batch != NULL
                 ? storage_batch_open_write(opt->batch, path,
                                            name != NULL ? STORAGE_WRITE_NAME_AT_COMMIT : 0, &w,
                                            err)
                 : storage_open_write(s, path, name != NULL ? STORAGE_WRITE_NAME_AT_COMMIT : 0,
                                      &w, err);
    if (rc == 0)
        rc = write_chain_build(&chain, opt, data, size, (PipeSink){storage_sink_write, w}, err);
    if (rc == 0)
        rc = write_chain_run(&chain, data, size, NULL, err);
    if (rc == 0)
        res->stored_size = pipe_size_result(chain.size);
    write_chain_free(&chain);
    if (hash != NULL) {
        uint8_t digest[PIPE_SHA256_LEN];
        int hrc = pipe_sha256_join(hash, digest, rc == 0 ? err : NULL);
        if (rc == 0)
            rc = hrc;
        if (hrc == 0 && rc == 0)
            rc = object_io_name_hex(opt->seal.key, digest, res->sha256_hex, err);
    }
    if (rc == 0 && name != NULL)
        rc = name(name_ud, res->sha256_hex, res->path, err);
    if (rc != 0) {
        storage_writer_abort(w);
        return rc;
    }
    /* both free w, also on error */
    return name != NULL ? storage_writer_commit_as(w, res->path, err)
                        : storage_writer_commit(w, err);
}

/* ---- written piece by piece ------------------------------------------------------------- */

struct ObjectWriter {
    StorageWriter *w;
    WriteChain chain;
};

int object_io_writer_open(Storage *s, const char *path, const ObjectWriteOptions *opt,
                          ObjectWriter **out, PgpErr *err)
{
    *out = NULL;
    if (opt->verify || opt->batch != NULL)
        return PGP_FAIL(err, PGP_ERR_INTERNAL, "a piecewise object writer neither verifies "
                        "nor batches");
    ObjectWriter *ow = calloc(1, sizeof *ow);
    if (ow == NULL)
        return PGP_FAIL(err, PGP_ERR_NOMEM, "out of memory");
    int rc = storage_open_write(s, path, 0, &ow->w, err);
    if (rc == 0)
        rc = write_chain_build(&ow->chain, opt, NULL, 0, (PipeSink){storage_sink_write, ow->w},
                               err);
    if (rc != 0) {
        object_io_writer_abort(ow);
        return rc;
    }
    *out = ow;
    return 0;
}

int object_io_writer_write(ObjectWriter *ow, const void *data, size_t len, PgpErr *err)
{
    return len > 0 ? pipe_filter_push(ow->chain.compress, data, len, err) : 0;
}

int object_io_writer_commit(ObjectWriter *ow, uint64_t *stored_size, PgpErr *err)
{
    int rc = pipe_filter_finish(ow->chain.compress, err);     /* finishes the whole chain */
    if (rc == 0 && stored_size != NULL)
        *stored_size = pipe_size_result(ow->chain.size);
    write_chain_free(&ow->chain);
    StorageWriter *w = ow->w;
    free(ow);
    if (rc != 0) {
        storage_writer_abort(w);
        return rc;
    }
    return storage_writer_commit(w, err);   /* frees w, also on error */
}

void object_io_writer_abort(ObjectWriter *ow)
{
    if (ow == NULL)
        return;
    write_chain_free(&ow->chain);
    storage_writer_abort(ow->w);
    free(ow);
}

/* ---- encode ahead, store later ----------------------------------------------------------- */

static int encoded_write(void *ud, const void *buf, size_t len, PgpErr *err)
{
    ObjectEncoded *e = ud;
    if (GROW_N(e->data, e->len, len, e->cap, ENCODED_FIRST, "bytes of encoded object", err) != 0)
        return PGP_ERR_NOMEM;
    memcpy(e->data + e->len, buf, len);
    e->len += len;
    return 0;
}

/* Tests only (object_io_set_encode_damage): alters the compressed bytes before they are
 * verified. */
static void (*encode_damage)(uint8_t *buf, size_t len);

/* The whole source is in memory: compressed in one go and decoded back and compared in this
 * thread (pipe_mem_*; src/pipe/mem_codec.c says why). The compression is done before the
 * verification starts, where the streaming chain overlapped them on two threads: the same
 * CPU less the queue's copies, and a push beside others (pushing ahead) keeps both cores
 * busy anyway. stop is checked before each. */
static int encode_in_memory(const ObjectWriteOptions *opt, const void *data, size_t size,
                            const atomic_bool *stop, ObjectEncoded *out, PgpErr *err)
{
    if (stop != NULL && atomic_load(stop))
        return PGP_FAIL(err, PGP_ERR_INTERNAL, "encoding stopped by its caller");
    int rc = pipe_mem_compress(opt->codec, opt->level, data, size, &out->data, &out->cap,
                               &out->len, err);
    if (rc != 0 || !opt->verify)
        return rc;
    if (encode_damage != NULL)
        encode_damage(out->data, out->len);
    if (stop != NULL && atomic_load(stop))
        return PGP_FAIL(err, PGP_ERR_INTERNAL, "encoding stopped by its caller");
    rc = pipe_mem_verify(opt->codec, out->data, out->len, data, size, err);
    if (rc == PGP_ERR_CORRUPT)
        pgp_err_context(err, "verification of the compressed object failed");
    return rc;
}

int object_io_encode(const ObjectWriteOptions *opt, const void *data, size_t size,
                     const atomic_bool *stop, ObjectEncoded *out, PgpErr *err)
{
    memset(out, 0, sizeof *out);
    /* Room for a quarter of the source from the start (WAL compresses 4:1 and better), from
     * the buffers kept between pushes (bufpool.h): a fresh buffer page-faulted every page the
     * compressed stream was copied into. Less compressible data grows it (GROW_N). */
    size_t first = size / 4 > ENCODED_FIRST ? size / 4 : ENCODED_FIRST;
    out->data = bufpool_take(first, &out->cap);
    if (out->data == NULL)
        return PGP_FAIL(err, PGP_ERR_NOMEM, "out of memory for an encoded object");
    int rc;
    if (opt->zstd_workers == 0) {
        rc = encode_in_memory(opt, data, size, stop, out, err);
    } else {
        WriteChain chain;
        ObjectWriteOptions plain = *opt;
        plain.seal = (ObjectSeal){0};   /* sealed when stored (object_io_store_encoded_in) */
        rc = write_chain_build(&chain, &plain, data, size, (PipeSink){encoded_write, out}, err);
        if (rc == 0)
            rc = write_chain_run(&chain, data, size, stop, err);
        write_chain_free(&chain);
    }
    if (rc != 0)
        object_io_encoded_free(out);
    return rc;
}

void object_io_set_encode_damage(void (*fn)(uint8_t *buf, size_t len))
{
    encode_damage = fn;
}

void object_io_encoded_free(ObjectEncoded *e)
{
    bufpool_give(e->data, e->cap);
    memset(e, 0, sizeof *e);
}

int object_io_store_encoded(Storage *s, const char *path, const ObjectEncoded *enc,
                            const char *final_path, PgpErr *err)
{
    return object_io_store_encoded_in(s, NULL, path, enc, final_path, NULL, NULL, err);
}

/* enc's bytes through the encryption filter into w; *stored gets what reached w. */
static int store_sealed(StorageWriter *w, const ObjectEncoded *enc, const ObjectSeal *seal,
                        uint64_t *stored, PgpErr *err)
{
    PipeFilter *size = NULL, *encrypt = NULL;
    int rc = seal_check(seal, err);
    if (rc == 0)
        rc = pipe_size_new((PipeSink){storage_sink_write, w}, &size, err);
    if (rc == 0)
        rc = pipe_encrypt_new(seal->key, seal->ad, NULL, pipe_filter_sink(size), &encrypt, err);
    if (rc == 0 && enc->len > 0)
        rc = pipe_filter_push(encrypt, enc->data, enc->len, err);
    if (rc == 0)
        rc = pipe_filter_finish(encrypt, err);
    if (rc == 0)
        *stored = pipe_size_result(size);
    pipe_filter_free(encrypt);
    pipe_filter_free(size);
    return rc;
}

int object_io_store_encoded_in(Storage *s, StorageBatch *batch, const char *path,
                               const ObjectEncoded *enc, const char *final_path,
                               const ObjectSeal *seal, uint64_t *stored, PgpErr *err)
{
    StorageWriter *w = NULL;
    uint64_t n = enc->len;
    unsigned flags = final_path != NULL ? STORAGE_WRITE_NAME_AT_COMMIT : 0;
    int rc = batch != NULL ? storage_batch_open_write(batch, path, flags, &w, err)
                           : storage_open_write(s, path, flags, &w, err);
    if (rc == 0 && seal != NULL && seal->key != NULL)
        rc = store_sealed(w, enc, seal, &n, err);
    else if (rc == 0 && enc->len > 0)
        rc = storage_write(w, enc->data, enc->len, err);
    if (stored != NULL)
        *stored = n;
    if (rc != 0) {
        storage_writer_abort(w);
        return rc;
    }
    /* both free w, also on error */
    return final_path != NULL ? storage_writer_commit_as(w, final_path, err)
                              : storage_writer_commit(w, err);
}
