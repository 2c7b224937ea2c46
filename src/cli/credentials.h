/* credentials.h - the client's HTTP Basic credentials for a TCP agent.
 *
 * From --principal=P and --secret=S, or from the file named by
 * $PORTISO_CREDENTIALS in the agent's own --http_credentials format
 * ({"credentials":[{"principal":"ops","secret":"..."}]}): the entry named by
 * --principal, else the first. The file keeps the secret out of `ps` and
 * shell history; --secret is for scripts that already hold it. Over the unix
 * socket the agent goes by the caller's uid and ignores credentials. */
#pragma once

#include <stdbool.h>

#include "basic/errbuf.h"

/* Consume --principal=P / --secret=S given before the command; false if arg
 * is neither. */
bool credentials_global_option(const char *arg);
/* The Authorization header value ("Basic ...", malloc'd) into *ret, or NULL
 * when no credentials were given. -EINVAL with a line for a bad file. */
int credentials_authorization(char **ret, struct errbuf *e);
