/*
 * cmd_man.h - the manual pages, written in mdoc from the same tables as --help: the command
 * table (cmd_table.c: name, summary, usage text, exit statuses) and the option table
 * (cmd_options.c: every flag and setting with its argument, default, environment variable and
 * configuration key). man/mangen.c writes them at build time (`make man`); nothing here is
 * linked into pgpitr itself. test_man.c fails when a row of the tables is missing from a page.
 *
 * Pages: pgpitr(1) (global options, the commands, environment, files, exit statuses),
 * pgpitr-COMMAND(1) per command (its usage, description, options, exit statuses),
 * pgpitr.conf(5) (every configuration key) and the example configuration file.
 */
#ifndef PGPITR_CMD_MAN_H
#define PGPITR_CMD_MAN_H

#include <stdio.h>

#include "pgpitr/cmd/cmd.h"

/* date: the pages' date as mdoc's .Dd wants it, "December 4, 2026". */
void cmd_man_main(FILE *out, const char *date);
void cmd_man_command(FILE *out, const CmdDef *cmd, const char *date);
void cmd_man_config(FILE *out, const char *date);
/* pgpitr.conf.example: every configuration key, commented out, with its help and default;
 * only repo set, to the directory the systemd units expect. */
void cmd_man_example(FILE *out);

#endif
