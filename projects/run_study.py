#!/usr/bin/env python
"""Train and evaluate the rows of a named study and print the paper-shaped table.

    python projects/run_study.py defcn_core --scale cpu --regime memorisation
    python projects/run_study.py defcn_table1 --scale paper --num-gpus 8
    python projects/run_study.py defcn_table1 --scale cpu --regime pennfudan --table-only

Each row runs ``train_net.py`` in its own process (output in ``<output-dir>/<study>/<regime>/<row>``).
A row whose ``eval_results.json`` exists is not re-run unless ``--force``, so an interrupted study
resumes. A row interrupted during training (a ``last_checkpoint`` but no results: a killed job, a
session that ended) continues from its last checkpoint through ``train_net.py --resume`` when it is
run again with the same command (another command on it is refused; ``--force`` clears the row's
checkpoints and results and starts again). The data order after a resume differs from an
uninterrupted run's.
``STUDY_DIR`` in a row's overrides is replaced by the study's output folder, so a row can start
from another row's ``model_final.pth`` (PSS two-step training). The table has the columns of the
paper's table (``LAYOUTS`` in projects/studies*.py: e.g. mAP and mAR w/ and w/o NMS for DeFCN
Table 1, AP50 / mMR / recall w/o and w/ NMS on CrowdHuman, AP and APs/m/l w/ NMS for YOLOF). The
default layout: AP / AP50 / AR@100 without NMS, AP with class-aware NMS 0.6 and Delta, and for
person datasets AP@0.5 / mMR / recall w/o NMS. Every Delta is w/ NMS - w/o NMS (DeFCN's tables
print the opposite sign). Last come the iterations and wall time of the run (of its last segment,
for a resumed row).
"""

import argparse
import json
import os
import re
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO_ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)

from studies import LAYOUTS, PAPER_OVERRIDES, REGIMES, STUDIES  # noqa: E402

from d2dense.config import regime_overrides  # noqa: E402


def slug(text):
    return re.sub(r"[^A-Za-z0-9.=+-]+", "_", text).strip("_")


def row_overrides(args, regime):
    if args.scale == "paper":
        return list(PAPER_OVERRIDES.get(args.study, []))
    return regime_overrides(regime, args.max_iter or None, args.seed)


def split_row(row):
    """(label, config, overrides, eval_of): ``eval_of`` names the row whose trained model this row
    only re-evaluates (its overrides change inference only), or None for a row that trains."""
    label, config, overrides = row[:3]
    return label, config, overrides, (row[3] if len(row) > 3 else None)


STUDY_DIR = "STUDY_DIR"  # in a row's overrides: this study's output folder (rows reuse rows)


def run_row(args, row, out_root):
    label, config, overrides, eval_of = split_row(row)
    overrides = [o.replace(STUDY_DIR, out_root) for o in overrides]
    out_dir = os.path.join(out_root, slug(label))
    result_file = os.path.join(out_dir, "eval_results.json")
    weights = os.path.join(out_root, slug(eval_of), "model_final.pth") if eval_of else None
    stale = False
    if os.path.isfile(result_file) and not args.force:
        newer = newer_inputs(result_file, [weights] + overrides)
        if not newer:
            return
        # another row was re-run (e.g. with --force) after this one read its model: the results
        # would describe the old model, so the row starts again
        print(
            f"[{label}] {newer[0]} is newer than this row's results: running it again", flush=True
        )
        stale = True
    eval_only, resume = [], []
    if eval_of is not None:
        if not os.path.isfile(weights):
            raise SystemExit(
                f"row {label!r} re-evaluates {eval_of!r}, which has no {weights}: run that row first"
            )
        eval_only = ["--eval-only", f"train.init_checkpoint={weights}"]
    cmd = [
        sys.executable,
        os.path.join(REPO_ROOT, "train_net.py"),
        "--config-file",
        os.path.join(REPO_ROOT, "configs", config),
        "--num-gpus",
        str(args.num_gpus),
        *eval_only,
        *row_overrides(args, args.regime),
        *overrides,
        f"train.output_dir={out_dir}",
        *args.opts,
    ]
    started_file = os.path.join(out_dir, "study_row.started.json")
    resumed_at = None if eval_of is not None or args.force or stale else resume_point(out_dir)
    if resumed_at is not None:
        previous = read_json(started_file).get("cmd")
        # the interpreter may differ (another venv); the rest of the command is the row's identity
        if previous is None or row_identity(previous) != row_identity(cmd):
            what = (
                "an unknown command (no study_row.started.json)"
                if previous is None
                else "another command: " + " ".join(previous[1:])
            )
            raise SystemExit(
                f"row {label!r}: {out_dir} holds an interrupted run of {what}; "
                "pass --force to start the row again"
            )
        resume = ["--resume"]
        remove_run_files(out_dir, keep_checkpoint=True)
    else:
        remove_run_files(out_dir, keep_checkpoint=False)
    os.makedirs(out_dir, exist_ok=True)
    with open(started_file, "w") as f:
        json.dump({"label": label, "cmd": cmd}, f, indent=2)
    # --resume goes after the script path: it is train_net.py's flag, not part of the row's identity
    run_cmd = cmd[:2] + resume + cmd[2:]
    print(f"[{label}] {' '.join(run_cmd)}", flush=True)
    if resumed_at == TRAINED:
        print(f"[{label}] training had finished: resuming for the evaluation", flush=True)
    elif resumed_at is not None:
        print(f"[{label}] resuming at iteration {resumed_at}", flush=True)
    start = time.perf_counter()
    subprocess.run(
        run_cmd, check=True, cwd=REPO_ROOT, stdout=None if args.verbose else subprocess.DEVNULL
    )
    with open(os.path.join(out_dir, "study_row.json"), "w") as f:
        json.dump(
            {
                "label": label,
                "config": config,
                "overrides": overrides,
                "eval_of": eval_of,
                "wall_s": time.perf_counter() - start,
                "resumed_at_iter": resumed_at,
                "cmd": cmd,
            },
            f,
            indent=2,
        )


def row_identity(cmd):
    """What must match for a row to resume: the command less the interpreter (the venv may
    differ), with ``train.output_dir`` as an absolute path (rows started before run_study made it
    absolute recorded it relative to the repository root, where train_net runs)."""
    prefix = "train.output_dir="
    return [
        (
            prefix + os.path.normpath(os.path.join(REPO_ROOT, a[len(prefix) :]))
            if a.startswith(prefix)
            else a
        )
        for a in cmd[1:]
    ]


def newer_inputs(result_file, inputs):
    """The checkpoints of other rows a row reads (the model it re-evaluates, a ``STUDY_DIR``
    weight in its overrides: a path given as ``key=path`` or bare) that changed after
    ``result_file`` was written."""
    made = os.path.getmtime(result_file)
    paths = [i.split("=", 1)[-1] for i in inputs if i]
    return [
        p for p in paths if p.endswith(".pth") and os.path.isfile(p) and os.path.getmtime(p) > made
    ]


def read_json(path):
    try:
        with open(path) as f:
            return json.load(f)
    except FileNotFoundError:
        return {}


TRAINED = -1  # resume_point of a row whose training finished but whose evaluation did not


def remove_run_files(out_dir, keep_checkpoint):
    """Clear a row's folder before it runs, so that nothing of an earlier run is read as this
    run's: its results, and (``keep_checkpoint=False``: a fresh start, e.g. ``--force``) its
    checkpoints. A resumed run keeps only the checkpoint ``last_checkpoint`` names (detectron2
    prunes only the checkpoints of its own process, so older ones would pile up)."""
    if not os.path.isdir(out_dir):
        return
    keep = None
    if keep_checkpoint:
        with open(os.path.join(out_dir, "last_checkpoint")) as f:
            keep = f.read().strip()
    for name in os.listdir(out_dir):
        is_checkpoint = re.fullmatch(r"model_(\d+|final)\.pth", name) or name == "last_checkpoint"
        stale = name in ("eval_results.json", "study_row.json", "inference_timing.json")
        if stale or (is_checkpoint and name not in (keep, "last_checkpoint" if keep else None)):
            os.remove(os.path.join(out_dir, name))


def resume_point(out_dir):
    """The iteration a training interrupted in ``out_dir`` resumes at (from detectron2's
    ``last_checkpoint`` file, e.g. ``model_0000499.pth`` -> 500), ``TRAINED`` when it names
    ``model_final.pth``, or None when there is no checkpoint."""
    try:
        with open(os.path.join(out_dir, "last_checkpoint")) as f:
            name = f.read().strip()
    except FileNotFoundError:
        return None
    match = re.fullmatch(r"model_(\d+)\.pth", name)
    if match:
        return int(match.group(1)) + 1
    return TRAINED if name == "model_final.pth" else None


def fmt(v, digits=1):
    return "-" if v is None or v != v else f"{v:.{digits}f}"


# Table columns: "<section>/<metric>" of eval_results.json. Sections: "bbox" (w/o NMS), "bbox_nms"
# (w/ class-aware NMS 0.6), "crowd" / "crowd_nms" (person sets: AP@0.5, mMR, recall), and "delta" /
# "crowd_delta" (w/ NMS - w/o NMS, computed from the two). Metric "AR" is the evaluator's AR@<max
# dets> (AR@100 on COCO). "iters" and "time" describe the run.
SECTIONS = {
    "bbox": ("", "w/o NMS"),
    "bbox_nms": ("", "w/ NMS"),
    "delta": ("", "Delta (w/ - w/o)"),
    "crowd": ("crowd ", "w/o NMS"),
    "crowd_nms": ("crowd ", "w/ NMS"),
    "crowd_delta": ("crowd ", "Delta (w/ - w/o)"),
}
DEFAULT_LAYOUT = (
    "bbox/AP",
    "bbox_nms/AP",
    "delta/AP",
    "bbox/AP50",
    "bbox/AR",
    "crowd/AP50",
    "crowd/mMR",
    "crowd/recall",
)


def column_header(column):
    section, metric = column.split("/")
    prefix, suffix = SECTIONS[section]
    return f"{prefix}{metric} {suffix}"


def metric_value(res, column):
    """The value of a ``"<section>/<metric>"`` column in one row's eval_results.json (or None)."""
    section, metric = column.split("/")
    if section.endswith("delta"):
        base = "bbox" if section == "delta" else "crowd"
        raw, nms = (metric_value(res, f"{s}/{metric}") for s in (base, base + "_nms"))
        return None if raw is None or nms is None else nms - raw
    values = res.get(section, {})
    if metric == "AR":
        metric = next((k for k in values if k.startswith("AR@")), None)
    return values.get(metric) if metric else None


def table(rows, out_root, layout=DEFAULT_LAYOUT):
    header = ["row", *(column_header(c) for c in layout), "iters", "time"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in rows:
        label = row[0]
        d = os.path.join(out_root, slug(label))
        label = label.replace("|", "\\|")  # a markdown cell (PSS's "... | one-to-many pred.")
        try:
            with open(os.path.join(d, "eval_results.json")) as f:
                res = json.load(f)
        except FileNotFoundError:
            lines.append(f"| {label} | not run |" + " |" * (len(header) - 2))
            continue
        meta = read_json(os.path.join(d, "study_row.json"))
        iters = trained_iters(d, meta)
        if meta.get("eval_of"):
            iters = f"(model of {meta['eval_of']!r})".replace("|", "\\|")
        cells = []
        for column in layout:
            value = metric_value(res, column)
            sign = "+" if "delta" in column.split("/")[0] and (value or 0) >= 0 else ""
            cells.append(sign + fmt(value))
        lines.append("| " + " | ".join([label, *cells, iters, wall_time(meta)]) + " |")
    return "\n".join(lines)


def trained_iters(row_dir, meta):
    """The row's iterations: its command's ``train.max_iter=``, else (paper scale, where the
    config sets it) the ``config.yaml`` the run saved (LazyConfig or yacs)."""
    import yaml

    given = [o.split("=", 1)[1] for o in meta.get("cmd", []) if o.startswith("train.max_iter=")]
    if given:
        return given[-1]

    class Loader(yaml.SafeLoader):
        pass  # LazyConfig.save writes python objects (ShapeSpec) as tags: read them as None

    Loader.add_multi_constructor("tag:yaml.org,2002:python/", lambda *_: None)
    try:
        with open(os.path.join(row_dir, "config.yaml")) as f:
            cfg = yaml.load(f, Loader=Loader) or {}
    except (FileNotFoundError, yaml.YAMLError):
        return "-"
    value = (cfg.get("train") or {}).get("max_iter") or (cfg.get("SOLVER") or {}).get("MAX_ITER")
    return str(value) if value else "-"


def wall_time(meta):
    if "wall_s" not in meta:
        return "-"
    text = f"{meta['wall_s'] / 60:.1f} min"
    resumed = meta.get("resumed_at_iter")
    if resumed is not None:
        text += (
            " (resumed for evaluation)" if resumed == TRAINED else f" (resumed at it. {resumed})"
        )
    return text


def main():
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("study", choices=list(STUDIES))
    ap.add_argument("--scale", choices=("cpu", "paper"), default="cpu")
    ap.add_argument("--regime", choices=list(REGIMES), default="memorisation")
    ap.add_argument("--max-iter", type=int, default=0, help="override the regime's iterations")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--num-gpus", type=int, default=1)
    ap.add_argument("--rows", default="", help="comma-separated row indices to run (default: all)")
    ap.add_argument("--output-dir", default=os.path.join(REPO_ROOT, "output", "studies"))
    ap.add_argument("--force", action="store_true", help="re-run rows that have results")
    ap.add_argument("--table-only", action="store_true", help="print the table from existing runs")
    ap.add_argument("--verbose", action="store_true", help="show training logs")
    ap.add_argument("--opts", nargs="*", default=[], help="extra key=value overrides for every row")
    args = ap.parse_args()

    rows = STUDIES[args.study]
    if args.rows:
        rows = [rows[int(i)] for i in args.rows.split(",")]
        # an evaluation-only row needs the row it re-evaluates
        chosen = {r[0] for r in rows}
        for row in list(rows):
            eval_of = split_row(row)[3]
            if eval_of and eval_of not in chosen:
                rows.insert(
                    rows.index(row), next(r for r in STUDIES[args.study] if r[0] == eval_of)
                )
                chosen.add(eval_of)
    regime = args.regime if args.scale == "cpu" else "paper"
    # absolute: train_net.py runs in the repository root, this script may run anywhere
    out_root = os.path.join(os.path.abspath(args.output_dir), args.study, regime)
    if not args.table_only:
        for row in rows:
            run_row(args, row, out_root)
    print(f"\n{args.study} ({args.scale} scale, {regime}, seed {args.seed})\n")
    print(table(rows, out_root, LAYOUTS.get(args.study, DEFAULT_LAYOUT)))


if __name__ == "__main__":
    main()
