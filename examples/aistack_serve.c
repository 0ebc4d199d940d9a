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
#include <poll.h>
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
    "                     [--api-keys FILE] [--jwt-secret FILE | --jwt-public-key PEM]\n"
    "                     [--jwt-audience AUD] [--jwt-issuer ISS] [--jwt-leeway S]\n"
    "                     [--tls-cert PEM --tls-key PEM] [--rate-limit REQ_PER_S]\n"
    "                     [--max-body-bytes N] [--timeout S] [--poll-interval S]\n"
    "                     [--max-batch ROWS [--batch-delay-us US]]\n"
    "                     [--drift-window ROWS] [--drift-mode reservoir|last]\n"
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
    "  --jwt-secret FILE   accept JWTs signed HS256 with the bytes of FILE (a final newline\n"
    "                      left out; 32 bytes or more), sent as 'Authorization: Bearer TOKEN';\n"
    "                      with --api-keys, either a key or a token is accepted\n"
    "  --jwt-public-key PEM  accept JWTs signed RS256, checked with this RSA public key\n"
    "                      (PEM '-----BEGIN PUBLIC KEY-----', 2048 bits or more)\n"
    "                      A token's alg must be the configured one ('none' never is); exp\n"
    "                      and nbf, when present, are checked with the leeway below\n"
    "  --jwt-audience AUD  the token's aud (a string or a list) must hold AUD\n"
    "  --jwt-issuer ISS    the token's iss must be ISS\n"
    "  --jwt-leeway S      clock skew allowed on exp and nbf, 0 to 600 seconds (default 60)\n"
    "  --tls-cert PEM      serve HTTPS (TLS 1.2 and 1.3) with this certificate (or chain,\n"
    "                      the server's first) and --tls-key PEM, its unencrypted private key\n"
    "  --rate-limit R      at most R requests a second per key or token subject (sub; per\n"
    "                      client address without auth), bursts of up to R; over it: 429\n"
    "                      with Retry-After; /v2/health/* is not limited\n"
    "  --max-body-bytes N  larger request bodies get 413 (default 67108864)\n"
    "  --timeout S         close a connection idle (or stalled mid-request) S seconds\n"
    "                      (default 30); a request queued for a batch that long gets 503\n"
    "  --poll-interval S   rescan DIR every S seconds (default: only on SIGHUP)\n"
    "  --max-batch ROWS    dynamic batching: infer requests for the same model version\n"
    "                      whose inputs share a first (batch) dimension, with the same\n"
    "                      other dimensions, dtypes and requested outputs, are queued and\n"
    "                      run as one batch of up to ROWS rows by one worker per version;\n"
    "                      larger requests run alone. Only for models whose rows are\n"
    "                      independent. A reloaded version gets its own worker; requests\n"
    "                      queued on the old one are answered by the old one\n"
    "  --batch-delay-us US how long the oldest queued request waits for more rows\n"
    "                      (default 0: a batch is what queued while the last one ran)\n"
    "  --drift-window ROWS rows of live traffic each session keeps for the drift gauges of\n"
    "                      models with a reference profile (default 1000, 0 off, at most\n"
    "                      1048576)\n"
    "  --drift-mode M      reservoir (default: a uniform sample of every row since the\n"
    "                      version was loaded) or last (the last ROWS rows: a recent shift\n"
    "                      shows at once)\n"
    "\n"
    "Reload: on SIGHUP (and every --poll-interval) DIR is scanned again. A new or changed\n"
    "model file is loaded and checked (a session made, its metadata read) before it\n"
    "replaces what was served; requests in flight finish on the version they started on. A\n"
    "file that fails leaves the old version serving and is logged on stderr as a JSON line\n"
    "{\"event\": \"model_load_failed\", ...}; versions gone from DIR stop being served. Put\n"
    "files in place by rename, never by writing into a served file (weights are mapped).\n"
    "\n"
    "Prints one line, 'listening on http://H:P' (https with --tls-cert), on stdout when\n"
    "ready; one JSON line per request on stderr (method, path, status, milliseconds; no\n"
    "payloads). SIGTERM or SIGINT: stops accepting, finishes the requests in flight, exits 0.\n"
    "Endpoints: GET /v2/health/live, /v2/health/ready, /v2, /v2/models/NAME[/versions/V],\n"
    "/v2/models/NAME[/versions/V]/ready, /v2/models/NAME[/versions/V]/config (Triton's\n"
    "model configuration); POST /v2/repository/index (every loaded version); POST "
    "/v2/models/NAME[/versions/V]/infer, and for a\n"
    "model with a feature pipeline POST .../records (JSON lines, or CSV with Content-Type:\n"
    "text/csv); GET /metrics (Prometheus text: requests by model, version, endpoint and code,\n"
    "latencies, in-flight requests, batch queue depth and rows per batch, reloads by result,\n"
    "each model's run metrics; behind the credentials like the rest).\n";

typedef struct server {
    serve_repo *repo;
    unsigned threads;
    size_t max_body;
    serve_keys keys;
    serve_jwt *jwt;       /* --jwt-secret / --jwt-public-key, or NULL */
    bool auth;            /* keys or a JWT required on everything but the health checks */
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
    serve_job *job;     /* queued for a batch (the connection is suspended), then answered */
    serve_model *held;  /* the version job was queued on, held until the reply is sent */
    int64_t batch_rows; /* rows of the batched run that answered it, for the access log */
} request;

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

/* Who sent the request: an API key's index, a JWT's subject, or nobody and why not. */
typedef struct credential {
    long key; /* index into srv->keys, or -1 */
    bool jwt; /* a valid token; subject is its sub's SHA-256 */
    uint8_t subject[32];
    char why[160];
} credential;

/* Either credential is accepted: X-API-Key carries a key only; Authorization: Bearer carries
 * a key or, when --jwt-* is set, a token (tried as a key first: constant time, and a key is
 * never a valid token). */
static credential credential_of(server *srv, struct MHD_Connection *c) {
    credential cr = {.key = -1};
    static const char no_key[] =
        "missing or unknown API key (Authorization: Bearer KEY or X-API-Key: KEY)";
    const char *h = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-API-Key");
    if (h) {
        cr.key = serve_keys_check(&srv->keys, h, strlen(h));
        if (cr.key < 0) snprintf(cr.why, sizeof cr.why, "%s", no_key);
        return cr;
    }
    h = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
    if (!h || strncasecmp(h, "Bearer ", 7)) {
        snprintf(cr.why, sizeof cr.why, "%s",
                 !srv->jwt     ? no_key
                 : srv->keys.n ? "missing credentials (Authorization: Bearer TOKEN_OR_KEY or "
                                 "X-API-Key: KEY)"
                               : "missing bearer token (Authorization: Bearer TOKEN)");
        return cr;
    }
    h += 7;
    while (*h == ' ')
        h++;
    if (srv->keys.n && (cr.key = serve_keys_check(&srv->keys, h, strlen(h))) >= 0) return cr;
    if (!srv->jwt) return snprintf(cr.why, sizeof cr.why, "%s", no_key), cr;
    const char *why = serve_jwt_check(srv->jwt, h, cr.subject);
    if (!why) return cr.jwt = true, cr;
    snprintf(cr.why, sizeof cr.why, "%s%s",
             srv->keys.n ? "unknown API key or invalid token: " : "invalid bearer token: ", why);
    return cr;
}

static int route_model(server *srv, struct MHD_Connection *c, request *rq, serve_model *m,
                       const char *action);

static void resume_connection(void *c) { MHD_resume_connection(c); }

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
    credential cr = {.key = -1};
    if (srv->auth) cr = credential_of(srv, c);
    bool known = cr.key >= 0 || cr.jwt;
    if (srv->limits) {
        /* Per key or token subject; without auth, per client address. */
        uint32_t ip = 0;
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
        if (ci && ci->client_addr && ci->client_addr->sa_family == AF_INET)
            ip = ((const struct sockaddr_in *)(const void *)ci->client_addr)->sin_addr.s_addr;
        unsigned wait = srv->auth && !known ? 0
                        : cr.jwt            ? serve_limits_take_subject(srv->limits, cr.subject)
                                            : serve_limits_take(srv->limits, cr.key, ip);
        if (wait) {
            rq->retry_after = wait;
            return reply_error(c, rq, 429, "rate limit exceeded (--rate-limit)");
        }
    }
    if (srv->auth && !known) return reply_error(c, rq, 401, cr.why);
    if (!strcmp(url, "/metrics")) {
        if (!get) return reply_error(c, rq, 405, "use GET");
        serve_repo_metrics(srv->repo, &b);
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
        serve_repo_index(srv->repo, &b);
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
    if (!serve_valid_name(namebuf)) return reply_error(c, rq, 400, "not a valid model name");
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
    /* The request holds its version until it is answered: a reload meanwhile does not free
     * it under the request. */
    serve_model *m = serve_repo_acquire(srv->repo, namebuf, name_len, version);
    if (!m) {
        char msg[256];
        snprintf(msg, sizeof msg, "no model '%s'%s", namebuf,
                 version >= 0 ? " at that version" : "");
        return reply_error(c, rq, 404, msg);
    }
    memcpy(rq->model, m->name, sizeof rq->model);
    rq->version = m->version;
    int r = route_model(srv, c, rq, m, action);
    if (rq->job)
        rq->held = m; /* queued for a batch: held until its answer is sent (reply_job) */
    else
        serve_repo_release(srv->repo, m);
    return r;
}

/* The rest of a request to model m (held by the caller). */
static int route_model(server *srv, struct MHD_Connection *c, request *rq, serve_model *m,
                       const char *action) {
    bool get = !strcmp(rq->method, "GET") || !strcmp(rq->method, "HEAD");
    bool post = !strcmp(rq->method, "POST");
    serve_buf b = {0};
    if (!*action) {
        if (!get) return reply_error(c, rq, 405, "use GET");
        int64_t vs[64];
        size_t nv = serve_repo_versions(srv->repo, m->name, vs, 64);
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
    serve_job *job = NULL;
    int status = serve_infer_or_queue(m, *s, rq->body.p ? rq->body.p : "", len, json_len, &b,
                                      &out_json, &job);
    if (job) { /* the batcher answers: on_request sees rq->job again once it is resumed */
        rq->job = job;
        MHD_suspend_connection(c);
        serve_batch_submit(m->batcher, job, resume_connection, c);
        return MHD_YES;
    }
    return reply(c, rq, status, &b, status == 200 && out_json < b.len ? out_json : (size_t)-1);
}

/* The reply of a batched request, once the batcher has resumed its connection. */
static int reply_job(server *srv, struct MHD_Connection *c, request *rq) {
    serve_job *j = rq->job;
    if (j->reply_pending) serve_job_reply(j);
    serve_buf b = j->out;
    memset(&j->out, 0, sizeof j->out);
    int status = j->status;
    size_t json_len = status == 200 && j->out_json_len < b.len ? j->out_json_len : (size_t)-1;
    rq->batch_rows = j->batch_rows;
    rq->job = NULL;
    serve_job_free(j);
    serve_repo_release(srv->repo, rq->held);
    rq->held = NULL;
    return reply(c, rq, status, &b, json_len);
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
    if (rq->job) return (enum MHD_Result)reply_job(srv, c, rq);
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
    serve_buf_printf(&line, ", \"status\": %d, \"ms\": %.3f", rq->status, ms);
    if (rq->batch_rows) serve_buf_printf(&line, ", \"batch\": %" PRId64, rq->batch_rows);
    serve_buf_puts(&line,
                   toe == MHD_REQUEST_TERMINATED_COMPLETED_OK ? "}\n" : ", \"aborted\": true}\n");
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
    serve_job_free(rq->job); /* answered but never sent (the connection closed) */
    serve_repo_release(srv->repo, rq->held);
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
    const char *repo = NULL, *host = "127.0.0.1", *keys = NULL, *rate = NULL, *poll_s = NULL;
    size_t port = 8000, threads = 0, max_body = 64u << 20, timeout = 30, leeway = 60, max_batch = 0,
           batch_delay = (size_t)-1, drift_window = (size_t)-1;
    serve_jwt_config jwt = {0};
    const char *tls_cert = NULL, *tls_key = NULL, *drift_mode = NULL;
    for (int i = 0; i < argc; i += 2) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        size_t *num = !strcmp(a, "--port")             ? &port
                      : !strcmp(a, "--threads")        ? &threads
                      : !strcmp(a, "--max-body-bytes") ? &max_body
                      : !strcmp(a, "--timeout")        ? &timeout
                      : !strcmp(a, "--jwt-leeway")     ? &leeway
                      : !strcmp(a, "--max-batch")      ? &max_batch
                      : !strcmp(a, "--batch-delay-us") ? &batch_delay
                      : !strcmp(a, "--drift-window")   ? &drift_window
                                                       : NULL;
        const char **str = !strcmp(a, "--model-repository") ? &repo
                           : !strcmp(a, "--host")           ? &host
                           : !strcmp(a, "--api-keys")       ? &keys
                           : !strcmp(a, "--rate-limit")     ? &rate
                           : !strcmp(a, "--poll-interval")  ? &poll_s
                           : !strcmp(a, "--jwt-secret")     ? &jwt.secret_file
                           : !strcmp(a, "--jwt-public-key") ? &jwt.public_key_file
                           : !strcmp(a, "--jwt-audience")   ? &jwt.audience
                           : !strcmp(a, "--jwt-issuer")     ? &jwt.issuer
                           : !strcmp(a, "--tls-cert")       ? &tls_cert
                           : !strcmp(a, "--tls-key")        ? &tls_key
                           : !strcmp(a, "--drift-mode")     ? &drift_mode
                                                            : NULL;
        if ((!num && !str) || !v) return tool_bad_option("serve", a, num || str, tool_usage_serve);
        if (str) *str = v;
        if (num && parse_size(v, num)) return tool_bad_option("serve", a, true, tool_usage_serve);
    }
    if (!repo) return fputs(tool_usage_serve, stderr), 2;
    if (port > 65535 || timeout > 86400 || threads > 1024)
        return fputs("aistack serve: --port, --threads or --timeout out of range\n", stderr), 2;
    if (leeway > 600)
        return fputs("aistack serve: --jwt-leeway is at most 600 seconds\n", stderr), 2;
    jwt.leeway = (long long)leeway;
    if (!tls_cert != !tls_key)
        return fputs("aistack serve: --tls-cert and --tls-key go together\n", stderr), 2;
    bool want_jwt = jwt.secret_file || jwt.public_key_file;
    if (!want_jwt && (jwt.audience || jwt.issuer))
        return fputs("aistack serve: --jwt-audience and --jwt-issuer need --jwt-secret or "
                     "--jwt-public-key\n",
                     stderr),
               2;
    if (max_batch > ((size_t)1 << 31) || (batch_delay != (size_t)-1 && batch_delay > 60000000))
        return fputs("aistack serve: --max-batch over 2^31 or --batch-delay-us over 60 s\n",
                     stderr),
               2;
    if (batch_delay != (size_t)-1 && !max_batch)
        return fputs("aistack serve: --batch-delay-us needs --max-batch\n", stderr), 2;
    if (serve_metrics_set_drift_window(drift_window, drift_mode)) return 2;
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
    serve_tls tls = {0};
    if (tls_cert && serve_tls_load(tls_cert, tls_key, &tls)) goto done;
    if (keys && serve_keys_load(keys, &srv.keys)) goto done;
    if (want_jwt && serve_jwt_create(&jwt, &srv.jwt)) goto done;
    srv.auth = keys || want_jwt;
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
    int poll_ms = -1; /* --poll-interval: off by default */
    if (poll_s) {
        char *end;
        double p = strtod(poll_s, &end);
        if (end == poll_s || *end || !(p >= 0.01 && p <= 86400)) {
            fputs("aistack serve: --poll-interval is 0.01 to 86400 seconds\n", stderr);
            rc = 2;
            goto done;
        }
        poll_ms = (int)(p * 1000 + 0.5);
    }
    serve_batch_opts batching = {(int64_t)max_batch, batch_delay == (size_t)-1 ? 0 : batch_delay,
                                 (unsigned)timeout};
    if (serve_repo_open(repo, srv.threads, max_batch ? &batching : NULL, &srv.repo)) goto done;
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
    sigaction(SIGHUP, &act, NULL);
    signal(SIGPIPE, SIG_IGN);
    /* TLS 1.2 and 1.3 only, GnuTLS's defaults within them. */
    struct MHD_OptionItem tls_opts[] = {
        {MHD_OPTION_HTTPS_MEM_CERT, 0, tls.cert},
        {MHD_OPTION_HTTPS_MEM_KEY, 0, tls.key},
        {MHD_OPTION_HTTPS_PRIORITIES, 0, (void *)"NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2"},
        {MHD_OPTION_END, 0, NULL}};
    d = MHD_start_daemon(
        MHD_USE_AUTO | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ITC | MHD_USE_ERROR_LOG |
            (tls.cert ? MHD_USE_TLS : 0) | (max_batch ? MHD_ALLOW_SUSPEND_RESUME : 0),
        0, NULL, NULL, on_request, &srv, MHD_OPTION_ARRAY, tls.cert ? tls_opts : tls_opts + 3,
        MHD_OPTION_THREAD_POOL_SIZE, (unsigned)threads, MHD_OPTION_CONNECTION_TIMEOUT,
        (unsigned)timeout, MHD_OPTION_CONNECTION_LIMIT, (unsigned)1024, MHD_OPTION_NOTIFY_COMPLETED,
        on_completed, &srv, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa, MHD_OPTION_END);
    if (!d) {
        fprintf(stderr, "aistack serve: cannot listen on %s:%zu: %s\n", host, port,
                strerror(errno));
        goto done;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
    char addr[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &sa.sin_addr, addr, sizeof addr);
    printf("listening on %s://%s:%u\n", tls.cert ? "https" : "http", addr,
           info ? (unsigned)info->port : (unsigned)port);
    fflush(stdout);
    /* This thread waits for signals. SIGHUP, or every --poll-interval, rescans the repository
     * here, beside the HTTP threads (serve_repo_rescan); SIGTERM or SIGINT drains and exits. */
    for (;;) {
        struct pollfd pfd = {.fd = sig_pipe[0], .events = POLLIN};
        int pr = poll(&pfd, 1, poll_ms);
        if (pr < 0 && errno == EINTR) continue;
        if (pr == 0) {
            serve_repo_rescan(srv.repo);
            continue;
        }
        char ch;
        ssize_t r = pr < 0 ? -1 : read(sig_pipe[0], &ch, 1);
        if (r == 1 && ch == SIGHUP) {
            serve_repo_rescan(srv.repo);
            continue;
        }
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
    /* Batchers first (those of replaced versions still held by a queued request too): each
     * answers what is queued and resumes those connections, and MHD must not be stopped with a
     * connection still suspended. Their counters are logged as each version is freed. */
    if (srv.repo) serve_repo_stop_batchers(srv.repo);
    if (d) MHD_stop_daemon(d);
    serve_repo_close(srv.repo);
    serve_metrics_free();
    ais_options_destroy(srv.session_opts);
    serve_keys_free(&srv.keys);
    serve_jwt_destroy(srv.jwt);
    serve_tls_free(&tls);
    serve_limits_destroy(srv.limits);
    return rc;
}
