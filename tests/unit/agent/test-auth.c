/* test-auth.c - the pure rules of auth.c: the credentials file, HTTP Basic
 * parsing, constant-time comparison, read/write classification, the
 * decision for each kind of caller, and as whom a task may run. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "agent/auth.h"

static const char good_file[] = "{\"credentials\":[{\"principal\":\"ops\",\"secret\":\"s3cret\"},"
                                "{\"principal\":\"ci\",\"secret\":\"other:one\"}]}";

static void test_credentials_parse(void **state)
{
        struct auth_credentials c = {};
        struct errbuf e = {};
        (void)state;

        assert_int_equal(auth_credentials_parse(good_file, "f.json", &c, &e), 0);
        assert_int_equal(c.n, 2);
        assert_string_equal(c.v[0].principal, "ops");
        assert_string_equal(c.v[1].secret, "other:one");
        auth_credentials_done(&c);
        assert_null(c.v);
}

static void test_credentials_errors(void **state)
{
        static const struct {
                const char *text, *needle;
        } cases[] = {
            {"{", "invalid JSON"},
            {"[]", "expected {\"credentials\""},
            {"{\"credentials\":{}}", "expected {\"credentials\""},
            {"{\"credentials\":[]}", "no credentials"},
            {"{\"credentials\":[{\"secret\":\"x\"}]}", "credentials[0].principal"},
            {"{\"credentials\":[{\"principal\":\"a:b\",\"secret\":\"x\"}]}",
             "credentials[0].principal"},
            {"{\"credentials\":[{\"principal\":\"a\",\"secret\":\"\"}]}", "credentials[0].secret"},
            {"{\"credentials\":[{\"principal\":\"a\",\"secret\":\"x\"},"
             "{\"principal\":\"a\",\"secret\":\"y\"}]}",
             "principal 'a' given twice"},
        };
        (void)state;

        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                struct auth_credentials c = {};
                struct errbuf e = {};
                assert_int_equal(auth_credentials_parse(cases[i].text, "/etc/c.json", &c, &e),
                                 -EINVAL);
                assert_non_null(strstr(e.msg, "/etc/c.json: "));
                assert_non_null(strstr(e.msg, cases[i].needle));
                assert_null(strchr(e.msg, '\n'));
                assert_null(c.v);
        }
}

static void test_credentials_load_missing(void **state)
{
        struct auth_credentials c = {};
        struct errbuf e = {};
        (void)state;

        assert_int_equal(auth_credentials_load("/nonexistent/creds.json", &c, &e), -ENOENT);
        assert_non_null(strstr(e.msg, "/nonexistent/creds.json"));
}

static void test_basic_parse(void **state)
{
        char *p = NULL, *s = NULL;
        (void)state;

        /* "ops:s3cret" */
        assert_int_equal(auth_basic_parse("Basic b3BzOnMzY3JldA==", &p, &s), 0);
        assert_string_equal(p, "ops");
        assert_string_equal(s, "s3cret");
        free(p);
        free(s);
        /* Scheme is case-insensitive; the secret may hold ':' ("a:b:c"). */
        assert_int_equal(auth_basic_parse("basic   YTpiOmM=  ", &p, &s), 0);
        assert_string_equal(p, "a");
        assert_string_equal(s, "b:c");
        free(p);
        free(s);
        /* An empty secret parses (and matches nothing). "a:" */
        assert_int_equal(auth_basic_parse("Basic YTo=", &p, &s), 0);
        assert_string_equal(s, "");
        free(p);
        free(s);

        const char *bad[] = {
            NULL,
            "",
            "Basic",
            "Basic ",
            "Bearer b3BzOnMzY3JldA==",
            "Basicb3BzOnMzY3JldA==",
            "Basic bm9jb2xvbg==",      /* "nocolon" */
            "Basic !!!!",              /* not base64 */
            "Basic b3Bz OnMzY3JldA==", /* two tokens */
            "Basic YQBiOmM=",          /* "a\0b:c" */
        };
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
                assert_int_equal(auth_basic_parse(bad[i], &p, &s), -EINVAL);
}

static void test_secret_equal(void **state)
{
        (void)state;
        assert_true(auth_secret_equal("abc", "abc"));
        assert_true(auth_secret_equal("", ""));
        assert_false(auth_secret_equal("abd", "abc"));
        assert_false(auth_secret_equal("ab", "abc"));
        assert_false(auth_secret_equal("abcd", "abc"));
        assert_false(auth_secret_equal("", "abc"));
        assert_false(auth_secret_equal("abc", ""));
}

static void test_call_is_read(void **state)
{
        (void)state;
        const char *reads[] = {"GET_HEALTH", "GET_CONTAINERS", "WAIT_CONTAINER",
                               "WAIT_NESTED_CONTAINER", "GET_FLAGS"};
        const char *writes[] = {
            "LAUNCH_CONTAINER",      "LAUNCH_NESTED_CONTAINER", "KILL_CONTAINER",
            "KILL_NESTED_CONTAINER", "REMOVE_CONTAINER",        "REMOVE_NESTED_CONTAINER",
            "UPDATE_CONTAINER",      "SOMETHING_NEW",           ""};
        for (size_t i = 0; i < sizeof(reads) / sizeof(reads[0]); i++)
                assert_true(auth_call_is_read(reads[i]));
        for (size_t i = 0; i < sizeof(writes) / sizeof(writes[0]); i++)
                assert_false(auth_call_is_read(writes[i]));
        assert_false(auth_call_is_read(NULL));
}

static struct auth_credentials *creds(void)
{
        static struct auth_credentials c;
        if (!c.v)
                assert_int_equal(auth_credentials_parse(good_file, "f", &c, NULL), 0);
        return &c;
}

#define OPS "Basic b3BzOnMzY3JldA=="   /* ops:s3cret */
#define WRONG "Basic b3BzOnMzY3JldB==" /* ops:s3creu */

static void test_decide_tcp(void **state)
{
        struct auth_settings s = {.readwrite = true, .credentials = creds()};
        struct auth_peer tcp = {.kind = AUTH_PEER_TCP};
        struct auth_caller c;
        (void)state;

        /* No credentials: reads pass, writes 401. */
        auth_decide(&s, false, &tcp, NULL, &c);
        assert_int_equal(c.status, 0);
        assert_false(c.privileged);
        auth_decide(&s, true, &tcp, NULL, &c);
        assert_int_equal(c.status, 401);
        assert_non_null(strstr(c.message, "needs credentials"));
        /* Wrong ones: 401, for reads as well. */
        auth_decide(&s, true, &tcp, WRONG, &c);
        assert_int_equal(c.status, 401);
        auth_decide(&s, false, &tcp, WRONG, &c);
        assert_int_equal(c.status, 401);
        auth_decide(&s, true, &tcp, "Basic garbage", &c);
        assert_int_equal(c.status, 401);
        /* Right ones: an operator. */
        auth_decide(&s, true, &tcp, OPS, &c);
        assert_int_equal(c.status, 0);
        assert_true(c.privileged);
        assert_string_equal(c.principal, "ops");

        /* --authenticate_http_readonly: reads need them too. */
        s.readonly = true;
        auth_decide(&s, false, &tcp, NULL, &c);
        assert_int_equal(c.status, 401);

        /* --authenticate_http_readwrite=false: anyone writes, as nobody special. */
        s = (struct auth_settings){.credentials = creds()};
        auth_decide(&s, true, &tcp, NULL, &c);
        assert_int_equal(c.status, 0);
        assert_false(c.privileged);
}

static void test_decide_tcp_without_credentials_file(void **state)
{
        struct auth_settings s = {.readwrite = true};
        struct auth_peer tcp = {.kind = AUTH_PEER_TCP};
        struct auth_caller c;
        (void)state;

        auth_decide(&s, true, &tcp, NULL, &c);
        assert_int_equal(c.status, 403);
        assert_non_null(strstr(c.message, "read-only"));
        auth_decide(&s, true, &tcp, OPS, &c);
        assert_int_equal(c.status, 403);
        auth_decide(&s, false, &tcp, NULL, &c);
        assert_int_equal(c.status, 0);
}

static void test_decide_unix(void **state)
{
        struct auth_settings s = {.readwrite = true, .readonly = true};
        struct auth_peer root = {.kind = AUTH_PEER_UNIX, .uid = 0};
        struct auth_peer alice = {.kind = AUTH_PEER_UNIX, .uid = 1000};
        struct auth_caller c;
        (void)state;

        /* The socket needs no credentials, and ignores wrong ones. */
        auth_decide(&s, true, &root, WRONG, &c);
        assert_int_equal(c.status, 0);
        assert_true(c.privileged);
        auth_decide(&s, true, &alice, NULL, &c);
        assert_int_equal(c.status, 0);
        assert_false(c.privileged);
        assert_true(c.on_socket);
        assert_int_equal(c.uid, 1000);

        char who[128];
        auth_caller_describe(&c, who, sizeof(who));
        assert_string_equal(who, "uid 1000 on the unix socket");
}

static int fake_lookup(const char *name, uid_t *ret, struct errbuf *e)
{
        static const struct {
                const char *name;
                uid_t uid;
        } users[] = {{"root", 0}, {"toor", 0}, {"nobody", 65534}, {"alice", 1000}, {"bob", 1001}};
        for (size_t i = 0; i < sizeof(users) / sizeof(users[0]); i++)
                if (strcmp(users[i].name, name) == 0) {
                        *ret = users[i].uid;
                        return 0;
                }
        return errbuf_set(e, -ENOENT, "unknown user '%s'", name);
}

static void test_task_user(void **state)
{
        struct auth_user_policy p = {.switch_user = true,
                                     .default_user = "nobody",
                                     .agent_user = "root",
                                     .lookup = fake_lookup};
        struct auth_caller op = {.privileged = true}, anon = {};
        struct auth_caller root = {.privileged = true, .on_socket = true, .uid = 0};
        struct auth_caller alice = {.on_socket = true, .uid = 1000};
        struct errbuf e = {};
        const char *u;
        (void)state;

        assert_int_equal(auth_task_user(&p, &op, NULL, NULL, NULL, &u, &e), 0);
        assert_string_equal(u, "nobody");
        assert_int_equal(auth_task_user(&p, &anon, NULL, "alice", NULL, &u, &e), 0);
        assert_string_equal(u, "alice");
        assert_int_equal(auth_task_user(&p, &op, NULL, NULL, "bob", &u, &e), 0);
        assert_string_equal(u, "bob");

        /* Unknown users are named. */
        assert_int_equal(auth_task_user(&p, &op, NULL, "mallory", NULL, &u, &e), -ENOENT);
        assert_string_equal(e.msg, "unknown user 'mallory'");

        /* Root (by any name) needs the flag ... */
        assert_int_equal(auth_task_user(&p, &root, "root", "root", NULL, &u, &e), -EPERM);
        assert_non_null(strstr(e.msg, "--allow_root_containers"));
        assert_int_equal(auth_task_user(&p, &op, NULL, "toor", NULL, &u, &e), -EPERM);
        p.allow_root = true;
        assert_int_equal(auth_task_user(&p, &root, "root", "root", NULL, &u, &e), 0);
        assert_int_equal(auth_task_user(&p, &op, NULL, "toor", NULL, &u, &e), 0);
        /* ... and a privileged caller. */
        assert_int_equal(auth_task_user(&p, &anon, NULL, "root", NULL, &u, &e), -EPERM);
        assert_non_null(strstr(e.msg, "authenticated principal"));

        /* A socket caller runs tasks as itself only. */
        assert_int_equal(auth_task_user(&p, &alice, "alice", NULL, NULL, &u, &e), 0);
        assert_string_equal(u, "alice");
        assert_int_equal(auth_task_user(&p, &alice, "alice", "alice", NULL, &u, &e), 0);
        assert_int_equal(auth_task_user(&p, &alice, "alice", "bob", NULL, &u, &e), -EPERM);
        assert_non_null(strstr(e.msg, "only as itself"));
        assert_int_equal(auth_task_user(&p, &alice, "alice", NULL, "bob", &u, &e), -EPERM);
        assert_int_equal(auth_task_user(&p, &alice, "alice", "root", NULL, &u, &e), -EPERM);
        assert_int_equal(auth_task_user(&p, &alice, NULL, NULL, NULL, &u, &e), -EPERM);

        /* --switch_user=false: the agent's user, under the same root rule. */
        p.switch_user = false;
        assert_int_equal(auth_task_user(&p, &op, NULL, "alice", NULL, &u, &e), 0);
        assert_string_equal(u, "root");
        assert_int_equal(auth_task_user(&p, &anon, NULL, NULL, NULL, &u, &e), -EPERM);
        assert_int_equal(auth_task_user(&p, &alice, "alice", NULL, NULL, &u, &e), -EPERM);
        p.allow_root = false;
        assert_int_equal(auth_task_user(&p, &op, NULL, NULL, NULL, &u, &e), -EPERM);
}

static void test_may_manage(void **state)
{
        struct auth_caller op = {.privileged = true}, anon = {};
        struct auth_caller alice = {.on_socket = true, .uid = 1000};
        (void)state;

        assert_true(auth_may_manage(&op, NULL, "bob"));
        assert_true(auth_may_manage(&anon, NULL, "bob"));
        assert_true(auth_may_manage(&alice, "alice", "alice"));
        assert_false(auth_may_manage(&alice, "alice", "bob"));
        assert_false(auth_may_manage(&alice, "alice", NULL)); /* root, from an old checkpoint */
        assert_false(auth_may_manage(&alice, NULL, "alice"));
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_credentials_parse),
            cmocka_unit_test(test_credentials_errors),
            cmocka_unit_test(test_credentials_load_missing),
            cmocka_unit_test(test_basic_parse),
            cmocka_unit_test(test_secret_equal),
            cmocka_unit_test(test_call_is_read),
            cmocka_unit_test(test_decide_tcp),
            cmocka_unit_test(test_decide_tcp_without_credentials_file),
            cmocka_unit_test(test_decide_unix),
            cmocka_unit_test(test_task_user),
            cmocka_unit_test(test_may_manage),
        };
        int r = cmocka_run_group_tests(tests, NULL, NULL);
        auth_credentials_done(creds());
        return r;
}
