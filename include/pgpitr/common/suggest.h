/*
 * suggest.h - "did you mean": the known name closest to a mistyped one (a configuration key,
 * a section, a command, an option), for the HINT of the error that refuses it.
 */
#ifndef PGPITR_SUGGEST_H
#define PGPITR_SUGGEST_H

#include <stddef.h>

/*
 * The entry of names[0..n) closest to word by edit distance (insertions, deletions,
 * substitutions and swaps of two neighbours, letters compared without case), or NULL when
 * none is close enough to be a typo of it: at most 1 edit for words under 4 characters, 2
 * under 8, 3 from 8 on. Ties go to the earlier entry. Words over 64 bytes get NULL. Pure.
 */
const char *pgp_suggest(const char *word, const char *const *names, size_t n);

/* The edit distance above (SIZE_MAX when either is over 64 bytes). */
size_t pgp_edit_distance(const char *a, const char *b);

#endif
