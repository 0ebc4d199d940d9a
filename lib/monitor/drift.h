/*
 * drift.h - the statistics of drift detection (drift_stats.c, special functions in
 * drift_special.c), as scipy.stats computes them and Evidently uses them; see
 * docs/monitoring.md for the formulas and the rules that pick a method.
 *
 * Inputs here are already clean: finite values only, numeric samples sorted ascending.
 */
#ifndef AIS_MONITOR_DRIFT_H
#define AIS_MONITOR_DRIFT_H

#include <aistack/ais_monitor.h>

#include "common/common.h"

/* scipy.stats.ks_2samp(a, b).pvalue (two-sided, method 'auto'); a and b sorted, n >= 1. */
double ais__ks_2samp_p(const double *a, size_t na, const double *b, size_t nb, double *stat);
/* scipy.stats.chisquare(obs, exp).pvalue; entries with exp == 0 and obs > 0 make it 0. */
double ais__chisquare_p(const double *obs, const double *exp, size_t k);
/* scipy.stats.wasserstein_distance(a, b); a and b sorted. */
double ais__wasserstein(const double *a, size_t na, const double *b, size_t nb);
/* scipy.spatial.distance.jensenshannon(p, q) (natural log), p and q normalized here. */
double ais__jensenshannon(const double *p, const double *q, size_t k);

/* Special functions (drift_special.c). */
double ais__chi2_sf(double x, double df); /* scipy.stats.chi2.sf */
double ais__kstwo_sf(double d, double n); /* scipy.stats.kstwo.sf */
double ais__norm_cdf(double x);           /* scipy.stats.norm.cdf */
double ais__ks_exact_square(int64_t n, int64_t h);
double ais__ks_exact_inside(int64_t m, int64_t n, int64_t g, int64_t h);

#endif
