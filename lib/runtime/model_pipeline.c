/*
 * model_pipeline.c - a model's feature pipeline: compiling the spec a .ais file carries and
 * checking that a pipeline fits the model's input. It lives in the runtime, not beside the .ais
 * reader and writer, because lib/format sits below lib/pipeline (docs/design-decisions.md,
 * "Layers"): the reader hands the PIPELINE section back as bytes, and the writer is given bytes.
 */
#include <stdio.h>
#include <string.h>

#include "format/format.h"
#include "model.h"
#include "pipeline/pipeline.h"

ais_status ais__pipeline_image_target(const ais__graph *g, const ais_pipeline *pipeline,
                                      const char *who, int32_t *input);

ais_status ais__pipeline_target(const ais__graph *g, const ais_pipeline *pipeline, const char *who,
                                int32_t *input) {
    if (ais__pipeline_tokenizer(pipeline)) return ais__text_target(g, pipeline, who, input);
    size_t width = ais_pipeline_output_width(pipeline);
    if (g->n_inputs != 1) {
        char names[160] = "";
        size_t at = 0;
        for (size_t i = 0; i < g->n_inputs && at < sizeof names; i++)
            at += (size_t)snprintf(names + at, sizeof names - at, "%s\"%s\"", i ? ", " : "",
                                   g->values[g->inputs[i]].name);
        return ais__error(AIS_E_INVALID_ARGUMENT,
                          "%s: a feature pipeline feeds a model with exactly one input, this one "
                          "has %zu%s%s",
                          who, g->n_inputs, g->n_inputs ? ": " : "", names);
    }
    const ais__value *v = &g->values[g->inputs[0]];
    /* The pipeline computes in double and gives whichever of f32 and f64 the input takes. */
    if (v->dtype != AIS_DTYPE_F32 && v->dtype != AIS_DTYPE_F64)
        return ais__error(AIS_E_DTYPE,
                          "%s: model input \"%s\" is %s, the feature pipeline gives f32 or f64",
                          who, v->name, ais_dtype_name(v->dtype));
    if (pipeline->image) return ais__pipeline_image_target(g, pipeline, who, input);
    if (v->ndim >= 0 && v->ndim != 2)
        return ais__error(AIS_E_INVALID_ARGUMENT,
                          "%s: model input \"%s\" has %d dimensions, the feature pipeline gives "
                          "[rows, %zu]",
                          who, v->name, (int)v->ndim, width);
    if (v->ndim == 2 && v->dims[1] != AIS__DIM_DYNAMIC && v->dims[1] != (int64_t)width)
        return ais__error(AIS_E_SHAPE,
                          "%s: model input \"%s\" takes %lld features per row, the feature "
                          "pipeline gives %zu",
                          who, v->name, (long long)v->dims[1], width);
    *input = g->inputs[0];
    return AIS_OK;
}

/* An image pipeline gives [rows, 3, H, W] (or [rows, H, W, 3]): the input's static dims past
 * the batch must be those. */
ais_status ais__pipeline_image_target(const ais__graph *g, const ais_pipeline *pipeline,
                                      const char *who, int32_t *input) {
    const ais__value *v = &g->values[g->inputs[0]];
    int64_t d[3];
    ais__pipeline_image_shape(pipeline, d);
    if (v->ndim >= 0 && v->ndim != 4)
        return ais__error(AIS_E_INVALID_ARGUMENT,
                          "%s: model input \"%s\" has %d dimensions, the image pipeline gives "
                          "[batch, %lld, %lld, %lld]",
                          who, v->name, (int)v->ndim, (long long)d[0], (long long)d[1],
                          (long long)d[2]);
    for (int i = 0; v->ndim == 4 && i < 3; i++)
        if (v->dims[i + 1] != AIS__DIM_DYNAMIC && v->dims[i + 1] != d[i])
            return ais__error(AIS_E_SHAPE,
                              "%s: model input \"%s\" has dimension %d of %lld, the image "
                              "pipeline gives [batch, %lld, %lld, %lld]",
                              who, v->name, i + 1, (long long)v->dims[i + 1], (long long)d[0],
                              (long long)d[1], (long long)d[2]);
    *input = g->inputs[0];
    return AIS_OK;
}

static void ais__pipeline_release(void *p) { ais_pipeline_destroy(p); }

ais_status ais__model_attach_pipeline(ais__graph *g) {
    if (!g->pipeline_input || g->pipeline) return AIS_OK;
    ais_pipeline *p = NULL;
    ais_status st = ais_pipeline_create_from_json(g->pipeline_spec, g->pipeline_spec_len, &p);
    int32_t target = -1;
    if (st == AIS_OK) st = ais__pipeline_target(g, p, ".ais: pipeline section", &target);
    if (st == AIS_OK && strcmp(g->values[target].name, g->pipeline_input) != 0)
        st = ais__error(AIS_E_FORMAT,
                        ".ais: pipeline section: it feeds input \"%.64s\", the model's input is "
                        "\"%.64s\"",
                        g->pipeline_input, g->values[target].name);
    if (st != AIS_OK) {
        ais_pipeline_destroy(p);
    } else {
        st = ais__graph_hold(g, ais__pipeline_release, p); /* frees p when it fails */
        if (st == AIS_OK) g->pipeline = p;
    }
    if (st != AIS_OK && !strstr(ais_last_error(), "pipeline section"))
        ais__error_prefix(".ais: pipeline section");
    return st;
}

ais_status ais__model_write(const ais__graph *g, const ais_pipeline *pipeline, const char *path,
                            const ais_options *options) {
    if (!pipeline)
        return ais__ais_write_progress(
            g, NULL, path, (int)ais__option(options, AIS_OPT_SAVE_COMPRESSION),
            options ? options->progress : NULL, options ? options->progress_data : NULL);
    int32_t target = -1;
    AIS__CHECK(ais__pipeline_target(g, pipeline, path, &target));
    ais__pipeline_section sec = {g->values[target].name, NULL, 0};
    AIS__CHECK(ais_pipeline_spec_json(pipeline, &sec.spec, &sec.len));
    return ais__ais_write_progress(
        g, &sec, path, (int)ais__option(options, AIS_OPT_SAVE_COMPRESSION),
        options ? options->progress : NULL, options ? options->progress_data : NULL);
}
