/* Replay driver: runs a libFuzzer target's LLVMFuzzerTestOneInput over files without
 * libFuzzer, so the corpora and regression inputs replay under gcc's ASan/UBSan in the
 * normal test suite (tests/fuzz/test_fuzz_replay.py). Arguments are files or folders
 * (their regular files, one level, in name order). Each input is handed over in a heap
 * buffer of exactly its size, as libFuzzer does. Exit status 0 when every input ran; a
 * finding aborts (sanitizer report or abort()) with the input's name printed first. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static long ran;

static void run_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    long len;
    uint8_t *buf;
    if (!f) {
        fprintf(stderr, "replay: cannot open %s\n", path);
        exit(2);
    }
    fseek(f, 0, SEEK_END);
    len = ftell(f);
    fseek(f, 0, SEEK_SET);
    buf = malloc(len ? (size_t)len : 1);
    if (!buf || (len && fread(buf, 1, (size_t)len, f) != (size_t)len)) {
        fprintf(stderr, "replay: cannot read %s\n", path);
        exit(2);
    }
    fclose(f);
    fprintf(stderr, "replay: %s (%ld bytes)\n", path, len);
    LLVMFuzzerTestOneInput(buf, (size_t)len);
    free(buf);
    ran++;
}

static int cmp(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

int main(int argc, char **argv)
{
    int i;
    for (i = 1; i < argc; i++) {
        struct stat st;
        if (stat(argv[i], &st)) {
            fprintf(stderr, "replay: no such file or folder: %s\n", argv[i]);
            return 2;
        }
        if (S_ISDIR(st.st_mode)) {
            DIR *d = opendir(argv[i]);
            struct dirent *de;
            char **names = NULL;
            size_t nn = 0, k;
            while (d && (de = readdir(d))) {
                char *full;
                struct stat fs;
                if (de->d_name[0] == '.') continue;
                full = malloc(strlen(argv[i]) + strlen(de->d_name) + 2);
                sprintf(full, "%s/%s", argv[i], de->d_name);
                if (stat(full, &fs) || !S_ISREG(fs.st_mode)) {
                    free(full);
                    continue;
                }
                names = realloc(names, (nn + 1) * sizeof *names);
                names[nn++] = full;
            }
            if (d) closedir(d);
            qsort(names, nn, sizeof *names, cmp);
            for (k = 0; k < nn; k++) {
                run_file(names[k]);
                free(names[k]);
            }
            free(names);
        } else
            run_file(argv[i]);
    }
    printf("replay: %ld inputs, no finding\n", ran);
    return 0;
}
