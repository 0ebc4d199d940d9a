/*
 * aistack_serve.h - the parts of `aistack serve` (the KServe V2 / Triton HTTP server):
 * aistack_serve.c (command line, model repository, HTTP on libmicrohttpd, API keys),
 * aistack_serve_v2.c (the protocol's JSON and binary tensors: metadata and infer bodies) and
 * aistack_serve_auth.c (SHA-256 and the constant-time key check). Public API only.
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
