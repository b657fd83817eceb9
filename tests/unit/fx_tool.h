/*
 * fx_tool.h - whether the unit tests run natively or under a memory tool (ASan or valgrind),
 * for the few tests whose size or measurement depends on it: there peak RSS means nothing
 * (shadow memory, quarantine, red zones) and big inputs cost minutes without checking more.
 */
#ifndef PGPITR_FX_TOOL_H
#define PGPITR_FX_TOOL_H

#include <stdbool.h>

/* True under AddressSanitizer (this build) or valgrind (this run). */
bool fx_under_memory_tool(void);

#endif
