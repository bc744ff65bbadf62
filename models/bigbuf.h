/* Large work buffers (activations, KV caches, completion stores) backed by transparent huge pages
 * where the kernel offers them on request. A first touch of a fresh 4 KB page is a page fault; a
 * training step's activations are hundreds of MB, re-grown whenever a batch needs more, and on a
 * virtual machine each fault traps to the hypervisor. Measured on a 2-core KVM guest
 * (models/README.md, "Memory"): 300 default steps took 513k faults and 19% of their time in the
 * kernel. One 2 MB page per fault instead of one 4 KB page removes nearly all of it. Contents and
 * results are unchanged: this only changes how the memory is mapped. */
#ifndef SCALERL_BIGBUF_H
#define SCALERL_BIGBUF_H

#include <stddef.h>

/* `bytes` of uninitialized memory, 64-byte aligned (2 MB aligned and advised for huge pages when
 * at least 2 MB), or NULL when out of memory. Free with free(). */
void *bigbuf_alloc(size_t bytes);

#endif
