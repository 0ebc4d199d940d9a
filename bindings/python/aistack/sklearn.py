"""Exports a fitted scikit-learn pipeline into one .ais file: the preprocessing becomes a feature
pipeline spec (docs/pipeline-spec.md), the final estimator an ONNX graph over the feature matrix
(float64 for the estimators that compute in double, float32 for those that cast to float32:
feature_dtype), and the two are saved together, so that raw records or CSV rows give
scikit-learn's predictions.

    from aistack import sklearn as ais_sklearn
    ais_sklearn.export(fitted_pipeline, "model.ais", input_names=["age", "city", ...])

Supported scikit-learn versions: 1.2 through 1.9 (SUPPORTED_SKLEARN; tested with the oldest and
newest releases of that range); any other version is refused with a RuntimeError naming the range.
Supported steps: Pipeline, ColumnTransformer (columns by index, by name when fitted
on named columns, remainder "drop"/"passthrough"/a transformer, nested Pipelines), SimpleImputer
(missing_values NaN, add_indicator), StandardScaler, MinMaxScaler (clip), RobustScaler,
OneHotEncoder (drop, handle_unknown, infrequent categories), OrdinalEncoder, KBinsDiscretizer,
FunctionTransformer(np.log1p) and FunctionTransformer() (identity); final estimators
LogisticRegression, LinearRegression, Ridge, DecisionTree/RandomForest/ExtraTrees/
GradientBoosting/HistGradientBoosting Classifier and Regressor, XGBClassifier/XGBRegressor.
Pipelines fitted on pandas DataFrames take their input names from feature_names_in_.
Anything else raises NotImplementedError
naming the step: an export is never silently wrong. docs/sklearn-export.md has the details.
"""
from __future__ import annotations

import json
import os
from typing import Any, Dict, List, Optional, Sequence, Union

import numpy as np

__all__ = ["export", "to_spec", "estimator_to_onnx", "export_bytes", "feature_dtype",
           "SUPPORTED_SKLEARN"]

ML_DOMAIN = "ai.onnx.ml"

# The scikit-learn releases (major, minor), inclusive, whose fitted attributes the exporter reads
# as documented in docs/sklearn-export.md. A release outside the range is refused rather than
# exported: a renamed or re-meant fitted attribute would give a silently different model.
SUPPORTED_SKLEARN = ((1, 2), (1, 9))


def _range_text():
    (lo_maj, lo_min), (hi_maj, hi_min) = SUPPORTED_SKLEARN
    return f"{lo_maj}.{lo_min} through {hi_maj}.{hi_min}"


def _sklearn_version():
    """(major, minor) of the imported scikit-learn; raises RuntimeError outside
    SUPPORTED_SKLEARN. Read at each call (not at import), so that `import aistack.sklearn` works
    whatever is installed."""
    import re
    import sklearn
    v = str(getattr(sklearn, "__version__", "unknown"))
    (lo_maj, lo_min), (hi_maj, hi_min) = SUPPORTED_SKLEARN
    m = re.match(r"(\d+)\.(\d+)", v)
    got = (int(m.group(1)), int(m.group(2))) if m else None
    if got is None or not (lo_maj, lo_min) <= got <= (hi_maj, hi_min):
        raise RuntimeError(
            f"aistack.sklearn supports scikit-learn {_range_text()}, "
            f"this is scikit-learn {v}: install a supported version "
            f"(pip install 'scikit-learn>={lo_maj}.{lo_min},<{hi_maj}.{hi_min + 1}')")
    return got


# ---- preprocessing -> pipeline spec ----

class _Block:
    """One feature block under construction: a chain of steps over one raw input."""

    def __init__(self, name: str):
        self.input = name
        self.steps: List[Dict[str, Any]] = []
        self.kind = "auto"  # what flows: auto (raw, not yet typed), numeric, categorical, vector
        self.width = 1
        self.handles_missing = False  # a missing input value becomes a defined output

    def copy(self) -> "_Block":
        b = _Block(self.input)
        b.steps = list(self.steps)
        b.kind, b.width, b.handles_missing = self.kind, self.width, self.handles_missing
        return b


class _Ctx:
    def __init__(self):
        self.kinds: Dict[str, str] = {}

    def need(self, b: _Block, kind: str, what: str) -> None:
        """Requires the value flowing in b to be `kind`, typing a raw input on first use."""
        if b.kind == "vector":
            raise NotImplementedError(
                f"{what}: follows an encoder's output columns (one-hot), which the feature "
                f"pipeline cannot transform further")
        if b.kind == "auto":
            old = self.kinds.get(b.input)
            if old and old != kind:
                raise ValueError(f"{what}: input {b.input!r} is used as {kind} here but as {old} "
                                 f"elsewhere")
            self.kinds[b.input] = kind
            b.kind = kind
        elif b.kind != kind:
            raise ValueError(f"{what}: takes a {kind} value, column of input {b.input!r} is "
                             f"{b.kind}")


def _num(x) -> float:
    v = float(x)
    if not np.isfinite(v):
        raise ValueError(f"non-finite fitted parameter {v}")
    return v


def _is_missing(v) -> bool:
    # pandas' NA / NaT compare by type name, so that pandas stays optional
    return v is None or (isinstance(v, float) and np.isnan(v)) or (
        isinstance(v, np.floating) and np.isnan(v)) or type(v).__name__ in ("NAType",
                                                                             "NaTType")


def _categories(cats, what: str):
    """(values as JSON-ready list, kind, has_missing) of one feature's fitted categories."""
    vals = [c for c in cats.tolist()]
    has_missing = any(_is_missing(c) for c in vals)
    vals = [c for c in vals if not _is_missing(c)]
    if all(isinstance(c, str) for c in vals):
        return vals, "categorical", has_missing
    if vals and all(isinstance(c, (bool, np.bool_)) for c in vals):
        # a bool column is a numeric input holding 0 / 1 (True / False in records)
        return [float(c) for c in vals], "numeric", has_missing
    if all(isinstance(c, (int, float, np.integer, np.floating)) and not isinstance(c, bool)
           for c in vals):
        return [_num(c) for c in vals], "numeric", has_missing
    raise NotImplementedError(f"{what}: categories must be all strings or all numbers, got "
                              f"{sorted({type(c).__name__ for c in vals})}")


def _name(step) -> str:
    return type(step).__name__


def _apply(step, blocks: List[_Block], ctx: _Ctx, where: str) -> List[_Block]:
    """The blocks after the fitted transformer `step` transforms `blocks` (its input columns)."""
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import (FunctionTransformer, KBinsDiscretizer, MinMaxScaler,
                                       OneHotEncoder, OrdinalEncoder, RobustScaler,
                                       StandardScaler)

    what = f"{where}{_name(step)}"
    if step is None or (isinstance(step, str) and step == "passthrough"):
        return blocks
    n_in = getattr(step, "n_features_in_", None)
    width = sum(b.width for b in blocks)
    if n_in is not None and n_in != width:
        raise ValueError(f"{what}: fitted on {n_in} columns, gets {width} here")
    if isinstance(step, Pipeline):
        for name, sub in step.steps:
            blocks = _apply(sub, blocks, ctx, f"{where}{name}: ")
        return blocks
    if isinstance(step, ColumnTransformer):
        return _column_transformer(step, blocks, ctx, where)
    if isinstance(step, StandardScaler):
        # mean_ is fitted even when with_mean is False: the flags decide
        return _numeric_columns(blocks, ctx, what, lambda j, b: [{
            "op": "scale", "kind": "standard",
            "mean": _num(step.mean_[j]) if step.with_mean else 0.0,
            "scale": _num(step.scale_[j]) if step.with_std else 1.0}])
    if isinstance(step, RobustScaler):
        return _numeric_columns(blocks, ctx, what, lambda j, b: [{
            "op": "scale", "kind": "robust",
            "center": _num(step.center_[j]) if step.with_centering else 0.0,
            "scale": _num(step.scale_[j]) if step.with_scaling else 1.0}])
    if isinstance(step, MinMaxScaler):
        lo, hi = step.feature_range
        clip = [{"op": "clip", "lo": _num(lo), "hi": _num(hi)}] if step.clip else []
        return _numeric_columns(blocks, ctx, what, lambda j, b: [{
            "op": "scale", "kind": "minmax", "min": _num(step.min_[j]),
            "scale": _num(step.scale_[j])}] + clip)
    if isinstance(step, FunctionTransformer):
        if step.func is None:
            return blocks
        if step.func is not np.log1p or step.kw_args:
            raise NotImplementedError(
                f"{what}: only FunctionTransformer(np.log1p) (no kw_args) or "
                f"FunctionTransformer() is supported, got func={step.func!r}")
        return _numeric_columns(blocks, ctx, what, lambda j, b: [{"op": "log1p"}])
    if isinstance(step, SimpleImputer):
        return _imputer(step, blocks, ctx, what)
    if isinstance(step, KBinsDiscretizer):
        return _numeric_columns(blocks, ctx, what, lambda j, b: _kbins(step, j, b, what))
    if isinstance(step, OneHotEncoder):
        return _onehot(step, blocks, ctx, what)
    if isinstance(step, OrdinalEncoder):
        return _ordinal(step, blocks, ctx, what)
    raise NotImplementedError(f"{what}: transformer {_name(step)} is not supported by the "
                              f"aistack exporter")


def _numeric_columns(blocks, ctx, what, steps_for):
    """Appends steps_for(j, block) to a copy of each block j, whose value must be numeric (the
    per-column transformers: scalers, log1p, the discretizer)."""
    out = []
    for j, b in enumerate(blocks):
        ctx.need(b, "numeric", what)
        b = b.copy()
        b.steps.extend(steps_for(j, b))
        out.append(b)
    return out


def _kbins(step, j, b, what):
    """KBinsDiscretizer on column j: the bin index, one-hot encoded unless encode='ordinal'."""
    edges = [_num(e) for e in step.bin_edges_[j][1:-1]]
    if any(e2 <= e1 for e1, e2 in zip(edges, edges[1:])):
        raise ValueError(f"{what}: bin edges of column {j} do not increase strictly")
    steps = [{"op": "bucketize", "edges": edges}]
    if step.encode != "ordinal":
        n = int(step.n_bins_[j])
        steps.append({"op": "onehot", "categories": [float(i) for i in range(n)]})
        b.kind, b.width = "vector", n
    return steps


def _imputer(step, blocks, ctx, what):
    mv = step.missing_values
    if not (isinstance(mv, float) and np.isnan(mv)) and mv is not None:
        raise NotImplementedError(f"{what}: missing_values must be np.nan, got {mv!r}")
    # the spec's strategy only documents where the value came from (a callable: "constant")
    strategy = step.strategy if step.strategy in ("mean", "median", "most_frequent") else "constant"
    out = []
    for j, b in enumerate(blocks):
        stat = step.statistics_[j]
        if _is_missing(stat):
            continue  # scikit-learn drops a column with no observed value (keep_empty_features)
        b = b.copy()
        if isinstance(stat, str):
            ctx.need(b, "categorical", what)
            b.steps.append({"op": "impute", "strategy": strategy, "value": stat})
        else:
            ctx.need(b, "numeric", what)
            b.steps.append({"op": "impute", "strategy": strategy, "value": _num(stat)})
        b.handles_missing = True
        out.append(b)
    if step.add_indicator and step.indicator_ is not None:
        for j in step.indicator_.features_:
            b = blocks[j].copy()  # the value before imputation
            if b.kind == "vector":
                ctx.need(b, "numeric", what)  # raises
            b.steps.append({"op": "indicator"})
            b.kind = "numeric"  # of the output; a raw input keeps its own kind
            b.handles_missing = True
            out.append(b)
    return out


def _onehot(step, blocks, ctx, what):
    # "warn" (scikit-learn 1.6+) encodes as "infrequent_if_exist" and warns; the feature pipeline
    # has no warning channel per record, so it encodes the same, silently
    if step.handle_unknown not in ("error", "ignore", "infrequent_if_exist", "warn"):
        raise NotImplementedError(f"{what}: handle_unknown={step.handle_unknown!r}")
    infrequent = _infrequent(step, len(blocks))
    out = []
    for j, b in enumerate(blocks):
        cats, kind, has_missing = _categories(step.categories_[j], what)
        if has_missing:
            raise NotImplementedError(
                f"{what}: column {j} was fitted with missing values, which OneHotEncoder makes a "
                f"category of; put a SimpleImputer before it")
        ctx.need(b, kind, what)
        b = b.copy()
        s: Dict[str, Any] = {"op": "onehot"}
        inf = infrequent[j]
        if inf is not None and len(inf):
            inf_vals, _, _ = _categories(inf, what)
            inf_set = set(inf_vals)
            s["categories"] = [c for c in cats if c not in inf_set]
            s["infrequent"] = inf_vals
        else:
            s["categories"] = cats
        if step.handle_unknown == "ignore":
            s["unknown"] = "ignore"
        elif step.handle_unknown in ("infrequent_if_exist", "warn"):
            s["unknown"] = "infrequent" if "infrequent" in s else "ignore"
        drop = _onehot_drop(step, j, s)
        if drop is not None:
            s["drop"] = drop
        b.steps.append(s)
        n = len(s["categories"]) + (1 if "infrequent" in s else 0) - (1 if "drop" in s else 0)
        b.kind, b.width = "vector", n
        # a missing value gives zeros, as scikit-learn's "ignore" for an unseen value
        b.handles_missing = b.handles_missing or s.get("unknown") == "ignore"
        out.append(b)
    return out


def _infrequent(step, n):
    """Per column, the infrequent categories of a fitted OneHotEncoder / OrdinalEncoder, or None.
    The public infrequent_categories_ is a property that raises AttributeError when infrequent
    grouping is off (min_frequency and max_categories unset, and always for OrdinalEncoder before
    1.3), which getattr turns into the default."""
    inf = getattr(step, "infrequent_categories_", None)
    return list(inf) if inf is not None else [None] * n


def _onehot_drop(step, j, s):
    """The output column (of s["categories"] + the infrequent column) that the fitted
    OneHotEncoder drops for input column j, or None, from the public drop_idx_. Its meaning
    changed: scikit-learn 1.2 gives the index after grouping the infrequent categories into one
    column (the index of the output column); since 1.3 it indexes categories_[j] (the dropped
    category itself). The two agree when column j has no infrequent categories."""
    idx = getattr(step, "drop_idx_", None)
    if idx is None or idx[j] is None:
        return None
    idx = int(idx[j])
    if "infrequent" not in s or _sklearn_version() < (1, 3):
        return idx
    cat = step.categories_[j][idx]  # matched with ==, as the spec's categories (str / float)
    for k, c in enumerate(s["categories"]):
        if c == cat:
            return k
    # scikit-learn refuses to drop an infrequent category in fit, so this is not reached
    raise ValueError(f"OneHotEncoder: column {j} drops {cat!r}, which is not a frequent category")


def _ordinal(step, blocks, ctx, what):
    infrequent = _infrequent(step, len(blocks))
    out = []
    for j, b in enumerate(blocks):
        cats, kind, has_missing = _categories(step.categories_[j], what)
        ctx.need(b, kind, what)
        b = b.copy()
        s: Dict[str, Any] = {"op": "ordinal", "categories": cats}
        inf = infrequent[j]
        if inf is not None and len(inf):
            inf_vals, _, _ = _categories(inf, what)
            inf_set = set(inf_vals)
            s["categories"] = [c for c in cats if c not in inf_set]
            s["infrequent"] = inf_vals
        missing_value = None
        if step.handle_unknown == "use_encoded_value":
            if "infrequent" in s:
                s["unknown"] = "infrequent"
            else:
                uv = float(step.unknown_value)
                s["unknown"] = "use_value"
                s["unknown_value"] = None if np.isnan(uv) else uv
                missing_value = uv  # a missing value not seen in fit is unknown
        if has_missing:
            missing_value = float(step.encoded_missing_value)
        if missing_value is not None:
            s["missing_value"] = None if np.isnan(missing_value) else missing_value
            if not np.isnan(missing_value):
                b.handles_missing = True
        b.steps.append(s)
        b.kind = "numeric"
        out.append(b)
    return out


def _column_transformer(ct, blocks, ctx, where):
    out: List[_Block] = []
    # The input column indices of each fitted transformer: no public attribute holds them
    # (transformers_ keeps the columns as given: names, slices, masks, resolved callables), and
    # resolving those again would copy scikit-learn's rules. The private
    # _transformer_to_input_indices (name -> list of indices, "remainder" included) has the same
    # name and meaning in every supported release (1.2 through 1.9); checked, not assumed.
    indices = getattr(ct, "_transformer_to_input_indices", None)
    if not isinstance(indices, dict):
        raise NotImplementedError(
            f"{where}ColumnTransformer: this scikit-learn has no _transformer_to_input_indices; "
            f"the exporter supports scikit-learn {_range_text()}")
    for name, trans, _cols in ct.transformers_:
        idx = indices.get(name, [])
        if trans == "drop" or len(idx) == 0:
            continue
        sub = [blocks[i] for i in idx]
        out += _apply(trans, sub, ctx, f"{where}{name}: ")
    return out


def _input_names(est, names: Optional[Sequence[str]], n: Optional[int]) -> List[str]:
    fitted = getattr(est, "feature_names_in_", None)
    if fitted is not None:
        fitted = [str(x) for x in fitted]
    if names is not None:
        names = [str(x) for x in names]
        if n is not None and len(names) != n:
            raise ValueError(f"input_names has {len(names)} names, the estimator was fitted on "
                             f"{n} columns")
        if fitted is not None and names != fitted:
            diff = [(i, a, b) for i, (a, b) in enumerate(zip(names, fitted)) if a != b]
            i, a, b = diff[0]
            raise ValueError(f"input_names differ from the column names the estimator was "
                             f"fitted on (feature_names_in_): position {i} is {a!r} in "
                             f"input_names, {b!r} in the fitted data ({len(diff)} differences); "
                             f"leave input_names out to use the fitted names")
        return names
    if fitted is not None:
        return fitted
    if n is None:
        raise ValueError("input_names is needed: the estimator does not say how many columns it "
                         "takes")
    return [f"x{i}" for i in range(n)]


def to_spec(preprocessor, input_names: Optional[Sequence[str]] = None, *,
            n_features_in: Optional[int] = None) -> Dict[str, Any]:
    """The pipeline spec (a dict, docs/pipeline-spec.md) of a fitted preprocessing transformer:
    a Pipeline of transformers, a ColumnTransformer, one transformer, or None / "passthrough"
    (then input_names or n_features_in gives the columns). Input names default to the fitted
    feature_names_in_, else x0, x1, ..."""
    _sklearn_version()
    n = n_features_in
    if preprocessor is not None and preprocessor != "passthrough":
        n = getattr(preprocessor, "n_features_in_", n)
    names = _input_names(preprocessor, input_names, n)
    if len(set(names)) != len(names):
        raise ValueError("input_names must be unique")
    ctx = _Ctx()
    blocks = _apply(preprocessor, [_Block(x) for x in names], ctx, "")
    return _finish(names, blocks, ctx)


def _finish(names, blocks, ctx) -> Dict[str, Any]:
    if not blocks:
        raise ValueError("the preprocessing keeps no column")
    used = {b.input for b in blocks}
    allow: Dict[str, bool] = {}
    for b in blocks:
        allow[b.input] = allow.get(b.input, True) and b.handles_missing
    inputs = []
    for x in names:
        if x not in used:
            continue
        kind = ctx.kinds.get(x, "numeric")
        inputs.append({"name": x, "type": kind, "missing": "allow" if allow[x] else "error"})
    for b in blocks:
        if ctx.kinds.get(b.input) == "categorical" and b.kind in ("categorical", "auto"):
            raise NotImplementedError(f"input {b.input!r} is categorical (strings) but reaches "
                                      f"the model without an encoder")
    features = [{"input": b.input, "steps": b.steps} for b in blocks]
    spec: Dict[str, Any] = {"version": 1, "inputs": inputs, "features": features}
    # Training columns that the preprocessing drops (remainder="drop", columns no transformer
    # selects): known fields, so that the whole training DataFrame runs under the strict
    # default for unknown fields, which still catches a misspelled column.
    ignored = [x for x in names if x not in used]
    if ignored:
        spec["ignored_fields"] = ignored
    return spec


def spec_width(spec: Dict[str, Any]) -> int:
    w = 0
    for f in spec["features"]:
        last = f["steps"][-1] if f["steps"] else {}
        if last.get("op") == "onehot":
            w += (len(last["categories"]) + (1 if "infrequent" in last else 0)
                  - (1 if "drop" in last else 0))
        elif last.get("op") == "hash":
            w += int(last["n_features"])
        else:
            w += 1
    return w


# ---- final estimator -> ONNX ----

def _make_model(nodes, inputs, outputs, initializers, ml=False):
    from onnx import helper
    graph = helper.make_graph(nodes, "sklearn_export", inputs, outputs, initializers)
    opsets = [helper.make_opsetid("", 17)]
    if ml:
        opsets.append(helper.make_opsetid(ML_DOMAIN, 3))
    model = helper.make_model(graph, opset_imports=opsets, producer_name="aistack.sklearn")
    model.ir_version = 8
    return model.SerializeToString()


def _class_labels(classes, what):
    if classes.dtype.kind in "iub":
        return [int(c) for c in classes], "int"
    if classes.dtype.kind in "OUS" and all(isinstance(c, str) for c in classes.tolist()):
        return [str(c) for c in classes], "str"
    if classes.dtype.kind == "f" and all(float(c).is_integer() for c in classes):
        raise NotImplementedError(f"{what}: float class labels; fit on integer or string labels")
    raise NotImplementedError(f"{what}: class labels of dtype {classes.dtype}")


def _io(width, outputs, xtype=None):
    from onnx import TensorProto, helper
    x = helper.make_tensor_value_info("X", TensorProto.FLOAT if xtype is None else xtype,
                                      [None, width])
    outs = [helper.make_tensor_value_info(n, t, s) for n, t, s in outputs]
    return x, outs


def _linear(est, width, what):
    from onnx import TensorProto, helper, numpy_helper
    from sklearn.linear_model import LinearRegression, LogisticRegression, Ridge

    coef = np.asarray(est.coef_, dtype=np.float64)
    intercept = np.atleast_1d(np.asarray(est.intercept_, dtype=np.float64))
    if coef.ndim == 1:
        coef = coef[None, :]
    if coef.shape[1] != width:
        raise ValueError(f"{what}: {coef.shape[1]} coefficients per output, {width} features")
    # All in double, as scikit-learn: the features come float64 from the pipeline
    # (feature_dtype), so only the documented float32 outputs are rounded.
    inits = [numpy_helper.from_array(coef.T.copy(), "coef"),
             numpy_helper.from_array(intercept, "intercept")]
    nodes = [helper.make_node("MatMul", ["X", "coef"], ["xw"]),
             helper.make_node("Add", ["xw", "intercept"], ["scores"])]
    if isinstance(est, (LinearRegression, Ridge)):
        if coef.shape[0] != 1:
            raise NotImplementedError(f"{what}: more than one regression target")
        nodes.append(helper.make_node("Identity", ["scores"], ["value"]))
        x, outs = _io(width, [("value", TensorProto.DOUBLE, [None, 1])], TensorProto.DOUBLE)
        return _make_model(nodes, [x], outs, inits)
    assert isinstance(est, LogisticRegression)
    labels, lkind = _class_labels(est.classes_, what)
    k = len(labels)
    ovr = _logreg_ovr(est, k)
    if k == 2:
        inits += [numpy_helper.from_array(np.array([1.0]), "one"),
                  numpy_helper.from_array(np.array([0.0]), "zero")]
        logit = "scores"
        if not ovr:
            # binary multinomial (multi_class="multinomial" until 1.7): predict_proba is
            # softmax([-s, s]), i.e. sigmoid(2 s)
            inits.append(numpy_helper.from_array(np.array([2.0]), "two"))
            nodes.append(helper.make_node("Mul", ["scores", "two"], ["scores2"]))
            logit = "scores2"
        nodes += [helper.make_node("Sigmoid", [logit], ["p1"]),
                  helper.make_node("Sub", ["one", "p1"], ["p0"]),
                  helper.make_node("Concat", ["p0", "p1"], ["p64"], axis=1),
                  helper.make_node("Greater", ["scores", "zero"], ["pos"]),
                  helper.make_node("Cast", ["pos"], ["pos64"], to=TensorProto.INT64),
                  helper.make_node("Squeeze", ["pos64", "axis1"], ["idx"])]
        inits.append(numpy_helper.from_array(np.array([1], np.int64), "axis1"))
    else:
        if ovr:
            nodes += [helper.make_node("Sigmoid", ["scores"], ["sig"]),
                      helper.make_node("ReduceSum", ["sig", "axis1"], ["sigsum"], keepdims=1),
                      helper.make_node("Div", ["sig", "sigsum"], ["p64"])]
            inits.append(numpy_helper.from_array(np.array([1], np.int64), "axis1"))
        else:
            nodes.append(helper.make_node("Softmax", ["scores"], ["p64"], axis=1))
        nodes.append(helper.make_node("ArgMax", ["scores"], ["idx"], axis=1, keepdims=0))
    if lkind == "int":
        inits.append(numpy_helper.from_array(np.array(labels, np.int64), "classes"))
        nodes.append(helper.make_node("Gather", ["classes", "idx"], ["label"], axis=0))
        ltype = TensorProto.INT64
    else:
        # .ais files cannot store string tensors (initializers), but can store string
        # attributes: the class index is mapped to its name by a LabelEncoder.
        nodes.append(helper.make_node("LabelEncoder", ["idx"], ["label"], domain=ML_DOMAIN,
                                      keys_int64s=list(range(k)), values_strings=labels,
                                      default_string=""))
        ltype = TensorProto.STRING
    nodes.append(helper.make_node("Cast", ["p64"], ["probabilities"], to=TensorProto.FLOAT))
    x, outs = _io(width, [("label", ltype, [None]),
                          ("probabilities", TensorProto.FLOAT, [None, k])], TensorProto.DOUBLE)
    return _make_model(nodes, [x], outs, inits, ml=lkind == "str")


def _logreg_ovr(est, k) -> bool:
    """Whether the fitted LogisticRegression's predict_proba is one-vs-rest (a sigmoid per class,
    normalized to sum 1; sigmoid(s) when binary) rather than multinomial (softmax; sigmoid(2 s)
    when binary)."""
    params = est.get_params(deep=False)
    if "multi_class" not in params:
        # scikit-learn 1.8 removed multi_class (deprecated since 1.5): a binary model is a
        # sigmoid, a multiclass one always multinomial (liblinear refuses more than two classes)
        return k <= 2
    # 1.2 to 1.7: "auto" (the default until 1.5) and "deprecated" (its name from 1.5) mean
    # one-vs-rest for liblinear only; "ovr" and "multinomial" say it
    mc = params["multi_class"]
    return mc == "ovr" or (mc in ("auto", "deprecated") and (k <= 2 or est.solver == "liblinear"))


class _Trees:
    """Collects TreeEnsemble attributes, thresholds and leaf weights in double."""

    def __init__(self):
        self.nodes = {k: [] for k in ("treeids", "nodeids", "featureids", "modes",
                                      "truenodeids", "falsenodeids", "missing")}
        self.values: List[float] = []
        self.w_tree: List[int] = []
        self.w_node: List[int] = []
        self.w_target: List[int] = []
        self.w: List[float] = []
        self.n_trees = 0

    def add(self, tree, leaf_weights):
        """tree: a fitted sklearn Tree; leaf_weights(node) -> [(target, weight)]."""
        t = self.n_trees
        self.n_trees += 1
        # missing_go_to_left exists from scikit-learn 1.3, when trees learned to route NaN;
        # before, a tree refuses NaN itself (allow_nan is False), so no row needs it
        missing_left = getattr(tree, "missing_go_to_left", None)
        for i in range(tree.node_count):
            leaf = tree.children_left[i] == -1
            n = self.nodes
            n["treeids"].append(t)
            n["nodeids"].append(i)
            n["featureids"].append(0 if leaf else int(tree.feature[i]))
            n["modes"].append("LEAF" if leaf else "BRANCH_LEQ")
            n["truenodeids"].append(0 if leaf else int(tree.children_left[i]))
            n["falsenodeids"].append(0 if leaf else int(tree.children_right[i]))
            n["missing"].append(int(bool(missing_left[i])) if (missing_left is not None
                                                               and not leaf) else 0)
            self.values.append(0.0 if leaf else float(tree.threshold[i]))
            if leaf:
                for target, w in leaf_weights(i):
                    self.w_tree.append(t)
                    self.w_node.append(i)
                    self.w_target.append(target)
                    self.w.append(float(w))

    def add_hist(self, nodes, leaf_weights):
        """nodes: a HistGradientBoosting TreePredictor's node records (float64 thresholds and
        values, left/right child indices, missing_go_to_left); leaf_weights(node) as in add."""
        t = self.n_trees
        self.n_trees += 1
        n = self.nodes
        for i in range(len(nodes)):
            leaf = bool(nodes["is_leaf"][i])
            n["treeids"].append(t)
            n["nodeids"].append(i)
            n["featureids"].append(0 if leaf else int(nodes["feature_idx"][i]))
            n["modes"].append("LEAF" if leaf else "BRANCH_LEQ")
            n["truenodeids"].append(0 if leaf else int(nodes["left"][i]))
            n["falsenodeids"].append(0 if leaf else int(nodes["right"][i]))
            n["missing"].append(0 if leaf else int(bool(nodes["missing_go_to_left"][i])))
            # HistGradientBoosting compares float64 x <= float64 t: the model takes float64
            # features (feature_dtype) and keeps t as it is, so every row takes sklearn's path.
            self.values.append(0.0 if leaf else float(nodes["num_threshold"][i]))
            if leaf:
                for target, w in leaf_weights(i):
                    self.w_tree.append(t)
                    self.w_node.append(i)
                    self.w_target.append(target)
                    self.w.append(float(w))

    def attrs(self, prefix):
        from onnx import numpy_helper
        n = self.nodes
        return {
            "nodes_treeids": n["treeids"], "nodes_nodeids": n["nodeids"],
            "nodes_featureids": n["featureids"], "nodes_modes": n["modes"],
            "nodes_truenodeids": n["truenodeids"], "nodes_falsenodeids": n["falsenodeids"],
            "nodes_missing_value_tracks_true": n["missing"],
            # sklearn's trees compare float32(x) <= a double threshold, HistGradientBoosting
            # float64 x <= a double threshold: keep the thresholds double
            "nodes_values_as_tensor": numpy_helper.from_array(np.array(self.values, np.float64)),
            f"{prefix}_treeids": self.w_tree, f"{prefix}_nodeids": self.w_node,
            f"{prefix}_ids": self.w_target,
            f"{prefix}_weights_as_tensor": numpy_helper.from_array(np.array(self.w, np.float64)),
        }


def _hist_gradient_boosting(est, tr, what):
    """Adds the trees of a fitted HistGradientBoosting model to tr; returns (base, post)."""
    from sklearn.base import is_classifier
    cats = getattr(est, "is_categorical_", None)
    if cats is not None and np.any(cats):
        raise NotImplementedError(
            f"{what}: categorical features (categorical_features={est.categorical_features!r} "
            f"marks columns {np.flatnonzero(cats).tolist()}) split on category sets, which the "
            f"exporter does not support; encode them in the pipeline (OrdinalEncoder / "
            f"OneHotEncoder) and set categorical_features=None")
    # The loss from the public `loss` parameter: a name, or a loss object of sklearn._loss (whose
    # class names are the same in 1.2 through 1.9).
    loss = est.loss
    lname = loss if isinstance(loss, str) else type(loss).__name__
    if is_classifier(est):
        # every name the classifier accepts is the log loss ("log_loss"; in 1.2 also "auto",
        # "binary_crossentropy", "categorical_crossentropy", removed in 1.3): a sigmoid over one
        # tree per iteration, a softmax over one per class
        if not (isinstance(loss, str)
                or lname in ("HalfBinomialLoss", "HalfMultinomialLoss")):
            raise NotImplementedError(f"{what}: loss {lname}")
        post = "LOGISTIC" if est.n_trees_per_iteration_ == 1 else "SOFTMAX"
    else:
        if isinstance(loss, str):
            link = "IdentityLink" if loss in ("squared_error", "absolute_error",
                                              "quantile") else "a log link"
        else:
            link = type(loss.link).__name__
        if link != "IdentityLink":
            raise NotImplementedError(
                f"{what}: loss {lname!r} has a non-identity link ({link}); "
                f"only losses predicting the raw sum (squared_error, absolute_error, quantile) "
                f"are supported")
        post = "NONE"
    # The trees and the baseline have no public attribute: _predictors (per iteration, per
    # tree, a TreePredictor whose .nodes holds value, feature_idx, num_threshold,
    # missing_go_to_left, left, right, is_leaf) and _baseline_prediction have the same names,
    # fields and meaning in 1.2 through 1.9 (the range _sklearn_version admits).
    for predictors in est._predictors:
        for k, predictor in enumerate(predictors):
            nodes = predictor.nodes
            tr.add_hist(nodes, lambda i, nodes=nodes, k=k: [(k, float(nodes["value"][i]))])
    base = np.asarray(est._baseline_prediction, dtype=np.float64).reshape(-1)
    return base, post


def _trees(est, width, what):
    from onnx import TensorProto, helper, numpy_helper
    from sklearn.base import is_classifier
    from sklearn.ensemble import (ExtraTreesClassifier, ExtraTreesRegressor,
                                  GradientBoostingClassifier, GradientBoostingRegressor,
                                  HistGradientBoostingClassifier, HistGradientBoostingRegressor,
                                  RandomForestClassifier, RandomForestRegressor)
    from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

    if est.n_features_in_ != width:
        raise ValueError(f"{what}: fitted on {est.n_features_in_} features, the preprocessing "
                         f"gives {width}")
    tr = _Trees()
    base = None
    post = "NONE"
    xtype = TensorProto.DOUBLE if feature_dtype(est) == np.float64 else TensorProto.FLOAT
    if isinstance(est, (DecisionTreeClassifier, DecisionTreeRegressor)):
        members, scale = [est], 1.0
    elif isinstance(est, (RandomForestClassifier, RandomForestRegressor, ExtraTreesClassifier,
                          ExtraTreesRegressor)):
        members, scale = list(est.estimators_), 1.0
    elif isinstance(est, (HistGradientBoostingClassifier, HistGradientBoostingRegressor)):
        members, scale = None, None
    else:
        members, scale = None, float(est.learning_rate)
    if is_classifier(est) and members is not None:
        if getattr(est, "n_outputs_", 1) != 1:
            raise NotImplementedError(f"{what}: multi-output classification")
        k = len(est.classes_)
        n = len(members)
        for m in members:
            value = m.tree_.value[:, 0, :]

            def leaf(i, value=value):
                p = value[i] / value[i].sum()  # predict_proba's normalization
                return [(c, p[c] / n) for c in range(k)]
            tr.add(m.tree_, leaf)
    elif members is not None:
        if getattr(est, "n_outputs_", 1) != 1:
            raise NotImplementedError(f"{what}: more than one regression target")
        n = len(members)
        for m in members:
            value = m.tree_.value[:, 0, 0]
            tr.add(m.tree_, lambda i, value=value: [(0, value[i] / n)])
    elif scale is None:  # hist gradient boosting: baseline + sum of the (shrunk) leaf values
        base, post = _hist_gradient_boosting(est, tr, what)
    else:  # gradient boosting: init + learning_rate * sum of stage trees
        from sklearn.dummy import DummyClassifier, DummyRegressor
        init = est.init_
        # the base score is computed once, so it must not depend on the row: "zero", or a
        # Dummy* estimator (the default init), but not a random "stratified" one
        if not ((isinstance(init, str) and init == "zero")
                or isinstance(init, DummyRegressor)
                or (isinstance(init, DummyClassifier) and init.strategy != "stratified")):
            raise NotImplementedError(
                f"{what}: init={init!r}: the exporter supports the default init (a constant "
                f"prior) or 'zero'; an init estimator's prediction varies with the row")
        stages = est.estimators_
        kk = stages.shape[1]
        for s in range(stages.shape[0]):
            for c in range(kk):
                value = stages[s, c].tree_.value[:, 0, 0]
                tr.add(stages[s, c].tree_,
                       lambda i, value=value, c=c: [(c, scale * value[i])])
        # The init's raw score (its prior through the loss's link) has no public attribute;
        # _raw_predict_init(X) gives it in 1.2 through 1.9 (from the old _gb_losses in 1.2, the
        # common sklearn._loss since 1.3: different but equivalent multinomial raw scores).
        base = est._raw_predict_init(np.zeros((1, width)))[0].astype(np.float64)
        if isinstance(est, GradientBoostingClassifier):
            # the public `loss`: "log_loss" (in 1.2 also "deviance") is a sigmoid over one tree
            # per stage or a softmax over one per class; "exponential" is not supported
            if est.loss not in ("log_loss", "deviance"):
                raise NotImplementedError(f"{what}: loss {est.loss!r}")
            post = "LOGISTIC" if kk == 1 else "SOFTMAX"
        elif not isinstance(est, GradientBoostingRegressor):
            raise NotImplementedError(what)
    attrs: Dict[str, Any] = {}
    if is_classifier(est):
        labels, lkind = _class_labels(est.classes_, what)
        attrs.update(tr.attrs("class"))
        attrs["classlabels_int64s" if lkind == "int" else "classlabels_strings"] = labels
        attrs["post_transform"] = post
        if base is not None:
            attrs["base_values_as_tensor"] = numpy_helper.from_array(base)
        node = helper.make_node("TreeEnsembleClassifier", ["X"], ["label", "probabilities"],
                                domain=ML_DOMAIN, **attrs)
        k = len(labels)
        x, outs = _io(width, [("label", TensorProto.INT64 if lkind == "int" else
                               TensorProto.STRING, [None]),
                              ("probabilities", TensorProto.FLOAT, [None, k])], xtype)
        return _make_model([node], [x], outs, [], ml=True)
    # A float32 output cannot hold 1e-5 at magnitudes above 128, so the value is double: the
    # leaf weights are split into a coarse part on a grid 2^-g, whose sums are exact in float32,
    # and the small rest; two ensembles sum them and the two results are added in double.
    w = np.array(tr.w)
    b = 0.0 if base is None else float(base[0])
    bound = np.abs(w).sum() + abs(b) + 1.0
    g = 22 - int(np.ceil(np.log2(bound)))
    hi = np.round(w * 2.0 ** g) / 2.0 ** g
    b_hi = np.round(b * 2.0 ** g) / 2.0 ** g
    nodes, names = [], []
    for part, weights, bv in (("hi", hi, b_hi), ("lo", w - hi, b - b_hi)):
        tr.w = weights.tolist()
        attrs = tr.attrs("target")
        attrs["n_targets"] = 1
        attrs["aggregate_function"] = "SUM"
        attrs["base_values_as_tensor"] = numpy_helper.from_array(np.array([bv]))
        nodes += [helper.make_node("TreeEnsembleRegressor", ["X"], [f"value_{part}"],
                                   domain=ML_DOMAIN, **attrs),
                  helper.make_node("Cast", [f"value_{part}"], [f"value_{part}64"],
                                   to=TensorProto.DOUBLE)]
        names.append(f"value_{part}64")
    nodes.append(helper.make_node("Add", names, ["value"]))
    x, outs = _io(width, [("value", TensorProto.DOUBLE, [None, 1])], xtype)
    return _make_model(nodes, [x], outs, [], ml=True)


def _xgboost(est, width, what) -> bytes:
    booster = est.get_booster()
    n = booster.num_features()
    if n != width:
        raise ValueError(f"{what}: fitted on {n} features, the preprocessing gives {width}")
    return bytes(booster.save_raw("json"))


def feature_dtype(est):
    """The dtype of the features the exported model of final estimator `est` takes, chosen to
    match scikit-learn's own arithmetic: np.float64 for the estimators that compute in double
    (HistGradientBoosting compares float64 features with float64 thresholds; LinearRegression,
    Ridge and LogisticRegression compute X @ coef in double), np.float32 for those that cast X to
    float32 themselves (DecisionTree, RandomForest, ExtraTrees, GradientBoosting) and XGBoost.
    The feature pipeline computes in double and gives this dtype (the .ais model's input)."""
    _sklearn_version()
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
    from sklearn.linear_model import LinearRegression, LogisticRegression, Ridge
    if isinstance(est, (HistGradientBoostingClassifier, HistGradientBoostingRegressor,
                        LinearRegression, Ridge, LogisticRegression)):
        return np.dtype(np.float64)
    return np.dtype(np.float32)


def estimator_to_onnx(est, width: int) -> bytes:
    """The serialized model of a fitted final estimator over the [N, width] features of
    feature_dtype(est): an ONNX graph (input "X"; classifiers output "label" and "probabilities"
    float32, regressors "value" float64 [N, 1]), or, for XGBoost, the booster's JSON (input
    "input", outputs "margin" and, for classifiers, "probability")."""
    _sklearn_version()
    from sklearn.ensemble import (ExtraTreesClassifier, ExtraTreesRegressor,
                                  GradientBoostingClassifier, GradientBoostingRegressor,
                                  HistGradientBoostingClassifier, HistGradientBoostingRegressor,
                                  RandomForestClassifier, RandomForestRegressor)
    from sklearn.linear_model import LinearRegression, LogisticRegression, Ridge
    from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

    what = _name(est)
    if isinstance(est, (LinearRegression, Ridge, LogisticRegression)):
        return _linear(est, width, what)
    if isinstance(est, (DecisionTreeClassifier, DecisionTreeRegressor, RandomForestClassifier,
                        RandomForestRegressor, ExtraTreesClassifier, ExtraTreesRegressor,
                        GradientBoostingClassifier, GradientBoostingRegressor,
                        HistGradientBoostingClassifier, HistGradientBoostingRegressor)):
        return _trees(est, width, what)
    mod = type(est).__module__
    if mod.startswith("xgboost") and hasattr(est, "get_booster"):
        return _xgboost(est, width, what)
    raise NotImplementedError(f"final estimator {what} is not supported by the aistack exporter")


def export_bytes(estimator, *, input_names: Optional[Sequence[str]] = None):
    """(spec dict, model bytes) of a fitted Pipeline or bare estimator, without saving.
    Raises RuntimeError for a scikit-learn outside SUPPORTED_SKLEARN."""
    _sklearn_version()
    from sklearn.pipeline import Pipeline
    steps = list(estimator.steps) if isinstance(estimator, Pipeline) else [("", estimator)]
    final = steps[-1][1]
    if final is None or (isinstance(final, str) and final == "passthrough"):
        raise ValueError("the pipeline has no final estimator")
    names = _input_names(estimator, input_names, getattr(estimator, "n_features_in_", None))
    if len(set(names)) != len(names):
        raise ValueError("input_names must be unique")
    ctx = _Ctx()
    blocks = [_Block(x) for x in names]
    for name, step in steps[:-1]:
        blocks = _apply(step, blocks, ctx, f"{name}: ")
    if _allows_nan(final):
        for b in blocks:
            # NaN reaches the model, which routes it as scikit-learn does
            if b.kind != "vector" and all(s["op"] in _NAN_THROUGH for s in b.steps):
                b.handles_missing = True
    spec = _finish(names, blocks, ctx)
    return spec, estimator_to_onnx(final, spec_width(spec))


# steps that turn NaN into NaN (or a defined value) in scikit-learn as in the feature pipeline;
# KBinsDiscretizer and the one-hot encoders refuse NaN in scikit-learn, so they are not here
_NAN_THROUGH = {"scale", "clip", "log1p", "impute", "indicator", "ordinal", "passthrough"}


def _allows_nan(est) -> bool:
    """Whether the fitted final estimator predicts on NaN features (scikit-learn's allow_nan
    tag: HistGradientBoosting, and the trees and forests that support missing values), so that
    a missing numeric input may flow to it as NaN."""
    if type(est).__module__.startswith("xgboost"):
        return True
    try:
        from sklearn.utils import get_tags  # public from scikit-learn 1.6
    except ImportError:
        get_tags = None
    from sklearn.base import BaseEstimator
    if not isinstance(est, BaseEstimator):
        return False  # not scikit-learn's: estimator_to_onnx refuses it, naming it
    if get_tags is not None:
        return bool(get_tags(est).input_tags.allow_nan)
    # 1.2 to 1.5: the tags exist only as the private _get_tags() dict
    return bool(est._get_tags().get("allow_nan", False))


def export(estimator, path: Union[str, os.PathLike], *,
           input_names: Optional[Sequence[str]] = None, compression: int = 0) -> Dict[str, Any]:
    """Writes the fitted Pipeline (or bare estimator) as one .ais file holding the feature
    pipeline and the model; returns the spec."""
    from ._model import Model
    spec, blob = export_bytes(estimator, input_names=input_names)
    with Model.from_bytes(blob) as m:
        m.save(path, compression=compression, pipeline=json.dumps(spec))
    return spec
