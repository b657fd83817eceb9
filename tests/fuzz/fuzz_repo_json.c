/*
 * fuzz_repo_json.c - repo.json, which binds a repository to one cluster
 * (repo_identity_parse / repo_identity_to_json, src/repo/repo.c). Input: the file's bytes
 * (cut at the first NUL, as repo_open reads it).
 * Properties: an accepted identity has the documented ranges, and writing it then reading
 * it back gives the same identity (and the same text when written again).
 */
#include "fuzz.h"

#include <jansson.h>

#include "pgpitr/repo/repo.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_quiet();
    char *text = fuzz_cstr(data, size);
    RepoIdentity id = {0}, again = {0};
    PgpErr err;
    int rc = repo_identity_parse(text, &id, &err);
    if (rc != 0) {
        fuzz_check_err(rc, &err, PGP_ERR_CORRUPT);
        free(text);
        return 0;
    }
    FUZZ_ASSERT(id.pg_major > 0 && id.wal_segsize > 0, "pg_major %d, segsize %u", id.pg_major,
                id.wal_segsize);
    /* The values are the file's numbers, not something they were wrapped into. */
    json_t *j = json_loads(text, 0, NULL);
    FUZZ_ASSERT(j != NULL, "accepted text is not json");
    const char *sysid = json_string_value(json_object_get(j, "system_identifier"));
    char canon[32];
    snprintf(canon, sizeof canon, "%llu", (unsigned long long)id.system_identifier);
    size_t zeros = strspn(sysid, "0");
    FUZZ_ASSERT(strcmp(sysid + (sysid[zeros] ? zeros : zeros - 1), canon) == 0,
                "system_identifier \"%s\" read as %s", sysid, canon);
    FUZZ_ASSERT(json_integer_value(json_object_get(j, "pg_major")) == id.pg_major &&
                    json_integer_value(json_object_get(j, "wal_segment_size")) == id.wal_segsize,
                "pg_major %lld read as %d", json_integer_value(json_object_get(j, "pg_major")),
                id.pg_major);
    json_decref(j);
    char *out = NULL, *out2 = NULL;
    size_t len = 0, len2 = 0;
    rc = repo_identity_to_json(&id, &out, &len, &err);
    FUZZ_ASSERT(rc == 0, "write: %s", err.msg);
    char *z = fuzz_cstr((const uint8_t *)out, len);
    rc = repo_identity_parse(z, &again, &err);
    FUZZ_ASSERT(rc == 0, "written repo.json does not parse: %s\n%s", err.msg, z);
    FUZZ_ASSERT(again.system_identifier == id.system_identifier && again.pg_major == id.pg_major &&
                    again.wal_segsize == id.wal_segsize,
                "identity differs after writing:\n%s", z);
    FUZZ_ASSERT(repo_identity_to_json(&again, &out2, &len2, &err) == 0 && len2 == len &&
                    memcmp(out, out2, len) == 0,
                "written twice, two texts");
    free(z);
    free(text);
    free(out);
    free(out2);
    return 0;
}
