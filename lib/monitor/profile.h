/*
 * profile.h - what report.c (and the runtime) read of a profile beyond the public getters.
 */
#ifndef AIS_MONITOR_PROFILE_H
#define AIS_MONITOR_PROFILE_H

#include <aistack/ais_monitor.h>

#include "common/common.h"

/* Feature i's reservoir sample (numeric features). */
const double *ais__profile_sample(const ais_profile *p, size_t i, size_t *n);
/* Aligned category counts of reference feature ri and current feature ci (profile.c says how
 * unseen and folded categories count); the caller frees *rc and *cc. */
ais_status ais__profile_counts(const ais_profile *ref, size_t ri, const ais_profile *cur, size_t ci,
                               uint64_t **rc, uint64_t **cc, size_t *k);
/* A deep copy of p (methods included), without touching p: the reference of a model shared
 * by threads (ais_profile_serialize would sort its categories in place). */
ais_status ais__profile_clone(const ais_profile *p, ais_profile **out);
/* The method and threshold chosen for feature i (ais_profile_set_method). */
void ais__profile_method(const ais_profile *p, size_t i, ais_drift_method *m, double *threshold);

#endif
