/*
 * repo.h - the repository's rules on top of storage: repo.json (which cluster the
 * repository belongs to) and where archived WAL files live and how they are named.
 *
 * Where everything lives is repo_layout.h; how archived objects are named and listed is
 * wal_index.h. Keeping the checksum in an archived object's name lets archive-push answer
 * "already archived with the same content?" with one listing and lets archive-get verify
 * without any side file.
 *
 * repo does not parse WAL names (that is pg/): callers pass names already validated with
 * pg_walname_parse.
 */
#ifndef PGPITR_REPO_H
#define PGPITR_REPO_H

#include <stdbool.h>
#include <stdint.h>

#include "pgpitr/common/err.h"
#include "pgpitr/crypto/keyring.h"
#include "pgpitr/pipe/pipe.h"
#include "pgpitr/repo/object_io.h"
#include "pgpitr/repo/repo_layout.h"
#include "pgpitr/storage/storage.h"

#define REPO_FORMAT 1

typedef struct RepoIdentity {
    uint64_t system_identifier;
    int pg_major;
    uint32_t wal_segsize;
    /* repo.json's "encryption": "aes-256-gcm" (absent: not encrypted). Set by repo_bind from
     * the repository's RepoCryptoConfig, never compared as part of the identity. */
    bool encrypted;
} RepoIdentity;

/* What the configuration asks of encryption (the commands fill it: engines never read
 * configuration). */
typedef struct RepoCryptoConfig {
    bool encrypt;               /* encryption = aes-256-gcm */
    CryptoMaster *master;       /* NULL: no master key configured */
} RepoCryptoConfig;

typedef struct Repo Repo;

/* Reads repo.json if present (a repository with none is "unbound"). Does not take
 * ownership of storage. A repo.json that does not parse is PGP_ERR_CORRUPT. The same as
 * repo_open_crypto with no encryption configured. */
int repo_open(Storage *storage, Repo **out, PgpErr *err);
/* repo_open, then the encryption of a bound repository matched with cc before anything is
 * written: an encrypted repository with no master key, or with a master key that does not
 * unwrap its key document (keys/repo-key.json), is PGP_ERR_KEY; an encrypted repository
 * without encryption configured, or an unencrypted one with it, PGP_ERR_CONFIG; a key
 * document missing or damaged, PGP_ERR_CORRUPT. Encryption configured without a master key
 * is PGP_ERR_KEY even for an unbound repository. Takes ownership of cc.master (freed with
 * the repository, or here on failure). */
int repo_open_crypto(Storage *storage, RepoCryptoConfig cc, Repo **out, PgpErr *err);
void repo_free(Repo *r);
Storage *repo_storage(Repo *r);
bool repo_is_bound(const Repo *r);
const RepoIdentity *repo_identity(const Repo *r);   /* NULL if unbound */
/* The repository key of an encrypted repository (docs/encryption.md); NULL when the
 * repository is not encrypted (or, unbound, not configured to be). Owned by r. */
const CryptoRepoKey *repo_crypto_key(const Repo *r);
/* Whether the repository is encrypted (bound) or is to be (unbound, encryption configured):
 * then nothing may be written into it before repo_crypto_key is set, by repo_bind. */
bool repo_encrypted(const Repo *r);

/* Rotation of the master key (docs/encryption.md, "Rotation"): the key document rewrapped
 * under new_master (taken: freed here) and written in place of the old one (atomically),
 * then read back and unwrapped with new_master, which must give the same repository key.
 * The repository must be open with its current master key (bound and encrypted:
 * PGP_ERR_CONFIG otherwise). From then on only new_master opens it; r keeps working. */
int repo_key_rotate(Repo *r, CryptoMaster *new_master, PgpErr *err);

/* Binds an unbound repository to id (writing repo.json durably, never replacing one that a
 * concurrent process wrote first), or checks id against the bound identity:
 * PGP_ERR_WRONG_CLUSTER naming both values when they differ. With encryption configured, a
 * fresh repository key wrapped by the master key is written first (keys/repo-key.json, never
 * replacing: a process that loses that race unwraps the winner's document), and repo.json
 * records the encryption; a concurrent binder whose repo.json won is matched as repo_open_crypto
 * does. id->encrypted is ignored: the configuration decides. */
int repo_bind(Repo *r, const RepoIdentity *id, PgpErr *err);

/* repo.json's text, as repo_bind writes it and repo_open reads it (exposed for the fuzz
 * harness's round trip). Parse: text NUL-terminated; PGP_ERR_CORRUPT naming repo.json for
 * anything but format 1 with a decimal system_identifier, pg_major > 0 and a wal_segment_size
 * in 1..UINT32_MAX. Write: *out malloc'd, *len bytes ending in a newline (not NUL-terminated). */
int repo_identity_parse(const char *text, RepoIdentity *id, PgpErr *err);
int repo_identity_to_json(const RepoIdentity *id, char **out, size_t *len, PgpErr *err);

typedef struct RepoArchiveObject {
    char path[REPO_PATH_MAX];
    char sha256_hex[PIPE_SHA256_HEX_LEN + 1];
    PipeCodec codec;
    uint64_t stored_size;
} RepoArchiveObject;

/* Finds the archived object of walname. PGP_ERR_NOT_FOUND (message set, caller decides
 * whether to print) if none; PGP_ERR_CONFLICT if more than one object claims the name
 * (two different contents: never pick one silently). */
int repo_archive_find(Repo *r, const char *walname, RepoArchiveObject *out, PgpErr *err);
/* repo_archive_find of n names at once (archive-push --jobs): one listing of the prefix they
 * share when they are in one archive directory (on S3 one request for a run of segments),
 * else one each. rcs[i], errs[i] and out[i] are what repo_archive_find gives for names[i]
 * (0, PGP_ERR_NOT_FOUND or PGP_ERR_CONFLICT); any other failure (the listing's) is returned,
 * with err, and rcs is then unspecified. */
/* How the archived object obj is encrypted (docs/encryption.md): the repository's key and,
 * as associated data, the archived file's name (the object's name before "-<hex>"), written
 * into ad. seal->key is NULL in an unencrypted repository. */
int repo_archive_seal(const Repo *r, const RepoArchiveObject *obj, ObjectSeal *seal,
                      char ad[REPO_PATH_MAX], PgpErr *err);
int repo_archive_find_many(Repo *r, const char *const *names, size_t n, RepoArchiveObject *out,
                           int *rcs, PgpErr *errs, PgpErr *err);

#endif
