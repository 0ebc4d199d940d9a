/*
 * aistack_serve.h - the parts of `aistack serve` (the KServe V2 / Triton HTTP server):
 * aistack_serve.c (command line, model repository, HTTP on libmicrohttpd, API keys),
 * aistack_serve_v2.c (the protocol's JSON and binary tensors: metadata and infer bodies) and
 * aistack_serve_auth.c (SHA-256 and the constant-time key check). Public API only.
 */
#ifndef AISTACK_SERVE_H
#define AISTACK_SERVE_H

#include <aistack/aistack.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

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
    /* serve_metrics_model_open: the monitor this model's sessions report to (run metrics and
     * the live drift window) and the session options that name it; NULL before. */
    ais_monitor *monitor;
    ais_options *session_opts;
} serve_model;

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
 */
int serve_infer(const serve_model *m, ais_session *s, const char *body, size_t len, size_t json_len,
                serve_buf *out, size_t *out_json_len);

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
void serve_limits_destroy(serve_limits *l);
void serve_keys_free(serve_keys *keys);

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
/* Requests in flight, read when /metrics renders (the server's own counter). */
void serve_metrics_set_in_flight_source(const atomic_long *in_flight);
/* Creates m->monitor and m->session_opts (`threads` intra-op threads, metrics on, the
 * monitor) for m's sessions; 0, or 1 after a message on stderr. Model close frees both (NULL
 * is fine). */
int serve_metrics_model_open(serve_model *m, int64_t threads);
void serve_metrics_model_close(serve_model *m);
/* The whole exposition (server counters, then every model's monitor, families merged and
 * labelled with the served name and version) into out. */
void serve_metrics_render(const serve_model *models, size_t n_models, serve_buf *out);
/* Frees the counters (at exit). */
void serve_metrics_free(void);

#endif
