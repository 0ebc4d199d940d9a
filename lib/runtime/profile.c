/*
 * profile.c - AIS_OPT_PROFILE: per-node calls and time of a session's runs, and the public calls
 * that read them. The run loops (run.c) add to the counts only when the session has them, so a
 * session without profiling pays one branch per node. Counts are per graph node, not per plan
 * step, so they survive re-planning for new input shapes.
 */
#include "session_internal.h"

ais_status ais__prof_create(const ais_options *options, const ais__graph *g, ais__prof **out) {
    *out = NULL;
    if (!ais__option(options, AIS_OPT_PROFILE)) return AIS_OK;
    size_t bytes = sizeof(ais__prof) + (g->n_nodes ? g->n_nodes : 1) * sizeof(ais__prof_node);
    ais__prof *p = ais__calloc(1, bytes);
    if (!p) return ais__oom(bytes, "session profile");
    *out = p;
    return AIS_OK;
}

/* Claims the session (as ais_session_node_info does: counts change during a run) and checks
 * that it profiles. */
static ais_status ais__prof_enter(const ais_session *s, const char *who) {
    if (!s) return ais__error(AIS_E_INVALID_ARGUMENT, "%s: session is NULL", who);
    if (!s->prof)
        return ais__error(AIS_E_INVALID_ARGUMENT,
                          "%s: the session does not profile; create it with AIS_OPT_PROFILE = 1",
                          who);
    return ais__session_enter((ais_session *)s, who);
}

AIS_API ais_status ais_session_profile(const ais_session *s, uint64_t *runs, uint64_t *total_ns) {
    AIS__CHECK(ais__prof_enter(s, "ais_session_profile"));
    if (runs) *runs = s->prof->runs;
    if (total_ns) *total_ns = s->prof->ns;
    ais__session_leave((ais_session *)s);
    return AIS_OK;
}

AIS_API ais_status ais_session_profile_node(const ais_session *s, size_t index, const char **name,
                                            const char **op_type, ais_backend *backend,
                                            uint64_t *calls, uint64_t *total_ns) {
    AIS__CHECK(ais__prof_enter(s, "ais_session_profile_node"));
    const ais__graph *g = s->model->graph;
    ais_status st = AIS_OK;
    if (index >= g->n_nodes) {
        st = ais__error(AIS_E_NOT_FOUND,
                        "ais_session_profile_node: index %zu, the session has %zu nodes", index,
                        g->n_nodes);
    } else {
        if (name) *name = g->nodes[index].name;
        if (op_type) *op_type = g->nodes[index].op_type;
        if (backend) *backend = s->node_backend[index];
        if (calls) *calls = s->prof->nodes[index].calls;
        if (total_ns) *total_ns = s->prof->nodes[index].ns;
    }
    ais__session_leave((ais_session *)s);
    return st;
}

AIS_API ais_status ais_session_profile_reset(ais_session *s) {
    AIS__CHECK(ais__prof_enter(s, "ais_session_profile_reset"));
    const ais__graph *g = s->model->graph;
    s->prof->runs = 0;
    s->prof->ns = 0;
    for (size_t i = 0; i < g->n_nodes; i++)
        s->prof->nodes[i] = (ais__prof_node){0, 0};
    ais__session_leave(s);
    return AIS_OK;
}
