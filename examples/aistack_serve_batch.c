/*
 * aistack_serve_batch.c - the dynamic batcher of `aistack serve` (--max-batch ROWS
 * --batch-delay-us US), like Triton's: infer requests for one model version wait in a queue
 * for up to US microseconds (from the oldest one) or until ROWS rows are queued; one worker
 * thread, with its own session, joins the compatible ones along the first dimension, makes one
 * session run and gives each request back exactly its own rows of every output.
 *
 * Compatible means: the same input names in the same order, the same dtypes, the same shape
 * after the first dimension, and the same requested outputs in the same order (binary or JSON
 * may differ: that is only how the reply is written). Anything else waits for a later batch
 * and is never joined. A batch whose outputs do not all have the batch's rows as their first
 * dimension (a model that reduces over the batch) is rerun one request at a time, so every
 * request gets what an unbatched run of it gives.
 *
 * The HTTP side (aistack_serve.c) suspends the connection while its request is queued, so
 * that a pool thread keeps reading other requests instead of waiting: that is what fills the
 * batches. done() resumes it.
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "aistack_serve.h"

struct serve_batcher {
    serve_model *m;
    ais_session *session; /* the worker's: used by no other thread */
    int64_t max_rows;
    uint64_t delay_ns, timeout_ns;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_t worker;
    bool started, stopping;
    serve_job *head, *tail; /* FIFO */
    /* counters: written under mu, read by serve_batch_get_stats under mu */
    serve_batch_stats st;
};

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

bool serve_batch_accepts(const serve_batcher *b, serve_job *j) {
    size_t n_in = ais_model_input_count(b->m->model);
    if (!j->n_in || j->n_in != n_in) return false; /* an omitted optional input: alone */
    int64_t rows = -1;
    for (size_t i = 0; i < j->n_in; i++) {
        const ais_tensor *t = j->inputs[i];
        if (ais_tensor_ndim(t) < 1) return false;
        int64_t r = ais_tensor_shape(t)[0];
        if (rows >= 0 && r != rows) return false;
        rows = r;
        /* the model's own first dimension must be the open batch one */
        for (size_t k = 0; k < n_in; k++) {
            const char *name;
            size_t nd;
            const int64_t *dims;
            if (ais_model_input_info(b->m->model, k, &name, NULL, &nd, &dims) != AIS_OK) continue;
            if (strcmp(name, j->in_names[i])) continue;
            if (nd < 1 || dims[0] >= 0) return false;
        }
    }
    if (rows < 1 || rows > b->max_rows) return false; /* larger ones run alone, at once */
    j->rows = rows;
    return true;
}

/* Whether a and b can share a session run. */
static bool compatible(const serve_job *a, const serve_job *b) {
    if (a->n_in != b->n_in || a->n_out != b->n_out) return false;
    for (size_t i = 0; i < a->n_in; i++) {
        const ais_tensor *x = a->inputs[i], *y = b->inputs[i];
        size_t nd = ais_tensor_ndim(x);
        if (strcmp(a->in_names[i], b->in_names[i]) || ais_tensor_dtype(x) != ais_tensor_dtype(y) ||
            nd != ais_tensor_ndim(y) ||
            memcmp(ais_tensor_shape(x) + 1, ais_tensor_shape(y) + 1, (nd - 1) * sizeof(int64_t)))
            return false;
    }
    for (size_t i = 0; i < a->n_out; i++)
        if (strcmp(a->out_names[i], b->out_names[i])) return false;
    return true;
}

static unsigned hist_bucket(int64_t rows) {
    unsigned i = 0;
    while (i + 1 < SERVE_BATCH_HIST && ((int64_t)1 << i) < rows)
        i++;
    return i;
}

/* Copies rows [0, rows) of src into dst from row at on; dst has src's shape after dim 0. */
static ais_status copy_rows(ais_tensor *dst, int64_t at, const ais_tensor *src, int64_t from,
                            int64_t rows) {
    size_t per =
        ais_tensor_size(src) / (size_t)(ais_tensor_shape(src)[0] ? ais_tensor_shape(src)[0] : 1);
    if (ais_tensor_dtype(src) == AIS_DTYPE_STRING) {
        for (size_t e = 0; e < (size_t)rows * per; e++) {
            ais_status st = ais_tensor_set_string(
                dst, (size_t)at * per + e, ais_tensor_string_at(src, (size_t)from * per + e));
            if (st) return st;
        }
        return AIS_OK;
    }
    size_t es = ais_dtype_size(ais_tensor_dtype(src));
    if (rows)
        memcpy((char *)ais_tensor_data(dst) + (size_t)at * per * es,
               (const char *)ais_tensor_data_const(src) + (size_t)from * per * es,
               (size_t)rows * per * es);
    return AIS_OK;
}

/* A tensor like t (dtype, shape after dim 0) with rows rows; NULL when out of memory. */
static ais_tensor *like(const ais_tensor *t, int64_t rows) {
    int64_t dims[32];
    size_t nd = ais_tensor_ndim(t);
    if (nd < 1 || nd > 32) return NULL;
    memcpy(dims, ais_tensor_shape(t), nd * sizeof *dims);
    dims[0] = rows;
    ais_tensor *o = NULL;
    return ais_tensor_create(ais_tensor_dtype(t), dims, nd, &o) == AIS_OK ? o : NULL;
}

static void answer_alone(serve_batcher *b, serve_job *j) {
    serve_job_run(b->session, j);
    j->batch_rows = j->rows;
}

/* Runs jobs (a list of n compatible jobs, total rows) as one batch and answers each. */
static void run_batch(serve_batcher *b, serve_job *jobs, size_t n, int64_t total, bool *fallback) {
    *fallback = false;
    if (n == 1) return answer_alone(b, jobs);
    serve_job *h = jobs;
    ais_tensor *in[MAX_IO] = {0}, *out[MAX_IO] = {0};
    bool ok = true;
    for (size_t i = 0; i < h->n_in && ok; i++) {
        ok = (in[i] = like(h->inputs[i], total)) != NULL;
        int64_t at = 0;
        for (serve_job *j = jobs; ok && j; at += j->rows, j = j->next)
            ok = copy_rows(in[i], at, j->inputs[i], 0, j->rows) == AIS_OK;
    }
    ais_status st = ok ? ais_session_run(b->session, h->in_names, (const ais_tensor *const *)in,
                                         h->n_in, h->out_names, out, h->n_out)
                       : AIS_E_OUT_OF_MEMORY;
    /* Only outputs that carry the batch's rows first can be split back. */
    for (size_t o = 0; !st && o < h->n_out; o++)
        if (ais_tensor_ndim(out[o]) < 1 || ais_tensor_shape(out[o])[0] != total) st = AIS_E_SHAPE;
    if (!st) {
        int64_t at = 0;
        for (serve_job *j = jobs; j; at += j->rows, j = j->next) {
            bool jok = true;
            for (size_t o = 0; o < h->n_out && jok; o++)
                jok = (j->outputs[o] = like(out[o], j->rows)) != NULL &&
                      copy_rows(j->outputs[o], 0, out[o], at, j->rows) == AIS_OK;
            if (jok) {
                j->status = 200, j->reply_pending = true;
            } else {
                j->status = 500;
                serve_error_body(&j->out, "out of memory splitting the batch");
                j->out_json_len = j->out.len;
            }
            j->batch_rows = total;
        }
    } else {
        /* A failed batch (bad values in one request, a model that mixes rows, no memory):
         * each request alone, so that each gets its own answer or its own error. */
        *fallback = true;
        for (serve_job *j = jobs; j; j = j->next)
            answer_alone(b, j);
    }
    for (size_t i = 0; i < MAX_IO; i++)
        ais_tensor_destroy(in[i]), ais_tensor_destroy(out[i]);
}

static void finish(serve_job *j) {
    void (*done)(void *) = j->done;
    void *arg = j->done_arg;
    done(arg); /* j may be gone after this */
}

static void answer_503(serve_job *j, const char *msg) {
    serve_error_body(&j->out, "%s", msg);
    j->status = 503;
    j->out_json_len = j->out.len;
}

static void *worker(void *arg) {
    serve_batcher *b = arg;
    pthread_mutex_lock(&b->mu);
    for (;;) {
        while (!b->head && !b->stopping)
            pthread_cond_wait(&b->cv, &b->mu);
        if (!b->head) break; /* stopping and nothing left */
        /* Wait for rows compatible with the oldest job, until its deadline. */
        serve_job *h = b->head;
        uint64_t deadline = h->t_queued_ns + b->delay_ns;
        for (;;) {
            int64_t rows = 0;
            for (serve_job *j = b->head; j; j = j->next)
                if (compatible(h, j)) rows += j->rows;
            uint64_t t = now_ns();
            if (rows >= b->max_rows || b->stopping || t >= deadline) break;
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts); /* the condvar's clock */
            uint64_t left = deadline - t;
            ts.tv_sec += (time_t)(left / 1000000000u);
            ts.tv_nsec += (long)(left % 1000000000u);
            if (ts.tv_nsec >= 1000000000L) ts.tv_sec++, ts.tv_nsec -= 1000000000L;
            pthread_cond_timedwait(&b->cv, &b->mu, &ts);
        }
        /* Take the oldest job and, in order, the compatible ones that fit; expired ones are
         * answered 503 (the request's --timeout counts its time in the queue). */
        serve_job *batch = NULL, **bt = &batch, *expired = NULL;
        int64_t total = 0;
        size_t n = 0;
        uint64_t t = now_ns();
        for (serve_job **pp = &b->head; *pp;) {
            serve_job *j = *pp;
            bool old = t - j->t_queued_ns > b->timeout_ns;
            bool take = old || (compatible(h, j) && (n == 0 || total + j->rows <= b->max_rows));
            if (!take) {
                pp = &j->next;
                continue;
            }
            *pp = j->next;
            if (b->tail == j) b->tail = NULL;
            j->next = NULL;
            b->st.queue_depth--;
            serve_metrics_set_queue_depth(b->m->name, b->m->version, b->st.queue_depth);
            if (old) {
                j->next = expired, expired = j;
                b->st.timeouts++;
                continue;
            }
            *bt = j, bt = &j->next;
            total += j->rows;
            n++;
        }
        /* the tail may have been taken: find it again */
        b->tail = b->head;
        while (b->tail && b->tail->next)
            b->tail = b->tail->next;
        pthread_mutex_unlock(&b->mu);
        while (expired) {
            serve_job *j = expired;
            expired = j->next;
            j->next = NULL;
            answer_503(j, "timed out waiting in the batch queue (--timeout)");
            finish(j);
        }
        bool fallback = false;
        if (batch) run_batch(b, batch, n, total, &fallback);
        pthread_mutex_lock(&b->mu);
        if (batch) {
            b->st.batches += fallback ? n : 1;
            b->st.rows += (uint64_t)total;
            b->st.fallbacks += fallback;
            /* /metrics: a fallback ran each request alone, as n batches of one request */
            if (fallback) {
                for (serve_job *j = batch; j; j = j->next) {
                    b->st.batch_hist[hist_bucket(j->rows)]++;
                    serve_metrics_add_batch(b->m->name, b->m->version, 1, (size_t)j->rows);
                }
            } else {
                b->st.batch_hist[hist_bucket(total)]++;
                serve_metrics_add_batch(b->m->name, b->m->version, n, (size_t)total);
            }
        }
        pthread_mutex_unlock(&b->mu);
        while (batch) {
            serve_job *j = batch;
            batch = j->next;
            j->next = NULL;
            finish(j);
        }
        pthread_mutex_lock(&b->mu);
    }
    pthread_mutex_unlock(&b->mu);
    return NULL;
}

serve_batcher *serve_batch_create(serve_model *m, const ais_options *opts, int64_t max_rows,
                                  uint64_t delay_us, unsigned timeout_s) {
    serve_batcher *b = calloc(1, sizeof *b);
    if (!b) return fputs("aistack serve: out of memory\n", stderr), NULL;
    b->m = m;
    b->max_rows = max_rows;
    b->delay_ns = delay_us * 1000u;
    b->timeout_ns = (uint64_t)timeout_s * 1000000000u;
    if (ais_session_create(m->model, opts, &b->session) != AIS_OK) {
        fprintf(stderr, "aistack serve: batcher session for '%s': %s\n", m->name, ais_last_error());
        free(b);
        return NULL;
    }
    pthread_mutex_init(&b->mu, NULL);
    pthread_cond_init(&b->cv, NULL);
    if (pthread_create(&b->worker, NULL, worker, b)) {
        fprintf(stderr, "aistack serve: cannot start the batcher of '%s'\n", m->name);
        serve_batch_destroy(b);
        return NULL;
    }
    b->started = true;
    serve_metrics_set_queue_depth(m->name, m->version, 0); /* the series exists from the start */
    return b;
}

void serve_batch_submit(serve_batcher *b, serve_job *j, void (*done)(void *), void *done_arg) {
    j->done = done;
    j->done_arg = done_arg;
    j->next = NULL;
    j->t_queued_ns = now_ns();
    pthread_mutex_lock(&b->mu);
    b->st.requests++;
    if (b->stopping) {
        pthread_mutex_unlock(&b->mu);
        answer_503(j, "shutting down");
        return finish(j);
    }
    if (b->tail)
        b->tail->next = j;
    else
        b->head = j;
    b->tail = j;
    if (++b->st.queue_depth > b->st.queue_depth_max) b->st.queue_depth_max = b->st.queue_depth;
    /* under mu, so that the gauge's updates keep the queue's order */
    serve_metrics_set_queue_depth(b->m->name, b->m->version, b->st.queue_depth);
    pthread_cond_signal(&b->cv);
    pthread_mutex_unlock(&b->mu);
}

void serve_batch_get_stats(serve_batcher *b, serve_batch_stats *out) {
    pthread_mutex_lock(&b->mu);
    *out = b->st;
    pthread_mutex_unlock(&b->mu);
}

void serve_batch_log(serve_batcher *b) {
    if (!b) return;
    serve_batch_stats st;
    serve_batch_get_stats(b, &st);
    serve_buf line = {0};
    serve_buf_puts(&line, "{\"batcher\": ");
    serve_buf_json_str(&line, b->m->name);
    serve_buf_printf(&line,
                     ", \"version\": %" PRId64 ", \"requests\": %" PRIu64 ", \"batches\": %" PRIu64
                     ", \"rows\": %" PRIu64 ", \"timeouts\": %" PRIu64 ", \"fallbacks\": %" PRIu64
                     ", \"queue_depth_max\": %" PRIu64 ", \"batch_rows_le\": {",
                     b->m->version, st.requests, st.batches, st.rows, st.timeouts, st.fallbacks,
                     st.queue_depth_max);
    bool first = true;
    for (unsigned i = 0; i < SERVE_BATCH_HIST; i++)
        if (st.batch_hist[i]) {
            serve_buf_printf(&line, "%s\"%llu\": %" PRIu64, first ? "" : ", ", 1ull << i,
                             st.batch_hist[i]);
            first = false;
        }
    serve_buf_puts(&line, "}}\n");
    if (!line.oom) fputs(line.p, stderr);
    serve_buf_free(&line);
}

void serve_batch_stop(serve_batcher *b) {
    if (!b || !b->started) return;
    pthread_mutex_lock(&b->mu);
    b->stopping = true;
    pthread_cond_signal(&b->cv);
    pthread_mutex_unlock(&b->mu);
    pthread_join(b->worker, NULL); /* it empties the queue before it returns */
    b->started = false;
}

void serve_batch_destroy(serve_batcher *b) {
    if (!b) return;
    serve_batch_stop(b);
    pthread_mutex_destroy(&b->mu);
    pthread_cond_destroy(&b->cv);
    ais_session_destroy(b->session);
    free(b);
}
