/*
 * mangen.c - writes the manual pages into a directory: pgpitr.1, pgpitr-COMMAND.1 for every
 * command of the table, pgpitr.conf.5 and the example configuration file pgpitr.conf.example
 * (src/cmd/cmd_man.c writes their text from the command and option tables). A build tool run by `make man`, linked with libpgpitr.a; not
 * installed. The pages' date is SOURCE_DATE_EPOCH's (reproducible builds), else today.
 *
 * usage: pgpitr-mangen DIR
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pgpitr/cmd/cmd.h"
#include "pgpitr/cmd/cmd_man.h"

static const char *dir;
static char date[64];

/* Writes DIR/name through a temporary file renamed over it: a failed run leaves no half page. */
static int write_page(const char *name, void (*page)(FILE *, const CmdDef *, const char *),
                      const CmdDef *cmd)
{
    char path[4096], tmp[4200];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (f == NULL) {
        fprintf(stderr, "pgpitr-mangen: error: cannot create \"%s\": %s\n", tmp, strerror(errno));
        return 1;
    }
    page(f, cmd, date);
    int bad = ferror(f);
    if (fclose(f) != 0 || bad || rename(tmp, path) != 0) {
        fprintf(stderr, "pgpitr-mangen: error: cannot write \"%s\": %s\n", path, strerror(errno));
        remove(tmp);
        return 1;
    }
    return 0;
}

static void main_page(FILE *f, const CmdDef *cmd, const char *d)
{
    (void)cmd;
    cmd_man_main(f, d);
}

static void example(FILE *f, const CmdDef *cmd, const char *d)
{
    (void)cmd;
    (void)d;
    cmd_man_example(f);
}

static void conf_page(FILE *f, const CmdDef *cmd, const char *d)
{
    (void)cmd;
    cmd_man_config(f, d);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fputs("usage: pgpitr-mangen DIR\n", stderr);
        return 2;
    }
    dir = argv[1];
    const char *epoch = getenv("SOURCE_DATE_EPOCH");
    time_t t = epoch != NULL && *epoch != '\0' ? (time_t)strtoll(epoch, NULL, 10) : time(NULL);
    struct tm tm;
    static const char *const months[] = {"January", "February", "March", "April", "May", "June",
                                         "July", "August", "September", "October", "November",
                                         "December"};
    gmtime_r(&t, &tm);
    snprintf(date, sizeof date, "%s %d, %d", months[tm.tm_mon], tm.tm_mday, tm.tm_year + 1900);
    int rc = write_page("pgpitr.1", main_page, NULL);
    rc |= write_page("pgpitr.conf.5", conf_page, NULL);
    rc |= write_page("pgpitr.conf.example", example, NULL);
    for (size_t i = 0; i < cmd_table_len; i++) {
        char name[128];
        snprintf(name, sizeof name, "pgpitr-%s.1", cmd_table[i]->name);
        rc |= write_page(name, cmd_man_command, cmd_table[i]);
    }
    return rc;
}
