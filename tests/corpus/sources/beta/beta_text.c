/* Test library "beta": plain string helpers, plus a function whose assembly equals one in alpha. */
#include <string.h>

int count_words(const char *text)
{
    int words = 0;
    int inside = 0;
    for (; *text; text++) {
        if (*text == ' ' || *text == '\n') {
            inside = 0;
        } else if (!inside) {
            inside = 1;
            words++;
        }
    }
    return words;
}

void reverse_string(char *text)
{
    size_t length = strlen(text);
    for (size_t i = 0; i < length / 2; i++) {
        char swap = text[i];
        text[i] = text[length - 1 - i];
        text[length - 1 - i] = swap;
    }
}

int identity_beta(int value)
{
    return value;
}
