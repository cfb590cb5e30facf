/* A traced program linked against liborion; with TRACED_FAIL it fails like a test does. */
#include <stdio.h>
#include "orion.h"

static int square(int x) { return x * x; }
static int sum_squares(int n) {
    ORION_TRACE_NAMED("sum_squares loop");
    int total = 0;
    for (int i = 1; i <= n; i++) total += square(i);
    return total;
}

int main(void) {
    int got = sum_squares(4);
#ifdef TRACED_FAIL
    int want = 31; /* wrong on purpose: the test fails */
#else
    int want = 30;
#endif
    if (got != want) {
        fprintf(stderr, "expected %d, got %d\n", want, got);
        return 1;
    }
    return 0;
}
