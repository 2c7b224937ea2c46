/* credentials.c - see credentials.h. Base64 from glibc's b64_ntop. */
#include <resolv.h>
#undef MIN
#undef MAX
#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "basic/fileio.h"
#include "cli/credentials.h"

static const char *opt_principal, *opt_secret;

bool credentials_global_option(const char *arg)
{
        if (strncmp(arg, "--principal=", 12) == 0) {
                opt_principal = arg + 12;
                return true;
        }
        if (strncmp(arg, "--secret=", 9) == 0) {
                opt_secret = arg + 9;
                return true;
        }
        return false;
}

static int basic_header(const char *principal, const char *secret, char **ret)
{
        size_t n = strlen(principal) + 1 + strlen(secret);
        _cleanup_free_ char *pair = malloc(n + 1);
        size_t cap = (n + 2) / 3 * 4 + 1;
        char *out = malloc(strlen("Basic ") + cap);

        if (!pair || !out) {
                free(out);
                return -ENOMEM;
        }
        snprintf(pair, n + 1, "%s:%s", principal, secret);
        strcpy(out, "Basic ");
        int r = b64_ntop((const unsigned char *)pair, n, out + strlen("Basic "), cap);
        explicit_bzero(pair, n);
        if (r < 0) {
                free(out);
                return -EINVAL;
        }
        *ret = out;
        return 0;
}

static int from_file(const char *path, char **ret, struct errbuf *e)
{
        _cleanup_free_ char *text = NULL;
        json_error_t je;
        int r;

        r = read_full_file(path, &text, NULL);
        if (r < 0)
                return errbuf_set(e, r, "PORTISO_CREDENTIALS: %s: %s", path, strerror(-r));
        json_t *j = json_loads(text, 0, &je);
        explicit_bzero(text, strlen(text));
        const json_t *list = json_object_get(j, "credentials");
        r = errbuf_set(e, -EINVAL,
                       "PORTISO_CREDENTIALS: %s: expected {\"credentials\": [{\"principal\": ..., "
                       "\"secret\": ...}]}",
                       path);
        for (size_t i = 0; json_is_array(list) && i < json_array_size(list); i++) {
                const json_t *x = json_array_get(list, i);
                const char *p = json_string_value(json_object_get(x, "principal"));
                const char *s = json_string_value(json_object_get(x, "secret"));
                if (!p || !s || (opt_principal && strcmp(p, opt_principal) != 0))
                        continue;
                r = basic_header(p, s, ret);
                break;
        }
        if (r == -EINVAL && opt_principal && json_is_array(list))
                r = errbuf_set(e, -EINVAL, "PORTISO_CREDENTIALS: %s: no principal '%s'", path,
                               opt_principal);
        json_decref(j);
        return r;
}

int credentials_authorization(char **ret, struct errbuf *e)
{
        const char *file = getenv("PORTISO_CREDENTIALS");

        *ret = NULL;
        if (opt_secret) {
                if (!opt_principal)
                        return errbuf_set(e, -EINVAL, "--secret needs --principal");
                return basic_header(opt_principal, opt_secret, ret);
        }
        if (file && *file)
                return from_file(file, ret, e);
        if (opt_principal)
                return errbuf_set(e, -EINVAL,
                                  "--principal needs --secret or a PORTISO_CREDENTIALS file");
        return 0;
}
