#include <stdio.h>

int report_value(const char *label, long value)
{
    return printf("%s = %ld\n", label, value);
}
