/* A target that misbehaves on purpose, on marker inputs, so the replay test can prove
 * that its driver and sanitizer flags turn each kind of finding into a failure:
 *   "abort"     abort()                       (what ZWF_CHECK does)
 *   "overflow"  a heap read one past the end  (ASan)
 *   "ubsan"     a signed integer overflow     (UBSan, -fno-sanitize-recover)
 *   "leak"      an allocation never freed     (LSan)
 * Any other input returns normally. Not a fuzzing target: build.sh builds fuzz_*.c. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static volatile int sink;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 5 && !memcmp(data, "abort", 5)) abort();
    if (size == 8 && !memcmp(data, "overflow", 8)) {
        char *p = malloc(8);
        memcpy(p, data, 8);
        sink = p[8 + (sink & 0)];
        free(p);
    }
    if (size == 5 && !memcmp(data, "ubsan", 5)) {
        volatile int big = 0x7fffffff;
        sink = big + (int)size;
    }
    if (size == 4 && !memcmp(data, "leak", 4)) {
        char *p = malloc(64);
        memcpy(p, data, 4);
        sink = p[0];
        p = NULL;
    }
    return 0;
}
