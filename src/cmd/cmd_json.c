/*
 * cmd_json.c - JSON pieces the commands' documents share (info, verify, expire, drill
 * reports): the document as text with its final newline, and times and LSNs as values, so
 * every document writes them the same way. Owns no document.
 */
#include "pgpitr/cmd.h"

#include <stdlib.h>
#include <string.h>

#include "pgpitr/catalog.h"
#include "pgpitr/walname.h"

char *cmd_json_text(const json_t *j, size_t flags)
{
    char *text = j != NULL ? json_dumps(j, flags) : NULL;
    if (text == NULL)
        return NULL;
    size_t n = strlen(text);
    char *t = realloc(text, n + 2);
    if (t == NULL) {
        free(text);
        return NULL;
    }
    t[n] = '\n';
    t[n + 1] = '\0';
    return t;
}

json_t *cmd_json_time(int64_t t)
{
    char s[32];
    catalog_format_time(t, s);
    return strcmp(s, "-") == 0 ? json_null() : json_string(s);
}

json_t *cmd_json_lsn(uint64_t lsn)
{
    char s[20];
    pg_lsn_format(lsn, s);
    return json_string(s);
}
