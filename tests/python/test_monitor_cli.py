"""`aistack profile` and `aistack drift` end to end (issue 15 item 6): a model with a feature
pipeline gets the profile of training records (CSV and JSON lines); drift of unshifted and
shifted records against it prints exactly the JSON contract, with every feature's method,
value, threshold and verdict equal to Evidently's (pinned) on the same columns and
predictions; the profile survives `aistack convert`; bad input gives a message and a status."""
import json
import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "bindings", "python"))
import aistack  # noqa: E402

import onnx  # noqa: E402
from evidently.calculations.stattests.registry import get_stattest  # noqa: E402
from evidently.core import ColumnType  # noqa: E402
from monitor_util import SPEC, frame, scorer_model  # noqa: E402

TOOL = os.environ.get("AIS_AISTACK")
if not TOOL:
    pytest.fail("AIS_AISTACK (the aistack tool) is not set: build with AIS_BUILD_EXAMPLES=ON",
                pytrace=False)


def tool(*args, check=True):
    r = subprocess.run([TOOL, *map(str, args)], capture_output=True, text=True, timeout=300)
    if check and r.returncode != 0:
        pytest.fail(f"aistack {' '.join(map(str, args))}: exit {r.returncode}\n{r.stderr}")
    return r


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    d = tmp_path_factory.mktemp("monitor_cli")
    onnx.save(scorer_model(), str(d / "m.onnx"))
    (d / "spec.json").write_text(json.dumps(SPEC))
    tool("convert", d / "m.onnx", d / "m.ais", "--pipeline", d / "spec.json")
    return d


def write(df, path):
    if str(path).endswith(".csv"):
        df.to_csv(path, index=False, na_rep="")
    else:
        with open(path, "w") as f:
            for rec in df.to_dict("records"):
                f.write(json.dumps({k: (None if isinstance(v, float) and np.isnan(v) else v)
                                    for k, v in rec.items()}) + "\n")


def predictions(model_ais, path):
    with aistack.Model(str(model_ais)) as m, m.session() as s:
        text = open(path).read()
        out = s.run_csv(text) if str(path).endswith(".csv") else s.run_json_rows(text)
        return out["score"].ravel(), out["label"].ravel()


def evidently_feature(ref, cur, kind):
    ctype = ColumnType.Numerical if kind == "numeric" else ColumnType.Categorical
    r = pd.Series(ref).replace([np.inf, -np.inf], np.nan).dropna()
    c = pd.Series(cur).replace([np.inf, -np.inf], np.nan).dropna()
    test = get_stattest(r, c, ctype, None)
    res = test(r, c, ctype, None)
    return test.name, float(res.drift_score), bool(res.drifted), float(res.actual_threshold)


@pytest.mark.parametrize("ext", [".csv", ".jsonl"])
@pytest.mark.parametrize("n_train", [900, 3000])
def test_profile_then_drift_matches_evidently(model, ext, n_train):
    rng = np.random.default_rng(n_train + len(ext))
    train, same, moved = frame(rng, n_train, 0), frame(rng, 600, 0), frame(rng, 600, 1)
    tp, sp, mp = (model / f"train{ext}", model / f"same{ext}", model / f"moved{ext}")
    write(train, tp)
    write(same, sp)
    write(moved, mp)
    prof = model / f"prof_{n_train}{ext}.ais"
    out = tool("profile", model / "m.ais", "--records", tp, "--output", prof)
    assert "features" in out.stdout
    ref_score, ref_label = predictions(model / "m.ais", tp)
    for path, df, expect_drift in [(sp, same, False), (mp, moved, True)]:
        r = tool("drift", prof, "--records", path, "--json")
        report = json.loads(r.stdout)
        assert set(report) == {"dataset_drift", "drift_share", "features"}
        assert set(report["features"]) == {"age", "city", "score", "label"}
        cur_score, cur_label = predictions(model / "m.ais", path)
        cols = {"age": (train["age"], df["age"], "numeric"),
                "city": (train["city"], df["city"], "categorical"),
                "score": (ref_score, cur_score, "numeric"),
                "label": (ref_label.astype(str), cur_label.astype(str), "categorical")}
        drifted = 0
        for name, f in report["features"].items():
            assert set(f) == {"kind", "method", "value", "threshold", "drift"}
            ref, cur, kind = cols[name]
            method, value, drift, thr = evidently_feature(ref, cur, kind)
            assert f["kind"] == kind
            assert f["method"] == method, (name, f, method)
            assert f["value"] == pytest.approx(value, rel=1e-6, abs=1e-6), (name, f, value)
            assert f["threshold"] == thr and f["drift"] == drift, (name, f, drift)
            drifted += drift
        assert report["drift_share"] == pytest.approx(drifted / 4)
        assert report["dataset_drift"] == (drifted / 4 >= 0.5) == expect_drift
        table = tool("drift", prof, "--records", path).stdout
        assert table.splitlines()[0].split() == ["feature", "kind", "method", "value",
                                                 "threshold", "drift"]
        assert ("dataset drift: yes" in table) == expect_drift


def test_profile_survives_convert_and_bad_input(model, tmp_path):
    rng = np.random.default_rng(9)
    write(frame(rng, 500, 0), tmp_path / "t.csv")
    tool("profile", model / "m.ais", "--records", tmp_path / "t.csv", "--output",
         tmp_path / "p.ais", "--sample-size", 100, "--seed", 3)
    tool("convert", tmp_path / "p.ais", tmp_path / "c.ais", "--compress", 3)
    a = json.loads(tool("drift", tmp_path / "p.ais", "--records", tmp_path / "t.csv",
                        "--json").stdout)
    b = json.loads(tool("drift", tmp_path / "c.ais", "--records", tmp_path / "t.csv",
                        "--json").stdout)
    assert a == b
    # no profile
    r = tool("drift", model / "m.ais", "--records", tmp_path / "t.csv", check=False)
    assert r.returncode == 1 and "no reference profile" in r.stderr
    # no pipeline
    r = tool("profile", model / "m.onnx", "--records", tmp_path / "t.csv", "--output",
             tmp_path / "x.ais", check=False)
    assert r.returncode == 1 and "no feature pipeline" in r.stderr
    # one current record: features with fewer than 2 values are skipped, not NaN
    write(frame(rng, 1, 0), tmp_path / "one.csv")
    r = tool("drift", tmp_path / "p.ais", "--records", tmp_path / "one.csv")
    lines = r.stdout.splitlines()[1:-1]
    assert len(lines) == 4 and all("skipped: " in ln and "at least 2" in ln for ln in lines)
    js = json.loads(tool("drift", tmp_path / "p.ais", "--records", tmp_path / "one.csv",
                         "--json").stdout)
    assert js["features"] == {} and js["dataset_drift"] is False
    # an all-missing column profiles as missing, and compares as skipped
    df = frame(rng, 50, 0)
    df["age"] = np.nan
    write(df, tmp_path / "nan.csv")
    tool("profile", model / "m.ais", "--records", tmp_path / "nan.csv", "--output",
         tmp_path / "n.ais")
    r = tool("drift", tmp_path / "n.ais", "--records", tmp_path / "t.csv")
    assert r.returncode == 0 and "age" in r.stdout and "skipped" in r.stdout
    # usage errors
    assert tool("drift", tmp_path / "p.ais", check=False).returncode == 2
    assert tool("profile", tmp_path / "p.ais", "--records", tmp_path / "t.csv",
                check=False).returncode == 2


def test_python_report_equals_cli(model, tmp_path):
    """model.drift_report (the Python binding) gives the same dict as `aistack drift --json`,
    and model.profile the same bytes the CLI wrote."""
    rng = np.random.default_rng(21)
    train, cur = frame(rng, 700, 0), frame(rng, 400, 1)
    write(train, tmp_path / "t.csv")
    write(cur, tmp_path / "c.csv")
    tool("profile", model / "m.ais", "--records", tmp_path / "t.csv", "--output",
         tmp_path / "p.ais")
    cli = json.loads(tool("drift", tmp_path / "p.ais", "--records", tmp_path / "c.csv",
                          "--json").stdout)
    with aistack.Model(str(tmp_path / "p.ais")) as m:
        ref = m.profile
        assert ref is not None and set(ref.features()) == {"age", "city", "score", "label"}
        f = ref.features()["age"]
        ages = train["age"].to_numpy()
        assert f["count"] == 700 and f["missing"] == int(np.isnan(ages).sum())
        assert f["mean"] == pytest.approx(np.nanmean(ages), rel=1e-12)
        assert f["variance"] == pytest.approx(np.nanvar(ages), rel=1e-9)
        assert m.drift_report(cur) == cli
        frame_ = aistack.report_frame(cli)
        assert list(frame_.index) == ["age", "city", "score", "label"]
        # a profile from Python, saved and read back
        with aistack.Model(str(model / "m.ais")) as base:
            prof = base.profile_of(train, seed=5)
            base.save_with_profile(str(tmp_path / "py.ais"), prof)
        with aistack.Model(str(tmp_path / "py.ais")) as back:
            assert back.profile.to_bytes() == prof.to_bytes()
    with pytest.raises(aistack.InvalidArgumentError):
        bad = aistack.Profile()
        bad.add_feature("nope", "numeric")
        with aistack.Model(str(model / "m.ais")) as base:
            base.save_with_profile(str(tmp_path / "bad.ais"), bad)


def _png_pixels(path):
    """RGB(A) 8-bit non-interlaced PNG -> array [h, w, channels] (what Chromium writes)."""
    import struct
    import zlib
    data = open(path, "rb").read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, w = 8, b"", 0
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        if kind == b"IHDR":
            w, h, depth, ctype, _, _, interlace = struct.unpack(">IIBBBBB", body)
            assert depth == 8 and ctype in (2, 6) and interlace == 0
            ch = 3 if ctype == 2 else 4
        elif kind == b"IDAT":
            idat += body
        pos += 12 + n
    raw = np.frombuffer(zlib.decompress(idat), np.uint8).reshape(h, 1 + w * ch)
    out = np.zeros((h, w, ch), np.int32)
    prev = np.zeros((w, ch), np.int32)
    for y in range(h):
        f, line = raw[y, 0], raw[y, 1:].astype(np.int32).reshape(w, ch)
        if f == 0:
            cur = line
        elif f == 1:  # sub: a running sum along the row, per channel
            cur = np.cumsum(line, axis=0) & 255
        elif f == 2:
            cur = (line + prev) & 255
        else:  # average or Paeth: pixel by pixel, channels at once
            cur = np.zeros_like(line)
            a = np.zeros(ch, np.int32)
            c = np.zeros(ch, np.int32)
            for x in range(w):
                b = prev[x]
                if f == 3:
                    pr = (a + b) // 2
                else:
                    pa, pb, pc = np.abs(b - c), np.abs(a - c), np.abs(a + b - 2 * c)
                    pr = np.where((pa <= pb) & (pa <= pc), a, np.where(pb <= pc, b, c))
                a = cur[x] = (line[x] + pr) & 255
                c = b
        out[y] = cur
        prev = cur
    return out.reshape(h, w, ch)


def test_html_report_renders_in_chromium(model, tmp_path):
    """--html writes a self-contained page (no network: every resource inline) whose
    screenshot in headless Chromium shows the reference (blue) and current (orange) bars."""
    import shutil
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if not browser:
        pytest.fail("chromium is missing: scripts/setup.sh test installs it", pytrace=False)
    rng = np.random.default_rng(33)
    write(frame(rng, 800, 0), tmp_path / "t.csv")
    write(frame(rng, 500, 1), tmp_path / "c.csv")
    tool("profile", model / "m.ais", "--records", tmp_path / "t.csv", "--output",
         tmp_path / "p.ais")
    html = tmp_path / "report.html"
    r = tool("drift", tmp_path / "p.ais", "--records", tmp_path / "c.csv", "--html", html)
    assert "dataset drift: yes" in r.stdout
    page = html.read_text()
    assert page.count("<svg") == 4 and "http://" not in page.replace(
        'xmlns="http://www.w3.org/2000/svg"', "") and "https://" not in page
    png = tmp_path / "shot.png"
    subprocess.run([browser, "--headless=new", "--no-sandbox", "--disable-gpu",
                    "--hide-scrollbars", "--window-size=800,900", f"--screenshot={png}",
                    html.as_uri()], capture_output=True, timeout=120)
    assert png.exists(), "chromium wrote no screenshot"
    px = _png_pixels(png)[:, :, :3]
    blue = np.all(np.abs(px - [0x1f, 0x77, 0xb4]) <= 2, axis=2)
    orange = np.all(np.abs(px - [0xff, 0x7f, 0x0e]) <= 2, axis=2)
    # the legend alone is a few dozen pixels; the bars of the first charts are thousands
    assert blue.sum() > 2000 and orange.sum() > 2000, (blue.sum(), orange.sum())
    # the current (orange) bars of the shifted 'age' sit to the right of the reference's
    ys, xs = np.nonzero(blue)
    yo, xo = np.nonzero(orange)
    band = (ys > 250) & (ys < 520)
    bando = (yo > 250) & (yo < 520)
    if band.any() and bando.any():
        assert xo[bando].mean() > xs[band].mean()
