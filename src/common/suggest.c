/*
 * suggest.c - "did you mean" (suggest.h): optimal string alignment distance, a Levenshtein
 * distance that also counts a swap of two neighbouring letters ("retian") as one edit, which
 * is the most common typo. Names are short: a 65 x 65 table on the stack.
 */
#include "pgpitr/common/suggest.h"

#include <ctype.h>
#include <stdint.h>
#include <string.h>

#define SUGGEST_MAX 64

static size_t min3(size_t a, size_t b, size_t c)
{
    size_t m = a < b ? a : b;
    return m < c ? m : c;
}

static int same(char x, char y)
{
    return tolower((unsigned char)x) == tolower((unsigned char)y);
}

size_t pgp_edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > SUGGEST_MAX || lb > SUGGEST_MAX)
        return SIZE_MAX;
    size_t d[SUGGEST_MAX + 1][SUGGEST_MAX + 1];
    for (size_t i = 0; i <= la; i++)
        d[i][0] = i;
    for (size_t j = 0; j <= lb; j++)
        d[0][j] = j;
    for (size_t i = 1; i <= la; i++)
        for (size_t j = 1; j <= lb; j++) {
            size_t cost = same(a[i - 1], b[j - 1]) ? 0 : 1;
            d[i][j] = min3(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost);
            if (i > 1 && j > 1 && same(a[i - 1], b[j - 2]) && same(a[i - 2], b[j - 1]) &&
                d[i - 2][j - 2] + 1 < d[i][j])
                d[i][j] = d[i - 2][j - 2] + 1;
        }
    return d[la][lb];
}

const char *pgp_suggest(const char *word, const char *const *names, size_t n)
{
    size_t len = strlen(word);
    /* beyond this, a "typo" is another word: "repository" is not a typo of "repo" */
    size_t limit = len < 4 ? 1 : len < 8 ? 2 : 3;
    const char *best = NULL;
    size_t best_d = SIZE_MAX;
    for (size_t i = 0; i < n; i++) {
        size_t dist = pgp_edit_distance(word, names[i]);
        if (dist <= limit && dist < best_d) {
            best = names[i];
            best_d = dist;
        }
    }
    return best;
}
