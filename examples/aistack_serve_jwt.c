/*
 * aistack_serve_jwt.c - JWT bearer tokens for `aistack serve` (--jwt-secret for HS256,
 * --jwt-public-key for RS256), on Debian's libjwt (1.10.2 in bookworm, OpenSSL inside; its
 * timing fix for CVE-2024-25189 is in 1.10.2-1+deb12u1).
 *
 * libjwt 1.10 verifies a token with whatever algorithm the token's own header names and has no
 * way to pin one (jwt_valid_* and key callbacks came in 1.12), and it checks no claim. So the
 * header is read here first and the token refused unless "alg" is exactly the configured one:
 * that closes "none" and the HS/RS confusion (an HS256 token whose HMAC key is the server's RSA
 * public key, which libjwt would otherwise accept as a secret) before libjwt sees the key. The
 * registered claims (exp, nbf, aud, iss) are checked here after the signature, with the
 * --jwt-leeway allowance for clock skew on exp and nbf only.
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <gnutls/abstract.h>
#include <gnutls/gnutls.h>
#include <jwt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "aistack_serve.h"
#include "aistack_tool.h"

/* Tokens are small; a bound keeps a hostile header from costing more than a header. */
#define MAX_TOKEN 8192

struct serve_jwt {
    jwt_alg_t alg;
    unsigned char *key;
    size_t key_len, key_size; /* the key's bytes; the file's (for the wipe) */
    long long leeway;
    char *audience, *issuer; /* NULL: not checked */
};

/* base64url (RFC 4648 §5, no padding) of n bytes into out (n * 3 / 4 + 3 bytes); the decoded
 * length, or -1 for a character outside the alphabet or a length no encoding has. */
static long b64url_decode(const char *s, size_t n, unsigned char *out) {
    if (n % 4 == 1) return -1;
    size_t o = 0;
    unsigned acc = 0, bits = 0;
    for (size_t i = 0; i < n; i++) {
        int c = (unsigned char)s[i], v;
        if (c >= 'A' && c <= 'Z')
            v = c - 'A';
        else if (c >= 'a' && c <= 'z')
            v = c - 'a' + 26;
        else if (c >= '0' && c <= '9')
            v = c - '0' + 52;
        else if (c == '-')
            v = 62;
        else if (c == '_')
            v = 63;
        else
            return -1;
        acc = acc << 6 | (unsigned)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (unsigned char)(acc >> bits);
        }
    }
    return (long)o;
}

/* The RSA public key must be one OpenSSL (inside libjwt) will read: a PEM "PUBLIC KEY"
 * (SubjectPublicKeyInfo). GnuTLS, which the server links for TLS already, checks it at startup
 * so that a wrong file is a clear error there and not a 401 on every request. */
static int check_rsa_pem(const char *path, const char *pem, size_t len) {
    if (!strstr(pem, "-----BEGIN PUBLIC KEY-----")) {
        fprintf(stderr,
                "aistack serve: --jwt-public-key %s: not a PEM public key "
                "(-----BEGIN PUBLIC KEY-----)\n",
                path);
        return 1;
    }
    gnutls_pubkey_t k;
    if (gnutls_pubkey_init(&k) < 0) return 1;
    gnutls_datum_t d = {(unsigned char *)(uintptr_t)pem, (unsigned)len};
    int rc = gnutls_pubkey_import(k, &d, GNUTLS_X509_FMT_PEM);
    unsigned bits = 0;
    int alg = rc < 0 ? 0 : gnutls_pubkey_get_pk_algorithm(k, &bits);
    gnutls_pubkey_deinit(k);
    if (rc < 0) {
        fprintf(stderr, "aistack serve: --jwt-public-key %s: %s\n", path, gnutls_strerror(rc));
        return 1;
    }
    if (alg != GNUTLS_PK_RSA || bits < 2048) {
        fprintf(stderr,
                "aistack serve: --jwt-public-key %s: RS256 needs an RSA key of 2048 bits or "
                "more (this one: %s, %u bits)\n",
                path, gnutls_pk_algorithm_get_name((gnutls_pk_algorithm_t)alg), bits);
        return 1;
    }
    return 0;
}

int serve_jwt_create(const serve_jwt_config *cfg, serve_jwt **out) {
    *out = NULL;
    if (!!cfg->secret_file == !!cfg->public_key_file) {
        fputs("aistack serve: give one of --jwt-secret and --jwt-public-key\n", stderr);
        return 1;
    }
    serve_jwt *j = calloc(1, sizeof *j);
    if (!j) return 1;
    j->leeway = cfg->leeway;
    const char *opt = cfg->secret_file ? "--jwt-secret" : "--jwt-public-key";
    const char *path = cfg->secret_file ? cfg->secret_file : cfg->public_key_file;
    char *k = serve_read_file(opt, path, &j->key_len);
    j->key = (unsigned char *)k;
    if (!k) goto fail;
    j->key_size = j->key_len;
    if (cfg->secret_file) {
        j->alg = JWT_ALG_HS256;
        /* The file's bytes are the secret; the newline an editor or echo adds is not. */
        if (j->key_len && k[j->key_len - 1] == '\n') j->key_len--;
        if (j->key_len && k[j->key_len - 1] == '\r') j->key_len--;
        /* RFC 7518 §3.2: an HS256 key MUST be at least as long as the hash (32 bytes). */
        if (j->key_len < 32) {
            fprintf(stderr,
                    "aistack serve: --jwt-secret %s: %zu bytes; HS256 needs 32 or more "
                    "(RFC 7518 3.2)\n",
                    path, j->key_len);
            goto fail;
        }
    } else {
        j->alg = JWT_ALG_RS256;
        if (check_rsa_pem(path, k, j->key_len)) goto fail;
    }
    if ((cfg->audience && !(j->audience = strdup(cfg->audience))) ||
        (cfg->issuer && !(j->issuer = strdup(cfg->issuer))))
        goto fail;
    *out = j;
    return 0;
fail:
    serve_jwt_destroy(j);
    return 1;
}

void serve_jwt_destroy(serve_jwt *j) {
    if (!j) return;
    serve_secret_free((char *)j->key, j->key_size);
    free(j->audience);
    free(j->issuer);
    free(j);
}

/* cJSON reads the first of two equal names, libjwt's jansson the last: {"alg": "RS256", "alg":
 * "HS256"} would pass the check below and be verified as HS256 by libjwt. RFC 7515 section 4
 * lets a parser refuse duplicate names; the header is refused. (At most a few thousand names
 * fit in a token, so the quadratic walk stays cheap.) */
static bool has_duplicate(const cJSON *obj) {
    for (const cJSON *a = obj->child; a; a = a->next)
        for (const cJSON *b = a->next; b; b = b->next)
            if (a->string && b->string && !strcmp(a->string, b->string)) return true;
    return false;
}

/* The header's alg, checked against the configured one; NULL when it matches, else why not. */
static const char *check_header(const serve_jwt *j, const char *tok, size_t head_len) {
    unsigned char buf[MAX_TOKEN];
    long n = b64url_decode(tok, head_len, buf);
    if (n <= 0) return "malformed token (header is not base64url)";
    cJSON *h = cJSON_ParseWithLength((const char *)buf, (size_t)n);
    if (!h || !cJSON_IsObject(h)) return cJSON_Delete(h), "malformed token (header is not JSON)";
    const cJSON *alg = cJSON_GetObjectItemCaseSensitive(h, "alg");
    const cJSON *crit = cJSON_GetObjectItemCaseSensitive(h, "crit");
    const char *why = NULL;
    if (has_duplicate(h))
        why = "token header has a duplicate member";
    else if (!cJSON_IsString(alg))
        why = "token header has no alg";
    else if (!strcmp(alg->valuestring, "none") || !strcmp(alg->valuestring, "None") ||
             !strcmp(alg->valuestring, "NONE"))
        why = "unsigned token (alg none) refused";
    else if (strcmp(alg->valuestring, jwt_alg_str(j->alg)))
        why = j->alg == JWT_ALG_HS256 ? "token alg is not HS256 (the one configured)"
                                      : "token alg is not RS256 (the one configured)";
    else if (crit) /* RFC 7515 4.1.11: extensions we do not understand must be refused */
        why = "token header has crit extensions, none of which are supported";
    cJSON_Delete(h);
    return why;
}

static bool aud_matches(const cJSON *aud, const char *want) {
    if (cJSON_IsString(aud)) return !strcmp(aud->valuestring, want);
    if (!cJSON_IsArray(aud)) return false;
    for (const cJSON *e = aud->child; e; e = e->next)
        if (cJSON_IsString(e) && !strcmp(e->valuestring, want)) return true;
    return false;
}

/* exp/nbf: a JSON number of seconds (RFC 7519 NumericDate), fractions allowed. */
static const char *check_time(const cJSON *c, const char *name, double *out) {
    if (!c) return NULL;
    if (!cJSON_IsNumber(c) || !isfinite(c->valuedouble))
        return !strcmp(name, "exp") ? "token exp is not a number" : "token nbf is not a number";
    *out = c->valuedouble;
    return NULL;
}

const char *serve_jwt_check(const serve_jwt *j, const char *token, uint8_t subject[32]) {
    size_t len = strnlen(token, MAX_TOKEN + 1);
    if (len > MAX_TOKEN) return "token longer than 8192 bytes";
    const char *d1 = memchr(token, '.', len);
    const char *d2 = d1 ? memchr(d1 + 1, '.', len - (size_t)(d1 + 1 - token)) : NULL;
    if (!d1 || !d2 || memchr(d2 + 1, '.', len - (size_t)(d2 + 1 - token)) || d1 == token ||
        d2 == d1 + 1)
        return "malformed token (not header.payload.signature)";
    const char *why = check_header(j, token, (size_t)(d1 - token));
    if (why) return why;
    if (d2 + 1 == token + len) return "unsigned token (no signature) refused";
    jwt_t *t = NULL;
    /* libjwt writes into its own copy of the token; the key length fits an int (1 MiB cap). */
    if (jwt_decode(&t, token, j->key, (int)j->key_len) || !t)
        return "token signature does not verify";
    /* Checked above on our reading of the header; this is libjwt's reading of it, which the
     * signature was verified under. */
    if (jwt_get_alg(t) != j->alg) {
        jwt_free(t);
        return "token alg is not the one configured";
    }
    char *claims_json = jwt_get_grants_json(t, NULL);
    jwt_free(t);
    cJSON *c = claims_json ? cJSON_Parse(claims_json) : NULL;
    free(claims_json);
    if (!cJSON_IsObject(c)) return cJSON_Delete(c), "token payload is not a JSON object";
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    double now = (double)ts.tv_sec, exp = INFINITY, nbf = -INFINITY;
    why = check_time(cJSON_GetObjectItemCaseSensitive(c, "exp"), "exp", &exp);
    if (!why) why = check_time(cJSON_GetObjectItemCaseSensitive(c, "nbf"), "nbf", &nbf);
    if (!why && now > exp + (double)j->leeway) why = "token expired (exp)";
    if (!why && now + (double)j->leeway < nbf) why = "token not yet valid (nbf)";
    if (!why && j->audience &&
        !aud_matches(cJSON_GetObjectItemCaseSensitive(c, "aud"), j->audience))
        why = "token aud does not name this server (--jwt-audience)";
    const cJSON *iss = cJSON_GetObjectItemCaseSensitive(c, "iss");
    if (!why && j->issuer && !(cJSON_IsString(iss) && !strcmp(iss->valuestring, j->issuer)))
        why = "token iss is not the configured issuer (--jwt-issuer)";
    /* Tokens without sub share one subject (""): they share a rate-limit bucket. */
    const cJSON *sub = cJSON_GetObjectItemCaseSensitive(c, "sub");
    const char *s = cJSON_IsString(sub) ? sub->valuestring : "";
    serve_sha256(s, strlen(s), subject);
    cJSON_Delete(c);
    return why;
}
