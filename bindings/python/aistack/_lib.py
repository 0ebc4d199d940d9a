"""Finds and loads libaistack, and declares the C signatures used by the package.

ctypes.CDLL releases the GIL around every foreign call, so model loading and session runs let
other Python threads proceed.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import glob
import os
from ctypes import (POINTER, c_char_p, c_double, c_float, c_int, c_int32, c_int64, c_size_t,
                    c_uint32, c_uint64, c_void_p)
from typing import List, Optional

HERE = os.path.dirname(os.path.abspath(__file__))

# Opaque handles.
TensorP = c_void_p
ModelP = c_void_p
SessionP = c_void_p
OptionsP = c_void_p
AttrsP = c_void_p

RELEASE_FN = ctypes.CFUNCTYPE(None, c_void_p, c_void_p)


def _source_root() -> Optional[str]:
    """The source checkout this package is imported from (bindings/python/aistack), or None
    for an installed package."""
    root = os.path.dirname(os.path.dirname(os.path.dirname(HERE)))
    marker = os.path.join(root, "include", "aistack", "aistack.h")
    return root if os.path.isfile(marker) else None


# Development build folders, in this fixed order: the tests' build (scripts/test.sh), then the
# demo's (scripts/demo.sh). Named, not globbed, so the choice never depends on which other
# build*/ folders exist (an ASan build cannot load into a plain interpreter anyway).
DEV_BUILDS = ("build", "build-release")


def _candidates() -> List[str]:
    """Where the library is looked for, in the order stated in bindings/python/README.md."""
    env = os.environ.get("AISTACK_LIBRARY")
    if env:
        return [env]  # an explicit choice is never second-guessed
    # The library the wheel bundles (pip install .) or one copied into the package folder.
    found = sorted(glob.glob(os.path.join(HERE, "libaistack.so*")))
    root = _source_root()
    if root:
        found += [p for p in (os.path.join(root, b, "libaistack.so") for b in DEV_BUILDS)
                  if os.path.exists(p)]
    system = ctypes.util.find_library("aistack")
    if system:
        found.append(system)
    return found


def _load() -> ctypes.CDLL:
    errors = []
    for path in _candidates():
        try:
            lib = ctypes.CDLL(path)
            lib.ais_version_string  # noqa: B018 - it must be libaistack
            lib._aistack_path = path
            return lib
        except (OSError, AttributeError) as e:  # e.g. a sanitizer build in a plain interpreter
            errors.append(f"{path}: {e}")
    where = "; ".join(errors) if errors else "no candidate found"
    raise ImportError("libaistack.so not found: install the package with pip (the wheel bundles "
                      "the library), set AISTACK_LIBRARY to its path, or build it in build/ "
                      f"({where})")


lib = _load()
path: str = lib._aistack_path


def _sig(name: str, restype, *argtypes) -> None:
    fn = getattr(lib, name, None)
    if fn is None:  # an older library: the function raises when used, not at import
        return
    fn.restype = restype
    fn.argtypes = list(argtypes)


status = c_int
_sig("ais_version_number", c_uint32)
_sig("ais_version_string", c_char_p)
_sig("ais_status_name", c_char_p, status)
_sig("ais_status_string", c_char_p, status)
_sig("ais_last_error", c_char_p)
_sig("ais_set_num_threads", status, c_int32)
_sig("ais_get_num_threads", c_int32)

_sig("ais_dtype_size", c_size_t, c_int)
_sig("ais_dtype_name", c_char_p, c_int)
_sig("ais_tensor_create", status, c_int, POINTER(c_int64), c_size_t, POINTER(TensorP))
_sig("ais_tensor_wrap", status, c_int, POINTER(c_int64), c_size_t, c_void_p, c_size_t,
     RELEASE_FN, c_void_p, POINTER(TensorP))
_sig("ais_tensor_destroy", None, TensorP)
_sig("ais_tensor_dtype", c_int, TensorP)
_sig("ais_tensor_ndim", c_size_t, TensorP)
_sig("ais_tensor_shape", POINTER(c_int64), TensorP)
_sig("ais_tensor_size", c_size_t, TensorP)
_sig("ais_tensor_nbytes", c_size_t, TensorP)
_sig("ais_tensor_describe", status, c_void_p, c_size_t, POINTER(c_int32), POINTER(c_uint64),
     POINTER(c_int64), POINTER(c_void_p), POINTER(c_uint64))
_sig("ais_tensor_data", c_void_p, TensorP)
_sig("ais_tensor_load", status, c_char_p, POINTER(TensorP))
_sig("ais_tensor_save_npy", status, TensorP, c_char_p)

_sig("ais_options_create", status, POINTER(OptionsP))
_sig("ais_options_destroy", None, OptionsP)
_sig("ais_options_set_int", status, OptionsP, c_int, c_int64)
_sig("ais_options_get_int", status, OptionsP, c_int, POINTER(c_int64))

_sig("ais_model_load", status, c_char_p, OptionsP, POINTER(ModelP))
_sig("ais_model_load_memory", status, c_void_p, c_size_t, OptionsP, POINTER(ModelP))
_sig("ais_model_destroy", None, ModelP)
_sig("ais_model_retain", ModelP, ModelP)
_sig("ais_model_input_count", c_size_t, ModelP)
_sig("ais_model_output_count", c_size_t, ModelP)
_info_args = (ModelP, c_size_t, POINTER(c_char_p), POINTER(c_int), POINTER(c_size_t),
              POINTER(POINTER(c_int64)))
_sig("ais_model_input_info", status, *_info_args)
_sig("ais_model_output_info", status, *_info_args)
_sig("ais_model_input_dim_name", c_char_p, ModelP, c_size_t, c_size_t)
_sig("ais_model_output_dim_name", c_char_p, ModelP, c_size_t, c_size_t)
_sig("ais_model_metadata_count", c_size_t, ModelP)
_sig("ais_model_metadata_at", status, ModelP, c_size_t, POINTER(c_char_p), POINTER(c_char_p))
_sig("ais_model_save", status, ModelP, c_char_p, OptionsP)
_sig("ais_model_node_count", c_size_t, ModelP)
_sig("ais_model_weight_bytes", c_size_t, ModelP)

_sig("ais_monitor_create", status, POINTER(c_void_p))
_sig("ais_monitor_destroy", None, c_void_p)
_sig("ais_monitor_set_latency_buckets", status, c_void_p, POINTER(c_double), c_size_t)
_sig("ais_options_set_monitor", status, OptionsP, c_void_p)
_sig("ais_monitor_set_request_log", status, c_void_p, c_char_p, c_double, c_size_t, c_uint64)
_sig("ais_monitor_flush", status, c_void_p)
_sig("ais_monitor_metric", status, c_void_p, c_char_p, c_int, POINTER(c_uint64))
_sig("ais_monitor_prometheus", status, c_void_p, c_char_p, c_size_t, POINTER(c_size_t))
_sig("ais_session_metric", status, SessionP, c_int, POINTER(c_uint64))
_sig("ais_profile_create", status, c_uint32, c_uint32, c_uint64, POINTER(c_void_p))
_sig("ais_profile_destroy", None, c_void_p)
_sig("ais_profile_add_feature", status, c_void_p, c_char_p, c_int, POINTER(c_size_t))
_sig("ais_profile_find", status, c_void_p, c_char_p, POINTER(c_size_t))
_sig("ais_profile_observe_numbers", status, c_void_p, c_size_t, POINTER(c_double), c_size_t)
_sig("ais_profile_observe_strings", status, c_void_p, c_size_t, POINTER(c_char_p), c_size_t)
_sig("ais_profile_feature_count", c_size_t, c_void_p)
_sig("ais_profile_feature_info", status, c_void_p, c_size_t, POINTER(c_char_p), POINTER(c_int),
     POINTER(c_uint64), POINTER(c_uint64), POINTER(c_double), POINTER(c_double),
     POINTER(c_double), POINTER(c_double))
_sig("ais_profile_serialize", status, c_void_p, c_void_p, c_size_t, POINTER(c_size_t))
_sig("ais_profile_deserialize", status, c_char_p, c_size_t, POINTER(c_void_p))
_sig("ais_profile_drift", status, c_void_p, c_void_p, POINTER(c_void_p))
_sig("ais_drift_report_json", status, c_void_p, c_char_p, c_size_t, POINTER(c_size_t))
_sig("ais_drift_report_destroy", None, c_void_p)
_sig("ais_monitor_drift", status, c_void_p, c_char_p, POINTER(c_void_p))
_sig("ais_session_drift", status, SessionP, POINTER(c_void_p))
_sig("ais_model_profile", c_void_p, ModelP)
_sig("ais_model_save_with_profile", status, ModelP, c_void_p, c_char_p, OptionsP)
_sig("ais_drift_numeric", status, POINTER(c_double), c_size_t, POINTER(c_double), c_size_t, c_int,
     c_double, POINTER(c_int), POINTER(c_double), POINTER(c_double), POINTER(c_int32))
_sig("ais_drift_categorical", status, POINTER(c_uint64), POINTER(c_uint64), c_size_t, c_int,
     c_double, POINTER(c_int), POINTER(c_double), POINTER(c_double), POINTER(c_int32))
_sig("ais_session_create", status, ModelP, OptionsP, POINTER(SessionP))
_sig("ais_session_destroy", None, SessionP)
_sig("ais_session_run", status, SessionP, POINTER(c_char_p), POINTER(TensorP), c_size_t,
     POINTER(c_char_p), POINTER(TensorP), c_size_t)
_sig("ais_session_node_count", c_size_t, SessionP)
_sig("ais_session_node_info", status, SessionP, c_size_t, POINTER(c_char_p), POINTER(c_char_p),
     POINTER(c_int))
_sig("ais_session_profile", status, SessionP, POINTER(c_uint64), POINTER(c_uint64))
_sig("ais_session_profile_node", status, SessionP, c_size_t, POINTER(c_char_p), POINTER(c_char_p),
     POINTER(c_int), POINTER(c_uint64), POINTER(c_uint64))
_sig("ais_session_profile_reset", status, SessionP)

PipelineP = c_void_p
ErrorsP = c_void_p
_sig("ais_tensor_create_strings", status, POINTER(c_int64), c_size_t, POINTER(c_char_p),
     POINTER(TensorP))
_sig("ais_pipeline_create_from_json", status, c_char_p, c_size_t, POINTER(PipelineP))
_sig("ais_pipeline_destroy", None, PipelineP)
_sig("ais_pipeline_input_count", c_size_t, PipelineP)
_sig("ais_pipeline_input_info", status, PipelineP, c_size_t, POINTER(c_char_p), POINTER(c_int))
_sig("ais_pipeline_output_width", c_size_t, PipelineP)
_sig("ais_pipeline_spec_json", status, PipelineP, POINTER(c_char_p), POINTER(c_size_t))
_sig("ais_pipeline_with_output_dtype", status, PipelineP, c_int, POINTER(PipelineP))
_sig("ais_pipeline_output_dtype", c_int, PipelineP)
_sig("ais_pipeline_with_extra_fields", status, PipelineP, c_int, POINTER(PipelineP))
_sig("ais_pipeline_extra_fields", c_int, PipelineP)
_sig("ais_pipeline_run_records", status, PipelineP, POINTER(c_void_p), POINTER(c_size_t),
     c_size_t, POINTER(TensorP), POINTER(ErrorsP))
_sig("ais_pipeline_run_json_rows", status, PipelineP, c_char_p, c_size_t, POINTER(TensorP),
     POINTER(ErrorsP))
_sig("ais_pipeline_run_csv", status, PipelineP, c_char_p, c_size_t, POINTER(TensorP),
     POINTER(ErrorsP))
_sig("ais_pipeline_run_columns", status, PipelineP, POINTER(c_char_p), POINTER(TensorP),
     c_size_t, POINTER(TensorP), POINTER(ErrorsP))
_sig("ais_pipeline_errors_count", c_size_t, ErrorsP)
_sig("ais_pipeline_errors_row", c_size_t, ErrorsP, c_size_t)
_sig("ais_pipeline_errors_field", c_char_p, ErrorsP, c_size_t)
_sig("ais_pipeline_errors_message", c_char_p, ErrorsP, c_size_t)
_sig("ais_pipeline_errors_destroy", None, ErrorsP)
_sig("ais_model_pipeline", PipelineP, ModelP)
_sig("ais_model_save_with_pipeline", status, ModelP, PipelineP, c_char_p, OptionsP)
_sig("ais_session_run_records", status, SessionP, POINTER(c_void_p), POINTER(c_size_t), c_size_t,
     POINTER(c_char_p), POINTER(TensorP), c_size_t, POINTER(ErrorsP))
_sig("ais_session_run_json_rows", status, SessionP, c_char_p, c_size_t, POINTER(c_char_p),
     POINTER(TensorP), c_size_t, POINTER(ErrorsP))
_sig("ais_session_run_csv", status, SessionP, c_char_p, c_size_t, POINTER(c_char_p),
     POINTER(TensorP), c_size_t, POINTER(ErrorsP))
_sig("ais_session_run_columns", status, SessionP, POINTER(c_char_p), POINTER(TensorP), c_size_t,
     POINTER(c_char_p), POINTER(TensorP), c_size_t, POINTER(ErrorsP))

_sig("ais_op_max_opset", c_int64)
_sig("ais_attrs_create", status, POINTER(AttrsP))
_sig("ais_attrs_destroy", None, AttrsP)
_sig("ais_attrs_set_int", status, AttrsP, c_char_p, c_int64)
_sig("ais_attrs_set_float", status, AttrsP, c_char_p, c_float)
_sig("ais_attrs_set_string", status, AttrsP, c_char_p, c_char_p)
_sig("ais_attrs_set_ints", status, AttrsP, c_char_p, POINTER(c_int64), c_size_t)
_sig("ais_attrs_set_floats", status, AttrsP, c_char_p, POINTER(c_float), c_size_t)
_sig("ais_attrs_set_strings", status, AttrsP, c_char_p, POINTER(c_char_p), c_size_t)
_sig("ais_attrs_set_tensor", status, AttrsP, c_char_p, TensorP)
_sig("ais_op_exists", c_int, c_char_p, c_char_p)
_sig("ais_op_run_opset", status, c_char_p, c_char_p, c_int64, AttrsP, POINTER(TensorP), c_size_t,
     POINTER(TensorP), c_size_t)

TokenizerP = c_void_p
_sig("ais_tokenizer_load", status, c_char_p, POINTER(TokenizerP))
_sig("ais_text_convert", status, c_char_p, c_char_p, c_char_p, OptionsP)
_sig("ais_tokenizer_load_memory", status, c_void_p, c_size_t, c_char_p, POINTER(TokenizerP))
_sig("ais_tokenizer_destroy", None, TokenizerP)
_sig("ais_tokenizer_set_option", status, TokenizerP, c_int, c_int64)
_sig("ais_tokenizer_get_option", status, TokenizerP, c_int, POINTER(c_int64))
_sig("ais_tokenizer_vocab_size", c_size_t, TokenizerP)
_sig("ais_tokenizer_token_id", status, TokenizerP, c_char_p, POINTER(c_int64))
_sig("ais_tokenizer_encode_batch", status, TokenizerP, POINTER(c_char_p), POINTER(c_size_t),
     POINTER(c_char_p), POINTER(c_size_t), c_size_t, c_int64, c_int, c_int, POINTER(TensorP),
     POINTER(TensorP), POINTER(TensorP))


# The library again, for functions called without argtypes (their callers pass ctypes objects
# only): attributes are per CDLL object, so `lib`'s declarations stay as they are.
lib_raw = ctypes.CDLL(path)

# The same library through PyDLL, which keeps the GIL across the call: for the calls that
# return at once (no lock, no callback into Python but a wrapped array's release, no device
# work), where dropping and retaking the GIL costs more than the call itself; Session.run makes
# several per run. Anything that can block or run long stays on `lib`, which releases the GIL.
pylib = ctypes.PyDLL(path)


def _nogil_release(name: str, restype, *argtypes):
    fn = getattr(pylib, name, None)
    if fn is None:
        return getattr(lib, name, None)
    fn.restype = restype
    fn.argtypes = list(argtypes)
    return fn


tensor_dtype = _nogil_release("ais_tensor_dtype", c_int, TensorP)
tensor_ndim = _nogil_release("ais_tensor_ndim", c_size_t, TensorP)
tensor_shape = _nogil_release("ais_tensor_shape", POINTER(c_int64), TensorP)
tensor_data = _nogil_release("ais_tensor_data", c_void_p, TensorP)
# None with a library older than ais_tensor_describe (callers then ask tensor by tensor)
tensor_describe = (_nogil_release("ais_tensor_describe", status, c_void_p, c_size_t,
                                  POINTER(c_int32), POINTER(c_uint64), POINTER(c_int64),
                                  POINTER(c_void_p), POINTER(c_uint64))
                   if hasattr(lib, "ais_tensor_describe") else None)
# for the tensors the binding made over host memory (run inputs): a reference count drop and,
# at zero, the release callback
tensor_destroy_host = _nogil_release("ais_tensor_destroy", None, TensorP)
tensor_wrap = _nogil_release("ais_tensor_wrap", status, c_int, POINTER(c_int64), c_size_t,
                             c_void_p, c_size_t, RELEASE_FN, c_void_p, POINTER(TensorP))




class BufferView(ctypes.Structure):
    """ais_buffer_view (ais_model.h): a plain description of one input or output array."""
    _fields_ = [("data", c_void_p), ("nbytes", c_uint64), ("dtype", c_int32), ("ndim", c_uint32),
                ("dims", c_int64 * 8), ("buffer", c_void_p), ("capacity", c_uint64)]


assert ctypes.sizeof(BufferView) == 104
# ais_session_run_into: the whole run in one foreign call (GIL released: it runs the model);
# None with a library older than it (Session.run then takes the tensor path).
session_run_into = getattr(lib, "ais_session_run_into", None)
if session_run_into is not None:
    session_run_into.restype = status
    session_run_into.argtypes = [SessionP, POINTER(BufferView), c_size_t, POINTER(c_size_t),
                                 POINTER(BufferView), c_size_t]


def text(b: Optional[bytes]) -> str:
    return "" if b is None else b.decode("utf-8", "replace")
