"""Every row of every named study points at a config that exists and accepts the row's overrides,
and evaluation-only rows re-evaluate a training row of the same study with the same training."""

import os
import sys

import pytest

from helpers import CONFIG_DIR, REPO_ROOT, load_config

sys.path.insert(0, os.path.join(REPO_ROOT, "projects"))
from run_study import split_row  # noqa: E402
from studies import STUDIES  # noqa: E402

ROWS = sorted(
    {(split_row(r)[1], tuple(split_row(r)[2])) for rows in STUDIES.values() for r in rows}
)


@pytest.mark.parametrize("config,overrides", ROWS, ids=[f"{c}{list(o)}" for c, o in ROWS])
def test_row_config_accepts_overrides(config, overrides):
    assert os.path.isfile(os.path.join(CONFIG_DIR, config)), config
    load_config(config, "cpu", overrides)  # raises on a key the config does not have


@pytest.mark.parametrize("study", sorted(STUDIES))
def test_eval_only_rows_reuse_a_training_row(study):
    rows = [split_row(r) for r in STUDIES[study]]
    labels = [r[0] for r in rows]
    assert len(set(labels)) == len(labels), "duplicate row labels share an output directory"
    for label, config, overrides, eval_of in rows:
        if eval_of is None:
            continue
        trained = rows[labels.index(eval_of)]
        assert trained[3] is None, f"{label}: {eval_of!r} is itself evaluation-only"
        assert trained[1] == config and overrides[: len(trained[2])] == trained[2], label
        # what the evaluation-only row adds must not change training
        extra = overrides[len(trained[2]) :]
        assert all(o.split("=")[0].startswith("model.") for o in extra), extra
