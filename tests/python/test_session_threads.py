"""Sessions and models misused from several threads (issue 12, items 1-2): concurrent run() on
one Session is serialized with correct results, and close() of a Session or Model while other
threads run it waits for the run, then later calls raise a clear error. Never a crash."""
import os
import threading

import numpy as np
import pytest

import aistack

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DIGITS = os.path.join(ROOT, "models", "digits_mlp.onnx")


def _batches():
    x = np.load(os.path.join(ROOT, "models", "digits", "test_batch.npy"))
    # different batch sizes per thread: overlapping runs would re-plan under each other
    return [np.ascontiguousarray(x[: 20 + 37 * t]) for t in range(4)]


def _references(model, batches):
    with model.session() as s:
        return [s.run({"pixels": b}) for b in batches]


def _same(got, want):
    return all(np.array_equal(got[k], want[k]) for k in want)


def test_concurrent_runs_on_one_session_are_serialized():
    with aistack.Model(DIGITS) as m:
        batches = _batches()
        want = _references(m, batches)
        s = m.session()
        wrong, errors = [], []

        def worker(t):
            for _ in range(100):
                try:
                    if not _same(s.run({"pixels": batches[t]}), want[t]):
                        wrong.append(t)
                except Exception as e:  # noqa: BLE001 - any exception is a failure here
                    errors.append(repr(e))

        threads = [threading.Thread(target=worker, args=(t,)) for t in range(4)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        s.close()
        assert not errors, errors[:3]
        assert not wrong


@pytest.mark.parametrize("what", ["session", "model", "model_default"])
def test_close_during_runs(what):
    for _ in range(5):
        m = aistack.Model(DIGITS)
        batches = _batches()
        want = _references(m, batches)
        s = m.session()
        ok, closed, bad = [0] * 4, [0] * 4, []
        started = threading.Barrier(5)

        def worker(t):
            started.wait()
            for _ in range(200):
                try:
                    if what == "model_default":
                        got = m.run({"pixels": batches[t]})
                    else:
                        got = s.run({"pixels": batches[t]})
                except aistack.InvalidArgumentError as e:
                    if "closed" not in str(e):
                        bad.append(repr(e))
                    closed[t] += 1
                    continue
                except Exception as e:  # noqa: BLE001
                    bad.append(repr(e))
                    continue
                if _same(got, want[t]):
                    ok[t] += 1
                else:
                    bad.append(f"thread {t}: wrong result")

        threads = [threading.Thread(target=worker, args=(t,)) for t in range(4)]
        for th in threads:
            th.start()
        started.wait()
        # close while the workers are in their loops
        while sum(ok) < 8:
            threading.Event().wait(0.001)
        if what == "session":
            s.close()
        else:
            m.close()
        for th in threads:
            th.join()
        assert not bad, bad[:3]
        assert sum(ok) >= 8
        if what == "model":
            # the session keeps the model alive: every run of it still worked
            assert sum(closed) == 0
            assert _same(s.run({"pixels": batches[0]}), want[0])
        else:
            assert sum(closed) > 0
        s.close()
        m.close()
        with pytest.raises(aistack.InvalidArgumentError, match="closed"):
            s.run({"pixels": batches[0]})
        with pytest.raises(aistack.InvalidArgumentError, match="closed"):
            m.session()


def test_busy_status_maps_to_busy_error():
    e = aistack._errors.make(15, "the session is already running a call")
    assert isinstance(e, aistack.BusyError)
    assert e.status_name == "AIS_E_BUSY"
