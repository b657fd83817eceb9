/*
 * fuzz_config.c - the INI configuration file (config_read, src/common/config.c, on libinih).
 * Input: the file's bytes.
 * Properties: a rejected file gets one clean error line; an accepted one, written back as
 * "[global]" and "key=value" lines, reads back with the same values.
 */
#include "fuzz.h"

#include "pgpitr/common/config.h"

/* The keys of docs/configuration.md (config.c's list); a key missing here is only not
 * checked by the round trip. */
static const char *const keys[] = {
    "repo", "compress", "compress-level", "log-level", "pg-conn", "jobs", "archive-timeout",
    "spool-path", "spool-size", "prefetch-jobs", "pg-bin", "lock-wait", "retain-full",
    "retain-days", "retain-daily", "retain-weekly", "retain-monthly",
};
#define N_KEYS (sizeof keys / sizeof keys[0])

static int read_text(const void *buf, size_t len, PgpConfig **out, PgpErr *err)
{
    FILE *f = fmemopen((void *)buf, len, "r");
    if (f == NULL)
        abort();
    int rc = config_read(f, "fuzz.conf", out, err);
    fclose(f);
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_quiet();
    if (size == 0)
        return 0;   /* fmemopen refuses a size of 0 */
    PgpConfig *c = NULL, *again = NULL;
    PgpErr err;
    int rc = read_text(data, size, &c, &err);
    if (rc != 0) {
        fuzz_check_err(rc, &err, PGP_ERR_CONFIG);
        FUZZ_ASSERT(c == NULL, "configuration returned with an error");
        return 0;
    }
    FUZZ_ASSERT(strcmp(config_path(c), "fuzz.conf") == 0, "path");
    char *text = NULL;
    size_t len = 0;
    FILE *w = open_memstream(&text, &len);
    if (w == NULL)
        abort();
    fprintf(w, "[global]\n");
    for (size_t i = 0; i < N_KEYS; i++)
        if (config_get(c, keys[i]) != NULL)
            fprintf(w, "%s=%s\n", keys[i], config_get(c, keys[i]));   /* ";x" stays a value */
    fclose(w);
    rc = read_text(text, len, &again, &err);
    FUZZ_ASSERT(rc == 0, "written configuration does not read: %s\n%s", err.msg, text);
    for (size_t i = 0; i < N_KEYS; i++) {
        const char *a = config_get(c, keys[i]), *b = config_get(again, keys[i]);
        FUZZ_ASSERT((a == NULL) == (b == NULL) && (a == NULL || strcmp(a, b) == 0),
                    "%s is \"%s\", written and read back \"%s\"", keys[i], a ? a : "(unset)",
                    b ? b : "(unset)");
    }
    FUZZ_ASSERT(config_get(c, "no-such-key") == NULL, "unknown key has a value");
    free(text);
    config_free(c);
    config_free(again);
    return 0;
}
