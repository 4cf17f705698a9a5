/* Fuzzing replacement of csrc/scratch.c: every zw_scratch is a fresh allocation of exactly
 * the requested size and zw_scratch_done frees it. The real scratch keeps one buffer per
 * thread and slot, grown as needed, so a write past the requested size but inside an
 * earlier, larger request would go unseen by ASan; here it is a heap-buffer-overflow.
 * Same interface, same results: only the memory reuse differs. */
#include <stdlib.h>

#include "zw.h"

void *zw_scratch(int slot, size_t size)
{
    (void)slot;
    return malloc(size ? size : 1);
}

void zw_scratch_done(int slot, void *p)
{
    (void)slot;
    free(p);
}
