"""Every row of every named study points at a config that exists and accepts the row's overrides,
and evaluation-only rows re-evaluate a training row of the same study with the same training; each
CPU regime's datasets carry the class count the regime sets on the model."""

import json
import os
import sys

import pytest
from detectron2.data import DatasetCatalog, MetadataCatalog

import d2dense.data  # noqa: F401  (registers the datasets)
from helpers import CONFIG_DIR, REPO_ROOT, load_config

sys.path.insert(0, os.path.join(REPO_ROOT, "projects"))
from run_study import split_row  # noqa: E402
from studies import REGIMES, STUDIES  # noqa: E402

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


@pytest.mark.parametrize("study", sorted(STUDIES))
def test_rows_that_start_from_another_row_name_a_training_row_before_them(study):
    """``STUDY_DIR/<row>/model_final.pth`` in an override (PSS two-step) must be a training row of
    the same study that runs first, or the run would fail on a missing checkpoint."""
    from run_study import STUDY_DIR, slug

    rows = [split_row(r) for r in STUDIES[study]]
    for i, (label, _, overrides, _) in enumerate(rows):
        for o in overrides:
            if STUDY_DIR not in o:
                continue
            ref = o.split(STUDY_DIR + "/", 1)[1].split("/")[0]
            earlier = {slug(r[0]): r for r in rows[:i] if r[3] is None}
            assert ref in earlier, f"{label}: {o} names no earlier training row of {study}"


def test_study_dir_placeholder_is_filled_in(tmp_path, monkeypatch):
    import run_study

    calls = []
    monkeypatch.setattr(run_study.subprocess, "run", lambda cmd, **kw: calls.append(cmd))
    args = run_study.argparse.Namespace(
        scale="cpu", regime="memorisation", max_iter=0, seed=0, num_gpus=1, force=False,
        verbose=False, opts=[],
    )  # fmt: skip
    row = ("two-step", "PSS/atss_pss_two_step_R_50_FPN_1x.py",
           ["train.init_checkpoint=STUDY_DIR/ATSS_step_one/model_final.pth"])  # fmt: skip
    os.makedirs(tmp_path / "two-step")
    run_study.run_row(args, row, str(tmp_path))
    assert f"train.init_checkpoint={tmp_path}/ATSS_step_one/model_final.pth" in calls[0]


def _resume_fixture(tmp_path, monkeypatch, **arg_changes):
    import run_study

    calls = []
    monkeypatch.setattr(run_study.subprocess, "run", lambda cmd, **kw: calls.append(cmd))
    args = dict(scale="cpu", regime="memorisation", max_iter=0, seed=0, num_gpus=1, force=False,
                verbose=False, opts=[])  # fmt: skip
    args.update(arg_changes)
    row = ("FCOS", "Baselines/fcos_R_50_FPN_3x.py", [])
    return run_study, calls, run_study.argparse.Namespace(**args), row


def test_interrupted_row_resumes_from_its_last_checkpoint(tmp_path, monkeypatch):
    run_study, calls, args, row = _resume_fixture(tmp_path, monkeypatch)
    run_study.run_row(args, row, str(tmp_path))  # first run: from scratch
    assert "--resume" not in calls[0]
    out_dir = tmp_path / "FCOS"
    os.remove(out_dir / "study_row.json")  # as if it was killed during training
    (out_dir / "last_checkpoint").write_text("model_0000249.pth")
    run_study.run_row(args, row, str(tmp_path))
    assert calls[1][2] == "--resume" and calls[1][:2] + calls[1][3:] == calls[0]
    meta = json.loads((out_dir / "study_row.json").read_text())
    assert meta["resumed_at_iter"] == 250 and meta["cmd"] == calls[0]
    assert "resumed at it. 250" in run_study.wall_time(meta)


def test_interrupted_row_of_another_command_is_not_resumed(tmp_path, monkeypatch):
    run_study, calls, args, row = _resume_fixture(tmp_path, monkeypatch)
    run_study.run_row(args, row, str(tmp_path))
    out_dir = tmp_path / "FCOS"
    (out_dir / "last_checkpoint").write_text("model_0000249.pth")
    (out_dir / "model_0000249.pth").write_bytes(b"weights of the 600-iteration run")
    os.remove(out_dir / "study_row.json")
    args.max_iter = 1500  # a different schedule must not continue the old one
    with pytest.raises(SystemExit, match="another command.*--force"):
        run_study.run_row(args, row, str(tmp_path))
    args.force = True
    run_study.run_row(args, row, str(tmp_path))
    assert "--resume" not in calls[-1] and "train.max_iter=1500" in calls[-1]
    # the forced run starts clean: were it killed now, a rerun must not resume the old checkpoint
    assert not (out_dir / "last_checkpoint").exists()
    assert not (out_dir / "model_0000249.pth").exists()
    os.remove(out_dir / "study_row.json")
    args.force = False
    run_study.run_row(args, row, str(tmp_path))
    assert "--resume" not in calls[-1]


def test_row_without_a_record_of_its_command_is_not_resumed(tmp_path, monkeypatch):
    run_study, calls, args, row = _resume_fixture(tmp_path, monkeypatch)
    os.makedirs(tmp_path / "FCOS")
    (tmp_path / "FCOS" / "last_checkpoint").write_text("model_0000249.pth")
    with pytest.raises(SystemExit, match="unknown command"):
        run_study.run_row(args, row, str(tmp_path))
    assert calls == []


def test_resumed_row_keeps_only_the_checkpoint_it_resumes_from(tmp_path, monkeypatch):
    run_study, calls, args, row = _resume_fixture(tmp_path, monkeypatch)
    run_study.run_row(args, row, str(tmp_path))
    out_dir = tmp_path / "FCOS"
    for name in ("model_0000249.pth", "model_0000499.pth", "eval_results.json"):
        (out_dir / name).write_bytes(b"x")
    (out_dir / "last_checkpoint").write_text("model_0000499.pth")
    os.remove(out_dir / "eval_results.json")
    os.remove(out_dir / "study_row.json")
    run_study.run_row(args, row, str(tmp_path))
    assert calls[-1][2] == "--resume"
    assert sorted(p.name for p in out_dir.glob("model_*")) == ["model_0000499.pth"]


def test_resume_point_reads_detectron2_last_checkpoint(tmp_path):
    import run_study

    assert run_study.resume_point(str(tmp_path)) is None
    (tmp_path / "last_checkpoint").write_text("model_0000499.pth\n")
    assert run_study.resume_point(str(tmp_path)) == 500
    (tmp_path / "last_checkpoint").write_text("model_final.pth")
    assert run_study.resume_point(str(tmp_path)) == run_study.TRAINED


@pytest.mark.parametrize("regime", sorted(REGIMES))
def test_regime_datasets_match_num_classes(regime):
    """A regime's train / test sets exist and have the class count it sets on the model."""
    r = REGIMES[regime]
    for name in (r["train"], r["test"]):
        if name not in DatasetCatalog.list():
            pytest.skip(f"{name} is not registered here (../shared/data absent)")
        assert len(MetadataCatalog.get(name).thing_classes) == r["num_classes"], name
