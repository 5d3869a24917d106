"""Per-series models: fallback to seasonal naive, resume equality, workers, forecasts and their errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tasks.forecast import cleaning, model, split, synthetic

H, M = 24, 24


@pytest.fixture(scope="module")
def servers():
    raw = synthetic.generate(24, days=21, seed=5)
    long, _ = cleaning.clean(raw, freq="h", min_length=cleaning.min_length_for(H, M))
    return split.split(long, H)


def frame(series: str, values) -> pd.DataFrame:
    return pd.DataFrame({"series": series, "timestamp": pd.date_range("2024-01-01", periods=len(values), freq="h"),
                         "value": values})


def test_fallbacks_are_counted_with_their_reasons():
    rng = np.random.default_rng(0)
    t = np.arange(24 * 14)
    seasonal = 30 + 8 * np.sin(2 * np.pi * t / M) + rng.normal(0, 0.5, len(t))
    shifted = seasonal.copy()
    shifted[-3 * M :] += 60  # a level shift just before validation: the last season knows, smoothing lags
    data = pd.concat([frame("flat", np.full(len(t), 7.0)), frame("ok", seasonal), frame("shift", shifted)])
    train, validation, _ = split.split(data, H)
    fitted = model.fit(train, validation, H, M, freq="h")
    methods = dict(zip(fitted.ids, fitted.states["method"]))
    reasons = dict(zip(fitted.ids, fitted.states["reason"]))
    assert methods == {"flat": "seasonal_naive", "ok": "holt_winters", "shift": "seasonal_naive"}
    assert reasons["flat"] == "constant series"
    assert reasons["shift"] == "loses to seasonal naive on validation"
    summary = fitted.summary()
    assert summary["seasonal_naive_fallbacks"] == 2 and summary["fallbacks_by_reason"]["constant series"] == 1
    flat = fitted.forecast(["flat"])
    assert (flat["mean"] == 7.0).all() and (flat["lower"] == 7.0).all()


def test_a_resumed_fit_ends_with_the_same_forecasts_bit_for_bit(servers):
    train, validation, _ = servers
    checkpoints = []
    whole = model.fit(train, validation, H, M, freq="h", batch_size=5, after_batch=checkpoints.append)
    assert len(checkpoints) == 5 and len(checkpoints[1]["series"]) == 10
    seen = []
    resumed = model.fit(train, validation, H, M, freq="h", batch_size=5, done=checkpoints[1],
                        progress=seen.append, progress_interval=0.0)
    assert seen[-1]["done"] == seen[-1]["total"] == 24
    assert seen[0]["done"] == 15  # 10 from the checkpoint, then one batch of 5
    pd.testing.assert_frame_equal(whole.forecast(), resumed.forecast(), check_exact=True)
    for field in model.FIELDS:
        assert np.array_equal(whole.states[field], resumed.states[field], equal_nan=field not in model.TEXT_FIELDS
                              and field not in model.TIME_FIELDS)


def test_two_worker_processes_give_the_same_model(servers):
    train, validation, _ = servers
    one = model.fit(train, validation, H, M, freq="h", batch_size=8)
    two = model.fit(train, validation, H, M, freq="h", batch_size=8, workers=2)
    pd.testing.assert_frame_equal(one.forecast(), two.forecast(), check_exact=True)


def test_forecasts_continue_each_series_and_bad_requests_name_the_problem(servers):
    train, validation, test = servers
    fitted = model.fit(train, validation, H, M, freq="h")
    some = fitted.ids[:2]
    out = fitted.forecast(some, horizon=6)
    assert list(out.columns) == ["series", "step", "timestamp", "mean", "lower", "upper"]
    assert len(out) == 12 and (out["lower"] <= out["mean"]).all() and (out["mean"] <= out["upper"]).all()
    first_test = test.groupby("series")["timestamp"].min()
    for sid in some:
        assert out[(out.series == sid) & (out.step == 1)]["timestamp"].item() == first_test[sid]
    with pytest.raises(model.ForecastRequestError, match="unknown series id.*'nope'"):
        fitted.forecast([some[0], "nope"])
    with pytest.raises(model.ForecastRequestError, match=f"horizon 25 is outside 1..{H}"):
        fitted.forecast(some, horizon=25)


def test_workers_of_a_main_script_fit_as_one_process(tmp_path):
    """As train.py runs it (a script, not -m): spawned workers start without importing the script."""
    import subprocess
    import sys
    from pathlib import Path

    scripts = Path(__file__).resolve().parents[3] / "scripts"
    script = tmp_path / "fit_twice.py"
    script.write_text(f"""
import sys
sys.path.insert(0, {str(scripts)!r})
from tasks.forecast import cleaning, model, split, synthetic
print("imported", flush=True)  # once: in the workers this script is not run again
if __name__ == "__main__":
    long, _ = cleaning.clean(synthetic.generate(8, days=14, seed=4), freq="h")
    train, validation, _ = split.split(long, 24)
    one = model.fit(train, validation, 24, 24, freq="h", workers=1, batch_size=2).forecast()
    two = model.fit(train, validation, 24, 24, freq="h", workers=2, batch_size=2).forecast()
    assert one.equals(two)
    assert sys.modules["__main__"].__file__ == {str(script)!r}
""")
    result = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.count("imported") == 1
