/* Per-thread scratch buffers, kept from one kernel call to the next. A chunk's kernels
 * need a few hundred KiB of tables and temporaries; fresh allocations of that size come
 * from the kernel as untouched pages, and their page faults cost the encoder about a
 * third of its time (measured on 256 Ki-value chunks). A thread keeps one buffer per
 * slot, grown as needed and freed when the thread exits; requests above
 * ZW_SCRATCH_CACHE_MAX are plain allocations, so one huge chunk does not pin its
 * memory for the life of the thread. */
#include <stdlib.h>

#include "zw.h"

#define ZW_SCRATCH_CACHE_MAX ((size_t)16 << 20)

typedef struct {
    void *p[ZW_NSCRATCH];
    size_t cap[ZW_NSCRATCH];
} scratch_t;

#if defined(_WIN32)
/* no thread-exit hook here: nothing is cached */
static scratch_t *mine(void) { return NULL; }
#else
#include <pthread.h>

static pthread_key_t key;
static pthread_once_t once = PTHREAD_ONCE_INIT;
static int key_ok;

static void release(void *v)
{
    scratch_t *s = v;
    int i;
    for (i = 0; i < ZW_NSCRATCH; i++) free(s->p[i]);
    free(s);
}

static void make_key(void) { key_ok = pthread_key_create(&key, release) == 0; }

static scratch_t *mine(void)
{
    scratch_t *s;
    pthread_once(&once, make_key);
    if (!key_ok) return NULL;
    s = pthread_getspecific(key);
    if (!s) {
        s = calloc(1, sizeof *s);
        if (s && pthread_setspecific(key, s)) {
            free(s);
            s = NULL;
        }
    }
    return s;
}
#endif

void *zw_scratch(int slot, size_t size)
{
    scratch_t *s = size <= ZW_SCRATCH_CACHE_MAX ? mine() : NULL;
    if (!size) size = 1;
    if (!s) return malloc(size);
    if (s->cap[slot] < size) {
        free(s->p[slot]);
        s->p[slot] = malloc(size);
        s->cap[slot] = s->p[slot] ? size : 0;
    }
    return s->p[slot];
}

void zw_scratch_done(int slot, void *p)
{
#if !defined(_WIN32)
    scratch_t *s = key_ok ? pthread_getspecific(key) : NULL;
    if (s && p == s->p[slot]) return; /* the thread's own buffer: kept */
#endif
    free(p);
}
