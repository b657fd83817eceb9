/*
 * fuzz_chunk_list.c - the chunk list of a chunked file (chunk_list_from_json /
 * chunk_list_to_json, src/repo/chunk_list.c): it tells restore which chunk objects make a
 * file and where each goes. Input: the object's decoded bytes.
 * Properties: a refused text fails the project's way (PGP_ERR_CORRUPT, one printable line);
 * an accepted list has exactly chunk_count(size, chunk_size) chunks of a valid size; writing
 * it and reading it back gives the same list, and writing that again the same text.
 */
#include "fuzz.h"

#include "pgpitr/repo/chunk_list.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_quiet();
    char *buf = fuzz_copy(data, size);
    ChunkList *l = NULL, *again = NULL;
    PgpErr err;
    int rc = chunk_list_from_json(buf, size, &l, &err);
    free(buf);
    if (rc != 0) {
        fuzz_check_err(rc, &err, PGP_ERR_CORRUPT);
        FUZZ_ASSERT(l == NULL, "list returned with an error");
        return 0;
    }
    FUZZ_ASSERT(chunk_size_valid(l->chunk_size) && l->size > 0
                    && l->n == chunk_count(l->size, l->chunk_size),
                "accepted list breaks its rules: size %llu, chunk_size %u, %zu chunks",
                (unsigned long long)l->size, l->chunk_size, l->n);
    char *text = NULL, *text2 = NULL;
    size_t len = 0, len2 = 0;
    rc = chunk_list_to_json(l, &text, &len, &err);
    FUZZ_ASSERT(rc == 0, "accepted list does not write: %s", err.msg);
    rc = chunk_list_from_json(text, len, &again, &err);
    FUZZ_ASSERT(rc == 0, "written list does not parse: %s\n%.2000s", err.msg, text);
    FUZZ_ASSERT(again->size == l->size && again->chunk_size == l->chunk_size
                    && again->codec == l->codec && again->n == l->n
                    && memcmp(again->digests, l->digests, l->n * PIPE_SHA256_LEN) == 0,
                "list differs after writing:\n%.2000s", text);
    rc = chunk_list_to_json(again, &text2, &len2, &err);
    FUZZ_ASSERT(rc == 0 && len2 == len && memcmp(text, text2, len) == 0,
                "written twice, two texts:\n%.2000s\n%.2000s", text, text2 ? text2 : "");
    free(text);
    free(text2);
    chunk_list_free(l);
    chunk_list_free(again);
    return 0;
}
