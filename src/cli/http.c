/* http.c - the CLI's HTTP client on libcurl; see http.h.
 *
 * The answer is collected whole into a strbuf (agent answers are small);
 * the status line's reason phrase is kept from the header callback, since
 * the CLI prints it when an error comes without a text body. */
#include <curl/curl.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "basic/strbuf.h"
#include "cli/http.h"

#define HTTP_DEFAULT_PORT 5051

int http_parse_address(const char *text, char **ret_host, uint16_t *ret_port, struct errbuf *e)
{
        const char *host = text, *host_end, *colon;

        if (!text || !*text)
                return errbuf_set(e, -EINVAL, "empty agent address");
        if (text[0] == '[') {
                host = text + 1;
                host_end = strchr(host, ']');
                if (!host_end)
                        return errbuf_set(e, -EINVAL, "invalid agent address '%s'", text);
                colon = host_end[1] == ':' ? host_end + 1 : NULL;
                if (!colon && host_end[1])
                        return errbuf_set(e, -EINVAL, "invalid agent address '%s'", text);
        } else {
                colon = strrchr(text, ':');
                host_end = colon ?: text + strlen(text);
        }

        unsigned long port = HTTP_DEFAULT_PORT;
        if (colon) {
                char *end;
                errno = 0;
                port = strtoul(colon + 1, &end, 10);
                if (errno || end == colon + 1 || *end || port == 0 || port > 65535)
                        return errbuf_set(e, -EINVAL, "invalid port in agent address '%s'", text);
        }
        if (host_end == host)
                return errbuf_set(e, -EINVAL, "missing host in agent address '%s'", text);
        char *h = strndup(host, host_end - host);
        if (!h)
                return -ENOMEM;
        *ret_host = h;
        *ret_port = (uint16_t)port;
        return 0;
}

int http_agent_parse(const char *text, struct http_agent *ret, struct errbuf *e)
{
        if (text && text[0] == '/') {
                char *p = strdup(text);
                if (!p)
                        return -ENOMEM;
                *ret = (struct http_agent){.unix_path = p};
                return 0;
        }
        *ret = (struct http_agent){};
        return http_parse_address(text, &ret->host, &ret->port, e);
}

void http_agent_done(struct http_agent *a)
{
        free(a->unix_path);
        free(a->host);
        *a = (struct http_agent){};
}

struct collect {
        struct strbuf body;
        char *reason;
};

static size_t on_body(char *data, size_t size, size_t n, void *userdata)
{
        struct collect *c = userdata;

        strbuf_add(&c->body, data, size * n);
        return c->body.oom ? 0 : size * n;
}

/* Keep the reason phrase of the last status line (after a 100 Continue). */
static size_t on_header(char *data, size_t size, size_t n, void *userdata)
{
        struct collect *c = userdata;
        size_t len = size * n;
        int at = 0;

        if (len > 5 && strncmp(data, "HTTP/", 5) == 0) {
                char line[256];
                snprintf(line, sizeof(line), "%.*s", (int)MIN(len, sizeof(line) - 1), data);
                line[strcspn(line, "\r\n")] = '\0';
                if (sscanf(line, "HTTP/%*s %*d %n", &at) >= 0 && at > 0) {
                        free(c->reason);
                        c->reason = strdup(line + at);
                }
        }
        return len;
}

DEFINE_TRIVIAL_CLEANUP_FUNC(CURL *, curl_easy_cleanup);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct curl_slist *, curl_slist_free_all);

static void collect_done(struct collect *c)
{
        strbuf_release(&c->body);
        free(c->reason);
}

static const char *authorization;

void http_set_authorization(const char *value)
{
        authorization = value;
}

int http_request(const struct http_agent *a, const char *method, const char *path,
                 const char *content_type, const char *body, unsigned timeout_sec,
                 struct http_response *ret, struct errbuf *e)
{
        _cleanup_(curl_easy_cleanupp) CURL *curl = NULL;
        _cleanup_(curl_slist_free_allp) struct curl_slist *headers = NULL;
        _cleanup_(collect_done) struct collect c = {};
        _cleanup_free_ char *url = NULL, *ctype_header = NULL, *auth_header = NULL;
        char err[CURL_ERROR_SIZE] = "";
        bool v6 = a->host && strchr(a->host, ':');
        int n;

        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK || !(curl = curl_easy_init()))
                return errbuf_set(e, -ENOMEM, "cannot initialise libcurl");
        if (a->unix_path)
                n = asprintf(&url, "http://localhost%s", path);
        else
                n = asprintf(&url, "http://%s%s%s:%u%s", v6 ? "[" : "", a->host, v6 ? "]" : "",
                             a->port, path);
        if (n < 0 ||
            asprintf(&ctype_header, "Content-Type: %s", content_type ?: "application/json") < 0) {
                url = ctype_header = NULL;
                return -ENOMEM;
        }
        headers = curl_slist_append(headers, "Accept: application/json");
        if (body && headers)
                headers = curl_slist_append(headers, ctype_header);
        if (authorization && headers) {
                if (asprintf(&auth_header, "Authorization: %s", authorization) < 0) {
                        auth_header = NULL;
                        return -ENOMEM;
                }
                headers = curl_slist_append(headers, auth_header);
        }
        if (!headers)
                return -ENOMEM;

        curl_easy_setopt(curl, CURLOPT_URL, url);
        if (a->unix_path)
                curl_easy_setopt(curl, CURLOPT_UNIX_SOCKET_PATH, a->unix_path);
        curl_easy_setopt(curl, CURLOPT_PROXY, "");
        curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http");
        curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method);
        curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
        if (body) {
                curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
                curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
        }
        curl_easy_setopt(curl, CURLOPT_TIMEOUT, (long)timeout_sec);
        curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
        curl_easy_setopt(curl, CURLOPT_WRITEDATA, &c);
        curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, on_header);
        curl_easy_setopt(curl, CURLOPT_HEADERDATA, &c);
        curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, err);

        CURLcode cr = curl_easy_perform(curl);
        if (cr != CURLE_OK) {
                long os_errno = 0;
                char where[300];
                if (a->unix_path)
                        snprintf(where, sizeof(where), "%s", a->unix_path);
                else
                        snprintf(where, sizeof(where), "%s%s%s:%u", v6 ? "[" : "", a->host,
                                 v6 ? "]" : "", a->port);
                curl_easy_getinfo(curl, CURLINFO_OS_ERRNO, &os_errno);
                if (cr == CURLE_COULDNT_CONNECT && os_errno)
                        return errbuf_set(e, -(int)os_errno,
                                          "cannot connect to the agent at %s: %s%s", where,
                                          strerror((int)os_errno),
                                          a->unix_path && os_errno == EACCES
                                              ? " (the socket is root's unless the agent has "
                                                "--api_socket_group; or use --agent=HOST:PORT)"
                                              : "");
                if (cr == CURLE_OPERATION_TIMEDOUT)
                        return errbuf_set(e, -ETIMEDOUT, "the agent at %s did not answer in %us",
                                          where, timeout_sec);
                return errbuf_set(e, -EIO, "talking to the agent at %s: %s", where,
                                  err[0] ? err : curl_easy_strerror(cr));
        }

        long status = 0;
        const char *ctype = NULL;
        curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
        curl_easy_getinfo(curl, CURLINFO_CONTENT_TYPE, &ctype);
        size_t len = c.body.len;
        char *b = strbuf_detach(&c.body);
        if (!b)
                b = strdup("");
        _cleanup_free_ char *ct = ctype ? strdup(ctype) : NULL;
        if (!b || (ctype && !ct)) {
                free(b);
                return -ENOMEM;
        }
        *ret = (struct http_response){
            .status = (int)status,
            .reason = c.reason ? TAKE_PTR(c.reason) : strdup(""),
            .content_type = TAKE_PTR(ct),
            .body = b,
            .body_len = len,
        };
        return 0;
}

void http_response_done(struct http_response *r)
{
        free(r->reason);
        free(r->content_type);
        free(r->body);
        *r = (struct http_response){};
}
