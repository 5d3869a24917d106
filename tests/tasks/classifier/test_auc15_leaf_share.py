"""min_leaf_share: leaves scale with the training rows; small files keep min_samples_leaf."""

from tasks.classifier.params import TrainParams
from tasks.classifier.training import leaf_rows, new_state


def test_leaf_is_the_larger_of_the_share_and_the_floor():
    params = TrainParams(min_samples_leaf=20, min_leaf_share=0.03)
    assert leaf_rows(params, 124) == 20  # wine's training split: the floor
    assert leaf_rows(params, 6899) == 207  # lending_club's: ceil(0.03 x 6899)
    assert leaf_rows(TrainParams(min_samples_leaf=5, min_leaf_share=0.0), 10_000) == 5  # share off


def test_both_families_get_the_scaled_leaf():
    for family in ("gb", "hgb"):
        state = new_state(TrainParams(estimator=family), train_rows=14_000, columns=300)
        assert state.model.min_samples_leaf == 420  # the wide file's training split
