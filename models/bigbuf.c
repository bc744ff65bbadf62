/* See bigbuf.h. */
#include "models/bigbuf.h"

#include <stdlib.h>
#include <sys/mman.h>

enum { HUGE_PAGE = 2 << 20, LINE = 64 };

void *bigbuf_alloc(size_t bytes)
{
    if (bytes < HUGE_PAGE) return aligned_alloc(LINE, (bytes + LINE - 1) / LINE * LINE);
    const size_t size = (bytes + HUGE_PAGE - 1) / HUGE_PAGE * HUGE_PAGE;
    void *p = aligned_alloc(HUGE_PAGE, size);
    if (!p) return NULL;
#ifdef MADV_HUGEPAGE
    /* Advice only: it fails where the kernel has no transparent huge pages (EINVAL) or they are
     * disabled, and the buffer then works as before with small pages, so the result is ignored. */
    (void)madvise(p, size, MADV_HUGEPAGE);
#endif
    return p;
}
