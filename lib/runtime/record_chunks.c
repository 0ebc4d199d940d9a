/*
 * record_chunks.c - record runs on models exported with a fixed batch (many torchvision and
 * Keras exports take exactly [1, 3, 224, 224]): the pipeline's rows run in chunks of the model's
 * batch, the last one padded with zero rows, and each output's rows are concatenated in record
 * order. For images as for any pipeline.
 */
#include <string.h>

#include "session_internal.h"

static ais_status chunk_output(const char *who, size_t i, const ais_tensor *part, int64_t batch,
                               size_t n, size_t at, size_t m, ais_tensor **fin) {
    size_t nd = ais_tensor_ndim(part);
    const int64_t *s = ais_tensor_shape(part);
    ais_dtype dt = ais_tensor_dtype(part);
    if (nd < 1 || s[0] != batch)
        return ais__error(AIS_E_SHAPE,
                          "%s: the model takes a fixed batch of %lld, so records run in chunks, "
                          "but output %zu is not batched along its first dimension",
                          who, (long long)batch, i);
    if (dt == AIS_DTYPE_STRING || dt == AIS_DTYPE_SEQUENCE)
        return ais__error(AIS_E_UNSUPPORTED,
                          "%s: output %zu is %s: records in chunks of the model's fixed batch "
                          "take numeric outputs only",
                          who, i, ais_dtype_name(dt));
    if (!*fin) {
        int64_t shape[AIS_MAX_DIMS];
        memcpy(shape, s, nd * sizeof *shape);
        shape[0] = (int64_t)n;
        AIS__CHECK(ais_tensor_create(dt, shape, nd, fin));
    } else if (ais_tensor_dtype(*fin) != dt || ais_tensor_ndim(*fin) != nd ||
               memcmp(ais_tensor_shape(*fin) + 1, s + 1, (nd - 1) * sizeof *s) != 0) {
        return ais__error(AIS_E_SHAPE, "%s: output %zu changed its shape between chunks", who, i);
    }
    size_t row = ais_tensor_nbytes(part) / (size_t)batch;
    memcpy((uint8_t *)ais_tensor_data(*fin) + at * row, ais_tensor_data_const(part), m * row);
    return AIS_OK;
}

ais_status ais__run_in_chunks(ais_session *s, const char *who, const char *name,
                              const ais_tensor *features, int64_t batch,
                              const char *const *output_names, ais_tensor **outputs,
                              size_t n_outputs) {
    size_t nd = ais_tensor_ndim(features), n = (size_t)ais_tensor_shape(features)[0];
    int64_t shape[AIS_MAX_DIMS];
    memcpy(shape, ais_tensor_shape(features), nd * sizeof *shape);
    shape[0] = batch;
    size_t row = n ? ais_tensor_nbytes(features) / n : 0;
    ais_tensor *chunk = NULL;
    ais_tensor **part = ais__calloc(n_outputs ? n_outputs : 1, sizeof *part);
    ais_tensor **fin = ais__calloc(n_outputs ? n_outputs : 1, sizeof *fin);
    ais_status st = part && fin ? ais_tensor_create(ais_tensor_dtype(features), shape, nd, &chunk)
                                : ais__oom(2 * n_outputs * sizeof *part, who);
    for (size_t at = 0; st == AIS_OK && at < n; at += (size_t)batch) {
        size_t m = n - at < (size_t)batch ? n - at : (size_t)batch;
        uint8_t *c = ais_tensor_data(chunk);
        memcpy(c, (const uint8_t *)ais_tensor_data_const(features) + at * row, m * row);
        memset(c + m * row, 0, ((size_t)batch - m) * row);
        const ais_tensor *in = chunk;
        st = ais__session_run(s, &name, &in, 1, output_names, part, n_outputs);
        if (st != AIS_OK)
            ais__error_prefix("%s: records %zu to %zu (a chunk of the model's fixed batch %lld)",
                              who, at, at + m - 1, (long long)batch);
        for (size_t i = 0; i < n_outputs; i++) {
            if (st == AIS_OK) st = chunk_output(who, i, part[i], batch, n, at, m, &fin[i]);
            ais_tensor_destroy(part[i]);
            part[i] = NULL;
        }
    }
    /* the caller's slots: in place when they fit, as ais_session_run does */
    for (size_t i = 0; st == AIS_OK && i < n_outputs; i++) {
        if (!outputs[i]) continue;
        if (ais_tensor_dtype(outputs[i]) != ais_tensor_dtype(fin[i]) ||
            ais_tensor_nbytes(outputs[i]) != ais_tensor_nbytes(fin[i]) ||
            ais_tensor_ndim(outputs[i]) != ais_tensor_ndim(fin[i]))
            st = ais__error(AIS_E_SHAPE,
                            "%s: output slot %zu holds a tensor of another dtype or "
                            "shape than the output",
                            who, i);
    }
    for (size_t i = 0; st == AIS_OK && i < n_outputs; i++) {
        if (outputs[i]) {
            memcpy(ais_tensor_data(outputs[i]), ais_tensor_data_const(fin[i]),
                   ais_tensor_nbytes(fin[i]));
            ais_tensor_destroy(fin[i]);
        } else {
            outputs[i] = fin[i];
        }
        fin[i] = NULL;
    }
    for (size_t i = 0; fin && i < n_outputs; i++)
        ais_tensor_destroy(fin[i]);
    ais__free(part);
    ais__free(fin);
    ais_tensor_destroy(chunk);
    return st;
}
