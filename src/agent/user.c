/* user.c - task users; see user.h.
 *
 * The reentrant NSS calls take caller buffers whose needed size is only
 * known by trying: start at sysconf()'s hint and double on ERANGE, up to a
 * cap that no sane passwd line reaches. */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/user.h"

#define PW_BUF_MAX (1024 * 1024)

/* getpwnam_r or getpwuid_r (name NULL) into *pw with a malloc'd *ret_buf. */
static int passwd_get(const char *name, uid_t uid, struct passwd *pw, char **ret_buf)
{
        long hint = sysconf(_SC_GETPW_R_SIZE_MAX);
        size_t size = hint > 0 ? (size_t)hint : 1024;

        for (;;) {
                _cleanup_free_ char *buf = malloc(size);
                struct passwd *found = NULL;
                int r;

                if (!buf)
                        return -ENOMEM;
                r = name ? getpwnam_r(name, pw, buf, size, &found)
                         : getpwuid_r(uid, pw, buf, size, &found);
                if (r == ERANGE && size < PW_BUF_MAX) {
                        size *= 2;
                        continue;
                }
                if (r != 0)
                        return -r;
                if (!found)
                        return -ENOENT;
                *ret_buf = TAKE_PTR(buf);
                return 0;
        }
}

int user_lookup(const char *name, uid_t *ret_uid, gid_t *ret_gid, struct errbuf *e)
{
        _cleanup_free_ char *buf = NULL;
        struct passwd pw;
        int r;

        if (!name || !*name)
                return errbuf_set(e, -ENOENT, "unknown user ''");
        r = passwd_get(name, 0, &pw, &buf);
        if (r == -ENOENT)
                return errbuf_set(e, r, "unknown user '%s'", name);
        if (r < 0)
                return errbuf_set(e, r, "cannot look up user '%s': %s", name, strerror(-r));
        if (ret_uid)
                *ret_uid = pw.pw_uid;
        if (ret_gid)
                *ret_gid = pw.pw_gid;
        return 0;
}

int user_name_of_uid(uid_t uid, char **ret)
{
        _cleanup_free_ char *buf = NULL;
        struct passwd pw;
        int r;

        r = passwd_get(NULL, uid, &pw, &buf);
        if (r < 0)
                return r;
        char *s = strdup(pw.pw_name);
        if (!s)
                return -ENOMEM;
        *ret = s;
        return 0;
}

int task_user_resolve(const char *name, struct task_user *ret, struct errbuf *e)
{
        struct task_user u = {};
        int r, n = 16;

        r = user_lookup(name, &u.uid, &u.gid, e);
        if (r < 0)
                return r;
        u.name = strdup(name);
        if (!u.name)
                return -ENOMEM;
        for (;;) {
                gid_t *g = realloc(u.groups, (size_t)n * sizeof(gid_t));
                if (!g) {
                        task_user_done(&u);
                        return -ENOMEM;
                }
                u.groups = g;
                int want = n;
                if (getgrouplist(name, u.gid, u.groups, &want) >= 0) {
                        u.n_groups = (size_t)want;
                        break;
                }
                if (want <= n || want > 65536) {
                        task_user_done(&u);
                        return errbuf_set(e, -EIO, "cannot list the groups of user '%s'", name);
                }
                n = want;
        }
        *ret = u;
        return 0;
}

void task_user_done(struct task_user *u)
{
        free(u->name);
        free(u->groups);
        *u = (struct task_user){};
}

int task_user_become(const struct task_user *u)
{
        /* An unprivileged agent (tests, --switch_user=false) can only stay itself. */
        if (geteuid() != 0 && u->uid == geteuid() && u->gid == getegid())
                return 0;
        if (setgroups(u->n_groups, u->groups) < 0)
                return negative_errno();
        if (setresgid(u->gid, u->gid, u->gid) < 0)
                return negative_errno();
        if (setresuid(u->uid, u->uid, u->uid) < 0)
                return negative_errno();
        /* A dropped root must stay dropped. */
        if (u->uid != 0 && (setuid(0) == 0 || seteuid(0) == 0))
                return -EPERM;
        return 0;
}
