#!/usr/bin/env python3
"""Runs the ONNX project's per-operator backend tests (shipped in the `onnx` package) through
`aistack check`, one case per process so that a crash cannot hide the others.

A case whose operators are all registered in libaistack must pass; a case that needs an operator
we do not implement is counted per missing operator. With --write-doc, writes the table of
missing operators with the number of cases each would unlock (docs/onnx-coverage.md).

    onnx_node_tests.py --aistack build/examples/aistack [--write-doc docs/onnx-coverage.md]
Exit status: 0 when every case of every implemented operator passed.
"""
import argparse
import collections
import os
import subprocess
import sys

import onnx


# Cases that an inference runtime cannot pass, each with the reason; they are reported as
# skipped (never as passed). Keep this list short and justified.
KNOWN_EXCEPTIONS = {
    name: "Dropout in training mode with ratio > 0 drops elements at random (numpy's generator); "
          "no other implementation can match the expected data bit for bit"
    for name in ("test_training_dropout", "test_training_dropout_default",
                 "test_training_dropout_default_mask", "test_training_dropout_mask")
}
# The int8 QLinearMatMul cases' expected data wrap around (onnx/reference's op_qlinear_matmul.py
# casts with astype(int8) without clipping: -236 becomes 20), contradicting the operator's
# specification ("y = saturate(...)") and ONNX Runtime, which saturate. We saturate;
# tests/python/test_quantized.py::test_qlinearmatmul_node_cases_saturate runs these very cases
# against the saturated reference.
KNOWN_EXCEPTIONS.update({
    name: "expected data wrap around int8 where the specification saturates (we saturate, as "
          "ONNX Runtime does; checked against the saturated values in test_quantized.py)"
    for name in ("test_qlinearmatmul_2D_int8_float16", "test_qlinearmatmul_2D_int8_float32",
                 "test_qlinearmatmul_3D_int8_float16", "test_qlinearmatmul_3D_int8_float32")
})

# Cases of implemented operators that fail because a feature around the operator is missing.
# They are reported as skipped with the reason and listed in docs/onnx-coverage.md as open work;
# remove a line when its feature lands (the case then has to pass).
NOT_YET_SUPPORTED = {}



def node_test_root():
    return os.path.join(os.path.dirname(onnx.__file__), "backend", "test", "data", "node")


def registered_ops(tool):
    out = subprocess.run([tool, "ops"], capture_output=True, text=True, check=True).stdout
    ops = set()
    for line in out.splitlines():
        parts = line.split()
        if not parts or parts[0].startswith("#"):
            continue
        # "DOMAIN OP ..." or "OP ..." (default domain written as ai.onnx or "")
        if len(parts) >= 2 and (parts[0] in ("ai.onnx", "ai.onnx.ml", "com.microsoft") or "." in parts[0]):
            ops.add((parts[0] if parts[0] != "ai.onnx" else "", parts[1]))
        else:
            ops.add(("", parts[0]))
    return ops


def case_ops(case_dir):
    m = onnx.load(os.path.join(case_dir, "model.onnx"), load_external_data=False)
    ops = set()
    for n in m.graph.node:
        ops.add((n.domain if n.domain != "ai.onnx" else "", n.op_type))
    return ops


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--aistack", required=True)
    ap.add_argument("--write-doc")
    ap.add_argument("--filter", default="")
    args = ap.parse_args()

    root = node_test_root()
    have = registered_ops(args.aistack)
    cases = sorted(d for d in os.listdir(root) if d.startswith("test_") and args.filter in d)
    missing = collections.Counter()
    missing_cases = 0
    passed, failed, skipped, pending = [], [], [], []
    for name in cases:
        if name in KNOWN_EXCEPTIONS:
            skipped.append((name, KNOWN_EXCEPTIONS[name]))
            continue
        if name in NOT_YET_SUPPORTED:
            pending.append((name, NOT_YET_SUPPORTED[name]))
            continue
        d = os.path.join(root, name)
        try:
            ops = case_ops(d)
        except Exception as e:  # a model the onnx package itself cannot parse
            failed.append((name, f"onnx could not parse the model: {e}"))
            continue
        lacking = sorted(op for op in ops if op not in have)
        if lacking:
            missing_cases += 1
            for op in lacking:
                missing[op] += 1
            continue
        try:
            p = subprocess.run([args.aistack, "check", d], capture_output=True, text=True, timeout=300)
            ok = p.returncode == 0
            reason = (p.stdout + p.stderr).strip().splitlines()
        except subprocess.TimeoutExpired:
            ok, reason = False, ["timed out after 300 s"]
        if ok:
            passed.append(name)
        else:
            failed.append((name, " | ".join(l for l in reason if "FAIL" in l or "error" in l.lower())[:400] or (reason[-1] if reason else f"exit {p.returncode}")))

    for name, why in skipped:
        print(f"SKIP {name}: skipped ({why})")
    for name, why in pending:
        print(f"SKIP {name}: skipped, not yet supported ({why})")
    for name, why in failed:
        print(f"FAIL {name}: {why}")
    print(f"cases of implemented operators: {len(passed)} passed, {len(failed)} failed, "
          f"{len(skipped)} skipped (known exceptions), {len(pending)} skipped (not yet supported)")
    print(f"cases needing operators not implemented: {missing_cases} "
          f"({len(missing)} operators; see --write-doc)")
    if args.write_doc:
        with open(args.write_doc, "w") as f:
            f.write("# ONNX operator coverage\n\n")
            f.write("Generated by `tests/conformance/onnx_node_tests.py --write-doc` from the per-operator "
                    f"backend tests of the `onnx` {onnx.__version__} package ({len(cases)} cases).\n\n")
            f.write(f"- Cases whose operators are all implemented: "
                    f"{len(passed) + len(failed) + len(skipped) + len(pending)}; passing: {len(passed)}; "
                    f"failing: {len(failed)}; skipped as known exceptions: {len(skipped)}; skipped because a "
                    f"feature around the operator is missing (open work): {len(pending)}.\n")
            f.write(f"- Cases that need an operator libaistack does not implement yet: {missing_cases}.\n\n")
            if skipped:
                f.write("## Skipped cases (known exceptions)\n\n")
                for name, why in skipped:
                    f.write(f"- `{name}`: {why}\n")
                f.write("\n")
            if pending:
                f.write("## Not yet supported (open work)\n\n")
                for name, why in pending:
                    f.write(f"- `{name}`: {why}\n")
                f.write("\n")
            if failed:
                f.write("## Failing cases of implemented operators\n\n")
                for name, why in failed:
                    f.write(f"- `{name}`: {why}\n")
                f.write("\n")
            f.write("## Missing operators\n\nEach row: the operator and how many test cases it alone or "
                    "with others would unlock.\n\n| operator | domain | cases |\n|---|---|---|\n")
            for (dom, op), n in sorted(missing.items(), key=lambda kv: (-kv[1], kv[0][1])):
                f.write(f"| {op} | {dom or 'ai.onnx'} | {n} |\n")
    print(f"{len(passed)} passed, {len(failed)} failed, {len(skipped) + len(pending)} skipped")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
