/*
 * info_text_impl.h - shared by the text renderer of `pgpitr info` (info_text.c,
 * info_text_archive.c) and its helpers (info_format.c). Internal to src/cmd.
 */
#ifndef PGPITR_INFO_TEXT_IMPL_H
#define PGPITR_INFO_TEXT_IMPL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "pgpitr/cmd/info.h"
#include "pgpitr/pg/walname.h"

/* printf into one line, wrapped by info_print_wrapped at INFO_WIDTH with `indent`. */
void info_line(FILE *out, size_t indent, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* The name of segment segno of timeline tli, in the repository's segment size. */
void info_segname(const Info *info, uint32_t tli, uint64_t segno,
                  char out[PG_WALNAME_SEG_LEN + 1]);

/* The sections of info_text_archive.c. */
void info_print_archive(const Info *info, FILE *out);
void info_print_windows(const Info *info, FILE *out);

#endif
