/*
 * model_profile.c - the reference profile a model carries in its .ais DRIFT section: parsed at
 * load (lib/monitor checks the bytes), read with ais_model_profile, and written with
 * ais_model_save_with_profile (ais_model_save writes back the one the model was loaded with).
 */
#include <aistack/ais_monitor.h>
#include <string.h>

#include "format/format.h"
#include "model.h"

static void ais__profile_release(void *p) { ais_profile_destroy(p); }

ais_status ais__model_attach_profile(ais__graph *g) {
    if (!g->drift_profile || g->profile) return AIS_OK;
    ais_profile *p;
    ais_status st = ais_profile_deserialize(g->drift_profile, g->drift_profile_len, &p);
    if (st == AIS_OK) st = ais__graph_hold(g, ais__profile_release, p); /* frees p on failure */
    if (st != AIS_OK) {
        ais__error_prefix(".ais: drift section");
        return st;
    }
    g->profile = p;
    return AIS_OK;
}

AIS_API const ais_profile *ais_model_profile(const ais_model *model) {
    return model ? model->graph->profile : NULL;
}

/* Every feature of the profile names a pipeline input of the same kind, or an input or output
 * of the model: a profile of other data would compare the wrong things. */
static ais_status ais__profile_fits(const ais__graph *g, const ais_profile *p, const char *path) {
    for (size_t i = 0; i < ais_profile_feature_count(p); i++) {
        const char *name;
        ais_feature_kind kind;
        ais_profile_feature_info(p, i, &name, &kind, NULL, NULL, NULL, NULL, NULL, NULL);
        bool found = false;
        if (g->pipeline)
            for (size_t k = 0; k < ais_pipeline_input_count(g->pipeline) && !found; k++) {
                const char *in;
                ais_feature_kind ik;
                ais_pipeline_input_info(g->pipeline, k, &in, &ik);
                if (strcmp(in, name) != 0) continue;
                if (ik != kind)
                    return ais__error(AIS_E_INVALID_ARGUMENT,
                                      "%s: profile feature '%s' is %s, "
                                      "the pipeline's input is %s",
                                      path, name,
                                      kind == AIS_FEATURE_NUMERIC ? "numeric" : "categorical",
                                      ik == AIS_FEATURE_NUMERIC ? "numeric" : "categorical");
                found = true;
            }
        for (size_t k = 0; k < g->n_outputs && !found; k++)
            found = strcmp(g->values[g->outputs[k]].name, name) == 0;
        for (size_t k = 0; k < g->n_inputs && !found; k++) {
            const char *in = g->values[g->inputs[k]].name;
            size_t l = strlen(in);
            /* "NAME" or a column "NAME[j]" of a model input (a plain tensor model's features) */
            found = strcmp(in, name) == 0 ||
                    (strncmp(in, name, l) == 0 && name[l] == '[' && name[l + 1] >= '0' &&
                     name[l + 1] <= '9' &&
                     strspn(name + l + 1, "0123456789") == strlen(name + l + 1) - 1 &&
                     name[strlen(name) - 1] == ']');
        }
        if (!found)
            return ais__error(AIS_E_INVALID_ARGUMENT,
                              "%s: profile feature '%s' is neither a "
                              "pipeline input nor an input (or input column NAME[j]) or output "
                              "of the model",
                              path, name);
    }
    return AIS_OK;
}

AIS_API ais_status ais_model_save_with_profile(const ais_model *model, const ais_profile *profile,
                                               const char *path, const ais_options *options) {
    if (!model || !profile || !path)
        return ais__error(AIS_E_INVALID_ARGUMENT, "ais_model_save_with_profile: %s is NULL",
                          !model     ? "model"
                          : !profile ? "profile"
                                     : "path");
    const ais__graph *g = model->graph;
    AIS__CHECK(ais__profile_fits(g, profile, path));
    size_t len = 0;
    AIS__CHECK(ais_profile_serialize(profile, NULL, 0, &len));
    void *bytes = ais__malloc(len);
    if (!bytes) return ais__oom(len, "drift section");
    ais_status st = ais_profile_serialize(profile, bytes, len, &len);
    ais__pipeline_section sec = {NULL, NULL, 0};
    if (st == AIS_OK && g->pipeline) {
        int32_t target = -1;
        st = ais__pipeline_target(g, g->pipeline, path, &target);
        if (st == AIS_OK) {
            sec.input = g->values[target].name;
            st = ais_pipeline_spec_json(g->pipeline, &sec.spec, &sec.len);
        }
    }
    if (st == AIS_OK)
        st = ais__ais_write_drift(g, g->pipeline ? &sec : NULL, bytes, len, path,
                                  (int)ais__option(options, AIS_OPT_SAVE_COMPRESSION),
                                  options ? options->progress : NULL,
                                  options ? options->progress_data : NULL);
    ais__free(bytes);
    return st;
}
