/* check_spool DIR STATUS...: every STATUS appears in the trailer of some trace in DIR. */
#include <dirent.h>
#include <stdio.h>
#include <string.h>

static int trailer_has(const char *path, const char *status) {
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    static char buf[65536];
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    long start = size > (long)sizeof buf ? size - (long)sizeof buf : 0;
    fseek(f, start, SEEK_SET);
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    if (n < 8 || memcmp(buf + n - 8, "\x89OTREND\n", 8)) return 0;
    char needle[64];
    int k = snprintf(needle, sizeof needle, "\xa6status%c%s", (char)(0xa0 | strlen(status)), status);
    for (size_t i = 0; i + (size_t)k <= n; i++)
        if (!memcmp(buf + i, needle, (size_t)k)) return 1;
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 3) return 2;
    for (int s = 2; s < argc; s++) {
        DIR *d = opendir(argv[1]);
        if (!d) { printf("no spool %s\n", argv[1]); return 1; }
        int found = 0;
        struct dirent *e;
        while ((e = readdir(d)))
            if (strstr(e->d_name, ".otrace") && e->d_name[0] != '.') {
                char path[4096];
                snprintf(path, sizeof path, "%s/%s", argv[1], e->d_name);
                found |= trailer_has(path, argv[s]);
            }
        closedir(d);
        if (!found) { printf("no trace with status %s\n", argv[s]); return 1; }
    }
    printf("ok\n");
    return 0;
}
