/* ranges.h - the Mesos `Value.Ranges` forms of a port set.
 *
 * Text:  "[31000-32000, 33000-33005]" (whitespace tolerant, "[]" is empty).
 * JSON:  {"range":[{"begin":31000,"end":32000}]} (protobuf-JSON of Value.Ranges).
 * Errors are -EINVAL with one line in *e naming the bad input, e.g.
 * "invalid ranges '[100-65536]': 65536 is not a port (0-65535)". */
#pragma once

#include <jansson.h>

#include "basic/errbuf.h"
#include "portset.h"

/* Parse the text form into *ret (replaced). Rejects "foo", "100", "[5-1]",
 * out-of-range values and trailing garbage. */
int ranges_parse(const char *text, struct portset *ret, struct errbuf *e);
/* Parse the JSON object form into *ret (replaced). */
int ranges_from_json(const json_t *j, struct portset *ret, struct errbuf *e);
/* New JSON object {"range":[...]} for s; NULL on OOM. */
json_t *ranges_to_json(const struct portset *s);
