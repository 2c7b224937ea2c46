/* test-api-proto.c - the JSON <-> protobuf bridge of the agent API: string
 * numbers and booleans coerced as protobuf's JSON parser does, wrong types
 * refused with the field's path, unknown call fields left alone, a protobuf
 * call unpacked to the same JSON, and answers refused when they carry a
 * field the Response message lacks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "agent/api-proto.h"

static json_t *parse(const char *s)
{
        json_error_t err;
        json_t *j = json_loads(s, 0, &err);
        assert_non_null(j);
        return j;
}

static void assert_json_equal(json_t *a, const char *b)
{
        json_t *jb = parse(b);
        if (!json_equal(a, jb)) {
                char *s = json_dumps(a, JSON_SORT_KEYS);
                fail_msg("got %s, expected %s", s, b);
        }
        json_decref(jb);
}

static void test_strings_coerced(void **state)
{
        (void)state;
        struct errbuf e = {};
        json_t *call = parse("{\"type\":\"KILL_CONTAINER\",\"kill_container\":{\"container_id\":"
                             "{\"value\":\"a\"},\"signal\":\"15\"},\"extra\":{\"x\":1}}");
        assert_int_equal(api_proto_call_normalize(call, &e), 0);
        assert_json_equal(call, "{\"type\":\"KILL_CONTAINER\",\"kill_container\":{\"container_id\":"
                                "{\"value\":\"a\"},\"signal\":15},\"extra\":{\"x\":1}}");
        json_decref(call);

        call = parse(
            "{\"type\":22,\"launch_container\":{\"container_id\":{\"value\":\"a\"},"
            "\"command\":{\"shell\":\"false\",\"value\":\"x\"},\"resources\":[{\"name\":"
            "\"cpus\",\"type\":\"SCALAR\",\"scalar\":{\"value\":\"0.5\"}},{\"name\":"
            "\"ports\",\"type\":1,\"ranges\":{\"range\":[{\"begin\":\"80\",\"end\":81.0}]}}]}}");
        assert_int_equal(api_proto_call_normalize(call, &e), 0);
        assert_json_equal(call, "{\"type\":\"LAUNCH_CONTAINER\",\"launch_container\":{"
                                "\"container_id\":{\"value\":\"a\"},\"command\":{\"shell\":false,"
                                "\"value\":\"x\"},\"resources\":[{\"name\":\"cpus\",\"type\":"
                                "\"SCALAR\",\"scalar\":{\"value\":0.5}},{\"name\":\"ports\","
                                "\"type\":\"RANGES\",\"ranges\":{\"range\":[{\"begin\":80,"
                                "\"end\":81}]}}]}}");
        json_decref(call);
}

static void test_wrong_types_refused(void **state)
{
        (void)state;
        static const struct {
                const char *call, *msg;
        } cases[] = {
            {"{\"type\":\"KILL_CONTAINER\",\"kill_container\":{\"signal\":\"x\"}}",
             "'kill_container.signal': expected an integer"},
            {"{\"type\":\"KILL_CONTAINER\",\"kill_container\":{\"signal\":1.5}}",
             "'kill_container.signal': expected an integer"},
            {"{\"type\":\"KILL_CONTAINER\",\"kill_container\":{\"signal\":\"nan\"}}",
             "'kill_container.signal': expected an integer"},
            {"{\"type\":\"KILL_CONTAINER\",\"kill_container\":{\"signal\":4294967296}}",
             "'kill_container.signal': number out of range"},
            {"{\"type\":\"NO_SUCH\"}", "'type': unknown mesos.v1.agent.Call.Type value"},
            {"{\"type\":\"LAUNCH_CONTAINER\",\"launch_container\":{\"command\":{\"shell\":1}}}",
             "'launch_container.command.shell': expected a boolean"},
            {"{\"type\":\"LAUNCH_CONTAINER\",\"launch_container\":{\"resources\":{}}}",
             "'launch_container.resources': expected an array"},
            {"{\"type\":\"LAUNCH_CONTAINER\",\"launch_container\":{\"container_id\":{\"value\":7}}"
             "}",
             "'launch_container.container_id.value': expected a string"},
        };
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                struct errbuf e = {};
                json_t *call = parse(cases[i].call);
                assert_int_equal(api_proto_call_normalize(call, &e), -EINVAL);
                assert_string_equal(e.msg, cases[i].msg);
                json_decref(call);
        }
}

static void test_protobuf_round_trip(void **state)
{
        (void)state;
        struct errbuf e = {};
        uint8_t *buf = NULL;
        size_t len = 0;
        json_t *out = NULL;
        /* A Response packs; the same bytes unpack as a Call only where the
         * numbers agree, so pack a Call-shaped Response field by field. */
        json_t *resp = parse("{\"type\":\"WAIT_CONTAINER\",\"wait_container\":{\"exit_status\":9,"
                             "\"state\":\"TASK_FAILED\",\"reason\":\"REASON_CONTAINER_LIMITATION\","
                             "\"limitation\":{\"resources\":[{\"name\":\"ports\",\"type\":"
                             "\"RANGES\",\"ranges\":{\"range\":[{\"begin\":5,\"end\":6}]}}]},"
                             "\"message\":\"m\"}}");
        assert_int_equal(api_proto_response_pack(resp, &buf, &len, &e), 0);
        assert_true(len > 10);
        free(buf);
        assert_int_equal(api_proto_response_json(json_incref(resp), &out, &e), 0);
        assert_true(json_equal(resp, out));
        json_decref(out);
        json_decref(resp);

        /* A Call's bytes: type 24 (KILL_CONTAINER), kill_container (15) with
         * container_id (1) {value (1) "ab"} and signal (2) 15. */
        static const uint8_t kill[] = {0x08, 24,   0x7a, 0x08, 0x0a, 0x04,
                                       0x0a, 0x02, 'a',  'b',  0x10, 15};
        assert_int_equal(api_proto_call_unpack(kill, sizeof(kill), &out, &e), 0);
        assert_json_equal(out, "{\"type\":\"KILL_CONTAINER\",\"kill_container\":{\"container_id\":"
                               "{\"value\":\"ab\"},\"signal\":15}}");
        json_decref(out);
        static const uint8_t junk[] = {0xff, 0xff, 0xff};
        assert_int_equal(api_proto_call_unpack(junk, sizeof(junk), &out, &e), -EINVAL);
}

static void test_unknown_answer_fields_refused(void **state)
{
        (void)state;
        struct errbuf e = {};
        json_t *out = NULL;
        json_t *resp = parse("{\"type\":\"GET_CONTAINERS\",\"get_containers\":{\"containers\":"
                             "[{\"container_id\":{\"value\":\"a\"},\"state\":\"RUNNING\"}]}}");
        assert_int_equal(api_proto_response_json(resp, &out, &e), -EINVAL);
        assert_string_equal(e.msg, "'get_containers.containers.state': no such field in "
                                   "mesos.v1.agent.Response.GetContainers.Container");
        /* A required field missing is refused too. */
        resp = parse("{\"type\":\"GET_HEALTH\",\"get_health\":{}}");
        assert_int_equal(api_proto_response_json(resp, &out, &e), -EINVAL);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_strings_coerced),
            cmocka_unit_test(test_wrong_types_refused),
            cmocka_unit_test(test_protobuf_round_trip),
            cmocka_unit_test(test_unknown_answer_fields_refused),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
