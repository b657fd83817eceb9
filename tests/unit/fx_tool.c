/*
 * fx_tool.c - native or under a memory tool (fx_tool.h).
 */
#include "fx_tool.h"

#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

static bool under_valgrind(void)
{
    const char *preload = getenv("LD_PRELOAD");
    return preload != NULL && strstr(preload, "vgpreload") != NULL;
}

bool fx_under_memory_tool(void)
{
#if defined(__SANITIZE_ADDRESS__)
    return true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
    return true;
#endif
#endif
    return under_valgrind();
}

size_t fx_cut_step(size_t under_tool)
{
    return fx_under_memory_tool() ? under_tool : 1;
}

long fx_peak_rss_kib(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;
}
