/*
 * aistack_serve.c - `aistack serve`: the models of a Triton-style repository behind the Open
 * Inference Protocol (KServe V2) over HTTP/1.1, on libmicrohttpd (Debian's libmicrohttpd-dev:
 * small, audited, keep-alive, a thread pool, body streaming and per-connection timeouts built
 * in). Each pool thread owns one session per model (created on its first request), the loaded
 * model is shared: requests run in parallel without locks. SIGTERM or SIGINT stops accepting,
 * lets in-flight requests finish and exits 0. Public API only.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <microhttpd.h>
#include <netdb.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "aistack_serve.h"
#include "aistack_tool.h"

const char tool_usage_serve[] =
    "usage: aistack serve --model-repository DIR [--host H] [--port P] [--threads N]\n"
    "                     [--api-keys FILE] [--rate-limit REQ_PER_S] [--max-body-bytes N]\n"
    "                     [--timeout S]\n"
    "\n"
    "Serves the models of DIR over HTTP with the KServe V2 (Open Inference) protocol that\n"
    "Triton's and KServe's clients speak, JSON and binary tensors (Triton's binary tensor\n"
    "extension). DIR is laid out like Triton's: DIR/NAME/VERSION/model.ais (or model.onnx,\n"
    "model.json for XGBoost, model.txt for LightGBM), VERSION a number; requests without a\n"
    "version get the highest. NAME is letters, digits, '_', '-' and '.', not starting with '.'.\n"
    "\n"
    "  --host H            address to bind (default 127.0.0.1: this machine only)\n"
    "  --port P            port (default 8000; 0 picks a free one)\n"
    "  --threads N         HTTP worker threads, each with its own session per model (default:\n"
    "                      the number of CPUs)\n"
    "  --api-keys FILE     require a key on everything but /v2/health/*: one key a line, the\n"
    "                      key itself or sha256:HEX of it; sent as 'Authorization: Bearer KEY'\n"
    "                      or 'X-API-Key: KEY'\n"
    "  --rate-limit R      at most R requests a second per key (per client address without\n"
    "                      --api-keys), bursts of up to R; over it: 429 with Retry-After.\n"
    "                      /v2/health/* is not limited\n"
    "  --max-body-bytes N  larger request bodies get 413 (default 67108864)\n"
    "  --timeout S         close a connection idle (or stalled mid-request) S seconds\n"
    "                      (default 30)\n"
    "\n"
    "Prints one line, 'listening on http://H:P', on stdout when ready; one JSON line per\n"
    "request on stderr (method, path, status, milliseconds; no payloads). SIGTERM or SIGINT:\n"
    "stops accepting, finishes the requests in flight, exits 0.\n"
    "Endpoints: GET /v2/health/live, /v2/health/ready, /v2, /v2/models/NAME[/versions/V],\n"
    "/v2/models/NAME[/versions/V]/ready, /v2/models/NAME[/versions/V]/config (Triton's\n"
    "model configuration); POST /v2/repository/index (every loaded version); POST "
    "/v2/models/NAME[/versions/V]/infer, and for a\n"
    "model with a feature pipeline POST .../records (JSON lines, or CSV with Content-Type:\n"
    "text/csv); GET /metrics (Prometheus text: requests by model, version, endpoint and code,\n"
    "latencies, in-flight requests, each model's run metrics and live drift gauges; behind the\n"
    "API keys like the rest when --api-keys is given).\n";

typedef struct server {
    serve_model *models; /* sorted by name, then version */
    size_t n_models;
    unsigned threads;
    size_t max_body;
    serve_keys keys;
    bool auth;
    serve_limits *limits; /* --rate-limit, or NULL */
    atomic_uint next_worker;
    atomic_long in_flight;
    atomic_bool draining;
    ais_options *session_opts;
} server;

/* This pool thread's index into serve_model.sessions (-1: not yet assigned). */
static _Thread_local int tl_worker = -1;

typedef struct request {
    serve_buf body;
    bool too_big;
    int status;
    struct timespec t0;
    unsigned retry_after; /* seconds, for a 429 */
    char method[8];
    char path[160];  /* for the access log, cut to fit */
    char model[128]; /* the served model it reached, for /metrics ("" and -1: none) */
    int64_t version;
} request;

static bool valid_name(const char *s) {
    size_t n = strlen(s);
    if (!n || n >= sizeof((serve_model *)0)->name || s[0] == '.') return false;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)s[i]) && s[i] != '_' && s[i] != '-' && s[i] != '.')
            return false;
    return true;
}

static int cmp_model(const void *a, const void *b) {
    const serve_model *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    return c ? c : (x->version > y->version) - (x->version < y->version);
}

/* Loads every DIR/NAME/VERSION/model.* into srv->models; 0, or 1 after a message. */
static int load_repository(server *srv, const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return fprintf(stderr, "aistack serve: %s: %s\n", dir, strerror(errno)), 1;
    static const char *const files[] = {"model.ais", "model.onnx", "model.json", "model.txt"};
    struct dirent *e;
    int rc = 0;
    size_t cap = 0;
    while (!rc && (e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        struct stat st;
        if (stat(path, &st) || !S_ISDIR(st.st_mode)) continue;
        if (!valid_name(e->d_name)) {
            fprintf(stderr, "aistack serve: skipping %s: not a valid model name\n", path);
            continue;
        }
        DIR *vd = opendir(path);
        if (!vd) continue;
        struct dirent *v;
        while (!rc && (v = readdir(vd))) {
            size_t l = strlen(v->d_name);
            if (!l || l > 18 || strspn(v->d_name, "0123456789") != l) continue;
            char file[4096 + 300];
            bool found = false;
            for (size_t f = 0; f < 4 && !found; f++) {
                snprintf(file, sizeof file, "%s/%s/%s", path, v->d_name, files[f]);
                found = stat(file, &st) == 0 && S_ISREG(st.st_mode);
            }
            if (!found) {
                fprintf(stderr,
                        "aistack serve: skipping %s/%s: no model.ais, .onnx, .json or .txt\n", path,
                        v->d_name);
                continue;
            }
            if (srv->n_models == cap) {
                cap = cap ? 2 * cap : 8;
                serve_model *grown = realloc(srv->models, cap * sizeof *grown);
                if (!grown) {
                    rc = 1;
                    break;
                }
                srv->models = grown;
            }
            serve_model *m = &srv->models[srv->n_models];
            memset(m, 0, sizeof *m);
            memcpy(m->name, e->d_name, strlen(e->d_name) + 1); /* valid_name: < 128 */
            m->version = strtoll(v->d_name, NULL, 10);
            if (tool_load_model(file, NULL, &m->model)) {
                rc = 1;
                break;
            }
            if (!(m->sessions = calloc(srv->threads, sizeof *m->sessions)) ||
                serve_metrics_model_open(m, 1)) {
                free(m->sessions);
                ais_model_destroy(m->model);
                rc = 1;
                break;
            }
            srv->n_models++;
        }
        closedir(vd);
    }
    closedir(d);
    if (!rc && !srv->n_models)
        return fprintf(stderr, "aistack serve: no model found in %s (DIR/NAME/VERSION/model.*)\n",
                       dir),
               1;
    qsort(srv->models, srv->n_models, sizeof *srv->models, cmp_model);
    return rc;
}

/* The model NAME at version (or the highest when version < 0); NULL when none. */
static serve_model *find_model(server *srv, const char *name, size_t name_len, int64_t version) {
    serve_model *best = NULL;
    for (size_t i = 0; i < srv->n_models; i++) {
        serve_model *m = &srv->models[i];
        if (strlen(m->name) != name_len || memcmp(m->name, name, name_len)) continue;
        if (version < 0 || m->version == version) best = m;
    }
    return best;
}

static int reply(struct MHD_Connection *c, request *rq, int status, serve_buf *b, size_t json_len) {
    if (b->oom) serve_error_body(b, "out of memory"), status = 500;
    rq->status = status;
    struct MHD_Response *r = MHD_create_response_from_buffer(
        b->len, b->p ? b->p : (void *)"", b->p ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
    if (!r) return serve_buf_free(b), MHD_NO;
    memset(b, 0, sizeof *b); /* MHD owns the block now */
    /* json_len (size_t)-1: the body is all JSON; else binary tensors follow json_len bytes. */
    if (json_len == (size_t)-1) {
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
    } else {
        char n[32];
        snprintf(n, sizeof n, "%zu", json_len);
        MHD_add_response_header(r, "Inference-Header-Content-Length", n);
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "application/octet-stream");
    }
    if (status == 401) MHD_add_response_header(r, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer");
    if (status == 429) {
        char n[32];
        snprintf(n, sizeof n, "%u", rq->retry_after);
        MHD_add_response_header(r, MHD_HTTP_HEADER_RETRY_AFTER, n);
    }
    enum MHD_Result ok = MHD_queue_response(c, (unsigned)status, r);
    MHD_destroy_response(r);
    return ok;
}

static int reply_error(struct MHD_Connection *c, request *rq, int status, const char *msg);

/* A Prometheus text body (GET /metrics). */
static int reply_text(struct MHD_Connection *c, request *rq, serve_buf *b) {
    if (b->oom) return reply_error(c, rq, 500, "out of memory");
    rq->status = 200;
    struct MHD_Response *r = MHD_create_response_from_buffer(
        b->len, b->p ? b->p : (void *)"", b->p ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
    if (!r) return serve_buf_free(b), MHD_NO;
    memset(b, 0, sizeof *b);
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain; version=0.0.4");
    enum MHD_Result ok = MHD_queue_response(c, 200, r);
    MHD_destroy_response(r);
    return ok;
}

static int reply_error(struct MHD_Connection *c, request *rq, int status, const char *msg) {
    serve_buf b = {0};
    serve_error_body(&b, "%s", msg);
    return reply(c, rq, status, &b, (size_t)-1);
}

/* The index of the request's key, or -1 (none, or not a known one). */
static long key_of(server *srv, struct MHD_Connection *c) {
    const char *h = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-API-Key");
    if (h) return serve_keys_check(&srv->keys, h, strlen(h));
    h = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
    if (h && !strncasecmp(h, "Bearer ", 7)) {
        h += 7;
        while (*h == ' ')
            h++;
        return serve_keys_check(&srv->keys, h, strlen(h));
    }
    return -1;
}

/* Routes a complete request. */
static int route(server *srv, struct MHD_Connection *c, request *rq, const char *url) {
    bool get = !strcmp(rq->method, "GET") || !strcmp(rq->method, "HEAD");
    bool post = !strcmp(rq->method, "POST");
    serve_buf b = {0};
    if (!strcmp(url, "/v2/health/live")) {
        if (!get) return reply_error(c, rq, 405, "use GET");
        serve_buf_puts(&b, "{\"live\": true}");
        return reply(c, rq, 200, &b, (size_t)-1);
    }
    if (!strcmp(url, "/v2/health/ready")) {
        if (!get) return reply_error(c, rq, 405, "use GET");
        bool ready = !atomic_load(&srv->draining);
        serve_buf_printf(&b, "{\"ready\": %s}", ready ? "true" : "false");
        return reply(c, rq, ready ? 200 : 503, &b, (size_t)-1);
    }
    long key = srv->auth ? key_of(srv, c) : -1;
    if (srv->limits) {
        /* Per key; without keys, per client address. */
        uint32_t ip = 0;
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
        if (ci && ci->client_addr && ci->client_addr->sa_family == AF_INET)
            ip = ((const struct sockaddr_in *)(const void *)ci->client_addr)->sin_addr.s_addr;
        unsigned wait = (srv->auth && key < 0) ? 0 : serve_limits_take(srv->limits, key, ip);
        if (wait) {
            rq->retry_after = wait;
            return reply_error(c, rq, 429, "rate limit exceeded (--rate-limit)");
        }
    }
    if (srv->auth && key < 0)
        return reply_error(c, rq, 401,
                           "missing or unknown API key (Authorization: Bearer KEY "
                           "or X-API-Key: KEY)");
    if (!strcmp(url, "/metrics")) {
        if (!get) return reply_error(c, rq, 405, "use GET");
        serve_metrics_render(srv->models, srv->n_models, &b);
        return reply_text(c, rq, &b);
    }
    if (!strcmp(url, "/v2") || !strcmp(url, "/v2/")) {
        if (!get) return reply_error(c, rq, 405, "use GET");
        serve_buf_printf(&b,
                         "{\"name\": \"aistack\", \"version\": \"%s\", \"extensions\": "
                         "[\"binary_tensor_data\"]}",
                         ais_version_string());
        return reply(c, rq, 200, &b, (size_t)-1);
    }
    if (!strcmp(url, "/v2/repository/index")) {
        /* Triton's model repository extension, read-only: every loaded version, READY. */
        if (!post && !get) return reply_error(c, rq, 405, "use POST");
        serve_buf_puts(&b, "[");
        for (size_t i = 0; i < srv->n_models; i++) {
            serve_buf_puts(&b, i ? ", {\"name\": " : "{\"name\": ");
            serve_buf_json_str(&b, srv->models[i].name);
            serve_buf_printf(&b, ", \"version\": \"%" PRId64 "\", \"state\": \"READY\"}",
                             srv->models[i].version);
        }
        serve_buf_puts(&b, "]");
        return reply(c, rq, 200, &b, (size_t)-1);
    }
    if (strncmp(url, "/v2/models/", 11) != 0) return reply_error(c, rq, 404, "no such endpoint");
    const char *name = url + 11, *rest = strchr(name, '/');
    size_t name_len = rest ? (size_t)(rest - name) : strlen(name);
    char namebuf[128];
    if (!name_len || name_len >= sizeof namebuf)
        return reply_error(c, rq, 400, "not a valid model name");
    memcpy(namebuf, name, name_len);
    namebuf[name_len] = 0;
    /* Names come from the directory listing only and no request opens a file, but a name that
     * could not be one (../x, %2F) is refused outright. */
    if (!valid_name(namebuf)) return reply_error(c, rq, 400, "not a valid model name");
    int64_t version = -1;
    if (rest && !strncmp(rest, "/versions/", 10)) {
        const char *v = rest + 10;
        size_t l = strspn(v, "0123456789");
        if (!l || l > 18 || (v[l] && v[l] != '/'))
            return reply_error(c, rq, 400, "a version is a whole number");
        version = strtoll(v, NULL, 10);
        rest = v[l] ? v + l : NULL;
    }
    const char *action = rest ? rest + 1 : "";
    if (rest && strcmp(action, "ready") && strcmp(action, "infer") && strcmp(action, "records") &&
        strcmp(action, "config"))
        return reply_error(c, rq, 404, "no such endpoint");
    serve_model *m = find_model(srv, namebuf, name_len, version);
    if (!m) {
        char msg[256];
        snprintf(msg, sizeof msg, "no model '%s'%s", namebuf,
                 version >= 0 ? " at that version" : "");
        return reply_error(c, rq, 404, msg);
    }
    memcpy(rq->model, m->name, sizeof rq->model);
    rq->version = m->version;
    if (!*action) {
        if (!get) return reply_error(c, rq, 405, "use GET");
        int64_t vs[64];
        size_t nv = 0;
        for (size_t i = 0; i < srv->n_models && nv < 64; i++)
            if (!strcmp(srv->models[i].name, m->name)) vs[nv++] = srv->models[i].version;
        serve_model_metadata(m, vs, nv, &b);
        return reply(c, rq, 200, &b, (size_t)-1);
    }
    if (!strcmp(action, "ready")) {
        if (!get) return reply_error(c, rq, 405, "use GET");
        serve_buf_puts(&b, "{\"name\": ");
        serve_buf_json_str(&b, m->name);
        serve_buf_printf(&b, ", \"version\": \"%" PRId64 "\", \"ready\": true}", m->version);
        return reply(c, rq, 200, &b, (size_t)-1);
    }
    if (!strcmp(action, "config")) {
        if (!get) return reply_error(c, rq, 405, "use GET");
        serve_model_config(m, &b);
        return reply(c, rq, 200, &b, (size_t)-1);
    }
    if (!post) return reply_error(c, rq, 405, "use POST");
    if (tl_worker < 0) tl_worker = (int)atomic_fetch_add(&srv->next_worker, 1);
    if ((unsigned)tl_worker >= srv->threads)
        return reply_error(c, rq, 500, "more HTTP threads than sessions (a bug)");
    ais_session **s = &m->sessions[tl_worker];
    if (!*s && ais_session_create(m->model, m->session_opts ? m->session_opts : srv->session_opts,
                                  s) != AIS_OK) {
        char msg[512];
        snprintf(msg, sizeof msg, "session for model '%s': %s", m->name, ais_last_error());
        return reply_error(c, rq, 500, msg);
    }
    if (!strcmp(action, "records") && strcmp(action, "config")) {
        const char *ct =
            MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
        bool csv = ct && !strncasecmp(ct, "text/csv", 8);
        int status = serve_records(m, *s, rq->body.p ? rq->body.p : "", rq->body.len, csv, &b);
        return reply(c, rq, status, &b, (size_t)-1);
    }
    size_t len = rq->body.len, json_len = len;
    const char *h =
        MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Inference-Header-Content-Length");
    if (h) {
        char *end;
        errno = 0;
        unsigned long long v = strtoull(h, &end, 10);
        if (errno || end == h || *end || v > len)
            return reply_error(c, rq, 400,
                               "Inference-Header-Content-Length is not a length "
                               "within the body");
        json_len = (size_t)v;
    }
    size_t out_json = 0;
    int status = serve_infer(m, *s, rq->body.p ? rq->body.p : "", len, json_len, &b, &out_json);
    return reply(c, rq, status, &b, status == 200 && out_json < b.len ? out_json : (size_t)-1);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_size, void **con_cls) {
    (void)version;
    server *srv = cls;
    request *rq = *con_cls;
    if (!rq) {
        if (!(rq = calloc(1, sizeof *rq))) return MHD_NO;
        *con_cls = rq;
        atomic_fetch_add(&srv->in_flight, 1);
        clock_gettime(CLOCK_MONOTONIC, &rq->t0);
        rq->version = -1;
        snprintf(rq->method, sizeof rq->method, "%s", method);
        snprintf(rq->path, sizeof rq->path, "%s", url);
        /* A declared length over the limit is refused before a byte of it is read. */
        const char *cl =
            MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (cl && strtoull(cl, NULL, 10) > srv->max_body)
            return (enum MHD_Result)reply_error(c, rq, 413, "request body over --max-body-bytes");
        if (atomic_load(&srv->draining))
            return (enum MHD_Result)reply_error(c, rq, 503, "shutting down");
        return MHD_YES;
    }
    if (*upload_size) {
        if (rq->status) { /* answered already (413, 503): the rest of the body is dropped */
            *upload_size = 0;
            return MHD_YES;
        }
        if (!rq->too_big && rq->body.len + *upload_size > srv->max_body) {
            rq->too_big = true;
            serve_buf_free(&rq->body);
        }
        if (!rq->too_big) serve_buf_put(&rq->body, upload_data, *upload_size);
        *upload_size = 0;
        return MHD_YES;
    }
    if (rq->status) return MHD_YES; /* answered on the first call */
    if (rq->too_big)
        return (enum MHD_Result)reply_error(c, rq, 413, "request body over --max-body-bytes");
    if (rq->body.oom)
        return (enum MHD_Result)reply_error(c, rq, 500, "out of memory reading the body");
    return (enum MHD_Result)route(srv, c, rq, url);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe) {
    (void)c;
    server *srv = cls;
    request *rq = *con_cls;
    if (!rq) return;
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double ms =
        (double)(t1.tv_sec - rq->t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - rq->t0.tv_nsec) / 1e6;
    /* One write per line, so that lines from pool threads do not interleave. */
    serve_buf line = {0};
    serve_buf_puts(&line, "{\"method\": ");
    serve_buf_json_str(&line, rq->method);
    serve_buf_puts(&line, ", \"path\": ");
    serve_buf_json_str(&line, rq->path);
    serve_buf_printf(&line, ", \"status\": %d, \"ms\": %.3f%s}\n", rq->status, ms,
                     toe == MHD_REQUEST_TERMINATED_COMPLETED_OK ? "" : ", \"aborted\": true");
    if (!line.oom) fputs(line.p, stderr);
    serve_buf_free(&line);
    serve_metrics_request(rq->model, rq->version, rq->path, rq->status, ms / 1e3);
#ifdef __GLIBC__
    /* A large JSON body becomes many small cJSON nodes in this thread's malloc arena; glibc
     * keeps freed arena memory, so without a trim each pool thread would hold its largest
     * request's peak for good. */
    if (rq->body.cap > ((size_t)1 << 20)) malloc_trim(0);
#endif
    serve_buf_free(&rq->body);
    free(rq);
    *con_cls = NULL;
    atomic_fetch_sub(&srv->in_flight, 1);
}

static int sig_pipe[2] = {-1, -1};

static void on_signal(int sig) {
    char ch = (char)sig;
    ssize_t w = write(sig_pipe[1], &ch, 1);
    (void)w;
}

static int parse_size(const char *s, size_t *out) {
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || *end || *s == '-') return 1;
    *out = (size_t)v;
    return 0;
}

int tool_cmd_serve(int argc, char **argv) {
    const char *repo = NULL, *host = "127.0.0.1", *keys = NULL, *rate = NULL;
    size_t port = 8000, threads = 0, max_body = 64u << 20, timeout = 30;
    for (int i = 0; i < argc; i += 2) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        size_t *num = !strcmp(a, "--port")             ? &port
                      : !strcmp(a, "--threads")        ? &threads
                      : !strcmp(a, "--max-body-bytes") ? &max_body
                      : !strcmp(a, "--timeout")        ? &timeout
                                                       : NULL;
        const char **str = !strcmp(a, "--model-repository") ? &repo
                           : !strcmp(a, "--host")           ? &host
                           : !strcmp(a, "--api-keys")       ? &keys
                           : !strcmp(a, "--rate-limit")     ? &rate
                                                            : NULL;
        if (!strcmp(a, "--jwt-secret") || !strcmp(a, "--jwt-public-key") ||
            !strcmp(a, "--tls-cert") || !strcmp(a, "--tls-key") || !strcmp(a, "--max-batch") ||
            !strcmp(a, "--batch-delay-us")) {
            fprintf(stderr, "aistack serve: %s is not implemented yet\n", a);
            return 2;
        }
        if ((!num && !str) || !v) return tool_bad_option("serve", a, num || str, tool_usage_serve);
        if (str) *str = v;
        if (num && parse_size(v, num)) return tool_bad_option("serve", a, true, tool_usage_serve);
    }
    if (!repo) return fputs(tool_usage_serve, stderr), 2;
    if (port > 65535 || timeout > 86400 || threads > 1024)
        return fputs("aistack serve: --port, --threads or --timeout out of range\n", stderr), 2;
    if (!threads) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        threads = n > 0 ? (size_t)n : 1;
    }
    server srv;
    memset(&srv, 0, sizeof srv);
    srv.threads = (unsigned)threads;
    srv.max_body = max_body;
    int rc = 1;
    struct MHD_Daemon *d = NULL;
    if (keys && serve_keys_load(keys, &srv.keys)) goto done;
    srv.auth = keys != NULL;
    if (rate) {
        char *end;
        double r = strtod(rate, &end);
        if (end == rate || *end || !(r > 0 && r <= 1e9)) {
            rc = tool_bad_option("serve", "--rate-limit", true, tool_usage_serve);
            goto done;
        }
        if (!(srv.limits = serve_limits_create(r, srv.keys.n))) goto done;
    }
    /* One intra-op thread per session: the HTTP pool is the parallelism. */
    if (ais_options_create(&srv.session_opts) ||
        ais_options_set_int(srv.session_opts, AIS_OPT_THREADS, 1)) {
        tool_fail_status("session options", AIS_E_OUT_OF_MEMORY);
        goto done;
    }
    if (load_repository(&srv, repo)) goto done;
    serve_metrics_set_in_flight_source(&srv.in_flight);
    struct addrinfo hints = {.ai_family = AF_INET, .ai_socktype = SOCK_STREAM}, *ai = NULL;
    if (getaddrinfo(host, NULL, &hints, &ai) || !ai) {
        fprintf(stderr, "aistack serve: --host %s: not an IPv4 address or known name\n", host);
        goto done;
    }
    struct sockaddr_in sa;
    memcpy(&sa, ai->ai_addr, sizeof sa);
    freeaddrinfo(ai);
    sa.sin_port = htons((uint16_t)port);
    if (pipe(sig_pipe)) goto done;
    struct sigaction act = {.sa_handler = on_signal};
    sigemptyset(&act.sa_mask);
    sigaction(SIGTERM, &act, NULL);
    sigaction(SIGINT, &act, NULL);
    signal(SIGPIPE, SIG_IGN);
    d = MHD_start_daemon(
        MHD_USE_AUTO | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ITC | MHD_USE_ERROR_LOG, 0, NULL,
        NULL, on_request, &srv, MHD_OPTION_THREAD_POOL_SIZE, (unsigned)threads,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)timeout, MHD_OPTION_CONNECTION_LIMIT,
        (unsigned)1024, MHD_OPTION_NOTIFY_COMPLETED, on_completed, &srv, MHD_OPTION_SOCK_ADDR,
        (struct sockaddr *)&sa, MHD_OPTION_END);
    if (!d) {
        fprintf(stderr, "aistack serve: cannot listen on %s:%zu: %s\n", host, port,
                strerror(errno));
        goto done;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
    char addr[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &sa.sin_addr, addr, sizeof addr);
    printf("listening on http://%s:%u\n", addr, info ? (unsigned)info->port : (unsigned)port);
    fflush(stdout);
    for (;;) {
        char ch;
        ssize_t r = read(sig_pipe[0], &ch, 1);
        if (r == 1 || (r < 0 && errno != EINTR)) break;
    }
    /* Drain: no new connections, requests in flight finish (bounded by the timeout). */
    atomic_store(&srv.draining, true);
    MHD_socket ls = MHD_quiesce_daemon(d);
    if (ls != MHD_INVALID_SOCKET) close(ls);
    for (size_t waited = 0; atomic_load(&srv.in_flight) > 0 && waited < timeout * 100; waited++) {
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    fprintf(stderr, "aistack serve: stopped\n");
    rc = 0;
done:
    if (d) MHD_stop_daemon(d);
    for (size_t i = 0; i < srv.n_models; i++) {
        for (size_t k = 0; k < srv.threads; k++)
            ais_session_destroy(srv.models[i].sessions[k]);
        free(srv.models[i].sessions);
        serve_metrics_model_close(&srv.models[i]);
        ais_model_destroy(srv.models[i].model);
    }
    serve_metrics_free();
    free(srv.models);
    ais_options_destroy(srv.session_opts);
    serve_keys_free(&srv.keys);
    serve_limits_destroy(srv.limits);
    return rc;
}
