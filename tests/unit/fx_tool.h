/*
 * fx_tool.h - whether the unit tests run natively or under a memory tool (ASan or valgrind),
 * for the few tests whose size or measurement depends on it: there peak RSS means nothing
 * (shadow memory, quarantine, red zones) and big inputs cost minutes without checking more;
 * and the peak RSS the memory tests measure.
 */
#ifndef PGPITR_FX_TOOL_H
#define PGPITR_FX_TOOL_H

#include <stdbool.h>
#include <stddef.h>

/* True under AddressSanitizer (this build) or valgrind (this run). */
bool fx_under_memory_tool(void);

/* The step of a loop that tries every cut point (every prefix, every window size): 1 natively,
 * under_tool under a memory tool, where each try costs ~50x and a prime stride still cuts
 * inside every kind of token. */
size_t fx_cut_step(size_t under_tool);

/* This process's peak resident set size so far, KiB (getrusage). */
long fx_peak_rss_kib(void);

#endif
