import pytest

from contract import ConfigError, Param
from contract import hyperparameters as hp

SPEC = {
    "n_estimators": Param(int, 100, minimum=1),
    "learning_rate": Param(float, 0.1),
    "loss": Param(str, "log_loss", choices=("log_loss", "exponential")),
    "warm": Param(bool, False),
    "columns": Param(list, []),
    "target": Param(str),
}


@pytest.mark.parametrize(
    "raw, expected",
    [
        ({"n_estimators": "3"}, 3),  # SDK: json.dumps(3)
        ({"n_estimators": 3}, 3),  # SM_HPS: already decoded
        ({"n_estimators": "3.0"}, 3),
        ({"n_estimators": 4.0}, 4),
    ],
)
def test_integers_decode_from_every_encoding(raw, expected):
    assert hp.parse({**raw, "target": "y"}, SPEC)["n_estimators"] == expected


def test_strings_booleans_lists_and_floats_decode_tolerantly():
    values = hp.parse(
        {"target": '"Class"', "loss": "exponential", "warm": "True", "learning_rate": "1e-2", "columns": '["a", "b"]'},
        SPEC,
    )
    assert values == {
        "n_estimators": 100, "learning_rate": 0.01, "loss": "exponential", "warm": True, "columns": ["a", "b"], "target": "Class",
    }
    assert hp.parse({"target": "3", "columns": "a, b,,c"}, SPEC)["target"] == "3"
    assert hp.parse({"target": "y", "columns": "a, b,,c"}, SPEC)["columns"] == ["a", "b", "c"]
    assert hp.parse({"target": "y", "warm": '"false"'}, SPEC)["warm"] is False


@pytest.mark.parametrize(
    "raw, message",
    [
        ({"target": "y", "n_estimators": "three"}, "hyperparameter 'n_estimators': expected integer, got 'three'"),
        ({"target": "y", "n_estimators": "2.5"}, "'n_estimators': expected integer"),
        ({"target": "y", "n_estimators": "true"}, "'n_estimators': expected integer"),
        ({"target": "y", "warm": "yes"}, "'warm': expected boolean"),
        ({"target": "y", "learning_rate": "NaN"}, "'learning_rate': expected number"),
        ({"target": "y", "loss": "hinge"}, "'loss': 'hinge' is not one of"),
        ({"target": "y", "n_estimators": "0"}, "'n_estimators': 0 is below the minimum 1"),
        ({"target": "y", "depth": "3"}, "unknown hyperparameter(s) ['depth']"),
        ({}, "hyperparameter 'target' is required (string)"),
    ],
)
def test_bad_values_name_the_key_and_expected_type(raw, message):
    with pytest.raises(ConfigError) as error:
        hp.parse(raw, SPEC)
    assert message in str(error.value)


def test_platform_keys_are_ignored_and_dashes_mean_underscores():
    values = hp.parse({
        "sagemaker_program": '"train.py"', "sagemaker_region": '"x"', "_tuning_objective_metric": '"validation:auc"',
        "n-estimators": "7", "target": "y",
    }, SPEC)
    assert values["n_estimators"] == 7


def test_cli_pairs_in_both_spellings():
    assert hp.parse_cli(["--target", "Class", "--id-columns=a,b", "--n_estimators", "3"]) == {
        "target": "Class", "id_columns": "a,b", "n_estimators": "3",
    }
    with pytest.raises(ConfigError, match="'--target' has no value"):
        hp.parse_cli(["--target"])
    with pytest.raises(ConfigError, match="expected --name value"):
        hp.parse_cli(["Class"])


def test_later_sources_win():
    assert hp.merge({"a": "1", "b": "1"}, None, {"b": 2}, {"c": 3}) == {"a": "1", "b": 2, "c": 3}
