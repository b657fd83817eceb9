/*
 * cmd_engine.c - what the engines take from the commands' settings, looked up here so that
 * no engine reads the configuration: restore's environment (RestoreEnv) and lease-ttl.
 */
#include "pgpitr/cmd/cmd.h"
#include "pgpitr/cmd/cmd_options.h"

#include "pgpitr/restore/restore.h"

const char *cmd_lease_ttl(const CmdSettings *s)
{
    return cmd_opt_setting(s, CMD_OPT_LEASE_TTL, NULL);
}

void cmd_restore_env(const CmdSettings *s, RestoreEnv *out)
{
    *out = (RestoreEnv){
        .config_path = config_path(s->config),
        .repo_path = s->repo_path,
        .repo_from_config = s->repo_source == CMD_SOURCE_CONFIG,
        .pg_bin = cmd_opt_setting(s, CMD_OPT_PG_BIN, NULL),
        .lease_ttl = cmd_lease_ttl(s),
    };
}
