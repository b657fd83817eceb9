/*
 * archive_get.c - `pgpitr archive-get NAME DEST`, PostgreSQL's restore_command.
 * Exit 1 (silently) only when NAME is truly not archived: PostgreSQL asks for files that
 * do not exist as a matter of course. Every other failure exits 255 (see CmdDef.failure_exit)
 * because PostgreSQL would take exit 1 as "end of WAL" and finish recovery early, silently
 * missing data; a status above 125 makes it stop recovery instead.
 *
 * For a segment, the prefetch spool (spool.h) is looked at first: a hit is one rename and a
 * SHA-256, and when the spool's identity already says this repository, boot and cluster
 * (spool_open_cached) the repository is not even opened - on S3 that is a connection and a
 * request per segment that replay would wait for. On a miss the segment is fetched directly as
 * before; a miss is never "not archived". After either, the prefetcher (prefetch.h) is made sure to run. Prefetching
 * is an optimization: a spool that cannot be used is a warning, never a failed restore.
 *
 * When the repository does not hold the name, wal_missing.h decides between "not archived"
 * and a fatal error (a hole, a repository that is not mounted), from the recovery mode of the
 * data directory DEST lies in.
 *
 * After a segment is restored, the recovery lease of the data directory is renewed
 * (recovery_lease.h): at most once a minute, and a failure is a warning too.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pgpitr/cmd/cmd.h"
#include "pgpitr/cmd/cmd_options.h"
#include "pgpitr/common/log.h"
#include "pgpitr/archive/prefetch.h"
#include "pgpitr/repo/recovery_lease.h"
#include "pgpitr/archive/spool.h"
#include "pgpitr/archive/wal_get.h"
#include "pgpitr/archive/wal_missing.h"
#include "pgpitr/pg/walname.h"

static int open_again(void *ud, Storage **out, PgpErr *err)
{
    return cmd_open_storage(ud, false, out, err);
}

static int open_repo_again(void *ud, Storage *st, Repo **out, PgpErr *err)
{
    return cmd_open_repo_on(ud, st, out, err);
}

static SpoolRequest spool_request(const CmdSettings *s, const SpoolFlags *f)
{
    return (SpoolRequest){
        .path = cmd_opt_setting(s, CMD_OPT_SPOOL_PATH, f->path),
        .size = cmd_opt_setting(s, CMD_OPT_SPOOL_SIZE, f->size),
        .jobs = cmd_opt_setting(s, CMD_OPT_PREFETCH_JOBS, f->jobs),
        .idle_timeout = getenv(cmd_option(CMD_OPT_PREFETCH_IDLE_TIMEOUT)->env),
        .repo_path = s->repo_path,
    };
}

/* The spool for this request, or *sp NULL (prefetching off or unusable). Only settings that
 * do not parse are errors. */
static int spool_setup(const CmdSettings *s, const SpoolFlags *f, Repo *repo, SpoolSettings *st,
                       Spool **sp, PgpErr *err)
{
    *sp = NULL;
    const RepoIdentity *id = repo_identity(repo);
    bool enabled = false;
    if (id == NULL)
        return 0;   /* unbound repository: nothing is archived, nothing to prefetch */
    SpoolRequest r = spool_request(s, f);
    int rc = spool_settings_resolve(&r, id, st, &enabled, err);
    if (rc != 0 || !enabled)
        return rc;
    PgpErr serr;
    pgp_err_clear(&serr);
    if (spool_open(st, sp, &serr) != 0)   /* one line: the message and what to do */
        log_warn("prefetch spool not used, fetching directly: %s%s%s", serr.msg,
                 serr.hint[0] != '\0' ? "; HINT: " : "", serr.hint);
    return 0;
}

/* After a segment was restored and the spool is in use: .requested, then the prefetcher (a
 * fork of this process, s still on its stack: it opens its own repository). Closes sp. */
static void spool_done(const CmdSettings *s, SpoolSettings *st, Spool *sp, const char *name)
{
    PgpErr nerr;
    pgp_err_clear(&nerr);
    if (spool_note_request(sp, name, &nerr) != 0)
        log_warn("prefetch spool: %s", nerr.msg);
    spool_close(sp);
    st->opener = (StorageOpener){open_again, (void *)s};
    st->repo_opener = (SpoolRepoOpener){open_repo_again, (void *)s};
    prefetch_ensure(st, name);
}

/* A hit in the spool an earlier call set up, without opening the repository (on S3 that is a
 * connection and a request per call, which replay would wait for): spool_open_cached. *done
 * false: not there (or no such spool), go the usual way. */
static int get_cached(const CmdSettings *s, const SpoolFlags *f, const char *name,
                      const char *dest, bool *done, PgpErr *err)
{
    *done = false;
    SpoolSettings *st = malloc(sizeof *st);   /* large (paths): not on the stack */
    if (st == NULL)
        return 0;   /* the usual way needs no more memory than this: it reports it */
    SpoolRequest r = spool_request(s, f);
    Spool *sp = NULL;
    bool hit = false;
    unsigned waited = 0;
    int rc = spool_open_cached(&r, st, &sp, err);
    if (rc == 0 && sp != NULL)
        rc = spool_take(sp, name, dest, &hit, &waited, err);
    if (rc == 0 && hit) {
        log_info("restored \"%s\" from the prefetch spool \"%s\" (waited %u ms; repository "
                 "not opened)", name, st->path, waited);
        spool_done(s, st, sp, name);
        sp = NULL;
        *done = true;
    }
    spool_close(sp);
    free(st);
    return rc;
}

/* Spool hit, else a direct fetch; then the prefetcher. */
static int get_segment(const CmdSettings *s, const SpoolFlags *f, Repo *repo, const char *name,
                       const char *dest, PgpErr *err)
{
    SpoolSettings *st = malloc(sizeof *st);   /* large (paths): not on the stack */
    Spool *sp = NULL;
    bool hit = false;
    unsigned waited = 0;
    int rc = st != NULL ? spool_setup(s, f, repo, st, &sp, err)
                        : PGP_FAIL(err, PGP_ERR_NOMEM, "out of memory");
    if (rc == 0 && sp != NULL)
        rc = spool_take(sp, name, dest, &hit, &waited, err);
    WalGetResult res;
    if (rc == 0 && !hit)
        rc = wal_get_file(repo, name, dest, &res, err);
    if (rc == 0 && hit)
        log_info("restored \"%s\" from the prefetch spool \"%s\" (waited %u ms)", name, st->path,
                 waited);
    else if (rc == 0)
        log_info("restored \"%s\" (%llu bytes) from \"%s\"", name, (unsigned long long)res.size,
                 res.object.path);
    if (rc == 0 && sp != NULL) {
        spool_done(s, st, sp, name);
        sp = NULL;
    }
    spool_close(sp);
    free(st);
    return rc;
}

/* Straight from the repository (history, backup and partial files; re-checks of a hole). */
static int fetch_direct(Repo *repo, const char *name, const char *dest, PgpErr *err)
{
    WalGetResult res;
    int rc = wal_get_file(repo, name, dest, &res, err);
    if (rc == 0)
        log_info("restored \"%s\" (%llu bytes) from \"%s\"", name, (unsigned long long)res.size,
                 res.object.path);
    return rc;
}

typedef struct Refetch {
    Repo *repo;
    const char *name, *dest;
} Refetch;

static int refetch(void *ud, PgpErr *err)
{
    const Refetch *r = ud;
    return fetch_direct(r->repo, r->name, r->dest, err);
}

/* NAME is not in the repository: "not archived" (PGP_ERR_NOT_FOUND) or fatal, per wal_missing.h. */
static int answer_missing(const CmdSettings *s, Repo *repo, const char *name, const char *dest,
                          PgpErr *err)
{
    Refetch r = {repo, name, dest};
    WalMissingRequest req = {
        .repo = repo,
        .repo_path = s->repo_path,
        .walname = name,
        .dest = dest,
        .recheck_tries = WAL_MISSING_RECHECK_TRIES,
        .recheck_ms = WAL_MISSING_RECHECK_MS,
        .refetch = refetch,
        .refetch_ud = &r,
    };
    return wal_missing_decide(&req, err);
}

static int run(const CmdGlobal *g, int argc, char **argv, PgpErr *err)
{
    CmdParse p = {.cmd = &cmd_archive_get, .positional = true};
    CmdArgs a;
    int rc = cmd_args_parse(&p, argc, argv, &a, err);
    if (rc != 0 || a.help)   /* help: the parser printed the usage */
        return rc;
    SpoolFlags flags = {.path = a.flag[CMD_OPT_SPOOL_PATH], .size = a.flag[CMD_OPT_SPOOL_SIZE],
                        .jobs = a.flag[CMD_OPT_PREFETCH_JOBS]};
    if (argc - a.first != 2)
        return cmd_usage_error(err, &cmd_archive_get, "expected NAME and DEST");
    const char *name = argv[a.first], *dest = argv[a.first + 1];
    PgWalName parsed;
    rc = pg_walname_parse(name, &parsed, err);
    if (rc != 0)
        return rc;

    CmdSettings s;
    rc = cmd_settings_load(g, &s, err);
    if (rc != 0)
        return rc == PGP_ERR_NOT_FOUND ? (int)(err->code = PGP_ERR_CONFIG) : rc;
    Storage *storage = NULL;
    Repo *repo = NULL;
    bool segment = parsed.kind == PG_WALFILE_SEGMENT, done = false;
    if (segment)
        rc = get_cached(&s, &flags, name, dest, &done, err);
    if (rc == 0 && done && recovery_lease_due()) {   /* the repository only for the lease */
        PgpErr lerr;
        pgp_err_clear(&lerr);
        if (cmd_open_repo(&s, false, &storage, &repo, &lerr) != 0)
            recovery_lease_unreachable(lerr.msg);
    } else if (rc == 0 && !done) {
        rc = cmd_open_repo(&s, false, &storage, &repo, err);
    }
    if (rc == 0 && !done && segment)
        rc = get_segment(&s, &flags, repo, name, dest, err);
    else if (rc == 0 && !done)   /* history, backup, partial files: always from the archive */
        rc = fetch_direct(repo, name, dest, err);
    if (rc == 0 && segment && repo != NULL)   /* keeps expire off the WAL recovery still needs */
        recovery_lease_renew(cmd_lease_ttl(&s), repo, name);
    if (rc == PGP_ERR_NOT_FOUND && repo != NULL)
        rc = answer_missing(&s, repo, name, dest, err);
    else   /* the repository could not be read: in standby mode, "not yet" */
        rc = wal_missing_unreachable(dest, s.repo_path, rc, err);
    repo_free(repo);
    storage_free(storage);
    cmd_settings_free(&s);
    return rc;
}

const CmdDef cmd_archive_get = {
    .name = "archive-get",
    .summary = "restore one WAL file (PostgreSQL's restore_command)",
    .usage =
        "usage: pgpitr [--repo PATH] archive-get [OPTIONS] NAME DEST\n"
        "\n"
        "Fetches the archived WAL file NAME, decompresses it, verifies its SHA-256 and\n"
        "writes it to DEST atomically.\n"
        "\n"
        "  restore_command = 'pgpitr --repo /var/lib/pgpitr archive-get %f \"%p\"'\n"
        "\n"
        "While PostgreSQL is in archive recovery, a background prefetcher fetches the next\n"
        "segments in parallel into a bounded spool of verified files, so that most calls are\n"
        "one rename (docs/archive-get-prefetch.md). It also renews the recovery lease of\n"
        "the data directory (at most once a minute), which keeps expire from removing WAL\n"
        "this recovery may still ask for (lease-ttl, env PGPITR_LEASE_TTL; docs/expire.md).\n"
        "\n"
        "options:\n"
        "  --spool-path DIR     spool directory (env PGPITR_SPOOL_PATH, config spool-path;\n"
        "                       default pg_wal/pgpitr_spool in the data directory)\n"
        "  --spool-size SIZE    at most this much prefetched WAL, e.g. 512MiB (env\n"
        "                       PGPITR_SPOOL_SIZE, config spool-size; default the larger of\n"
        "                       512MiB and (prefetch-jobs + 1) segments; 0: off)\n"
        "  --prefetch-jobs N    parallel fetches (env PGPITR_PREFETCH_JOBS, config\n"
        "                       prefetch-jobs; default 2)\n",
    .run = run,
    .exit_ok = "the file was restored to DEST, its SHA-256 verified",
    .exit_not_found =
        "NAME is not archived: in archive recovery, it lies beyond the end of the "
        "archive; in standby mode, not yet (PostgreSQL asks for such names as a matter "
        "of course: no message). What exactly counts: docs/archiving.md",
    .exit_other =
        "any other failure: PostgreSQL then stops recovery instead of ending it early "
        "with WAL missing",
    .failure_exit = 255,
    .quiet_not_found = true,
};
