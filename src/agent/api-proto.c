/* api-proto.c - JSON <-> protobuf for the agent API; see api-proto.h.
 *
 * One walk over protoc-c's descriptors serves every message: a JSON value is
 * converted field by field (looked up by name, typed by the descriptor) into
 * a protobuf-c message built in malloc'd memory laid out as the generated
 * struct (the descriptor gives each member's offset and its has_/n_
 * quantifier), which protobuf-c itself packs, checks and frees; and an
 * unpacked message is walked back into JSON. Adding a call or a field is a
 * change to the .proto only. */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "agent/api-proto.h"
#include "basic/macro.h"
#include "mesos/v1/agent/agent.pb-c.h"

#define CALL_DESCRIPTOR (&mesos__v1__agent__call__descriptor)
#define RESPONSE_DESCRIPTOR (&mesos__v1__agent__response__descriptor)

static void messagep(ProtobufCMessage **m)
{
        if (*m)
                protobuf_c_message_free_unpacked(*m, NULL);
}
#define _cleanup_message_ _cleanup_(messagep)

static size_t element_size(ProtobufCType t)
{
        switch (t) {
        case PROTOBUF_C_TYPE_INT32:
        case PROTOBUF_C_TYPE_SINT32:
        case PROTOBUF_C_TYPE_SFIXED32:
        case PROTOBUF_C_TYPE_UINT32:
        case PROTOBUF_C_TYPE_FIXED32:
        case PROTOBUF_C_TYPE_ENUM:
                return sizeof(int32_t);
        case PROTOBUF_C_TYPE_INT64:
        case PROTOBUF_C_TYPE_SINT64:
        case PROTOBUF_C_TYPE_SFIXED64:
        case PROTOBUF_C_TYPE_UINT64:
        case PROTOBUF_C_TYPE_FIXED64:
                return sizeof(int64_t);
        case PROTOBUF_C_TYPE_FLOAT:
                return sizeof(float);
        case PROTOBUF_C_TYPE_DOUBLE:
                return sizeof(double);
        case PROTOBUF_C_TYPE_BOOL:
                return sizeof(protobuf_c_boolean);
        case PROTOBUF_C_TYPE_STRING:
        case PROTOBUF_C_TYPE_MESSAGE:
                return sizeof(void *);
        case PROTOBUF_C_TYPE_BYTES:
                return sizeof(ProtobufCBinaryData);
        }
        return 0;
}

static bool is_integer_type(ProtobufCType t)
{
        return t <= PROTOBUF_C_TYPE_FIXED64;
}

static bool is_unsigned_type(ProtobufCType t)
{
        return t == PROTOBUF_C_TYPE_UINT32 || t == PROTOBUF_C_TYPE_FIXED32 ||
               t == PROTOBUF_C_TYPE_UINT64 || t == PROTOBUF_C_TYPE_FIXED64;
}

static bool is_64bit_type(ProtobufCType t)
{
        return element_size(t) == 8 && is_integer_type(t);
}

/* ---- JSON value -> typed JSON value (protobuf JSON's conversions) ---------- */

/* The JSON number or boolean a scalar field's value stands for, as protobuf's
 * JSON parser reads it: integers also from integral reals and from decimal
 * strings, reals also from strings, booleans also from "true"/"false", enums
 * by name or number. Returns a new reference, or NULL with *e set. */
static json_t *scalar_value(const ProtobufCFieldDescriptor *f, const json_t *v, const char *path,
                            struct errbuf *e)
{
        ProtobufCType t = f->type;

        if (is_integer_type(t)) {
                long double n;
                if (json_is_integer(v))
                        n = (long double)json_integer_value(v);
                else if (json_is_real(v))
                        n = json_real_value(v);
                else if (json_is_string(v) && json_string_length(v) > 0) {
                        const char *s = json_string_value(v);
                        char *end;
                        errno = 0;
                        n = strtold(s, &end);
                        if (*end || errno || strchr(s, 'x') || strchr(s, 'X'))
                                goto bad;
                } else
                        goto bad;
                if (n != n)
                        goto bad; /* NaN */
                long double lo = is_unsigned_type(t) ? 0
                                 : is_64bit_type(t)  ? (long double)INT64_MIN
                                                     : (long double)INT32_MIN;
                long double hi = is_64bit_type(t) ? (is_unsigned_type(t) ? (long double)UINT64_MAX
                                                                         : (long double)INT64_MAX)
                                 : is_unsigned_type(t) ? (long double)UINT32_MAX
                                                       : (long double)INT32_MAX;
                /* jansson keeps integers as int64: larger uint64 are refused. */
                if (n < lo || n > hi || n > (long double)INT64_MAX)
                        return errbuf_set(e, -EINVAL, "'%s': %s out of range", path,
                                          json_is_string(v) ? json_string_value(v) : "number"),
                               NULL;
                if (n != (long double)(int64_t)n)
                        goto bad; /* not integral */
                return json_integer((json_int_t)n);
        }
        switch (t) {
        case PROTOBUF_C_TYPE_FLOAT:
        case PROTOBUF_C_TYPE_DOUBLE: {
                if (json_is_number(v))
                        return json_real(json_number_value(v));
                if (json_is_string(v) && json_string_length(v) > 0) {
                        char *end;
                        errno = 0;
                        double d = strtod(json_string_value(v), &end);
                        if (!*end && !errno)
                                return json_real(d);
                }
                goto bad;
        }
        case PROTOBUF_C_TYPE_BOOL:
                if (json_is_boolean(v))
                        return json_incref((json_t *)v);
                if (json_is_string(v) && strcmp(json_string_value(v), "true") == 0)
                        return json_true();
                if (json_is_string(v) && strcmp(json_string_value(v), "false") == 0)
                        return json_false();
                goto bad;
        case PROTOBUF_C_TYPE_ENUM: {
                const ProtobufCEnumDescriptor *ed = f->descriptor;
                const ProtobufCEnumValue *ev = NULL;
                if (json_is_string(v))
                        ev = protobuf_c_enum_descriptor_get_value_by_name(ed, json_string_value(v));
                else if (json_is_integer(v) && json_integer_value(v) >= INT32_MIN &&
                         json_integer_value(v) <= INT32_MAX)
                        ev = protobuf_c_enum_descriptor_get_value(ed, (int)json_integer_value(v));
                if (!ev)
                        return errbuf_set(e, -EINVAL, "'%s': unknown %s value", path, ed->name),
                               NULL;
                return json_string(ev->name);
        }
        case PROTOBUF_C_TYPE_STRING:
                if (json_is_string(v))
                        return json_incref((json_t *)v);
                goto bad;
        default:
                return errbuf_set(e, -EINVAL, "'%s': field type not supported", path), NULL;
        }
bad:
        errbuf_set(e, -EINVAL, "'%s': expected %s", path,
                   t == PROTOBUF_C_TYPE_BOOL     ? "a boolean"
                   : t == PROTOBUF_C_TYPE_STRING ? "a string"
                   : is_integer_type(t)          ? "an integer"
                                                 : "a number");
        return NULL;
}

static int normalize(const ProtobufCMessageDescriptor *d, json_t *obj, const char *path,
                     struct errbuf *e);

/* Normalize one value of field f (an element, for repeated fields) in place
 * of *slot. */
static int normalize_value(const ProtobufCFieldDescriptor *f, json_t **slot, const char *path,
                           struct errbuf *e)
{
        if (f->type == PROTOBUF_C_TYPE_MESSAGE) {
                if (!json_is_object(*slot))
                        return errbuf_set(e, -EINVAL, "'%s': expected an object", path);
                return normalize(f->descriptor, *slot, path, e);
        }
        json_t *n = scalar_value(f, *slot, path, e);
        if (!n)
                return -EINVAL;
        json_decref(*slot);
        *slot = n;
        return 0;
}

static int normalize(const ProtobufCMessageDescriptor *d, json_t *obj, const char *path,
                     struct errbuf *e)
{
        const char *key;
        json_t *v;

        json_object_foreach(obj, key, v)
        {
                const ProtobufCFieldDescriptor *f =
                    protobuf_c_message_descriptor_get_field_by_name(d, key);
                char sub[256];
                int r;

                if (!f || json_is_null(v))
                        continue; /* not ours to judge: handlers ignore it */
                snprintf(sub, sizeof(sub), "%s%s%s", path, *path ? "." : "", key);
                if (f->label == PROTOBUF_C_LABEL_REPEATED) {
                        size_t i;
                        json_t *el;
                        if (!json_is_array(v))
                                return errbuf_set(e, -EINVAL, "'%s': expected an array", sub);
                        json_array_foreach(v, i, el)
                        {
                                json_t *copy = json_incref(el);
                                r = normalize_value(f, &copy, sub, e);
                                if (r >= 0 && json_array_set(v, i, copy) < 0)
                                        r = -ENOMEM;
                                json_decref(copy);
                                if (r < 0)
                                        return r;
                        }
                        continue;
                }
                json_t *copy = json_incref(v);
                r = normalize_value(f, &copy, sub, e);
                if (r >= 0 && json_object_set(obj, key, copy) < 0)
                        r = -ENOMEM;
                json_decref(copy);
                if (r < 0)
                        return r;
        }
        return 0;
}

int api_proto_call_normalize(json_t *call, struct errbuf *e)
{
        if (!json_is_object(call))
                return errbuf_set(e, -EINVAL, "the call must be a JSON object");
        return normalize(CALL_DESCRIPTOR, call, "", e);
}

/* ---- typed JSON -> protobuf-c message ------------------------------------- */

static int to_message(const ProtobufCMessageDescriptor *d, const json_t *obj, const char *path,
                      ProtobufCMessage **ret, struct errbuf *e);

/* Store value v (already of the field's JSON type) into the element at p. */
static int store(const ProtobufCFieldDescriptor *f, const json_t *v, void *p, const char *path,
                 struct errbuf *e)
{
        _cleanup_(json_decrefp) json_t *n = NULL;

        if (f->type == PROTOBUF_C_TYPE_MESSAGE) {
                if (!json_is_object(v))
                        return errbuf_set(e, -EINVAL, "'%s': expected an object", path);
                return to_message(f->descriptor, v, path, (ProtobufCMessage **)p, e);
        }
        n = scalar_value(f, v, path, e);
        if (!n)
                return -EINVAL;
        switch (f->type) {
        case PROTOBUF_C_TYPE_INT32:
        case PROTOBUF_C_TYPE_SINT32:
        case PROTOBUF_C_TYPE_SFIXED32:
                *(int32_t *)p = (int32_t)json_integer_value(n);
                break;
        case PROTOBUF_C_TYPE_UINT32:
        case PROTOBUF_C_TYPE_FIXED32:
                *(uint32_t *)p = (uint32_t)json_integer_value(n);
                break;
        case PROTOBUF_C_TYPE_INT64:
        case PROTOBUF_C_TYPE_SINT64:
        case PROTOBUF_C_TYPE_SFIXED64:
                *(int64_t *)p = (int64_t)json_integer_value(n);
                break;
        case PROTOBUF_C_TYPE_UINT64:
        case PROTOBUF_C_TYPE_FIXED64:
                *(uint64_t *)p = (uint64_t)json_integer_value(n);
                break;
        case PROTOBUF_C_TYPE_FLOAT:
                *(float *)p = (float)json_real_value(n);
                break;
        case PROTOBUF_C_TYPE_DOUBLE:
                *(double *)p = json_real_value(n);
                break;
        case PROTOBUF_C_TYPE_BOOL:
                *(protobuf_c_boolean *)p = json_is_true(n);
                break;
        case PROTOBUF_C_TYPE_ENUM:
                *(int32_t *)p = protobuf_c_enum_descriptor_get_value_by_name(f->descriptor,
                                                                             json_string_value(n))
                                    ->value;
                break;
        case PROTOBUF_C_TYPE_STRING:
                *(char **)p = strdup(json_string_value(n));
                if (!*(char **)p)
                        return -ENOMEM;
                break;
        default:
                return errbuf_set(e, -EINVAL, "'%s': field type not supported", path);
        }
        return 0;
}

static int to_message(const ProtobufCMessageDescriptor *d, const json_t *obj, const char *path,
                      ProtobufCMessage **ret, struct errbuf *e)
{
        _cleanup_message_ ProtobufCMessage *m = calloc(1, d->sizeof_message);
        const char *key;
        json_t *v;
        int r;

        if (!m)
                return -ENOMEM;
        protobuf_c_message_init(d, m);
        json_object_foreach((json_t *)obj, key, v)
        {
                const ProtobufCFieldDescriptor *f =
                    protobuf_c_message_descriptor_get_field_by_name(d, key);
                char sub[256];

                snprintf(sub, sizeof(sub), "%s%s%s", path, *path ? "." : "", key);
                if (!f)
                        return errbuf_set(e, -EINVAL, "'%s': no such field in %s", sub, d->name);
                if (json_is_null(v))
                        continue;
                char *member = (char *)m + f->offset;
                if (f->label == PROTOBUF_C_LABEL_REPEATED) {
                        size_t *n = (size_t *)((char *)m + f->quantifier_offset), i;
                        size_t size = element_size(f->type);
                        json_t *el;
                        if (!json_is_array(v))
                                return errbuf_set(e, -EINVAL, "'%s': expected an array", sub);
                        if (json_array_size(v) == 0)
                                continue;
                        void *arr = calloc(json_array_size(v), size);
                        if (!arr)
                                return -ENOMEM;
                        *(void **)member = arr;
                        json_array_foreach(v, i, el)
                        {
                                r = store(f, el, (char *)arr + i * size, sub, e);
                                if (r < 0)
                                        return r;
                                *n = i + 1; /* what is set is freed with m */
                        }
                        continue;
                }
                /* A string with a default points at the static default until set. */
                if (f->type == PROTOBUF_C_TYPE_STRING)
                        *(char **)member = NULL;
                r = store(f, v, member, sub, e);
                if (r < 0) {
                        if (f->type == PROTOBUF_C_TYPE_STRING && !*(char **)member)
                                *(const void **)member = f->default_value;
                        return r;
                }
                if (f->label == PROTOBUF_C_LABEL_OPTIONAL && f->type != PROTOBUF_C_TYPE_STRING &&
                    f->type != PROTOBUF_C_TYPE_MESSAGE)
                        *(protobuf_c_boolean *)((char *)m + f->quantifier_offset) = 1;
        }
        /* protobuf-c keeps no presence for required scalars: look at the JSON. */
        for (unsigned i = 0; i < d->n_fields; i++)
                if (d->fields[i].label == PROTOBUF_C_LABEL_REQUIRED &&
                    !json_object_get(obj, d->fields[i].name))
                        return errbuf_set(e, -EINVAL, "'%s%s%s': required in %s", path,
                                          *path ? "." : "", d->fields[i].name, d->name);
        if (!protobuf_c_message_check(m))
                return errbuf_set(e, -EINVAL, "'%s': a required field of %s is missing",
                                  *path ? path : d->name, d->name);
        *ret = TAKE_PTR(m);
        return 0;
}

/* ---- protobuf-c message -> JSON ------------------------------------------- */

static json_t *from_message(const ProtobufCMessage *m);

static json_t *load(const ProtobufCFieldDescriptor *f, const void *p)
{
        switch (f->type) {
        case PROTOBUF_C_TYPE_INT32:
        case PROTOBUF_C_TYPE_SINT32:
        case PROTOBUF_C_TYPE_SFIXED32:
                return json_integer(*(const int32_t *)p);
        case PROTOBUF_C_TYPE_UINT32:
        case PROTOBUF_C_TYPE_FIXED32:
                return json_integer(*(const uint32_t *)p);
        case PROTOBUF_C_TYPE_INT64:
        case PROTOBUF_C_TYPE_SINT64:
        case PROTOBUF_C_TYPE_SFIXED64:
                return json_integer(*(const int64_t *)p);
        case PROTOBUF_C_TYPE_UINT64:
        case PROTOBUF_C_TYPE_FIXED64:
                /* jansson's integers are int64: the top half cannot be shown. */
                if (*(const uint64_t *)p > INT64_MAX)
                        return NULL;
                return json_integer((json_int_t) * (const uint64_t *)p);
        case PROTOBUF_C_TYPE_FLOAT:
                return json_real(*(const float *)p);
        case PROTOBUF_C_TYPE_DOUBLE:
                return json_real(*(const double *)p);
        case PROTOBUF_C_TYPE_BOOL:
                return json_boolean(*(const protobuf_c_boolean *)p);
        case PROTOBUF_C_TYPE_ENUM: {
                const ProtobufCEnumValue *ev =
                    protobuf_c_enum_descriptor_get_value(f->descriptor, *(const int32_t *)p);
                return ev ? json_string(ev->name) : json_integer(*(const int32_t *)p);
        }
        case PROTOBUF_C_TYPE_STRING:
                return json_string(*(char *const *)p);
        case PROTOBUF_C_TYPE_MESSAGE:
                return from_message(*(ProtobufCMessage *const *)p);
        case PROTOBUF_C_TYPE_BYTES:
                return NULL;
        }
        return NULL;
}

static json_t *from_message(const ProtobufCMessage *m)
{
        const ProtobufCMessageDescriptor *d = m->descriptor;
        _cleanup_(json_decrefp) json_t *o = json_object();

        if (!o)
                return NULL;
        for (unsigned i = 0; i < d->n_fields; i++) {
                const ProtobufCFieldDescriptor *f = &d->fields[i];
                const char *member = (const char *)m + f->offset;
                const char *quant = (const char *)m + f->quantifier_offset;
                json_t *v;

                if (f->label == PROTOBUF_C_LABEL_REPEATED) {
                        size_t n = *(const size_t *)quant, size = element_size(f->type);
                        if (n == 0)
                                continue;
                        v = json_array();
                        for (size_t k = 0; v && k < n; k++)
                                if (json_array_append_new(
                                        v, load(f, *(char *const *)member + k * size)) < 0) {
                                        json_decref(v);
                                        v = NULL;
                                }
                } else if (f->type == PROTOBUF_C_TYPE_STRING ||
                           f->type == PROTOBUF_C_TYPE_MESSAGE) {
                        const void *ptr = *(void *const *)member;
                        /* An optional string left at its default was not sent. */
                        if (!ptr ||
                            (ptr == f->default_value && f->label == PROTOBUF_C_LABEL_OPTIONAL))
                                continue;
                        v = load(f, member);
                } else {
                        if (f->label == PROTOBUF_C_LABEL_OPTIONAL &&
                            !*(const protobuf_c_boolean *)quant)
                                continue;
                        v = load(f, member);
                }
                if (!v || json_object_set_new(o, f->name, v) < 0)
                        return NULL;
        }
        return TAKE_PTR(o);
}

int api_proto_call_unpack(const void *data, size_t len, json_t **ret, struct errbuf *e)
{
        _cleanup_message_ ProtobufCMessage *m =
            protobuf_c_message_unpack(CALL_DESCRIPTOR, NULL, len, data);

        if (!m)
                return errbuf_set(e, -EINVAL,
                                  "failed to parse the body as a protobuf mesos.v1.agent.Call");
        json_t *j = from_message(m);
        if (!j)
                return errbuf_set(e, -EINVAL, "the call holds a value JSON cannot carry");
        *ret = j;
        return 0;
}

int api_proto_response_pack(const json_t *response, uint8_t **ret, size_t *ret_len,
                            struct errbuf *e)
{
        _cleanup_message_ ProtobufCMessage *m = NULL;
        int r = to_message(RESPONSE_DESCRIPTOR, response, "", &m, e);

        if (r < 0)
                return r;
        size_t len = protobuf_c_message_get_packed_size(m);
        uint8_t *buf = malloc(len ? len : 1);
        if (!buf)
                return -ENOMEM;
        *ret_len = protobuf_c_message_pack(m, buf);
        *ret = buf;
        return 0;
}

int api_proto_response_json(json_t *response, json_t **ret, struct errbuf *e)
{
        _cleanup_(json_decrefp) json_t *in = response;
        _cleanup_message_ ProtobufCMessage *m = NULL;
        int r;

        if (!in)
                return -ENOMEM;
        r = to_message(RESPONSE_DESCRIPTOR, in, "", &m, e);
        if (r < 0)
                return r;
        json_t *j = from_message(m);
        if (!j)
                return -ENOMEM;
        *ret = j;
        return 0;
}
