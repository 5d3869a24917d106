#!/usr/bin/env python3
"""Seeded product reviews with a text, a date, identifiers and the other roles, for tests and benchmarks.

    .venv/bin/python bench/text_data.py data/reviews.csv [--rows 6000] [--seed 7] [--text-only]

Columns: review_id (UUID), order_no (increasing integers), created (ISO date), product (8 values),
store (300 codes: high cardinality), price, currency (always USD), review (8-20 words), returned
(the target, yes/no). Whether an order was returned shows mostly in the review's words: each review
holds one to three opinion words, each from its own side's list with probability OPINION_TRUE and
from the other side's otherwise, so a bag of words predicts it well but not perfectly (TF-IDF with
logistic regression: test AUC about 0.9, as decisions.md asks). Later dates and higher prices raise
the chance of a return a little. `--text-only` keeps review_id, review and returned.
"""

from __future__ import annotations

import argparse
import uuid
from pathlib import Path

import numpy as np
import pandas as pd

OPINION_TRUE = 0.8
POSITIVE_WORDS = ("great", "excellent", "love", "perfect", "sturdy", "comfortable", "recommend", "happy", "fantastic",
                  "reliable", "beautiful", "works", "fast", "solid", "pleased", "bargain", "quality", "favourite")
NEGATIVE_WORDS = ("broken", "poor", "disappointed", "cheap", "flimsy", "refund", "useless", "faulty", "awful",
                  "smaller", "late", "leaking", "scratched", "wrong", "returning", "worse", "unhappy", "defective")
FILLER = ("the", "it", "was", "this", "i", "my", "for", "and", "with", "a", "item", "product", "arrived", "box",
          "colour", "size", "kitchen", "gift", "daughter", "son", "week", "after", "bought", "second", "time", "use",
          "daily", "price", "order", "delivery", "packaging", "looks", "feels", "instructions", "setup", "store",
          "online", "really", "quite", "very", "just", "also", "but", "so", "on", "in", "of", "to", "at", "one")
PRODUCTS = ("kettle", "toaster", "blender", "lamp", "chair", "desk", "headphones", "backpack")


def generate(rows: int = 6000, seed: int = 7, text_only: bool = False) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    start = np.datetime64("2022-01-01")
    days = rng.integers(0, 900, rows)
    created = start + days.astype("timedelta64[D]")
    price = np.round(rng.lognormal(3.5, 0.6, rows), 2)
    # the chance of a return: a little from time and price, the rest is what the review says
    logit = -0.6 + 0.5 * (days / 900 - 0.5) + 0.3 * (np.log(price) - 3.5)
    returned = rng.random(rows) < 1 / (1 + np.exp(-logit))
    reviews = []
    for r in returned:
        words = list(rng.choice(FILLER, rng.integers(6, 17)))
        for _ in range(rng.integers(1, 4)):
            own_side = rng.random() < OPINION_TRUE
            pool = NEGATIVE_WORDS if (r == own_side) else POSITIVE_WORDS
            words.insert(int(rng.integers(0, len(words) + 1)), str(rng.choice(pool)))
        reviews.append(" ".join(words).capitalize() + ".")
    ids = [str(uuid.UUID(bytes=rng.bytes(16), version=4)) for _ in range(rows)]
    frame = pd.DataFrame({
        "review_id": ids,
        "order_no": 100_000 + np.cumsum(rng.integers(1, 5, rows)),
        "created": pd.Series(created).dt.strftime("%Y-%m-%d"),
        "product": rng.choice(PRODUCTS, rows),
        "store": [f"S{n:04d}" for n in rng.integers(0, 300, rows)],
        "price": price,
        "currency": "USD",
        "review": reviews,
        "returned": np.where(returned, "yes", "no"),
    })
    return frame[["review_id", "review", "returned"]] if text_only else frame


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", type=Path)
    parser.add_argument("--rows", type=int, default=6000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--text-only", action="store_true")
    args = parser.parse_args()
    generate(args.rows, args.seed, args.text_only).to_csv(args.out, index=False)


if __name__ == "__main__":
    main()
