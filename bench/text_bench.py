#!/usr/bin/env python3
"""Text: the pipeline's training on a review file beside a plain TF-IDF + logistic regression, same split.

    .venv/bin/python bench/text_bench.py [--rows 6000] [--seed 7] [--repeats 3]

Data: bench/text_data.py's reviews, text only (review_id, review, returned) and with every role
(dates, stores, prices, ...). For each: clean's cleaning and role inference, feature's seeded split,
then timed in this process: the pipeline's training (the preprocessor fitted on the training split,
the text's TF-IDF and linear model with its out-of-fold scores, then the staged boosted trees with
early stopping on validation: feature.py's and train.py's work without their I/O), and the
reference: TfidfVectorizer() + LogisticRegression() on the same training rows' text. Both score the
same test rows. Times are the median of `repeats` runs. The last line holds the ratios.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path[:0] = [str(Path(__file__).resolve().parents[1] / "scripts"), str(Path(__file__).resolve().parents[1])]

from sklearn.feature_extraction.text import TfidfVectorizer  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.metrics import roc_auc_score  # noqa: E402

from bench.text_data import generate  # noqa: E402
from tasks.classifier import cleaning, features, modeling, roles, schema  # noqa: E402
from tasks.classifier.training import TrainParams  # noqa: E402


def pipeline_run(train, validation, test, sch):
    start = time.perf_counter()
    preprocessor = features.fit_preprocessor(train, sch)
    fitted = modeling.fit(train, validation, sch, preprocessor, TrainParams())
    seconds = time.perf_counter() - start
    auc = roc_auc_score(test[sch.target] == sch.positive_label, fitted.pipeline.predict_proba(test[list(sch.features)])[:, 1])
    return seconds, auc


def reference_run(train, test, sch):
    start = time.perf_counter()
    vectorizer = TfidfVectorizer()
    model = LogisticRegression(max_iter=1000).fit(vectorizer.fit_transform(train["review"]),
                                                  train[sch.target] == sch.positive_label)
    seconds = time.perf_counter() - start
    auc = roc_auc_score(test[sch.target] == sch.positive_label, model.decision_function(vectorizer.transform(test["review"])))
    return seconds, auc


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=6000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    results = {}
    print(f"{'file':<10} {'run':<22} {'train s (median)':>17} {'test AUC':>9}")
    for name, text_only in (("text", True), ("all roles", False)):
        cleaned, _ = cleaning.clean(generate(args.rows, args.seed, text_only), "returned")
        found = roles.infer(cleaned, "returned")
        sch = schema.infer(cleaned, "returned", "yes", roles=found.roles)
        train, validation, test = features.split(cleaned, sch, 0.15, 0.15, 42)
        runs = {"pipeline": [pipeline_run(train, validation, test, sch) for _ in range(args.repeats)],
                "tfidf+logreg reference": [reference_run(train, test, sch) for _ in range(args.repeats)]}
        for run, measured in runs.items():
            seconds, auc = statistics.median(s for s, _ in measured), measured[0][1]
            results[(name, run)] = (seconds, auc)
            print(f"{name:<10} {run:<22} {seconds:>17.2f} {auc:>9.4f}")
        print(f"{'':<10} roles: " + ", ".join(f"{c}={r}" for c, r in found.roles.items()))
    (tp, ta), (tr, ra) = results[("text", "pipeline")], results[("text", "tfidf+logreg reference")]
    (ap, aa) = results[("all roles", "pipeline")]
    print(f"text_time_ratio={tp / tr:.2f} text_auc_ratio={ta / ra:.4f} text_auc_diff={ta - ra:+.4f} "
          f"all_roles_time_ratio={ap / tr:.2f} all_roles_auc_ratio={aa / ra:.4f}")


if __name__ == "__main__":
    main()
