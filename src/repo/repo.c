/*
 * repo.c - repo.json: binding a repository to one PostgreSQL cluster. The file is written
 * once with no-replace semantics, so two first pushes racing cannot both win; the loser
 * re-reads and compares.
 */
#include "pgpitr/repo/repo.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pgpitr/pg/walname.h"

#define REPO_JSON REPO_LAYOUT_IDENTITY
#define REPO_JSON_MAX (64 * 1024)

struct Repo {
    Storage *storage;
    bool bound;
    RepoIdentity id;
};

int repo_identity_parse(const char *text, RepoIdentity *id, PgpErr *err)
{
    json_error_t jerr;
    json_t *root = json_loads(text, 0, &jerr);
    if (root == NULL) {
        char q[PGP_QUOTE_BUF];   /* jansson's text may hold the offending bytes, raw */
        return PGP_FAIL(err, PGP_ERR_CORRUPT, "repository file \"%s\" is not valid json: %s",
                        REPO_JSON, pgp_quote(jerr.text, q));
    }
    int rc = 0;
    json_int_t format = 0, major = 0, segsize = 0;
    const char *sysid = NULL;
    if (json_unpack_ex(root, &jerr, 0, "{s:I, s:s, s:I, s:I}", "format", &format,
                       "system_identifier", &sysid, "pg_major", &major, "wal_segment_size",
                       &segsize) != 0) {
        rc = PGP_FAIL(err, PGP_ERR_CORRUPT, "repository file \"%s\" is incomplete: %s", REPO_JSON,
                      jerr.text);
        goto out;
    }
    if (format != REPO_FORMAT) {
        rc = PGP_FAIL(err, PGP_ERR_CORRUPT, "repository format %lld is not supported (expected %d)",
                      (long long)format, REPO_FORMAT);
        goto out;
    }
    /* Each number within what it stands for: strtoull would wrap "-1" and saturate 2^64,
     * and a major version or segment size out of range would wrap on conversion. */
    char *end = NULL;
    errno = 0;
    id->system_identifier = strtoull(sysid, &end, 10);
    if (sysid[0] < '0' || sysid[0] > '9' || errno != 0 || *end != '\0' ||
        !pg_wal_segsize_valid(segsize > 0 ? (uint64_t)segsize : 0) || major <= 0 ||
        major > INT32_MAX) {
        rc = PGP_FAIL(err, PGP_ERR_CORRUPT, "repository file \"%s\" has invalid values", REPO_JSON);
        goto out;
    }
    id->pg_major = (int)major;
    id->wal_segsize = (uint32_t)segsize;
out:
    json_decref(root);
    return rc;
}

static int read_identity(Repo *r, PgpErr *err)
{
    char *text = NULL;
    size_t len = 0;
    int rc = storage_get_all(r->storage, REPO_JSON, REPO_JSON_MAX, &text, &len, err);
    if (rc == PGP_ERR_NOT_FOUND) {
        r->bound = false;
        return 0;
    }
    if (rc != 0)
        return rc;
    rc = repo_identity_parse(text, &r->id, err);
    free(text);
    if (rc == 0)
        r->bound = true;
    return rc;
}

int repo_open(Storage *storage, Repo **out, PgpErr *err)
{
    *out = NULL;
    Repo *r = calloc(1, sizeof *r);
    if (r == NULL)
        return PGP_FAIL(err, PGP_ERR_NOMEM, "out of memory");
    r->storage = storage;
    int rc = read_identity(r, err);
    if (rc != 0) {
        free(r);
        return rc;
    }
    *out = r;
    return 0;
}

void repo_free(Repo *r) { free(r); }
Storage *repo_storage(Repo *r) { return r->storage; }
bool repo_is_bound(const Repo *r) { return r->bound; }
const RepoIdentity *repo_identity(const Repo *r) { return r->bound ? &r->id : NULL; }
/* Encryption is not wired into repo_open yet (issue #16): no repository has a key. */
const CryptoRepoKey *repo_crypto_key(const Repo *r) { (void)r; return NULL; }

static int compare_identity(const RepoIdentity *have, const RepoIdentity *want, PgpErr *err)
{
    if (have->system_identifier != want->system_identifier) {
        PGP_FAIL(err, PGP_ERR_WRONG_CLUSTER,
                 "repository belongs to database system %" PRIu64 ", not to %" PRIu64,
                 have->system_identifier, want->system_identifier);
        pgp_err_hint(err, "each cluster needs its own repository; check --repo / PGPITR_REPO");
        return PGP_ERR_WRONG_CLUSTER;
    }
    if (have->pg_major != want->pg_major || have->wal_segsize != want->wal_segsize) {
        PGP_FAIL(err, PGP_ERR_WRONG_CLUSTER,
                 "repository holds PostgreSQL %d with %u-byte WAL segments, not PostgreSQL %d "
                 "with %u-byte segments",
                 have->pg_major, have->wal_segsize, want->pg_major, want->wal_segsize);
        return PGP_ERR_WRONG_CLUSTER;
    }
    return 0;
}

int repo_identity_to_json(const RepoIdentity *id, char **out, size_t *len, PgpErr *err)
{
    *out = NULL;
    char sysid[24];
    snprintf(sysid, sizeof sysid, "%" PRIu64, id->system_identifier);
    /* The identifier is a string: it does not fit a JSON number safely (above 2^53). */
    json_t *root = json_pack("{s:i, s:s, s:i, s:I}", "format", REPO_FORMAT, "system_identifier",
                             sysid, "pg_major", id->pg_major, "wal_segment_size",
                             (json_int_t)id->wal_segsize);
    if (root == NULL)
        return PGP_FAIL(err, PGP_ERR_NOMEM, "out of memory");
    char *text = json_dumps(root, JSON_INDENT(2) | JSON_SORT_KEYS);
    json_decref(root);
    if (text == NULL)
        return PGP_FAIL(err, PGP_ERR_NOMEM, "out of memory");
    *len = strlen(text);
    text[(*len)++] = '\n'; /* json_dumps leaves room only for the NUL: replace it */
    *out = text;
    return 0;
}

int repo_bind(Repo *r, const RepoIdentity *id, PgpErr *err)
{
    if (r->bound)
        return compare_identity(&r->id, id, err);
    char *text = NULL;
    size_t len = 0;
    int rc = repo_identity_to_json(id, &text, &len, err);
    if (rc != 0)
        return rc;
    rc = storage_put_all(r->storage, REPO_JSON, 0, text, len, err);
    free(text);
    if (rc == PGP_ERR_CONFLICT) {
        /* Someone bound it first: their identity rules; ours must match it. */
        rc = read_identity(r, err);
        if (rc == 0 && !r->bound)
            rc = PGP_FAIL(err, PGP_ERR_CORRUPT, "repository file \"%s\" vanished", REPO_JSON);
        return rc != 0 ? rc : compare_identity(&r->id, id, err);
    }
    if (rc != 0)
        return pgp_err_context(err, "cannot initialize repository");
    r->id = *id;
    r->bound = true;
    return 0;
}
