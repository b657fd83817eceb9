/*
 * fuzz_lock_holder.c - repository lock holder objects, locks/<name>.json
 * (repo_lock_holder_parse / repo_lock_holder_to_json, src/repo/repolock.c): written by every
 * pgpitr on every host that shares the repository, read by lock acquisition and by info.
 * Input: the object's bytes.
 * Properties: an unreadable object says so (parsed false, kind -1); a readable one has its
 * documented ranges, and writing it then reading it back gives the same holder.
 */
#include "fuzz.h"

#include "pgpitr/repo/repolock.h"

static void check_same(const RepoLockHolder *a, const RepoLockHolder *b, const char *text)
{
    FUZZ_ASSERT(b->parsed, "written holder is unreadable:\n%s", text);
    FUZZ_ASSERT(a->kind == b->kind && strcmp(a->kind_name, b->kind_name) == 0 &&
                    strcmp(a->command, b->command) == 0 && strcmp(a->host, b->host) == 0 &&
                    strcmp(a->boot_id, b->boot_id) == 0 && a->pid == b->pid &&
                    a->start == b->start && a->since == b->since &&
                    a->heartbeat == b->heartbeat && strcmp(a->label, b->label) == 0,
                "holder differs after writing:\n%s", text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_quiet();
    RepoLockHolder h, again;
    memset(&h, 0, sizeof h);
    repo_lock_holder_parse((const char *)data, size, &h);
    if (!h.parsed) {
        FUZZ_ASSERT(h.kind == -1 && h.kind_name[0] == '\0', "unreadable but kind %d", h.kind);
        return 0;
    }
    FUZZ_ASSERT(h.kind >= -1 && h.kind <= REPO_LOCK_READ, "kind %d", h.kind);
    FUZZ_ASSERT(h.kind < 0 || strcmp(h.kind_name, repo_lock_kind_name(h.kind)) == 0,
                "kind %d named \"%s\"", h.kind, h.kind_name);
    FUZZ_ASSERT(h.pid > 0 && h.pid <= INT32_MAX, "pid %ld", h.pid);
    FUZZ_ASSERT(h.command[0] && h.host[0] && h.boot_id[0], "empty required string");
    FUZZ_ASSERT(strlen(h.label) <= REPO_LOCK_LABEL_MAX, "label too long");

    char *text = NULL;
    PgpErr err;
    int rc = repo_lock_holder_to_json(&h, &text, &err);
    FUZZ_ASSERT(rc == 0, "write: %s", err.msg);
    memset(&again, 0, sizeof again);
    repo_lock_holder_parse(text, strlen(text), &again);
    check_same(&h, &again, text);
    free(text);
    return 0;
}
