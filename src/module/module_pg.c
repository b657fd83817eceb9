/*
 * module_pg.c - the PostgreSQL 15 archive module's entry points (archive_library = 'pgpitr',
 * docs/archive-module.md): the GUCs, the callbacks, and pgpitr's log lines into PostgreSQL's
 * log. Everything else is module_push.c, which never calls PostgreSQL.
 *
 * An archive module's callback must not ereport(ERROR): in PostgreSQL 15 that takes the
 * archiver down (and the postmaster starts it again, in a loop). A failure is a WARNING with
 * pgpitr's one-line message and `false`, and PostgreSQL retries the file.
 */
#include <postgres.h>

#include <fmgr.h>
#include <postmaster/pgarch.h>
#include <utils/guc.h>

#include <pthread.h>
#include <unistd.h>

#include "pgpitr/common/log.h"
#include "pgpitr/module/module_push.h"

PG_MODULE_MAGIC;

void _PG_init(void);
void _PG_archive_module_init(ArchiveModuleCallbacks *cb);

static char *guc_config;
static char *guc_repo;
static int guc_jobs;
static pthread_t main_thread;

/* pgpitr's lines: from the archiver's own thread into PostgreSQL's log (WARNING for warnings
 * and errors, LOG otherwise); from any other thread (pushing ahead) onto stderr, which the
 * postmaster sends to the same log, because no PostgreSQL function may run there. */
static void log_sink(LogLevel level, const char *line)
{
    if (!pthread_equal(pthread_self(), main_thread)) {
        char buf[2100];
        int n = snprintf(buf, sizeof buf, "%s\n", line);
        if (n > 0 && write(STDERR_FILENO, buf, (size_t)Min(n, (int)sizeof buf - 1)) < 0)
            return;   /* nowhere left to report it */
        return;
    }
    ereport(level <= LOG_WARN ? WARNING : LOG, (errmsg_internal("%s", line)));
}

void _PG_init(void)
{
    DefineCustomStringVariable("pgpitr.config", "pgpitr's configuration file.",
                               "Empty: PGPITR_CONFIG, else /etc/pgpitr/pgpitr.conf if present.",
                               &guc_config, "", PGC_SIGHUP, 0, NULL, NULL, NULL);
    DefineCustomStringVariable("pgpitr.repo", "The repository (overrides the configuration's "
                               "repo).", "Empty: the configuration's repo, or PGPITR_REPO.",
                               &guc_repo, "", PGC_SIGHUP, GUC_SUPERUSER_ONLY, NULL, NULL,
                               NULL);
    DefineCustomIntVariable("pgpitr.jobs", "Threads pushing ready segments ahead "
                            "(archive-push-jobs).", "0: the configuration's archive-push-jobs "
                            "(default 1: no pushing ahead).", &guc_jobs, 0, 0, 16, PGC_SIGHUP,
                            0, NULL, NULL, NULL);
    MarkGUCPrefixReserved("pgpitr");
}

static bool check_configured(void)
{
    return true;   /* an unset repository is reported by the push, with its hint */
}

static bool archive_file(const char *file, const char *path)
{
    ModuleSettings ms = {.config = guc_config, .repo = guc_repo, .jobs = guc_jobs};
    PgpErr err = {0};
    (void)file;
    if (module_push(&ms, path, &err) == 0)
        return true;
    ereport(WARNING, (errmsg("pgpitr: cannot archive \"%s\": %s", path, err.msg),
                      err.hint[0] != '\0' ? errhint("%s", err.hint) : 0));
    return false;
}

static void shutdown_cb(void)
{
    module_push_shutdown();
}

void _PG_archive_module_init(ArchiveModuleCallbacks *cb)
{
    AssertVariableIsOfType(&_PG_archive_module_init, ArchiveModuleInit);
    main_thread = pthread_self();
    log_set_sink(log_sink);
    cb->check_configured_cb = check_configured;
    cb->archive_file_cb = archive_file;
    cb->shutdown_cb = shutdown_cb;
}
