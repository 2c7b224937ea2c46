/* strv.h - NULL-terminated arrays of malloc'd strings (argv, envp shapes).
 *
 * Header-only: the one operation every owner of such an array needs, so
 * each file that holds one does not carry its own copy. */
#pragma once

#include <stdlib.h>

/* Free every string of a NULL-terminated array, then the array; NULL is fine. */
static inline void strv_free(char **v)
{
        for (char **s = v; s && *s; s++)
                free(*s);
        free(v);
}
