/*
 * repo.c - repo.json: binding a repository to one PostgreSQL cluster. The file is written
 * once with no-replace semantics, so two first pushes racing cannot both win; the loser
 * re-reads and compares. For an encrypted repository also its key document
 * (keys/repo-key.json, docs/encryption.md), written the same way before repo.json, and the
 * repository key unwrapped from it when the repository is opened.
 */
#include "pgpitr/repo/repo.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "pgpitr/pg/walname.h"

#define REPO_JSON REPO_LAYOUT_IDENTITY
#define REPO_JSON_MAX (64 * 1024)
#define REPO_KEY_DOC_MAX (16 * 1024)
#define REPO_CIPHER "aes-256-gcm"

struct Repo {
    Storage *storage;
    bool bound;
    RepoIdentity id;
    RepoCryptoConfig crypto;    /* what the configuration asks; owns crypto.master */
    CryptoRepoKey *key;         /* unwrapped: encrypted and bound (or just bound by us) */
};

/* repo.json's optional "encryption": absent or "none", or REPO_CIPHER. */
static int parse_encryption(json_t *root, RepoIdentity *id, PgpErr *err)
{
    json_t *e = json_object_get(root, "encryption");
    const char *v = e != NULL ? json_string_value(e) : "none";
    if (v != NULL && strcmp(v, "none") == 0) {
        id->encrypted = false;
        return 0;
    }
    if (v != NULL && strcmp(v, REPO_CIPHER) == 0) {
        id->encrypted = true;
        return 0;
    }
    return PGP_FAIL(err, PGP_ERR_CORRUPT, "repository file \"%s\" names an unknown encryption",
                    REPO_JSON);
}

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
    rc = parse_encryption(root, id, err);
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

static int no_master_error(PgpErr *err, const char *what)
{
    PGP_FAIL(err, PGP_ERR_KEY, "%s, but no encryption key is configured", what);
    pgp_err_hint(err, "set encryption-key-file, encryption-passphrase-file or "
                 "encryption-key-command (docs/encryption.md)");
    return PGP_ERR_KEY;
}

/* The repository key from the key document, unwrapped with the configured master key. */
static int load_key(Repo *r, PgpErr *err)
{
    char *text = NULL;
    size_t len = 0;
    int rc = storage_get_all(r->storage, REPO_LAYOUT_KEY_DOC, REPO_KEY_DOC_MAX, &text, &len, err);
    if (rc == PGP_ERR_NOT_FOUND)
        return PGP_FAIL(err, PGP_ERR_CORRUPT, "repository is encrypted but its key document "
                        "\"%s\" is missing", REPO_LAYOUT_KEY_DOC);
    if (rc != 0)
        return rc;
    crypto_repo_key_free(r->key);
    r->key = NULL;
    rc = crypto_repo_key_unwrap(text, len, r->crypto.master, &r->key, err);
    OPENSSL_cleanse(text, len);
    free(text);
    return rc != 0 ? pgp_err_context(err, "cannot open the repository key") : 0;
}

/* A bound repository's encryption against the configuration's. */
static int match_crypto(Repo *r, PgpErr *err)
{
    if (!r->id.encrypted && r->crypto.encrypt) {
        PGP_FAIL(err, PGP_ERR_CONFIG, "repository is not encrypted, but encryption = %s is "
                 "configured", REPO_CIPHER);
        pgp_err_hint(err, "a repository keeps the encryption it was made with: remove the "
                     "encryption setting, or use a new repository");
        return PGP_ERR_CONFIG;
    }
    if (!r->id.encrypted)
        return 0;
    if (r->crypto.master == NULL)
        return no_master_error(err, "repository is encrypted (" REPO_CIPHER ")");
    if (!r->crypto.encrypt) {
        PGP_FAIL(err, PGP_ERR_CONFIG, "repository is encrypted (%s), but encryption is not "
                 "configured", REPO_CIPHER);
        pgp_err_hint(err, "set encryption = %s beside the key setting", REPO_CIPHER);
        return PGP_ERR_CONFIG;
    }
    return load_key(r, err);
}

int repo_open_crypto(Storage *storage, RepoCryptoConfig cc, Repo **out, PgpErr *err)
{
    *out = NULL;
    Repo *r = calloc(1, sizeof *r);
    if (r == NULL) {
        crypto_master_free(cc.master);
        return PGP_FAIL(err, PGP_ERR_NOMEM, "out of memory");
    }
    r->storage = storage;
    r->crypto = cc;
    int rc = read_identity(r, err);
    if (rc == 0 && r->bound)
        rc = match_crypto(r, err);
    else if (rc == 0 && cc.encrypt && cc.master == NULL)
        rc = no_master_error(err, "encryption = " REPO_CIPHER " is configured");
    if (rc != 0) {
        repo_free(r);
        return rc;
    }
    *out = r;
    return 0;
}

int repo_open(Storage *storage, Repo **out, PgpErr *err)
{
    return repo_open_crypto(storage, (RepoCryptoConfig){0}, out, err);
}

void repo_free(Repo *r)
{
    if (r == NULL)
        return;
    crypto_repo_key_free(r->key);
    crypto_master_free(r->crypto.master);
    free(r);
}

Storage *repo_storage(Repo *r) { return r->storage; }
bool repo_is_bound(const Repo *r) { return r->bound; }
const RepoIdentity *repo_identity(const Repo *r) { return r->bound ? &r->id : NULL; }
const CryptoRepoKey *repo_crypto_key(const Repo *r) { return r->key; }
bool repo_encrypted(const Repo *r) { return r->bound ? r->id.encrypted : r->crypto.encrypt; }

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
    /* Only an encrypted repository says so: an unencrypted one's repo.json stays as it was. */
    if (root != NULL && id->encrypted &&
        json_object_set_new(root, "encryption", json_string(REPO_CIPHER)) != 0) {
        json_decref(root);
        root = NULL;
    }
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

/* A key document already there while repo.json is not: another first use is binding right
 * now, or one stopped (crashed, killed) between the two writes. Either way that document is
 * the repository's key from now on: with the same master key it is simply used. With another
 * one the plain "wrong master key" would puzzle an operator who believes the repository is
 * new, so the error says where the document came from and what to do. */
static int leftover_key(Repo *r, PgpErr *err)
{
    int rc = load_key(r, err);
    if (rc != PGP_ERR_KEY)
        return rc;
    /* a binder that won the race meanwhile wrote repo.json too: a plain wrong key then */
    StorageInfo info;
    PgpErr ignored;
    if (storage_stat(r->storage, REPO_JSON, &info, &ignored) != PGP_ERR_NOT_FOUND)
        return rc;
    PGP_FAIL(err, PGP_ERR_KEY, "repository has no %s yet, but holds a key document (%s) "
             "wrapped by another master key: an earlier first use with another key stopped "
             "before writing %s, or one is running now", REPO_JSON, REPO_LAYOUT_KEY_DOC,
             REPO_JSON);
    pgp_err_hint(err, "configure the master key of that first use; if nothing else was ever "
                 "stored in this repository, removing %s lets this key make a new one",
                 REPO_LAYOUT_KEY_DOC);
    return PGP_ERR_KEY;
}

/* A fresh repository key, wrapped and written never-replace before repo.json: repo.json
 * never names an encryption whose key is not in place. A process that loses the race (or
 * finds the document of one that stopped before writing repo.json) unwraps that document
 * instead, so every binder ends up with the one key. */
static int make_key(Repo *r, PgpErr *err)
{
    char *json = NULL;
    crypto_repo_key_free(r->key);
    r->key = NULL;
    int rc = crypto_repo_key_generate(&r->key, err);
    if (rc == 0)
        rc = crypto_repo_key_wrap(r->key, r->crypto.master, &json, err);
    if (rc == 0)
        rc = storage_put_all(r->storage, REPO_LAYOUT_KEY_DOC, 0, json, strlen(json), err);
    free(json);
    if (rc == PGP_ERR_CONFLICT)
        return leftover_key(r, err);
    return rc != 0 ? pgp_err_context(err, "cannot write the repository key") : 0;
}

int repo_bind(Repo *r, const RepoIdentity *id, PgpErr *err)
{
    if (r->bound)
        return compare_identity(&r->id, id, err);
    RepoIdentity want = *id;
    want.encrypted = r->crypto.encrypt;
    char *text = NULL;
    size_t len = 0;
    int rc = want.encrypted ? make_key(r, err) : 0;
    if (rc == 0)
        rc = repo_identity_to_json(&want, &text, &len, err);
    if (rc == 0)
        rc = storage_put_all(r->storage, REPO_JSON, 0, text, len, err);
    free(text);
    if (rc == PGP_ERR_CONFLICT) {
        /* Someone bound it first: their identity and encryption rule; ours must match. */
        rc = read_identity(r, err);
        if (rc == 0 && !r->bound)
            rc = PGP_FAIL(err, PGP_ERR_CORRUPT, "repository file \"%s\" vanished", REPO_JSON);
        if (rc == 0)
            rc = compare_identity(&r->id, id, err);
        return rc != 0 ? rc : match_crypto(r, err);
    }
    if (rc != 0)
        return pgp_err_context(err, "cannot initialize repository");
    r->id = want;
    r->bound = true;
    return 0;
}

int repo_archive_seal(const Repo *r, const RepoArchiveObject *obj, ObjectSeal *seal,
                      char ad[REPO_PATH_MAX], PgpErr *err)
{
    bool by_name;
    int rc = object_io_seal_of(r->key, obj->path, seal, ad, &by_name, err);
    if (rc == 0 && !by_name)
        rc = PGP_FAIL(err, PGP_ERR_INTERNAL, "\"%s\" is not an archived object's path",
                      obj->path);
    return rc;
}

/* The document on storage must still unwrap, with new_master, to r's key: the same keyed
 * name of one digest under both proves the same repository key without comparing key bytes
 * outside keyring.c. */
static int check_rewrapped(Repo *r, const CryptoMaster *new_master, PgpErr *err)
{
    char *text = NULL;
    size_t len = 0;
    CryptoRepoKey *back = NULL;
    static const uint8_t probe[32] = {0};
    char a[CRYPTO_NAME_HEX_LEN + 1], b[CRYPTO_NAME_HEX_LEN + 1];
    int rc = storage_get_all(r->storage, REPO_LAYOUT_KEY_DOC, REPO_KEY_DOC_MAX, &text, &len, err);
    if (rc == 0)
        rc = crypto_repo_key_unwrap(text, len, new_master, &back, err);
    if (rc == 0)
        rc = crypto_keyed_name(r->key, probe, a, err);
    if (rc == 0)
        rc = crypto_keyed_name(back, probe, b, err);
    if (rc == 0 && strcmp(a, b) != 0)
        rc = PGP_FAIL(err, PGP_ERR_CORRUPT, "the rewrapped key document holds another key");
    crypto_repo_key_free(back);
    free(text);
    return rc != 0 ? pgp_err_context(err, "the new key document does not read back") : 0;
}

int repo_key_rotate(Repo *r, CryptoMaster *new_master, PgpErr *err)
{
    char *text = NULL, *json = NULL;
    size_t len = 0;
    int rc = 0;
    if (!r->bound || !r->id.encrypted || r->key == NULL)
        rc = PGP_FAIL(err, PGP_ERR_CONFIG, "repository is not encrypted: no key to rotate");
    if (rc == 0)
        rc = storage_get_all(r->storage, REPO_LAYOUT_KEY_DOC, REPO_KEY_DOC_MAX, &text, &len, err);
    if (rc == 0) {
        rc = crypto_repo_key_rewrap(text, len, r->crypto.master, new_master, &json, err);
        /* it unwrapped when the repository was opened: another rotation came in between */
        if (rc == PGP_ERR_KEY)
            pgp_err_context(err, "the key document changed since the repository was opened "
                            "(rotated meanwhile?)");
    }
    /* Replaced atomically: a reader sees the old document or the new one, never a mix. */
    if (rc == 0)
        rc = storage_put_all(r->storage, REPO_LAYOUT_KEY_DOC, STORAGE_WRITE_REPLACE, json,
                             strlen(json), err);
    if (rc == 0)
        rc = check_rewrapped(r, new_master, err);
    free(text);
    free(json);
    if (rc == 0) {   /* r goes on under the new master, as a fresh open would */
        crypto_master_free(r->crypto.master);
        r->crypto.master = new_master;
    } else {
        crypto_master_free(new_master);
    }
    return rc;
}
