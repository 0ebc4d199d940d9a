"""Drift statistics (issue 15 item 4, ais_drift_numeric / ais_drift_categorical) against
scipy.stats and Evidently 0.4.40 (both pinned in tests/requirements.txt) on the same samples:
shifted and unshifted, numeric and categorical, small and large references, ties, few distinct
values, NaN and infinities; every value within 1e-6, every verdict and default method equal.
Also the exact and asymptotic branches of the two-sample KS p-value and the chi-square
survival function over a range of degrees of freedom."""
import os
import sys

import numpy as np
import pandas as pd
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "bindings", "python"))
import aistack  # noqa: E402

from scipy import stats  # noqa: E402

from evidently.calculations.stattests import (chi_stat_test, jensenshannon_stat_test,  # noqa
                                              ks_stat_test, psi_stat_test, wasserstein_stat_test,
                                              z_stat_test)
from evidently.calculations.stattests.registry import get_stattest  # noqa: E402
from evidently.core import ColumnType  # noqa: E402

TESTS = {"ks": ks_stat_test, "chisquare": chi_stat_test, "z": z_stat_test,
         "wasserstein": wasserstein_stat_test, "jensenshannon": jensenshannon_stat_test,
         "psi": psi_stat_test}
TOL = 1e-6


def close(a, b):
    return abs(a - b) <= TOL * max(1.0, abs(b))


def evidently_numeric(ref, cur, method):
    r = pd.Series(ref).replace([np.inf, -np.inf], np.nan).dropna()
    c = pd.Series(cur).replace([np.inf, -np.inf], np.nan).dropna()
    test = get_stattest(r, c, ColumnType.Numerical, None) if method == "auto" else TESTS[method]
    res = test(r, c, ColumnType.Numerical, None)
    return test.name, float(res.drift_score), bool(res.drifted), float(res.actual_threshold)


def check_numeric(ref, cur, method="auto"):
    name, value, drifted, thr = evidently_numeric(ref, cur, method)
    got = aistack.drift_numeric(ref, cur, method)
    assert got["method"] == name
    assert close(got["value"], value), (name, got["value"], value)
    assert got["threshold"] == thr
    # a value within rounding of its threshold may fall either way; none of these is that close
    assert got["drift"] == drifted, (name, got, value, drifted)
    return got


def samples(rng, n, shift=0.0, kind="normal"):
    if kind == "normal":
        return rng.normal(shift, 1.0, n)
    if kind == "ties":
        return np.round(rng.normal(shift, 2.0, n))  # many equal values
    if kind == "few":
        return rng.integers(0, 4, n).astype(float) + (shift > 0)  # 4-5 distinct
    if kind == "binary":
        return (rng.random(n) < 0.3 + shift / 10).astype(float)
    raise ValueError(kind)


@pytest.mark.parametrize("kind", ["normal", "ties", "few", "binary"])
@pytest.mark.parametrize("n_ref", [40, 300, 1000, 1001, 4000])
@pytest.mark.parametrize("shift", [0.0, 0.3, 1.0])
def test_numeric_default_method_matches_evidently(kind, n_ref, shift):
    rng = np.random.default_rng(n_ref * 7 + int(shift * 10) + len(kind))
    ref = samples(rng, n_ref, 0.0, kind)
    cur = samples(rng, 700 + n_ref % 97, shift, kind)
    check_numeric(ref, cur)


@pytest.mark.parametrize("method", list(TESTS))
@pytest.mark.parametrize("n_ref,n_cur", [(25, 25), (60, 45), (500, 800), (2500, 1200)])
@pytest.mark.parametrize("shift", [0.0, 0.5])
def test_numeric_every_method_matches_evidently(method, n_ref, n_cur, shift):
    rng = np.random.default_rng(n_ref + n_cur + int(shift * 10))
    ref = rng.normal(0, 1, n_ref)
    cur = rng.normal(shift, 1.2, n_cur)
    if method == "z":  # a binary feature
        ref, cur = (ref > 0).astype(float), (cur > 0.3).astype(float)
    check_numeric(ref, cur, method)
    # few distinct values: Jensen-Shannon and PSI bin by value, chi-square counts values
    if method in ("jensenshannon", "psi", "chisquare"):
        check_numeric(np.round(ref * 3), np.round(cur * 3), method)


def test_nan_and_infinities_are_left_out():
    rng = np.random.default_rng(3)
    ref = rng.normal(0, 1, 200)
    cur = rng.normal(0.4, 1, 150)
    ref[::17] = np.nan
    cur[::13] = np.inf
    cur[5] = -np.inf
    got = check_numeric(ref, cur)
    clean = aistack.drift_numeric(ref[np.isfinite(ref)], cur[np.isfinite(cur)])
    assert got == clean


def test_too_few_values_is_an_error_not_a_nan():
    with pytest.raises(aistack.InvalidArgumentError, match="at least 2"):
        aistack.drift_numeric([1.0, 2.0, 3.0], [np.nan, 1.0])
    with pytest.raises(aistack.InvalidArgumentError, match="reference"):
        aistack.drift_numeric([], [1.0, 2.0])
    with pytest.raises(aistack.InvalidArgumentError, match="at least 2"):
        aistack.drift_categorical([5, 0], [1, 0])
    with pytest.raises(aistack.InvalidArgumentError, match="needs numeric values"):
        aistack.drift_categorical([5, 3], [1, 4], "ks")
    with pytest.raises(aistack.InvalidArgumentError, match="threshold"):
        aistack.drift_numeric([1.0, 2.0], [1.0, 2.0], "ks", -1)
    with pytest.raises(aistack.InvalidArgumentError, match="method"):
        aistack.drift_numeric([1.0, 2.0], [1.0, 2.0], 42)


def test_constant_samples_have_defined_values():
    # Wasserstein divides by max(std, 0.001); KS of identical constants is 1
    a = np.full(50, 3.0)
    check_numeric(a, a.copy(), "ks")
    check_numeric(a, a + 1, "wasserstein")
    check_numeric(a, a.copy(), "z")
    got = aistack.drift_numeric(a, a.copy(), "chisquare")  # one category: p = 1 (scipy: NaN)
    assert got["value"] == 1.0 and not got["drift"]


def series_from_counts(keys, counts):
    return pd.Series(np.repeat(np.array(keys, dtype=object), counts))


@pytest.mark.parametrize("n_ref", [60, 900, 5000])
@pytest.mark.parametrize("shifted", [False, True])
@pytest.mark.parametrize("n_cat", [2, 3, 8])
def test_categorical_matches_evidently(n_ref, shifted, n_cat):
    rng = np.random.default_rng(n_ref + n_cat + shifted)
    keys = [f"c{i}" for i in range(n_cat)]
    p = rng.dirichlet(np.ones(n_cat) * 3)
    q = rng.dirichlet(np.ones(n_cat) * 3) if shifted else p
    rc = rng.multinomial(n_ref, p)
    cc = rng.multinomial(400, q)
    r, c = series_from_counts(keys, rc), series_from_counts(keys, cc)
    methods = ["auto", "chisquare", "jensenshannon", "psi"] + (["z"] if n_cat == 2 else [])
    for method in methods:
        test = get_stattest(r, c, ColumnType.Categorical, None) if method == "auto" \
            else TESTS[method]
        res = test(r, c, ColumnType.Categorical, None)
        got = aistack.drift_categorical(rc, cc, method)
        assert got["method"] == test.name
        assert close(got["value"], float(res.drift_score)), (method, got, res)
        assert got["drift"] == bool(res.drifted)
        assert got["threshold"] == res.actual_threshold


def test_category_never_seen_in_reference():
    rc = np.array([30, 20, 0])
    cc = np.array([10, 10, 5])
    r = series_from_counts(["a", "b", "c"], rc)
    c = series_from_counts(["a", "b", "c"], cc)
    for method in ["chisquare", "jensenshannon", "psi"]:
        with np.errstate(divide="ignore"):
            res = TESTS[method](r, c, ColumnType.Categorical, None)
        got = aistack.drift_categorical(rc, cc, method)
        assert close(got["value"], float(res.drift_score)), (method, got, res)
        assert got["drift"] == bool(res.drifted)
    assert aistack.drift_categorical(rc, cc, "chisquare")["value"] == 0.0


# ---- the KS p-value's branches against scipy directly ----

@pytest.mark.parametrize("n1,n2", [(1, 5), (2, 2), (7, 7), (10, 13), (30, 45), (100, 100),
                                   (250, 400), (1000, 999), (1000, 10000)])
@pytest.mark.parametrize("shift", [0.0, 0.1, 0.4, 1.5])
def test_ks_exact_matches_scipy(n1, n2, shift):
    rng = np.random.default_rng(n1 * 31 + n2 + int(shift * 100))
    a, b = rng.normal(0, 1, n1), rng.normal(shift, 1, n2)
    want = stats.ks_2samp(a, b).pvalue
    got = aistack.drift_numeric(a, b, "ks")["value"] if n1 >= 2 else None
    if got is not None:
        assert close(got, want), (n1, n2, shift, got, want)


@pytest.mark.parametrize("n1", [20, 60, 150, 400, 1000])
@pytest.mark.parametrize("shift", [0.0, 0.05, 0.15, 0.3, 0.8])
def test_ks_asymptotic_matches_scipy(n1, shift):
    # more than 10,000 values on a side: scipy's 'auto' takes kstwo.sf(D, round(n1 n2/(n1+n2)))
    rng = np.random.default_rng(n1 + int(shift * 1000))
    a, b = rng.normal(0, 1, n1), rng.normal(shift, 1, 12000)
    want = stats.ks_2samp(a, b).pvalue
    got = aistack.drift_numeric(a, b, "ks")["value"]
    assert close(got, want), (n1, shift, got, want)


@pytest.mark.parametrize("k", [2, 3, 5, 12, 40, 200])
def test_chisquare_matches_scipy(k):
    rng = np.random.default_rng(k)
    for total in (50, 1000, 100000):
        p = rng.dirichlet(np.ones(k))
        exp_counts = rng.multinomial(total, p)
        obs = rng.multinomial(total, rng.dirichlet(np.ones(k) * 50) * 0.5 + p * 0.5)
        exp_counts = np.maximum(exp_counts, 1)
        want = stats.chisquare(obs, exp_counts * obs.sum() / exp_counts.sum()).pvalue
        got = aistack.drift_categorical(exp_counts, obs, "chisquare")["value"]
        assert close(got, want), (k, total, got, want)
