/* duration.h - Mesos duration strings ("200ms", "30secs", "1.5mins").
 *
 * A number (integer or decimal) immediately followed by one unit of
 * ns, us, ms, secs, mins, hrs, days, weeks. Stored as nanoseconds. */
#pragma once

#include <stdint.h>

#include "basic/errbuf.h"
#include "basic/strbuf.h"

#define NSEC_PER_USEC 1000ULL
#define NSEC_PER_MSEC 1000000ULL
#define NSEC_PER_SEC 1000000000ULL

/* Parse into nanoseconds; -EINVAL (with a line in *e) or -ERANGE on overflow. */
int duration_parse(const char *text, uint64_t *ret_ns, struct errbuf *e);
/* Append the shortest exact Mesos form ("30secs", "200ms", "1500us"). */
void duration_format(uint64_t ns, struct strbuf *out);
