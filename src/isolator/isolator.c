/* isolator.c - the generic parts of the isolator interface (isolator.h):
 * allocation of an isolator object of the size its ops ask for, and the
 * freeing of what watch() and status() hand out. */
#include <errno.h>
#include <stdlib.h>

#include "isolator/isolator.h"

int isolator_new(const struct isolator_ops *ops, const struct isolator_context *ctx,
                 struct isolator **ret, struct errbuf *e)
{
        struct isolator *i;
        int r;

        i = calloc(1, ops->size > sizeof(*i) ? ops->size : sizeof(*i));
        if (!i)
                return -ENOMEM;
        i->ops = ops;
        i->ctx = ctx;
        if (ops->init) {
                r = ops->init(i, ctx, e);
                if (r < 0) {
                        free(i);
                        return r;
                }
        }
        *ret = i;
        return 0;
}

void isolator_free(struct isolator *i)
{
        if (!i)
                return;
        if (i->ops->done)
                i->ops->done(i);
        free(i);
}

void isolator_limitations_free_contents(struct isolator_limitation *l)
{
        free(l->container_id);
        free(l->message);
        portset_clear(&l->ports);
        *l = (struct isolator_limitation){0};
}

void isolator_limitations_free(struct isolator_limitation *v, size_t n)
{
        for (size_t k = 0; k < n; k++)
                isolator_limitations_free_contents(&v[k]);
        free(v);
}

void isolator_status_done(struct isolator_status *s)
{
        portset_clear(&s->listening);
        portset_clear(&s->denied_tcp);
        portset_clear(&s->denied_udp);
        *s = (struct isolator_status){};
}
