"""Every row of every named study points at a config that exists and accepts the row's overrides,
and evaluation-only rows re-evaluate a training row of the same study with the same training; each
CPU regime's datasets carry the class count the regime sets on the model."""

import json
import os
import re
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
    """The row's config takes its overrides, and the CPU variant of the regime keeps each of them
    (the scale patch must not reset the knob a row varies)."""
    import ast

    from omegaconf import OmegaConf

    from d2dense.config import regime_overrides

    assert os.path.isfile(os.path.join(CONFIG_DIR, config)), config
    # raises on a key the config does not have; the regime's overrides come first, as run_study's
    cfg = load_config(config, "cpu", regime_overrides("memorisation") + list(overrides))
    for override in overrides:
        key, text = override.split("=", 1)
        if key in ("train.init_checkpoint", "model.backbone.bottom_up.stages.depth"):
            continue  # the CPU variant trains its own R18 from scratch
        try:
            want = ast.literal_eval(text)
        except (ValueError, SyntaxError):
            want = text
        got = OmegaConf.select(cfg, key)
        got = OmegaConf.to_container(got) if OmegaConf.is_config(got) else got
        assert got == (list(want) if isinstance(want, tuple) else want), (override, got)


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


def test_row_recorded_with_a_relative_output_dir_resumes(tmp_path, monkeypatch):
    """Rows started before run_study made --output-dir absolute recorded train.output_dir relative
    to the repository root (where train_net runs): the same row, so it resumes."""
    run_study, calls, args, row = _resume_fixture(tmp_path, monkeypatch)
    run_study.run_row(args, row, str(tmp_path))
    out_dir = tmp_path / "FCOS"
    started = json.loads((out_dir / "study_row.started.json").read_text())
    relative = os.path.relpath(out_dir, REPO_ROOT)
    started["cmd"] = [
        f"train.output_dir={relative}" if a.startswith("train.output_dir=") else a
        for a in started["cmd"]
    ]
    (out_dir / "study_row.started.json").write_text(json.dumps(started))
    os.remove(out_dir / "study_row.json")
    (out_dir / "last_checkpoint").write_text("model_0000249.pth")
    run_study.run_row(args, row, str(tmp_path))
    assert calls[-1][2] == "--resume"


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


def test_rows_reading_a_retrained_row_run_again(tmp_path, monkeypatch):
    """A row that re-evaluates another row's model, or starts from it (PSS two-step), is run
    again when that model is newer than its results (the other row re-run with --force); it is
    skipped while its results are newer."""
    run_study, calls, args, _ = _resume_fixture(tmp_path, monkeypatch)
    trained = tmp_path / "ATSS"
    os.makedirs(trained)
    weights = trained / "model_final.pth"
    weights.write_bytes(b"old model")
    rows = [
        ("ATSS | one-to-many", "PSS/atss_pss_R_50_FPN_3x.py", ["model.x=1"], "ATSS"),
        ("step two", "PSS/atss_pss_two_step_R_50_FPN_1x.py",
         ["train.init_checkpoint=STUDY_DIR/ATSS/model_final.pth"]),
    ]  # fmt: skip
    for row in rows:
        run_study.run_row(args, row, str(tmp_path))
        (tmp_path / run_study.slug(row[0]) / "eval_results.json").write_text("{}")
    assert len(calls) == 2
    for row in rows:  # results newer than the model: skipped
        run_study.run_row(args, row, str(tmp_path))
    assert len(calls) == 2
    step_two = tmp_path / "step_two"
    (step_two / "last_checkpoint").write_text("model_final.pth")
    (step_two / "model_final.pth").write_bytes(b"step two of the old model")
    later = os.path.getmtime(step_two / "eval_results.json") + 10
    os.utime(weights, (later, later))  # the ATSS row was trained again
    for row in rows:
        run_study.run_row(args, row, str(tmp_path))
    assert len(calls) == 4
    assert "--eval-only" in calls[2] and "--resume" not in calls[3]
    # step two starts over from the new model, not from its checkpoint of the old one
    assert not (step_two / "model_final.pth").exists()


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


# Every table of the four papers that the study lists reproduce (YOLOF Tables 2, 3, 6 and PSS Table 10 are not ablations of
# this code: DETR / YOLOv4 / CondInst comparisons and training memory).
PAPER_TABLES = [
    *(f"defcn_table{i}" for i in range(1, 9)),
    *(f"pss_table{i}" for i in range(1, 10)),
    *(f"onenet_table{i}" for i in (1, 2, 3)),
    "yolof_table1",
    "yolof_table4",
    *(f"yolof_table5{x}" for x in "abcde"),
    "yolof_table7",
    "yolof_table8",
    "yolof_fig1_encoders",
]


@pytest.mark.parametrize("study", PAPER_TABLES)
def test_every_paper_table_has_a_study(study):
    assert study in STUDIES and STUDIES[study]


def test_table1_rows_of_every_backbone_are_studied():
    """PSS Table 1 has R50 and R101 rows and DeFCN; DeFCN Table 7 R101 and X101+DCN rows, with
    the baselines on the same backbones; YOLOF Table 1 RetinaNet R101."""
    from omegaconf import OmegaConf

    pss = {r[0]: r for r in STUDIES["pss_table1"]}
    assert {"FCOS", "ATSS", "DeFCN", "FCOS_PSS", "ATSS_PSS"} <= set(pss)
    assert {"R101 FCOS", "R101 ATSS", "R101 FCOS_PSS", "R101 ATSS_PSS"} <= set(pss)
    for study, label, depth in [
        ("pss_table1", "R101 ATSS_PSS", 101),
        ("defcn_table7", "R101 RetinaNet", 101),
        ("defcn_table7", "R101 FCOS", 101),
        ("defcn_table7", "R101 Ours", 101),
        ("yolof_table1", "RetinaNet R101-FPN", 101),
    ]:
        _, config, overrides = next(r for r in STUDIES[study] if r[0] == label)
        cfg = load_config(config, "paper", overrides)
        assert cfg.model.backbone.bottom_up.stages.depth == depth, (study, label)
        assert "R-101" in cfg.train.init_checkpoint, (study, label)
    x101 = [r for r in STUDIES["defcn_table7"] if r[0].startswith("X101")]
    stages = [
        OmegaConf.to_container(load_config(c, "paper", o).model.backbone.bottom_up.stages)
        for _, c, o in x101
    ]
    assert len(stages) == 3 and all(s == stages[0] for s in stages)
    assert stages[0]["num_groups"] == 32 and stages[0]["deform_on_per_stage"][-1]


DEFCN_ABLATION_STUDIES = [f"defcn_table{i}" for i in range(1, 7)] + ["defcn_core"]


@pytest.mark.parametrize("study", DEFCN_ABLATION_STUDIES)
def test_defcn_ablations_train_the_papers_2x_at_800_at_paper_scale(study):
    """DeFCN Sec. 4.1: Tables 1-6 use detectron2's 2x schedule (180k iterations) at short side 800;
    the configs are the 3x multi-scale release recipe, so run_study patches the former in."""
    import argparse

    from detectron2 import model_zoo
    from detectron2.config import instantiate
    from run_study import row_overrides

    schedules = model_zoo.get_config("common/coco_schedule.py")
    want = instantiate(schedules.lr_multiplier_2x)
    three_x = instantiate(schedules.lr_multiplier_3x)
    points = (0.0, 0.002, 0.004, 0.5, 0.66, 0.67, 0.78, 0.88, 0.89, 0.999)
    assert any(want(t) != pytest.approx(three_x(t)) for t in points)  # the points tell them apart
    paper = argparse.Namespace(scale="paper", study=study, max_iter=0, seed=0)
    for label, config, overrides, _ in map(split_row, STUDIES[study]):
        cfg = load_config(config, "paper", row_overrides(paper, None) + list(overrides))
        assert cfg.train.max_iter == 180000, label
        got = instantiate(cfg.lr_multiplier)
        assert [got(t) for t in points] == pytest.approx([want(t) for t in points]), label
        resize = cfg.dataloader.train.mapper.augmentations[0]
        assert list(resize.short_edge_length) == [800] and resize.max_size == 1333, label
    cpu = argparse.Namespace(scale="cpu", study=study, max_iter=0, seed=0)
    assert not any(o.startswith("lr_multiplier") for o in row_overrides(cpu, "pennfudan"))


def test_defcn_table7_keeps_the_release_recipe():
    """Table 7 follows "the official settings" (3x multi-scale), not the ablations' 2x."""
    from run_study import PAPER_OVERRIDES

    assert "defcn_table7" not in PAPER_OVERRIDES and "defcn_table8" not in PAPER_OVERRIDES


def _fake_results(out_root, label, raw, nms, crowd=None, crowd_nms=None):
    from run_study import slug

    d = os.path.join(out_root, slug(label))
    os.makedirs(d, exist_ok=True)
    res = {"bbox": raw, "bbox_nms": nms}
    if crowd is not None:
        res.update(crowd=crowd, crowd_nms=crowd_nms)
    with open(os.path.join(d, "eval_results.json"), "w") as f:
        json.dump(res, f)


def _table_only(study, tmp_path, monkeypatch, capsys, regime="memorisation"):
    import run_study

    monkeypatch.setattr(
        sys, "argv", ["run_study.py", study, "--table-only", "--regime", regime,
                      "--output-dir", str(tmp_path)],
    )  # fmt: skip
    run_study.main()
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("|")]

    def cells(line):  # markdown cells; "\\|" is a "|" inside a cell
        return [c.strip().replace("\\|", "|") for c in re.split(r"(?<!\\)\|", line[1:-1])]

    header = cells(lines[0])
    assert all(len(cells(line)) == len(header) for line in lines), lines
    return [dict(zip(header, cells(line))) for line in lines[2:]]


def _bbox(ap, ar, **extra):
    return {"AP": ap, "AP50": ap + 20, "AP75": ap + 1, "APs": 1.0, "APm": 2.0, "APl": 3.0,
            "AR@100": ar, **extra}  # fmt: skip


def test_table_only_prints_defcn_table1_columns(tmp_path, monkeypatch, capsys):
    """DeFCN Table 1: mAP and mAR, each w/ NMS, w/o NMS and Delta."""
    root = tmp_path / "defcn_table1" / "memorisation"
    _fake_results(str(root), "POTO", _bbox(38.0, 60.5), _bbox(38.6, 57.9))
    rows = {r["row"]: r for r in _table_only("defcn_table1", tmp_path, monkeypatch, capsys)}
    poto = rows["POTO"]
    assert poto["AP w/ NMS"] == "38.6" and poto["AP w/o NMS"] == "38.0"
    assert poto["AR w/ NMS"] == "57.9" and poto["AR w/o NMS"] == "60.5"
    assert poto["AR Delta (w/ - w/o)"] == "-2.6" and poto["AP Delta (w/ - w/o)"] == "+0.6"
    assert rows["Anchor rule (1:1)"]["AP w/ NMS"] == "not run"


def test_table_only_prints_ap75_for_defcn_table4(tmp_path, monkeypatch, capsys):
    root = tmp_path / "defcn_table4" / "memorisation"
    _fake_results(str(root), "mul alpha=0.8", _bbox(38.0, 60.0), _bbox(38.6, 58.0))
    (row,) = [r for r in _table_only("defcn_table4", tmp_path, monkeypatch, capsys)
              if r["row"] == "mul alpha=0.8"]  # fmt: skip
    assert row["AP75 w/o NMS"] == "39.0" and row["AP75 w/ NMS"] == "39.6"
    assert row["AP50 w/ NMS"] == "58.6"


@pytest.mark.parametrize("study,label", [("defcn_table8", "FCOS (NMS)"),
                                         ("onenet_table3", "RetinaNet (NMS)")])  # fmt: skip
def test_table_only_prints_crowd_metrics_with_and_without_nms(
    study, label, tmp_path, monkeypatch, capsys
):
    """CrowdHuman tables read their NMS baselines w/ NMS: both crowd columns are printed."""
    root = tmp_path / study / "memorisation"
    crowd = {"AP50": 70.0, "mMR": 80.0, "recall": 97.0}
    crowd_nms = {"AP50": 86.1, "mMR": 54.9, "recall": 94.2}
    _fake_results(str(root), label, _bbox(1, 2), _bbox(3, 4), crowd, crowd_nms)
    (row,) = [r for r in _table_only(study, tmp_path, monkeypatch, capsys) if r["row"] == label]
    assert row["crowd AP50 w/ NMS"] == "86.1" and row["crowd mMR w/ NMS"] == "54.9"
    assert row["crowd recall w/ NMS"] == "94.2" and row["crowd mMR w/o NMS"] == "80.0"


def test_table_only_prints_yolof_size_columns_with_nms(tmp_path, monkeypatch, capsys):
    """YOLOF's tables: AP, AP50, AP75, APs / APm / APl of the detector with NMS."""
    root = tmp_path / "yolof_table5a" / "memorisation"
    _fake_results(str(root), "N=4", _bbox(30.0, 50.0, APs=9.0), _bbox(35.5, 50.0, APs=17.6))
    (row,) = [r for r in _table_only("yolof_table5a", tmp_path, monkeypatch, capsys)
              if r["row"] == "N=4"]  # fmt: skip
    assert row["AP w/ NMS"] == "35.5" and row["APs w/ NMS"] == "17.6"
    assert row["APm w/ NMS"] == "2.0" and row["APl w/ NMS"] == "3.0"
    assert row["AP75 w/ NMS"] == "36.5"


def test_table_only_prints_pss_mar_of_both_predictions(tmp_path, monkeypatch, capsys):
    """PSS Tables 4 / 5: mAR of the end-to-end (w/o NMS) and one-to-many (w/ NMS) predictions."""
    root = tmp_path / "pss_table5" / "memorisation"
    label = "FCOS_PSS 2 conv"
    _fake_results(str(root), label, _bbox(42.3, 61.6), _bbox(42.0, 59.0))
    _fake_results(str(root), label + " | one-to-many pred.", _bbox(20.0, 50.0), _bbox(42.2, 59.6))
    rows = {r["row"]: r for r in _table_only("pss_table5", tmp_path, monkeypatch, capsys)}
    assert rows[label]["AR w/o NMS"] == "61.6"
    assert rows[label + " | one-to-many pred."]["AR w/ NMS"] == "59.6"


def test_relative_output_dir_is_made_absolute(tmp_path, monkeypatch):
    """train_net.py runs in the repository root: a relative --output-dir must name the same folder
    for it as for run_study.py (the results it checks, the checkpoints it resumes)."""
    import run_study

    calls = []
    monkeypatch.setattr(run_study.subprocess, "run", lambda cmd, **kw: calls.append(cmd))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(
        sys, "argv", ["run_study.py", "defcn_core", "--rows", "0", "--output-dir", "rel"]
    )
    run_study.main()
    (out,) = [o for o in calls[0] if o.startswith("train.output_dir=")]
    assert out == f"train.output_dir={tmp_path}/rel/defcn_core/memorisation/FCOS_w_o_ctr_1_many"


def test_iterations_of_a_paper_scale_row_come_from_its_saved_config(tmp_path):
    """At paper scale the command has no ``train.max_iter=``: the table reads the config.yaml the
    run saved (LazyConfig, with python tags, or yacs)."""
    import run_study

    lazy, yacs = tmp_path / "lazy", tmp_path / "yacs"
    for d in (lazy, yacs):
        os.makedirs(d)
    (lazy / "config.yaml").write_text(
        "model:\n  shape: !!python/object:detectron2.layers.shape_spec.ShapeSpec {channels: 3}\n"
        "train: {max_iter: 180000}\n"
    )
    (yacs / "config.yaml").write_text("SOLVER:\n  MAX_ITER: 90000\n")
    assert run_study.trained_iters(str(lazy), {"cmd": ["train_net.py"]}) == "180000"
    assert run_study.trained_iters(str(yacs), {}) == "90000"
    assert run_study.trained_iters(str(tmp_path), {}) == "-"  # no config saved
    cmd = {"cmd": ["train.max_iter=600", "train.max_iter=1500"]}  # the last override wins
    assert run_study.trained_iters(str(lazy), cmd) == "1500"


def test_table_only_prints_defcn_table2_with_its_reevaluated_rows(tmp_path, monkeypatch, capsys):
    """Table 2: one FCOS training, the ranged-NMS rows re-evaluate it; a '|' in the row they name
    must not split the markdown cell."""
    from run_study import slug

    root = tmp_path / "defcn_table2" / "memorisation"
    base, *ranged = [r[0] for r in STUDIES["defcn_table2"]]
    assert "|" in base
    _fake_results(str(root), base, _bbox(14.5, 50.0), _bbox(33.5, 45.0))
    _fake_results(str(root), ranged[1], _bbox(26.6, 48.0), _bbox(33.4, 45.0))
    with open(root / slug(ranged[1]) / "study_row.json", "w") as f:
        json.dump({"eval_of": base, "wall_s": 30.0}, f)
    rows = {r["row"]: r for r in _table_only("defcn_table2", tmp_path, monkeypatch, capsys)}
    assert rows[base]["AP w/ NMS"] == "33.5" and rows[ranged[1]]["AP w/o NMS"] == "26.6"
    assert rows[ranged[1]]["iters"] == f"(model of {base!r})"
