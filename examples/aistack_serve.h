/*
 * aistack_serve.h - the parts of `aistack serve` (the KServe V2 / Triton HTTP server):
 * aistack_serve.c (command line, HTTP on libmicrohttpd, routing, signals),
 * aistack_serve_repo.c (the model repository, its reloads and the references requests hold),
 * aistack_serve_v2.c (the protocol's JSON and binary tensors: metadata and infer bodies),
 * aistack_serve_auth.c (SHA-256, the constant-time key check, rate limits, TLS files),
 * aistack_serve_jwt.c (JWT bearer tokens, on libjwt) and aistack_serve_batch.c (the dynamic
 * batcher of each model version). Public API only.
 */
#ifndef AISTACK_SERVE_H
#define AISTACK_SERVE_H

#include <aistack/aistack.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "aistack_tool.h" /* MAX_IO */

/* A growable byte buffer; oom is sticky (a failed append leaves the buffer unusable). */
typedef struct serve_buf {
    char *p;
    size_t len, cap;
    bool oom;
} serve_buf;
void serve_buf_put(serve_buf *b, const void *data, size_t n);
void serve_buf_puts(serve_buf *b, const char *s);
void serve_buf_printf(serve_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* s as a JSON string literal, quotes included. */
void serve_buf_json_str(serve_buf *b, const char *s);
void serve_buf_free(serve_buf *b);

/* One version of one model of the repository. sessions has one slot per HTTP worker thread,
 * each created on that thread's first request and used only by it: the model is shared, a
 * session is not (ais_session_run refuses concurrent calls). */
typedef struct serve_model {
    char name[128];
    int64_t version;
    ais_model *model;
    ais_session **sessions;
    struct serve_batcher *batcher; /* --max-batch: this version's dynamic batcher, or NULL */
    /* serve_metrics_model_open: the monitor this model's sessions report to (run metrics and
     * the live drift window) and the session options that name it; NULL before. */
    ais_monitor *monitor;
    ais_options *session_opts;
} serve_model;

struct serve_batcher;
struct serve_job;

/* The V2 names of element types ("FP32", "BYTES"); NULL for types the protocol cannot carry. */
const char *serve_dtype_name(ais_dtype dt);
ais_dtype serve_dtype_parse(const char *name);

/* GET /v2/models/NAME[/versions/V]: the model metadata object into out. versions lists every
 * version served under this name. */
void serve_model_metadata(const serve_model *m, const int64_t *versions, size_t n_versions,
                          serve_buf *out);

/* GET /v2/models/NAME[/versions/V]/config: the model as a Triton model configuration (name,
 * platform, max_batch_size 0, input and output with data_type and dims), what
 * tritonclient's get_model_config reads. */
void serve_model_config(const serve_model *m, serve_buf *out);

/*
 * POST .../infer: body (len bytes) is the JSON request, or, when json_len < len (Triton's
 * binary tensor extension, the Inference-Header-Content-Length header), JSON in the first
 * json_len bytes and binary tensor data after it. Runs session s of model m and writes the
 * response into out: *out_json_len is the length of its JSON part (== out->len unless binary
 * outputs follow). Returns the HTTP status; for 4xx/5xx out holds {"error": "..."}.
 * serve_infer_or_queue: the same, but when m->batcher takes the request (serve_batch_accepts)
 * it is not run: *pending gets the parsed request (a serve_job, owned by the caller, to hand
 * to serve_batch_submit) and the return is 0. Otherwise *pending is NULL.
 */
int serve_infer(const serve_model *m, ais_session *s, const char *body, size_t len, size_t json_len,
                serve_buf *out, size_t *out_json_len);
int serve_infer_or_queue(const serve_model *m, ais_session *s, const char *body, size_t len,
                         size_t json_len, serve_buf *out, size_t *out_json_len,
                         struct serve_job **pending);

/* POST .../records: rows of raw records (CSV with a header line when csv, else JSON lines)
 * through the model's feature pipeline and the model; every output as JSON data. A schema
 * violation gives 400 with "errors": [{"row", "field", "message"}...] beside "error". */
int serve_records(const serve_model *m, ais_session *s, const char *body, size_t len, bool csv,
                  serve_buf *out);

/* The error body {"error": "MSG"} into out (replacing what it held). */
void serve_error_body(serve_buf *out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---- API keys (aistack_serve_auth.c) ---- */
typedef struct serve_keys {
    uint8_t (*digest)[32]; /* SHA-256 of every accepted key */
    size_t n;
} serve_keys;
void serve_sha256(const void *data, size_t len, uint8_t out[32]);
/* Reads FILE: one key a line, the key itself or sha256:HEX (64 hex digits); blank lines and
 * lines starting with # are skipped. 0, or 1 after a message naming the file and line. */
int serve_keys_load(const char *path, serve_keys *keys);
/* The index of key (len bytes) among keys, or -1; compared in time independent of where it
 * differs or which key matched. */
long serve_keys_check(const serve_keys *keys, const char *key, size_t len);

/* ---- rate limits (aistack_serve_auth.c) ---- */
/* Token buckets, one per key (slots 0..n_keys-1) or, without keys, per client IPv4 address
 * hashed into the remaining slots (addresses that collide share a bucket). */
typedef struct serve_limits serve_limits;
serve_limits *serve_limits_create(double per_second, size_t n_keys);
/* Takes a token for slot; 0 when allowed, else the seconds to wait (for Retry-After, >= 1). */
unsigned serve_limits_take(serve_limits *l, long key_index, uint32_t ipv4);
/* The same for the subject (the sub claim's SHA-256) of a JWT: one bucket per subject. */
unsigned serve_limits_take_subject(serve_limits *l, const uint8_t subject[32]);
void serve_limits_destroy(serve_limits *l);
void serve_keys_free(serve_keys *keys);

/* ---- the model repository and its reloads (aistack_serve_repo.c) ---- */
typedef struct serve_repo serve_repo;
/* Letters, digits, '_', '-' and '.', not starting with '.', under 128 bytes. */
bool serve_valid_name(const char *s);
/* --max-batch, --batch-delay-us and --timeout: what each version's batcher is made with. */
typedef struct serve_batch_opts {
    int64_t max_rows;
    uint64_t delay_us;
    unsigned timeout_s;
} serve_batch_opts;
/* Loads every DIR/NAME/VERSION/model.* (.ais, .onnx, .json, .txt); a session per model per
 * worker thread (threads of them, made on first use with the version's own options, from
 * serve_metrics_model_open: one intra-op thread, reporting to the version's monitor). With batch
 * (NULL: no batching), every version loaded, at start or by a rescan, gets its own batcher
 * (serve_model.batcher), stopped and drained before the version is freed. Any model that fails to
 * load fails this: 0, or 1 after a message on stderr. */
int serve_repo_open(const char *dir, unsigned threads, const serve_batch_opts *batch,
                    serve_repo **out);
/* Rescans DIR (SIGHUP, --poll-interval): a new or changed file (device, inode, size, mtime) is
 * loaded, a session made on it and its metadata written before it replaces what was served;
 * one that fails leaves the old one serving and is logged on stderr as one JSON line
 * {"event": "model_load_failed", "model", "version", "file", "error", "reload_failures"}
 * and counted (serve_repo_stats_get); versions
 * gone from disk stop being served (freed once their last request ends). Successes are logged
 * as "model_loaded" / "model_reloaded", removals as "model_removed". One thread at a time. */
void serve_repo_rescan(serve_repo *r);
/* Stops the batcher of every version still alive (served, or replaced but held by a request
 * that waits in its queue): what is queued is run and answered, later submissions get 503.
 * Before the HTTP server stops, so that no connection is left suspended. */
void serve_repo_stop_batchers(serve_repo *r);
/* Every version gone; nothing may hold one (the HTTP server is stopped). NULL is a no-op. */
void serve_repo_close(serve_repo *r);
/* The model NAME (name_len bytes) at version, or at the highest version when version < 0,
 * with a reference the caller drops with serve_repo_release (NULL: none). A held version stays
 * usable, sessions included, even after a rescan replaced or removed it. Thread-safe. */
serve_model *serve_repo_acquire(serve_repo *r, const char *name, size_t name_len, int64_t version);
/* One more reference on m (code that finishes a request on another thread takes its own). */
void serve_repo_retain(serve_repo *r, serve_model *m);
void serve_repo_release(serve_repo *r, serve_model *m);
/* The versions served under name, ascending, up to max of them; returns how many. */
size_t serve_repo_versions(serve_repo *r, const char *name, int64_t *out, size_t max);
/* GET /metrics: serve_metrics_render over every version served now (each held meanwhile). */
void serve_repo_metrics(serve_repo *r, serve_buf *out);
/* Triton's repository index: [{"name", "version", "state": "READY"}...] into out. */
void serve_repo_index(serve_repo *r, serve_buf *out);
/* Per model name (every name loaded at start or tried since, in that order), the reloads
 * after start that went in and those that failed (and left the previous version serving, or
 * none). For /metrics: copies up to max into out and returns how many there are (which may
 * exceed max). Thread-safe. */
typedef struct serve_repo_stats {
    char name[128];
    uint64_t reloads, reload_failures;
} serve_repo_stats;
size_t serve_repo_stats_get(serve_repo *r, serve_repo_stats *out, size_t max);

/* ---- files of secrets and TLS (aistack_serve_auth.c) ---- */
/* The whole of path (at most 1 MiB), NUL-terminated, in a new malloc block; NULL after a
 * message naming opt and path. */
char *serve_read_file(const char *opt, const char *path, size_t *len);
/* Zeroes len bytes of p, then frees it (NULL: a no-op). */
void serve_secret_free(char *p, size_t len);
/* --tls-cert and --tls-key: the PEM texts, checked (a certificate or chain, an unencrypted
 * private key, the two matching) with GnuTLS, what libmicrohttpd's TLS runs on. */
typedef struct serve_tls {
    char *cert, *key;
    size_t cert_len, key_len;
} serve_tls;
/* 0, or 1 after a message naming the option, the file and what is wrong with it. */
int serve_tls_load(const char *cert_path, const char *key_path, serve_tls *tls);
void serve_tls_free(serve_tls *tls);

/* ---- JWT bearer tokens (aistack_serve_jwt.c, on libjwt) ---- */
typedef struct serve_jwt_config {
    const char *secret_file;     /* --jwt-secret: HS256, the file's bytes (32 or more) */
    const char *public_key_file; /* --jwt-public-key: RS256, a PEM public key */
    const char *audience;        /* --jwt-audience: aud must name it; NULL: not checked */
    const char *issuer;          /* --jwt-issuer: iss must equal it; NULL: not checked */
    long long leeway;            /* --jwt-leeway: seconds of clock skew allowed on exp and nbf */
} serve_jwt_config;
typedef struct serve_jwt serve_jwt;
#ifdef AISTACK_HAVE_JWT
/* Reads and checks the key file; 0, or 1 after a message naming the option and file. */
int serve_jwt_create(const serve_jwt_config *cfg, serve_jwt **out);
/* Checks token (NUL-terminated): the header's alg is the configured one, the signature, then
 * exp and nbf (with the leeway), aud and iss when configured. NULL when valid, with the SHA-256
 * of its sub claim ("" when it has none) in subject; else why not (static text). Thread-safe. */
const char *serve_jwt_check(const serve_jwt *j, const char *token, uint8_t subject[32]);
void serve_jwt_destroy(serve_jwt *j);
#else
/* Built without libjwt: --jwt-* is refused at startup. */
#include <stdio.h>
static inline int serve_jwt_create(const serve_jwt_config *cfg, serve_jwt **out) {
    (void)cfg, *out = NULL;
    fputs("aistack serve: --jwt-* needs libjwt, which this build did not find "
          "(install libjwt-dev and rebuild)\n",
          stderr);
    return 1;
}
static inline const char *serve_jwt_check(const serve_jwt *j, const char *t, uint8_t s[32]) {
    (void)j, (void)t, (void)s;
    return "built without JWT support";
}
static inline void serve_jwt_destroy(serve_jwt *j) { (void)j; }
#endif

/* ---- dynamic batching (aistack_serve_batch.c) ---- */

/* A parsed infer request and, once answered, its reply. The batcher owns it from
 * serve_batch_submit until it calls done; then the submitter does (serve_job_free). */
typedef struct serve_job {
    void *req; /* the request's cJSON tree: the names below point into it */
    const char *in_names[MAX_IO];
    ais_tensor *inputs[MAX_IO];
    size_t n_in;
    const char *out_names[MAX_IO];
    bool out_binary[MAX_IO];
    ais_tensor *outputs[MAX_IO];
    size_t n_out;
    int64_t rows; /* the first dimension every input shares (the batcher's unit) */
    const serve_model *model;
    /* the answer, set before done is called: status, and either the reply in out or, when
     * reply_pending, the outputs, for the HTTP thread to write the reply (serve_job_reply):
     * JSON printing stays off the batcher's one thread */
    int status;
    bool reply_pending;
    serve_buf out;
    size_t out_json_len;
    int64_t batch_rows; /* rows of the session run that answered it (0: not run) */
    /* the batcher's */
    struct serve_job *next;
    uint64_t t_queued_ns;
    void (*done)(void *arg);
    void *done_arg;
} serve_job;

/* The reply of a job whose outputs are set (v2 response body into j->out); the status. */
int serve_job_reply(serve_job *j);
/* Runs j alone on session s: status 200 with reply_pending, or the error in j->out. */
int serve_job_run(ais_session *s, serve_job *j);
void serve_job_free(serve_job *j);

/* What a batcher counts (for /metrics: queue depth and batch sizes, as Triton reports them).
 * batch_hist[i] counts session runs of 2^(i-1) < rows <= 2^i rows (i = 0: one row). */
#define SERVE_BATCH_HIST 16
typedef struct serve_batch_stats {
    uint64_t requests;        /* jobs submitted */
    uint64_t batches;         /* session runs made for them */
    uint64_t rows;            /* rows in those runs */
    uint64_t timeouts;        /* jobs answered 503 after waiting over the timeout */
    uint64_t fallbacks;       /* batches rerun one job at a time (an output without the rows) */
    uint64_t queue_depth;     /* jobs waiting now */
    uint64_t queue_depth_max; /* the most that ever waited */
    uint64_t batch_hist[SERVE_BATCH_HIST];
} serve_batch_stats;

typedef struct serve_batcher serve_batcher;
/* A batcher for model version m: one worker thread with its own session (options opts),
 * batches of up to max_rows rows gathered for up to delay_us microseconds; a job that waited
 * timeout_s seconds before its batch ran is answered 503. NULL after a message on stderr. */
serve_batcher *serve_batch_create(serve_model *m, const ais_options *opts, int64_t max_rows,
                                  uint64_t delay_us, unsigned timeout_s);
/* Whether j can wait for a batch (and then sets j->rows): every model input given, each with a
 * dynamic first dimension and all with the same 1..max_rows rows; false: run it alone. */
bool serve_batch_accepts(const serve_batcher *b, serve_job *j);
/* Queues j; done(done_arg) is called from the worker once j->status and j->out are set (after
 * serve_batch_stop: at once, with 503). */
void serve_batch_submit(serve_batcher *b, serve_job *j, void (*done)(void *), void *done_arg);
void serve_batch_get_stats(serve_batcher *b, serve_batch_stats *out);
/* One JSON line of the counters on stderr: {"batcher": NAME, "version", "requests",
 * "batches", "rows", "timeouts", "fallbacks", "queue_depth_max", "batch_rows_le": {"2^i": n}}
 * (written when its version is freed: replaced or removed by a reload, or the server stops). */
void serve_batch_log(serve_batcher *b);
/* Runs what is queued, then stops the worker; jobs submitted later are answered 503. */
void serve_batch_stop(serve_batcher *b);
/* Stops it if running and frees it (NULL: nothing). */
void serve_batch_destroy(serve_batcher *b);
/*
 * ---- /metrics (aistack_serve_metrics.c) ----
 *
 * The server's own counters, process-wide and thread-safe (one mutex; a request takes it once,
 * at its end): any file of the server may call these from any thread, before or after the
 * daemon starts. Model labels are the served NAME and VERSION of the repository (version -1:
 * none, e.g. a request for an unknown model). GET /metrics writes them, then each served
 * model's ais_monitor exposition (run metrics and drift gauges), in the Prometheus text format
 * 0.0.4. Families:
 *   aistack_serve_requests_total{model,version,endpoint,code}       counter
 *   aistack_serve_request_duration_seconds{model,version,endpoint}  histogram
 *   aistack_serve_in_flight                                          gauge
 *   aistack_serve_batch_rows{model,version}                          histogram (rows per batch)
 *   aistack_serve_batch_requests_total{model,version}                counter (requests batched)
 *   aistack_serve_queue_depth{model,version}                         gauge (requests waiting)
 *   aistack_serve_reloads_total{model,result="ok"|"failed"}          counter
 */
/* One finished request: path is the request's URL (the endpoint label is derived from it:
 * infer, records, metadata, ready, config, health, server, repository, metrics, other), status
 * its HTTP status code, seconds from its first byte to its answer. model may be NULL or "". */
void serve_metrics_request(const char *model, int64_t version, const char *path, int status,
                           double seconds);
/* Dynamic batching: one batch of `rows` rows made of `requests` requests ran. */
void serve_metrics_add_batch(const char *model, int64_t version, size_t requests, size_t rows);
/* Dynamic batching: requests now waiting in the model's queue (a gauge: the latest value). */
void serve_metrics_set_queue_depth(const char *model, int64_t version, size_t depth);
/* Reload of a model: the new version loaded and replaced the old one (ok), or it failed and
 * the old one keeps serving (failed; `reason` goes to the log line the caller writes, not to a
 * label, to keep the series few). */
void serve_metrics_reload_ok(const char *model);
void serve_metrics_reload_failed(const char *model);
/* A model the repository serves: its reload series exist from then on, at 0 until a reload
 * (a counter that appears only at its first increment hides that first one from rate()). */
void serve_metrics_reload_seen(const char *model);
/* Requests in flight, read when /metrics renders (the server's own counter). */
void serve_metrics_set_in_flight_source(const atomic_long *in_flight);
/* --drift-window ROWS ((size_t)-1: the library's default) and --drift-mode (NULL: the
 * default), for the sessions of every version opened from now on; 0, or 1 after a message on
 * stderr for a value out of range. */
int serve_metrics_set_drift_window(size_t rows, const char *mode);
/* Creates m->monitor and m->session_opts (`threads` intra-op threads, metrics on, the
 * monitor) for m's sessions; 0, or 1 after a message on stderr. Model close frees both (NULL
 * is fine). */
int serve_metrics_model_open(serve_model *m, int64_t threads);
void serve_metrics_model_close(serve_model *m);
/* The whole exposition (server counters, then every model's monitor, families merged and
 * labelled with the served name and version) into out. */
void serve_metrics_render(const serve_model *const *models, size_t n_models, serve_buf *out);
/* Frees the counters (at exit). */
void serve_metrics_free(void);

#endif
