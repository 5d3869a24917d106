"""drift_report.html: the per-feature drift table, the violations, and baseline against current
distributions of the flagged numeric and categorical features."""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from . import svg

MAX_PLOTS = 8
MAX_CATEGORIES = 12


def table_section(drift: pd.DataFrame | Sequence[Mapping] | None) -> str:
    """The drift table as HTML, flagged features first; '' when there is none."""
    if drift is None:
        return ""
    table = drift if isinstance(drift, pd.DataFrame) else pd.DataFrame(list(drift))
    if table.empty:
        return ""
    if "status" in table and "psi" in table:
        table = table.sort_values(["status", "psi"], ascending=[True, False], kind="stable", na_position="last")
    columns = [c for c in ("feature", "role", "status", "failed_checks", "completeness", "psi", "js", "linf",
                           "noise_floor", "threshold", "detail") if c in table.columns]
    classes = ["flagged" if s == "flagged" else "" for s in table["status"]] if "status" in table else None
    flagged = int((table["status"] == "flagged").sum()) if "status" in table else 0
    return "\n".join([
        "<h2>Data drift against the training baseline</h2>",
        f'<p class="note">{flagged} of {len(table)} features flagged. PSI decides: a feature drifts when its PSI '
        "exceeds the threshold plus the sampling-noise floor, (bins - 1) x (1/rows + 1/baseline rows).</p>",
        svg.table(columns, list(table[columns].itertuples(index=False, name=None)), left=4, row_classes=classes),
    ])


def _numeric_plot(feature: dict, values: pd.Series) -> str:
    stats = feature["numerical_statistics"]
    sketch = np.asarray(stats["distribution"]["kll"]["sketch"]["data"][0], float)
    current = pd.to_numeric(values, errors="coerce").dropna().to_numpy(float)
    return svg.histogram(f"feature_{feature['name']}", f"{feature['name']}: baseline against current",
                         [("baseline (sketch)", sketch), ("current", current)], bins=20, x_label=feature["name"])


def _categorical_plot(feature: dict, values: pd.Series) -> str:
    buckets = feature["string_statistics"]["distribution"]["categorical"]["buckets"]
    total = sum(b["count"] for b in buckets) or 1
    current = values.dropna().astype(str).value_counts(normalize=True)
    names = [b["value"] for b in buckets[:MAX_CATEGORIES]]
    names += [v for v in current.index[:MAX_CATEGORIES] if v not in names][:4]  # new values show up too
    return svg.bar_chart(f"feature_{feature['name']}", f"{feature['name']}: share per value",
                         names, [("baseline", [next((b["count"] / total for b in buckets if b["value"] == n), 0.0)
                                               for n in names]),
                                 ("current", [float(current.get(n, 0.0)) for n in names])], x_label="share")


def render(table: pd.DataFrame, violations: list[dict[str, str]], statistics: dict[str, Any],
           data: pd.DataFrame | None = None) -> str:
    """The drift report; with `data`, distributions of up to MAX_PLOTS flagged features are drawn."""
    sections = [table_section(table), "<h2>Constraint violations</h2>"]
    if violations:
        sections.append(svg.table(["feature", "check", "description"],
                                  [(v["feature_name"], v["constraint_check_type"], v["description"]) for v in violations],
                                  left=3))
    else:
        sections.append('<p class="note">None.</p>')
    if data is not None and "status" in table:
        by_name = {f["name"]: f for f in statistics["features"]}
        plots = []
        for name in table.loc[table["status"] == "flagged", "feature"]:
            feature = by_name.get(name)
            if feature is None or name not in data.columns or len(plots) >= MAX_PLOTS:
                continue
            if "distribution" in feature.get("numerical_statistics", {}):
                plots.append(_numeric_plot(feature, data[name]))
            elif feature.get("string_statistics", {}).get("distribution", {}).get("categorical"):
                plots.append(_categorical_plot(feature, data[name]))
        if plots:
            sections += ["<h2>Flagged features</h2>", '<div class="grid">', *plots, "</div>"]
    rows = len(data) if data is not None else ""
    return svg.page("Drift report", sections, f"{rows} rows compared with a baseline of "
                    f"{statistics['dataset']['item_count']} rows")
