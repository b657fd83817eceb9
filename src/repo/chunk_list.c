/*
 * chunk_list.c - the chunk list model (chunk_list.h, docs/chunking.md): cutting rules, the
 * canonical JSON text through jansson and its strict reader. Touches no storage and no file.
 */
#include "pgpitr/repo/chunk_list.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "pgpitr/common/hexstr.h"
#include "pgpitr/repo/object_io.h"

#define BAD(err, ...) PGP_FAIL((err), PGP_ERR_CORRUPT, "chunk list: " __VA_ARGS__)

static int nomem(PgpErr *err)
{
    return PGP_FAIL(err, PGP_ERR_NOMEM, "out of memory building a chunk list");
}

/* pipe_codec_name answers "unknown" for a value outside the enum: a round trip tells. */
static bool codec_known(PipeCodec c)
{
    PgpErr ignored;
    PipeCodec back;
    return pipe_codec_parse(pipe_codec_name(c), &back, &ignored) == 0 && back == c;
}

bool chunk_size_valid(uint64_t chunk_size)
{
    return chunk_size >= CHUNK_SIZE_MIN && chunk_size <= CHUNK_SIZE_MAX
           && (chunk_size & (chunk_size - 1)) == 0;
}

uint64_t chunk_count(uint64_t size, uint64_t chunk_size)
{
    if (!chunk_size_valid(chunk_size))
        return 0;
    return size / chunk_size + (size % chunk_size != 0);
}

bool chunk_file_chunked(uint64_t file_size, uint64_t chunk_size)
{
    return chunk_size_valid(chunk_size) && file_size >= CHUNK_FILE_MIN
           && chunk_count(file_size, chunk_size) <= CHUNK_LIST_MAX_CHUNKS;
}

/* The rules a list's header obeys, shared by the constructor and the reader; "" when they
 * hold, else what is wrong (for the caller's message). */
static const char *header_problem(uint64_t size, uint64_t chunk_size)
{
    if (!chunk_size_valid(chunk_size))
        return "chunk_size is not a power of two from 8192 to 16777216";
    if (size == 0 || size > (uint64_t)INT64_MAX)
        return "size is out of range";
    if (chunk_count(size, chunk_size) > CHUNK_LIST_MAX_CHUNKS)
        return "size makes too many chunks";
    return "";
}

int chunk_list_new(uint64_t size, uint64_t chunk_size, PipeCodec codec, ChunkList **out,
                   PgpErr *err)
{
    *out = NULL;
    const char *why = header_problem(size, chunk_size);
    if (*why != '\0' || !codec_known(codec))
        return PGP_FAIL(err, PGP_ERR_INTERNAL, "chunk list for %" PRIu64 " bytes in chunks of "
                        "%" PRIu64 ": %s", size, chunk_size, *why ? why : "unknown codec");
    ChunkList *l = calloc(1, sizeof *l);
    if (l == NULL)
        return nomem(err);
    l->codec = codec;
    l->chunk_size = (uint32_t)chunk_size;
    l->size = size;
    l->n = (size_t)chunk_count(size, chunk_size);
    l->digests = calloc(l->n, sizeof *l->digests);
    if (l->digests == NULL) {
        free(l);
        return nomem(err);
    }
    *out = l;
    return 0;
}

void chunk_list_free(ChunkList *l)
{
    if (l == NULL)
        return;
    free(l->digests);
    free(l);
}

void chunk_list_extent(const ChunkList *l, size_t i, uint64_t *off, uint64_t *len)
{
    *off = (uint64_t)i * l->chunk_size;
    *len = l->size - *off < l->chunk_size ? l->size - *off : l->chunk_size;
}

int chunk_list_object_path(const ChunkList *l, size_t i, char out[REPO_PATH_MAX], PgpErr *err)
{
    char hex[PIPE_SHA256_HEX_LEN + 1];
    if (i >= l->n) {
        out[0] = '\0';
        return PGP_FAIL(err, PGP_ERR_INTERNAL, "chunk %zu of a list of %zu", i, l->n);
    }
    int rc = object_io_name_hex(l->key, l->digests[i], hex, err);
    return rc != 0 ? rc : repo_object_path(hex, l->codec, out, err);
}

bool chunk_list_same_chunk(const ChunkList *prev, size_t i, uint64_t chunk_size, PipeCodec codec,
                           const uint8_t digest[PIPE_SHA256_LEN])
{
    return prev != NULL && prev->chunk_size == chunk_size && prev->codec == codec && i < prev->n
           && memcmp(prev->digests[i], digest, PIPE_SHA256_LEN) == 0;
}

int chunk_list_check(const ChunkList *l, const char *what, uint64_t size, uint64_t chunk_size,
                     uint64_t n_chunks, PipeCodec codec, PgpErr *err)
{
    if (l->size != size)
        return PGP_FAIL(err, PGP_ERR_CORRUPT, "%s: chunk list is for %" PRIu64 " bytes, the "
                        "manifest says %" PRIu64, what, l->size, size);
    if (l->chunk_size != chunk_size)
        return PGP_FAIL(err, PGP_ERR_CORRUPT, "%s: chunk list has chunks of %" PRIu32 " bytes, "
                        "the manifest says %" PRIu64, what, l->chunk_size, chunk_size);
    if ((uint64_t)l->n != n_chunks)
        return PGP_FAIL(err, PGP_ERR_CORRUPT, "%s: chunk list has %zu chunks, the manifest "
                        "says %" PRIu64, what, l->n, n_chunks);
    if (l->codec != codec)
        return PGP_FAIL(err, PGP_ERR_CORRUPT, "%s: chunk list names %s chunks, the manifest "
                        "says %s", what, pipe_codec_name(l->codec), pipe_codec_name(codec));
    return 0;
}

/* ---- text ---------------------------------------------------------------------------------- */

static json_t *chunks_json(const ChunkList *l)
{
    json_t *a = json_array();
    char hex[PIPE_SHA256_HEX_LEN + 1];
    for (size_t i = 0; a != NULL && i < l->n; i++) {
        pipe_hex(l->digests[i], PIPE_SHA256_LEN, hex);
        if (json_array_append_new(a, json_string(hex)) != 0) {
            json_decref(a);
            a = NULL;
        }
    }
    return a;
}

int chunk_list_to_json(const ChunkList *l, char **out, size_t *len, PgpErr *err)
{
    *out = NULL;
    *len = 0;
    const char *why = header_problem(l->size, l->chunk_size);
    if (*why != '\0' || l->n != chunk_count(l->size, l->chunk_size)
        || !codec_known(l->codec))
        return PGP_FAIL(err, PGP_ERR_INTERNAL, "refusing to write a chunk list that would not "
                        "read back: %s", *why ? why : "wrong chunk count or codec");
    json_t *o = json_object();
    /* Insertion order is the canonical key order (JSON_PRESERVE_ORDER below). */
    if (o == NULL || json_object_set_new(o, "format", json_integer(CHUNK_LIST_FORMAT)) != 0
        || json_object_set_new(o, "codec", json_string(pipe_codec_name(l->codec))) != 0
        || json_object_set_new(o, "chunk_size", json_integer(l->chunk_size)) != 0
        || json_object_set_new(o, "size", json_integer((json_int_t)l->size)) != 0
        || json_object_set_new(o, "chunks", chunks_json(l)) != 0) {
        json_decref(o);
        return nomem(err);
    }
    char *text = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(o);
    size_t n = text != NULL ? strlen(text) : 0;
    char *withnl = text != NULL ? realloc(text, n + 2) : NULL;
    if (withnl == NULL) {
        free(text);
        return nomem(err);
    }
    withnl[n] = '\n';
    withnl[n + 1] = '\0';
    *out = withnl;
    *len = n + 1;
    return 0;
}

static int get_uint(json_t *o, const char *key, uint64_t *out, PgpErr *err)
{
    json_t *v = json_object_get(o, key);
    if (v == NULL)
        return BAD(err, "missing field \"%s\"", key);
    if (!json_is_integer(v))
        return BAD(err, "field \"%s\" must be an integer", key);
    json_int_t i = json_integer_value(v);
    if (i < 0)
        return BAD(err, "field \"%s\" is out of range (%lld)", key, (long long)i);
    *out = (uint64_t)i;
    return 0;
}

/* Every field known, each exactly once (duplicates: JSON_REJECT_DUPLICATES). */
static int check_keys(json_t *o, PgpErr *err)
{
    static const char *const known[] = {"format", "codec", "chunk_size", "size", "chunks"};
    const char *key;
    json_t *v;
    json_object_foreach(o, key, v) {
        (void)v;
        size_t k = 0;
        while (k < sizeof known / sizeof known[0] && strcmp(key, known[k]) != 0)
            k++;
        if (k == sizeof known / sizeof known[0]) {
            char q[PGP_QUOTE_BUF];
            return BAD(err, "unknown field \"%s\"", pgp_quote(key, q));
        }
    }
    return 0;
}

static int parse_header(json_t *o, uint64_t *size, uint64_t *chunk_size, PipeCodec *codec,
                        PgpErr *err)
{
    uint64_t format = 0;
    int rc = check_keys(o, err);
    if (rc == 0)
        rc = get_uint(o, "format", &format, err);
    if (rc == 0 && format != CHUNK_LIST_FORMAT)
        rc = BAD(err, "format %" PRIu64 " is not supported (this pgpitr reads format %d)",
                 format, CHUNK_LIST_FORMAT);
    json_t *c = json_object_get(o, "codec");
    if (rc == 0 && c == NULL)
        rc = BAD(err, "missing field \"codec\"");
    if (rc == 0 && !json_is_string(c))
        rc = BAD(err, "field \"codec\" must be a string");
    PgpErr ignored;
    if (rc == 0 && (strlen(json_string_value(c)) != json_string_length(c)
                    || pipe_codec_parse(json_string_value(c), codec, &ignored) != 0)) {
        char q[PGP_QUOTE_BUF];
        rc = BAD(err, "unknown codec \"%s\"", pgp_quote(json_string_value(c), q));
    }
    if (rc == 0)
        rc = get_uint(o, "chunk_size", chunk_size, err);
    if (rc == 0)
        rc = get_uint(o, "size", size, err);
    const char *why = rc == 0 ? header_problem(*size, *chunk_size) : "";
    if (*why != '\0')
        rc = BAD(err, "%s (size %" PRIu64 ", chunk_size %" PRIu64 ")", why, *size, *chunk_size);
    return rc;
}

static int hex_byte(char hi, char lo)
{
    const char *digits = "0123456789abcdef";
    return (int)((strchr(digits, hi) - digits) * 16 + (strchr(digits, lo) - digits));
}

static int parse_chunks(json_t *o, ChunkList *l, PgpErr *err)
{
    json_t *a = json_object_get(o, "chunks");
    if (a == NULL)
        return BAD(err, "missing field \"chunks\"");
    if (!json_is_array(a))
        return BAD(err, "field \"chunks\" must be an array");
    if (json_array_size(a) != l->n)
        return BAD(err, "field \"chunks\" has %zu digests, expected %zu for size %" PRIu64
                   " in chunks of %" PRIu32, json_array_size(a), l->n, l->size, l->chunk_size);
    for (size_t i = 0; i < l->n; i++) {
        json_t *v = json_array_get(a, i);
        const char *h = json_string_value(v);
        if (h == NULL || json_string_length(v) != PIPE_SHA256_HEX_LEN
            || !hexstr_exact(h, PIPE_SHA256_HEX_LEN, HEX_LOWER))
            return BAD(err, "chunk %zu is not a sha256 (64 lowercase hex digits)", i);
        for (size_t b = 0; b < PIPE_SHA256_LEN; b++)
            l->digests[i][b] = (uint8_t)hex_byte(h[2 * b], h[2 * b + 1]);
    }
    return 0;
}

int chunk_list_from_json(const char *text, size_t len, ChunkList **out, PgpErr *err)
{
    *out = NULL;
    if (len > CHUNK_LIST_MAX_BYTES)
        return BAD(err, "%zu bytes, more than the largest list (%zu)", len,
                   CHUNK_LIST_MAX_BYTES);
    json_error_t jerr;
    json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    if (root == NULL) {
        char q[PGP_QUOTE_BUF];   /* jansson's text may hold the offending bytes, raw */
        return BAD(err, "not valid json at line %d: %s", jerr.line, pgp_quote(jerr.text, q));
    }
    uint64_t size = 0, chunk_size = 0;
    PipeCodec codec = PIPE_CODEC_NONE;
    ChunkList *l = NULL;
    int rc = json_is_object(root) ? 0 : BAD(err, "top level is not an object");
    if (rc == 0)
        rc = parse_header(root, &size, &chunk_size, &codec, err);
    if (rc == 0)
        rc = chunk_list_new(size, chunk_size, codec, &l, err);
    if (rc == 0)
        rc = parse_chunks(root, l, err);
    json_decref(root);
    if (rc != 0) {
        chunk_list_free(l);
        return rc;
    }
    *out = l;
    return 0;
}
