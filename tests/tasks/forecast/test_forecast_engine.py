"""The vectorised Holt-Winters against a plain per-series recursion, and its start values."""

from __future__ import annotations

import numpy as np

from tasks.forecast import holt_winters as hw


def reference(y, alpha, beta, gamma, level, trend, seasonals, m):
    """Additive Holt-Winters one series at a time, as a textbook writes it (NaN: no update)."""
    s = list(seasonals)
    sse = 0.0
    for t, value in enumerate(y):
        forecast = level + trend + s[t % m]
        error = 0.0 if np.isnan(value) else value - forecast
        level, trend = level + trend + alpha * error, trend + alpha * beta * error
        s[t % m] += gamma * error
        sse += error * error
    return level, trend, s, sse


def seasonal_data(n=6, T=200, m=12, seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(T)
    y = (20 + 0.05 * t + 5 * np.sin(2 * np.pi * t / m))[None, :] + rng.normal(0, 1, (n, T)) * rng.uniform(0.5, 2, (n, 1))
    y[1, :30] = np.nan  # a late start
    y[2, 80:95] = np.nan  # a long gap
    return y


def test_all_series_together_match_the_per_series_recursion():
    y, m = seasonal_data(), 12
    fitted = hw.fit(y, m)
    assert fitted.ok.all()
    y_t = np.ascontiguousarray(y.T)
    params = (fitted.alpha, fitted.beta, fitted.gamma)
    start = hw._least_squares_start(y_t, m, *params, None)
    for i in range(len(y)):
        level, trend, s, _ = reference(y[i], fitted.alpha[i], fitted.beta[i], fitted.gamma[i],
                                       start[i, 0], start[i, 1], start[i, 2:], m)
        np.testing.assert_allclose([fitted.level[i], fitted.trend[i]], [level, trend], rtol=1e-9, atol=1e-9)
        T = y.shape[1]
        np.testing.assert_allclose(fitted.seasonals[i], [s[(T + k) % m] for k in range(m)], rtol=1e-9, atol=1e-9)
    mean, sd = hw.forecast(fitted, 2 * m)
    steps = np.arange(1, 2 * m + 1)
    np.testing.assert_allclose(mean, fitted.level[:, None] + steps * fitted.trend[:, None]
                               + fitted.seasonals[:, (steps - 1) % m])
    np.testing.assert_allclose(sd[:, 0], fitted.sigma)
    assert (np.diff(sd, axis=1) >= 0).all()


def test_least_squares_start_values_minimise_the_squared_errors():
    y, m = seasonal_data(n=3, seed=1), 12
    alpha, beta, gamma = np.array([0.3, 0.1, 0.6]), np.array([0.1, 0.0, 0.2]), np.array([0.1, 0.2, 0.0])
    start = hw._least_squares_start(np.ascontiguousarray(y.T), m, alpha, beta, gamma, None)
    rng = np.random.default_rng(2)
    for i in range(3):
        best = reference(y[i], alpha[i], beta[i], gamma[i], start[i, 0], start[i, 1], start[i, 2:], m)[3]
        for _ in range(5):
            moved = start[i] + rng.normal(0, 0.05, m + 2)
            moved[2:] -= moved[2:].mean() - start[i, 2:].mean()  # same seasonal sum: a real change
            assert reference(y[i], alpha[i], beta[i], gamma[i], moved[0], moved[1], moved[2:], m)[3] >= best - 1e-9


def test_rows_are_independent_of_the_others_in_their_chunk():
    y, m = seasonal_data(n=6, seed=3), 12
    together = hw.fit(y, m)
    alone = hw.fit(y[[0, 2]], m)
    np.testing.assert_array_equal(together.level[[0, 2]], alone.level)
    np.testing.assert_array_equal(together.seasonals[[0, 2]], alone.seasonals)


def test_a_clean_season_is_recovered_and_beats_seasonal_naive():
    rng = np.random.default_rng(4)
    m, T = 24, 24 * 30
    t = np.arange(T + m)
    truth = 50 + 10 * np.sin(2 * np.pi * t / m)
    y = truth[None, :] + rng.normal(0, 1, (5, T + m))
    fitted = hw.fit(y[:, :T], m)
    mean, _ = hw.forecast(fitted, m)
    model_error = np.abs(mean - y[:, T:]).mean()
    naive_error = np.abs(y[:, T - m : T] - y[:, T:]).mean()
    assert model_error < 0.8 * naive_error
    assert (fitted.alpha < 0.2).all()
