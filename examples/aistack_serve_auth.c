/*
 * aistack_serve_auth.c - API keys for `aistack serve`: a small SHA-256 (FIPS 180-4; the tool
 * links nothing but libaistack and the HTTP library, and this is 60 lines) and the key check.
 * Every key is kept as its SHA-256, so a presented key is hashed once and compared against all
 * digests without an early exit: the time does not tell which byte or which key differed.
 */
#include <ctype.h>
#include <errno.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <math.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "aistack_serve.h"

static const uint32_t sha_k[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2};

#define ROR(x, n) (((x) >> (n)) | ((x) << (32 - (n))))

static void sha_block(uint32_t h[8], const uint8_t *p) {
    uint32_t w[64];
    for (int i = 0; i < 16; i++)
        w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 |
               (uint32_t)p[4 * i + 2] << 8 | p[4 * i + 3];
    for (int i = 16; i < 64; i++) {
        uint32_t s0 = ROR(w[i - 15], 7) ^ ROR(w[i - 15], 18) ^ (w[i - 15] >> 3);
        uint32_t s1 = ROR(w[i - 2], 17) ^ ROR(w[i - 2], 19) ^ (w[i - 2] >> 10);
        w[i] = w[i - 16] + s0 + w[i - 7] + s1;
    }
    uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], k = h[7];
    for (int i = 0; i < 64; i++) {
        uint32_t t1 =
            k + (ROR(e, 6) ^ ROR(e, 11) ^ ROR(e, 25)) + ((e & f) ^ (~e & g)) + sha_k[i] + w[i];
        uint32_t t2 = (ROR(a, 2) ^ ROR(a, 13) ^ ROR(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
        k = g, g = f, f = e, e = d + t1, d = c, c = b, b = a, a = t1 + t2;
    }
    h[0] += a, h[1] += b, h[2] += c, h[3] += d, h[4] += e, h[5] += f, h[6] += g, h[7] += k;
}

void serve_sha256(const void *data, size_t len, uint8_t out[32]) {
    uint32_t h[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                     0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
    const uint8_t *p = data;
    size_t n = len;
    for (; n >= 64; n -= 64, p += 64)
        sha_block(h, p);
    uint8_t tail[128] = {0};
    memcpy(tail, p, n);
    tail[n] = 0x80;
    size_t tl = n < 56 ? 64 : 128;
    uint64_t bits = (uint64_t)len * 8;
    for (int i = 0; i < 8; i++)
        tail[tl - 1 - i] = (uint8_t)(bits >> (8 * i));
    sha_block(h, tail);
    if (tl == 128) sha_block(h, tail + 64);
    for (int i = 0; i < 8; i++)
        for (int j = 0; j < 4; j++)
            out[4 * i + j] = (uint8_t)(h[i] >> (24 - 8 * j));
}

static int hexval(int c) {
    if (c >= '0' && c <= '9') return c - '0';
    c = tolower(c);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

int serve_keys_load(const char *path, serve_keys *keys) {
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "aistack serve: --api-keys %s: %s\n", path, strerror(errno));
        return 1;
    }
    char line[4096];
    size_t lineno = 0;
    int rc = 0;
    while (fgets(line, sizeof line, f)) {
        lineno++;
        size_t n = strlen(line);
        if (n == sizeof line - 1 && line[n - 1] != '\n') {
            fprintf(stderr, "aistack serve: %s:%zu: line longer than %zu bytes\n", path, lineno,
                    sizeof line - 2);
            rc = 1;
            break;
        }
        while (n && isspace((unsigned char)line[n - 1]))
            line[--n] = 0;
        char *s = line;
        while (isspace((unsigned char)*s))
            s++, n--;
        if (!n || *s == '#') continue;
        uint8_t d[32];
        if (!strncmp(s, "sha256:", 7)) {
            if (n != 7 + 64) {
                fprintf(stderr, "aistack serve: %s:%zu: sha256: needs 64 hex digits\n", path,
                        lineno);
                rc = 1;
                break;
            }
            for (int i = 0; i < 32 && !rc; i++) {
                int hi = hexval(s[7 + 2 * i]), lo = hexval(s[8 + 2 * i]);
                if (hi < 0 || lo < 0) {
                    fprintf(stderr, "aistack serve: %s:%zu: not a hex digit in sha256:\n", path,
                            lineno);
                    rc = 1;
                }
                d[i] = (uint8_t)(hi << 4 | lo);
            }
            if (rc) break;
        } else {
            serve_sha256(s, n, d);
        }
        void *grown = realloc(keys->digest, (keys->n + 1) * sizeof *keys->digest);
        if (!grown) {
            fprintf(stderr, "aistack serve: out of memory reading %s\n", path);
            rc = 1;
            break;
        }
        keys->digest = grown;
        memcpy(keys->digest[keys->n++], d, 32);
    }
    memset(line, 0, sizeof line); /* no key left on the stack */
    fclose(f);
    if (!rc && !keys->n) {
        fprintf(stderr, "aistack serve: --api-keys %s holds no key\n", path);
        rc = 1;
    }
    return rc;
}

long serve_keys_check(const serve_keys *keys, const char *key, size_t len) {
    uint8_t d[32];
    serve_sha256(key, len, d);
    long found = -1;
    for (size_t k = 0; k < keys->n; k++) {
        unsigned diff = 0;
        for (int i = 0; i < 32; i++)
            diff |= (unsigned)(d[i] ^ keys->digest[k][i]);
        /* Select without branching on the comparison: every key is visited either way. */
        long match = -(long)(diff == 0);
        found = (found & ~match) | ((long)k & match);
    }
    return found;
}

void serve_keys_free(serve_keys *keys) {
    free(keys->digest);
    keys->digest = NULL;
    keys->n = 0;
}

/* ---- rate limits: token buckets (capacity one second of requests, at least 1) ---- */

#define IP_SLOTS 4096

struct bucket {
    double tokens, t;
};

/* JWT subjects are not known in advance: an open-addressing table keyed by 64 bits of the
 * subject's SHA-256 (id 0: empty slot). A bucket that has refilled to the brim is the same as
 * a new one, so when the table fills, such buckets are dropped before it grows: its size
 * follows the subjects active within the last second or so, not every subject ever seen. */
struct subject_slot {
    uint64_t id;
    struct bucket b;
};

struct serve_limits {
    pthread_mutex_t mu;
    double rate, burst;
    size_t n;
    struct bucket *b;
    struct subject_slot *subs;
    size_t subs_cap, subs_n; /* cap: a power of two, or 0 */
};

serve_limits *serve_limits_create(double per_second, size_t n_keys) {
    serve_limits *l = calloc(1, sizeof *l);
    if (!l) return NULL;
    l->rate = per_second;
    l->burst = per_second < 1 ? 1 : per_second;
    l->n = n_keys + IP_SLOTS;
    if (!(l->b = calloc(l->n, sizeof *l->b))) return free(l), NULL;
    for (size_t i = 0; i < l->n; i++)
        l->b[i].tokens = l->burst, l->b[i].t = -1;
    pthread_mutex_init(&l->mu, NULL);
    return l;
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Refills b to now and takes a token: 0, or the whole seconds until one is there. Under mu. */
static unsigned bucket_take(const serve_limits *l, struct bucket *b, double now) {
    if (b->t >= 0) b->tokens = fmin(l->burst, b->tokens + (now - b->t) * l->rate);
    b->t = now;
    if (b->tokens >= 1) {
        b->tokens -= 1;
        return 0;
    }
    return (unsigned)ceil((1 - b->tokens) / l->rate);
}

unsigned serve_limits_take(serve_limits *l, long key_index, uint32_t ipv4) {
    double now = now_s();
    size_t n_keys = l->n - IP_SLOTS;
    size_t slot = key_index >= 0 ? (size_t)key_index
                                 : n_keys + (size_t)((ipv4 * 2654435761u) >> 20) % IP_SLOTS;
    pthread_mutex_lock(&l->mu);
    unsigned wait = bucket_take(l, &l->b[slot], now);
    pthread_mutex_unlock(&l->mu);
    return wait;
}

static struct subject_slot *subject_find(struct subject_slot *t, size_t cap, uint64_t id) {
    for (size_t i = (size_t)id & (cap - 1);; i = (i + 1) & (cap - 1))
        if (t[i].id == id || !t[i].id) return &t[i];
}

/* Rebuilds the table at cap slots, leaving out the buckets that are full by now. */
static bool subjects_rebuild(serve_limits *l, size_t cap, double now) {
    struct subject_slot *t = calloc(cap, sizeof *t);
    if (!t) return false;
    size_t n = 0;
    for (size_t i = 0; i < l->subs_cap; i++) {
        struct subject_slot *s = &l->subs[i];
        if (!s->id || s->b.tokens + (now - s->b.t) * l->rate >= l->burst) continue;
        *subject_find(t, cap, s->id) = *s;
        n++;
    }
    free(l->subs);
    l->subs = t, l->subs_cap = cap, l->subs_n = n;
    return true;
}

unsigned serve_limits_take_subject(serve_limits *l, const uint8_t subject[32]) {
    double now = now_s();
    uint64_t id = 0;
    for (int i = 0; i < 8; i++)
        id = id << 8 | subject[i];
    id |= 1; /* 0 marks an empty slot */
    pthread_mutex_lock(&l->mu);
    unsigned wait = 0;
    if (4 * (l->subs_n + 1) > 3 * l->subs_cap) {
        size_t cap = l->subs_cap ? l->subs_cap : 64;
        /* Grow only when dropping the idle buckets would leave it over half full. */
        if (!subjects_rebuild(l, cap, now)) goto done;
        if (2 * (l->subs_n + 1) > cap && !subjects_rebuild(l, 2 * cap, now)) goto done;
    }
    struct subject_slot *s = subject_find(l->subs, l->subs_cap, id);
    if (!s->id) {
        s->id = id, s->b.tokens = l->burst, s->b.t = -1;
        l->subs_n++;
    }
    wait = bucket_take(l, &s->b, now);
done: /* out of memory: not limited rather than refused */
    pthread_mutex_unlock(&l->mu);
    return wait;
}

void serve_limits_destroy(serve_limits *l) {
    if (!l) return;
    pthread_mutex_destroy(&l->mu);
    free(l->b);
    free(l->subs);
    free(l);
}

/* ---- files of secrets, TLS ---- */

char *serve_read_file(const char *opt, const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return fprintf(stderr, "aistack serve: %s %s: %s\n", opt, path, strerror(errno)), NULL;
    char *p = NULL;
    size_t n = 0, cap = 0;
    for (;;) {
        if (n + 4096 + 1 > cap) {
            cap = cap ? 2 * cap : 8192;
            char *g = cap <= (1u << 20) ? realloc(p, cap) : NULL;
            if (!g) {
                fprintf(stderr, "aistack serve: %s %s: over 1 MiB or out of memory\n", opt, path);
                free(p), fclose(f);
                return NULL;
            }
            p = g;
        }
        size_t r = fread(p + n, 1, 4096, f);
        n += r;
        if (r < 4096) break;
    }
    bool err = ferror(f);
    fclose(f);
    if (err) {
        fprintf(stderr, "aistack serve: %s %s: read error\n", opt, path);
        free(p);
        return NULL;
    }
    p[n] = 0;
    *len = n;
    return p;
}

void serve_secret_free(char *p, size_t len) {
    if (p) memset(p, 0, len); /* no key left in freed memory */
    free(p);
}

int serve_tls_load(const char *cert_path, const char *key_path, serve_tls *tls) {
    memset(tls, 0, sizeof *tls);
    if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
        fputs("aistack serve: this libmicrohttpd was built without TLS (GnuTLS); --tls-cert "
              "cannot be used\n",
              stderr);
        return 1;
    }
    if (!(tls->cert = serve_read_file("--tls-cert", cert_path, &tls->cert_len)) ||
        !(tls->key = serve_read_file("--tls-key", key_path, &tls->key_len)))
        return serve_tls_free(tls), 1;
    /* libmicrohttpd's own message for a bad file is "failed to setup x509 certificate/key";
     * GnuTLS, which it runs on, says which file and what, before the daemon starts. */
    gnutls_datum_t c = {(unsigned char *)tls->cert, (unsigned)tls->cert_len};
    gnutls_datum_t k = {(unsigned char *)tls->key, (unsigned)tls->key_len};
    gnutls_x509_crt_t *crts = NULL;
    unsigned n_crts = 0;
    int rc = gnutls_x509_crt_list_import2(&crts, &n_crts, &c, GNUTLS_X509_FMT_PEM, 0);
    if (rc < 0) {
        fprintf(stderr, "aistack serve: --tls-cert %s: not a PEM certificate (chain): %s\n",
                cert_path, gnutls_strerror(rc));
        return serve_tls_free(tls), 1;
    }
    time_t expires = gnutls_x509_crt_get_expiration_time(crts[0]);
    for (unsigned i = 0; i < n_crts; i++)
        gnutls_x509_crt_deinit(crts[i]);
    gnutls_free(crts);
    if (expires != (time_t)-1 && expires < time(NULL))
        fprintf(stderr,
                "aistack serve: warning: --tls-cert %s has expired: clients will refuse it\n",
                cert_path);
    gnutls_x509_privkey_t pk;
    if ((rc = gnutls_x509_privkey_init(&pk)) >= 0) {
        rc = gnutls_x509_privkey_import2(pk, &k, GNUTLS_X509_FMT_PEM, NULL, 0);
        gnutls_x509_privkey_deinit(pk);
    }
    if (rc < 0) {
        fprintf(stderr, "aistack serve: --tls-key %s: not an unencrypted PEM private key: %s\n",
                key_path, gnutls_strerror(rc));
        return serve_tls_free(tls), 1;
    }
    gnutls_certificate_credentials_t cred;
    if ((rc = gnutls_certificate_allocate_credentials(&cred)) >= 0) {
        rc = gnutls_certificate_set_x509_key_mem2(cred, &c, &k, GNUTLS_X509_FMT_PEM, NULL, 0);
        gnutls_certificate_free_credentials(cred);
    }
    if (rc < 0) {
        fprintf(stderr, "aistack serve: --tls-cert %s and --tls-key %s: %s\n", cert_path, key_path,
                gnutls_strerror(rc));
        return serve_tls_free(tls), 1;
    }
    return 0;
}

void serve_tls_free(serve_tls *tls) {
    free(tls->cert);
    serve_secret_free(tls->key, tls->key_len);
    memset(tls, 0, sizeof *tls);
}
