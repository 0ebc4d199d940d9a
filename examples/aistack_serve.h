/*
 * aistack_serve.h - the parts of `aistack serve` (the KServe V2 / Triton HTTP server):
 * aistack_serve.c (command line, HTTP on libmicrohttpd, routing, signals),
 * aistack_serve_repo.c (the model repository, its reloads and the references requests hold),
 * aistack_serve_v2.c (the protocol's JSON and binary tensors: metadata and infer bodies),
 * aistack_serve_auth.c (SHA-256, the constant-time key check, rate limits, TLS files) and
 * aistack_serve_jwt.c (JWT bearer tokens, on libjwt). Public API only.
 */
#ifndef AISTACK_SERVE_H
#define AISTACK_SERVE_H

#include <aistack/aistack.h>
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
/* The same for the subject (the sub claim's SHA-256) of a JWT: one bucket per subject. */
unsigned serve_limits_take_subject(serve_limits *l, const uint8_t subject[32]);
void serve_limits_destroy(serve_limits *l);
void serve_keys_free(serve_keys *keys);

/* ---- the model repository and its reloads (aistack_serve_repo.c) ---- */
typedef struct serve_repo serve_repo;
/* Letters, digits, '_', '-' and '.', not starting with '.', under 128 bytes. */
bool serve_valid_name(const char *s);
/* Loads every DIR/NAME/VERSION/model.* (.ais, .onnx, .json, .txt); a session per model per
 * worker thread (threads of them, made on first use with session_opts, which must outlive the
 * repository). Any model that fails to load fails this: 0, or 1 after a message on stderr. */
int serve_repo_open(const char *dir, unsigned threads, const ais_options *session_opts,
                    serve_repo **out);
/* Rescans DIR (SIGHUP, --poll-interval): a new or changed file (device, inode, size, mtime) is
 * loaded, a session made on it and its metadata written before it replaces what was served;
 * one that fails leaves the old one serving and is logged on stderr as one JSON line
 * {"event": "model_load_failed", "model", "version", "file", "error", "reload_failures"}
 * and counted (serve_repo_stats_get); versions
 * gone from disk stop being served (freed once their last request ends). Successes are logged
 * as "model_loaded" / "model_reloaded", removals as "model_removed". One thread at a time. */
void serve_repo_rescan(serve_repo *r);
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

#endif
