"""Roles inferred once on a sample of the whole input, then applied by every clean host (tasks.classifier.pinning)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from bench.text_data import generate
from common.errors import DataError
from common.storage import read_tables
from tasks.classifier import cleaning, pinning, roles, schema

TARGET, POSITIVE = "returned", "yes"


def _files(frame: pd.DataFrame, parts: int) -> list[tuple[str, pd.DataFrame]]:
    bounds = np.linspace(0, len(frame), parts + 1).astype(int)
    return [(f"part-{k}.csv", frame.iloc[a:b].reset_index(drop=True)) for k, (a, b) in enumerate(zip(bounds, bounds[1:]))]


def _pin(files, limit=pinning.SAMPLE_ROWS, declared=None):
    drawn = pinning.sample(files, TARGET, limit)
    pinned, _ = pinning.pin(drawn, TARGET, "classifier", POSITIVE, (), declared or {})
    return drawn, pinned


def test_a_small_input_is_sampled_whole_in_its_order_so_the_roles_are_a_single_cleans():
    frame = generate(rows=1200, seed=3)
    drawn, pinned = _pin(_files(frame, 3))
    assert drawn.rows_read == 1200 and len(drawn.rows) == 1200 and drawn.files == 3
    pd.testing.assert_frame_equal(drawn.rows, frame, check_dtype=False)
    cleaned, _ = cleaning.clean(frame, TARGET)
    alone = roles.infer(cleaned, TARGET)
    assert pinned["roles"]["roles"] == alone.roles
    assert alone.roles["order_no"] == "identifier" and alone.roles["review"] == "text"  # the sample kept the row order


def test_a_large_input_is_sampled_uniformly_and_the_classes_come_from_every_row():
    frame = pd.DataFrame({"x": np.arange(30_000, dtype=float) % 97, "g": np.tile(list("abc"), 10_000),
                          TARGET: ["no"] * 29_999 + ["maybe"]})
    frame.loc[::3, TARGET] = "yes"
    drawn = pinning.sample(_files(frame, 6), TARGET, limit=3000)
    assert len(drawn.rows) == 3000 and drawn.rows_read == 30_000
    assert "maybe" not in set(drawn.rows[TARGET])  # one row in 30,000: the sample missed it
    pinned, _ = pinning.pin(drawn, TARGET, "classifier", "", (), {})
    assert pinned["schema"]["kind"] == "multiclass" and set(pinned["schema"]["labels"]) == {"no", "yes", "maybe"}
    again = pinning.sample(_files(frame, 6), TARGET, limit=3000)
    pd.testing.assert_frame_equal(again.rows, drawn.rows)  # seeded


def test_the_sample_keeps_each_files_share_of_rows():
    frame = pd.DataFrame({"file": np.repeat([0, 1, 2, 3], [1000, 3000, 5000, 1000]), "v": np.arange(10_000) % 7,
                          TARGET: np.tile(["yes", "no"], 5000)})
    files = [(f"f{k}", frame[frame.file == k].reset_index(drop=True)) for k in range(4)]
    drawn = pinning.sample(files, TARGET, limit=2000)
    shares = drawn.rows.file.value_counts(normalize=True).sort_index().to_numpy()
    assert np.allclose(shares, [0.1, 0.3, 0.5, 0.1], atol=0.04), shares
    assert drawn.rows.file.is_monotonic_increasing  # input order: file, then line


def test_files_with_other_columns_or_no_target_are_named():
    frame = generate(rows=300, seed=1)
    with pytest.raises(DataError, match=r"part-1.csv: columns differ from part-0.csv \(missing \['price'\], extra \[\]\)"):
        pinning.sample([("part-0.csv", frame), ("part-1.csv", frame.drop(columns="price"))], TARGET)
    with pytest.raises(DataError, match="part-0.csv: target column 'returned' not found"):
        pinning.sample([("part-0.csv", frame.drop(columns=TARGET))], TARGET)


def test_shards_that_would_infer_different_roles_apply_the_pinned_ones_and_agree():
    frame = generate(rows=1600, seed=6)
    frame["code"] = [f"c{k % 60}" for k in range(800)] + [f"c{k % 150}" for k in range(800)]
    first, second = frame.iloc[:800].reset_index(drop=True), frame.iloc[800:].reset_index(drop=True)
    alone = [roles.infer(cleaning.clean(part, TARGET)[0], TARGET).roles["code"] for part in (first, second)]
    assert alone == ["categorical", "high_cardinality"]  # what per-shard inference did: feature refused them
    _, pinned = _pin([("part-0.csv", first), ("part-1.csv", second)])
    schemas = []
    for part in (first, second):
        _, _, report, pinned_schema = pinning.apply(part, pinned)
        assert report["roles"]["source"] == "the roles step" and report["roles"]["sample"]["rows_read"] == 1600
        schemas.append(pinned_schema)
    assert schemas[0] == schemas[1] and schemas[0].roles["code"] == "high_cardinality"


def test_a_host_whose_dates_are_words_fails_naming_the_column():
    frame = generate(rows=1600, seed=6)
    frame["created"] = frame["created"].astype(str)
    frame.loc[1560:, "created"] = ["soon", "later", "someday", "never"] * 10
    files = _files(frame, 2)
    _, pinned = _pin(files)
    assert pinned["roles"]["roles"]["created"] == "datetime"
    pinning.apply(files[0][1], pinned)
    files[1][1].loc[400:, "created"] = "someday"
    with pytest.raises(DataError, match="column 'created' is inferred by the roles step datetime but"):
        pinning.apply(files[1][1], pinned)


def test_a_host_whose_data_contradicts_a_pinned_role_fails_naming_the_column():
    rows = 1000
    frame = pd.DataFrame({"amount": np.round(np.linspace(1, 500, rows), 1).astype(object),
                          "colour": np.tile(["red", "blue"], rows // 2), TARGET: np.tile(["yes", "no", "no", "no"], rows // 4)})
    tail = frame.iloc[900:].copy()
    tail.loc[tail.index[:15], "amount"] = "n/k"  # 15 of 100: over the ambiguous share on that host
    files = [("a.csv", frame.iloc[:900].reset_index(drop=True)), ("b.csv", tail.reset_index(drop=True))]
    _, pinned = _pin(files)
    assert pinned["roles"]["roles"]["amount"] == "numeric"  # 1.5% strays over the whole input: tolerated
    cleaned, _, report, _ = pinning.apply(files[0][1], pinned)
    assert cleaned["amount"].dtype == float and "amount" not in report["stray_values"]
    with pytest.raises(DataError, match="column 'amount' is inferred by the roles step numeric but its values are not "
                                        "numbers"):
        pinning.apply(files[1][1], pinned)
    with pytest.raises(DataError, match=r"different columns from the input the roles step read: missing \['colour'\]"):
        pinning.apply(files[0][1].drop(columns="colour"), pinned)


def test_the_pinned_schema_is_what_schema_infer_gives_on_the_whole_input():
    frame = generate(rows=900, seed=2)
    _, pinned = _pin(_files(frame, 2))
    cleaned, _ = cleaning.clean(frame, TARGET)
    found = roles.infer(cleaned, TARGET)
    assert schema.Schema.from_dict(pinned["schema"]) == schema.infer(cleaned, TARGET, POSITIVE, roles=found.roles)


def test_the_roles_steps_file_is_a_roles_file_a_user_can_keep():
    import json

    frame = generate(rows=600, seed=4)
    _, pinned = _pin(_files(frame, 2))
    kept = roles.read_roles_file(json.dumps(pinned), "roles.json")
    assert kept == pinned["roles"]["roles"] and kept["review"] == "text"


def test_rows_read_by_pyarrow_are_applied_as_the_dataframe_is(tmp_path):
    frame = generate(rows=800, seed=9)
    path = tmp_path / "part-0.csv"
    frame.to_csv(path, index=False)
    _, pinned = _pin([(path.name, frame)])
    arrow_rows = cleaning.read([path], "refuse")
    assert not isinstance(arrow_rows, pd.DataFrame)  # the fast path
    by_arrow = pinning.apply(arrow_rows, pinned)
    by_pandas = pinning.apply(read_tables([path]), pinned)
    pd.testing.assert_frame_equal(by_arrow[1], by_pandas[1])
    assert by_arrow[2] == by_pandas[2] and by_arrow[3] == by_pandas[3]


@pytest.mark.parametrize("limit", [pinning.SAMPLE_ROWS, 700])
def test_files_read_by_pyarrow_give_the_roles_files_read_by_pandas_give(tmp_path, limit):
    frame = generate(rows=2000, seed=5)
    frame.loc[::7, "price"] = None  # gaps in a number and in a text column
    frame.loc[::11, "product"] = None
    paths = []
    for k, part in enumerate(_files(frame, 3)):
        paths.append(tmp_path / part[0])
        part[1].to_csv(paths[-1], index=False)
    arrow_files = [(p.name, cleaning.read([p], "refuse")) for p in paths]
    assert not any(isinstance(rows, pd.DataFrame) for _, rows in arrow_files)
    by_arrow = pinning.pin(pinning.sample(arrow_files, TARGET, limit), TARGET, "classifier", POSITIVE, (), {})[0]
    by_pandas = pinning.pin(pinning.sample([(p.name, read_tables([p])) for p in paths], TARGET, limit), TARGET,
                            "classifier", POSITIVE, (), {})[0]
    assert by_arrow == by_pandas


def test_on_the_default_data_the_pinned_roles_clean_the_rows_as_clean_alone_did():
    from tests.conftest import DATA

    rows = cleaning.read([DATA], "refuse")
    drawn = pinning.sample([(DATA.name, rows)], "Class")
    pinned, _ = pinning.pin(drawn, "Class", "classifier", "bad", ["rownames"], roles.declared_roles(id_columns=["rownames"]))
    assert drawn.rows_read == len(drawn.rows)  # under sample_rows: the sample is every row
    cleaned, _, report, pinned_schema = pinning.apply(rows, pinned)
    alone, alone_report = cleaning.clean(read_tables([DATA]), "Class")
    pd.testing.assert_frame_equal(cleaning.frame(cleaned), alone)
    assert report["dropped"] == alone_report["dropped"]
    found = roles.infer(alone, "Class", roles.declared_roles(id_columns=["rownames"]))
    assert pinned_schema == schema.infer(alone, "Class", "bad", ["rownames"], roles=found.roles)
