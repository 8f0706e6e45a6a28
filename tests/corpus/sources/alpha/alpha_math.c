/* Test library "alpha": a hot/cold split function, a constant-propagated clone and a cross-object call. */
#include <stdio.h>
#include <stdlib.h>

extern int report_value(const char *label, long value);

__attribute__((cold, noinline)) void log_bad_value(long value)
{
    fprintf(stderr, "bad value %ld\n", value);
}

long sum_checked(const long *values, int count)
{
    long total = 0;
    for (int i = 0; i < count; i++) {
        if (__builtin_expect(values[i] < 0, 0)) {
            /* A "}" in a comment and "{" in a string must not confuse the brace matcher. */
            log_bad_value(values[i]);
            fprintf(stderr, "stopping at index %d of %d {\n", i, count);
            abort();
        }
        total += values[i];
    }
    return total;
}

static __attribute__((noinline)) long scale_by(const long *values, int count, long factor)
{
    long total = 0;
    for (int i = 0; i < count; i++)
        total += values[i] * factor;
    return total;
}

long scale_twice(const long *values, int count)
{
    return scale_by(values, count, 3) + scale_by(values + 1, count - 1, 3);
}

long scale_and_report(const long *values, int count)
{
    long scaled = scale_by(values, count, 3) - 1;
    report_value("scaled", scaled);
    return scaled;
}

int identity_alpha(int value)
{
    return value;
}
