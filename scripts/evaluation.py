#!/usr/bin/env python3
"""Processing step: model.tar.gz + test split -> evaluation.json (Model Monitor format + a gate section)
and evaluation_report.html (for people: one self-contained file, plots as inline SVG).

Inputs `model` (the training job's model.tar.gz) and `test` (raw rows). Output `evaluation`:
evaluation.json (pipeline.evaluation_file), gated on by the pipeline's ConditionStep, and the report.
A forecast model (its metadata names the task): MASE, sMAPE and RMSE per series and overall beside
seasonal naive, `regression_metrics`, the gate as skill against seasonal naive, forecasts with
intervals beside the actuals (forecasts-<host>.parquet per training host, the series that host fitted
as the artifact's index says; forecasts.parquet all of them with a `host` column), per_series.csv and
the report (the best, median and worst series against their forecasts, the error distribution
against seasonal naive).
"""

import json
import tempfile
from pathlib import Path

from common.storage import write_bytes, write_table
from contract import log_metric, modeltar, processing_job, run_processing
from pipeline import evaluation_file
from pipeline.spec import CLASSIFIER, EVALUATION_REPORT, FORECAST
from reporting import classifier as classifier_report, forecast as forecast_report
from tasks.classifier import artifact, channels
from tasks.classifier.evaluation import evaluate, gate_metric, permutation_importances
from tasks.forecast import artifact as forecast_artifact, channels as forecast_channels
from tasks.forecast import evaluation as forecast_evaluation

STEP = CLASSIFIER.step("evaluation")
FORECAST_STEP = FORECAST.step("evaluation")
FORECASTS_BY_HOST = "forecasts-{host}.parquet"


def forecast(job, model_dir: Path) -> None:
    params = job.params(FORECAST_STEP.params)
    model, metadata = forecast_artifact.load(model_dir)
    test = forecast_channels.read_split(job.input(FORECAST_STEP.input("test").name))
    report, forecasts, per_series = forecast_evaluation.evaluate(model, test, seed=params["seed"])
    out = job.output(FORECAST_STEP.output("evaluation").name)
    series_by_host = forecast_artifact.series_by_host(model_dir, metadata)
    forecasts = forecast_evaluation.with_hosts(forecasts, series_by_host)
    for host in sorted(series_by_host):  # per training host, as its part of the artifact (metadata.json's index)
        write_table(forecasts[forecasts["host"] == host].reset_index(drop=True), out / FORECASTS_BY_HOST.format(host=host))
    write_table(forecasts, out / "forecasts.parquet")  # every series with its host: the one file to read them all
    per_series.to_csv(out / "per_series.csv", index=False)
    metrics = ["mase", "smape", "rmse"]
    baseline = per_series[["series", *(f"{m}_seasonal_naive" for m in metrics)]].rename(
        columns={f"{m}_seasonal_naive": m for m in metrics})
    page = forecast_report.render(test.assign(series=test["series"].astype(str)), forecasts,
                                  per_series[["series", *metrics]], baseline)
    write_bytes(out / EVALUATION_REPORT, page.encode("utf-8"))
    evaluation_file.write(out, report)
    section = report["forecast"]
    log_metric("test:mase", section["model"]["mase"] if isinstance(section["model"]["mase"], float) else float("nan"))
    print(f"evaluation: {section['series']} series, MASE {section['model']['mase']} against seasonal naive's "
          f"{section['seasonal_naive']['mase']} (skill {report['gate']['value']})")


def task_of(model_dir: Path) -> str:
    metadata = model_dir / "metadata.json"
    return json.loads(metadata.read_text(encoding="utf-8")).get("task", "classifier") if metadata.is_file() else "classifier"


def main() -> None:
    job = processing_job()
    params = job.params(STEP.params)
    archive = modeltar.find_model_archive(job.input(STEP.input("model").name))
    with tempfile.TemporaryDirectory() as tmp:
        model_dir = modeltar.extract(archive, Path(tmp))
        if task_of(model_dir) == "forecast":
            return forecast(job, model_dir)
        model = artifact.load(model_dir)
    test = channels.read_split(job.input(STEP.input("test").name))
    report, y, scores = evaluate(model, test, seed=params["seed"])
    gate = report["gate"]
    out = job.output(STEP.output("evaluation").name)
    metric_name, metric = gate_metric(model)
    importances = permutation_importances(model.predict, test, y, model.schema.features, seed=params["seed"], metric=metric)
    page = classifier_report.render_model(model, y, scores, report, importances=importances)
    write_bytes(out / EVALUATION_REPORT, page.encode("utf-8"))
    evaluation_file.write(out, report)
    log_metric(f"test:{metric_name}", gate["value"] if isinstance(gate["value"], float) else float("nan"))
    print(f"evaluation: test {metric_name} {gate['value']} on {len(test)} rows ({model.schema.kind})")


if __name__ == "__main__":
    run_processing(main)
