#!/usr/bin/env python
"""Train or evaluate any d2dense detector, from a LazyConfig (``.py``) or a yacs (``.yaml``) file.

    python train_net.py --config-file configs/DeFCN/poto_3dmf_aux_R_50_FPN_3x.py --num-gpus 8
    python train_net.py --config-file configs/DeFCN/poto_3dmf_aux_R_50_FPN_3x.py scale=cpu train.max_iter=600
    python train_net.py --config-file X.py --eval-only train.init_checkpoint=output/model_final.pth
    python train_net.py --config-file X.yaml --eval-only MODEL.WEIGHTS output/model_final.pth

Overrides follow detectron2: ``key=value`` for LazyConfig, ``KEY VALUE`` pairs for yacs. It writes
config.yaml, log.txt, metrics.json, TensorBoard events and periodic checkpoints to the output dir,
logs an ETA, and runs on the CPU when there is no GPU. Evaluation results also go to
``<output_dir>/eval_results.json``, with ``inference_timing.json`` beside it (batch 1, median
network and post-processing ms per image, FPS; see ``d2dense/benchmark.py``).
"""

import logging
import os

import torch

from detectron2.checkpoint import DetectionCheckpointer
from detectron2.config import instantiate
from detectron2.engine import (
    AMPTrainer,
    DefaultTrainer,
    SimpleTrainer,
    default_argument_parser,
    default_setup,
    default_writers,
    hooks,
    launch,
)
from detectron2.engine.defaults import create_ddp_model
from detectron2.evaluation import inference_on_dataset, print_csv_format
from detectron2.layers import FrozenBatchNorm2d
from detectron2.utils import comm

from d2dense.benchmark import InferenceTimer, summarize_times, write_json
from d2dense.engine import load_config

logger = logging.getLogger("d2dense")


def _save_results(output_dir, results):
    if comm.is_main_process() and output_dir:
        os.makedirs(output_dir, exist_ok=True)
        write_json(os.path.join(output_dir, "eval_results.json"), results)


def check_start_weights(model, weights: str, key: str, *, eval_only: bool, resume_dir=None):
    """Refuse a run whose result would be meaningless for want of weights, naming the config key:
    evaluating without a checkpoint, or training from random weights a backbone whose batch norm
    is frozen (the paper-scale recipes, which expect ImageNet weights; detectron2 would silently
    start from scratch). ``resume_dir``: the output dir of a ``--resume`` run, whose last
    checkpoint, when there is one, provides the weights."""
    if weights or (resume_dir and DetectionCheckpointer(model, resume_dir).has_checkpoint()):
        return
    if eval_only:
        raise ValueError(
            f"--eval-only needs weights: set {key} to a checkpoint (a model_final.pth)"
        )
    frozen = next((n for n, m in model.named_modules() if isinstance(m, FrozenBatchNorm2d)), None)
    if frozen is not None:
        raise ValueError(
            f"{key} is empty, but the model's batch norm is frozen ({frozen}, ...): frozen norm "
            f"expects pretrained weights. Set {key} to ImageNet weights (see the config's "
            "comments), or train from scratch with trainable norm (e.g. scale=cpu)."
        )


# ---------------------------------------------------------------------------------------- lazy
def timed_evaluation(model, output_dir, evaluate):
    """Run ``evaluate()`` while timing every forward (batch 1: network vs post-processing) and
    write the medians and FPS to ``<output_dir>/inference_timing.json``."""
    with InferenceTimer(model) as timer:
        results = evaluate()
    timing = summarize_times(timer.records)
    logger.info("Inference timing (median per image): %s", timing)
    if comm.is_main_process() and output_dir:
        write_json(os.path.join(output_dir, "inference_timing.json"), timing)
    return results


def do_test(cfg, model):
    if "evaluator" not in cfg.dataloader:
        return {}

    def evaluate():
        results = inference_on_dataset(
            model, instantiate(cfg.dataloader.test), instantiate(cfg.dataloader.evaluator)
        )
        if comm.is_main_process():
            print_csv_format(results)
        return results

    results = timed_evaluation(model, cfg.train.output_dir, evaluate)
    _save_results(cfg.train.output_dir, results)
    return results


def do_train(args, cfg):
    model = instantiate(cfg.model)
    logger.info("Model:\n%s", model)
    model.to(cfg.train.device)
    check_start_weights(
        model,
        cfg.train.init_checkpoint,
        "train.init_checkpoint",
        eval_only=False,
        resume_dir=cfg.train.output_dir if args.resume else None,
    )

    cfg.optimizer.params.model = model
    optim = instantiate(cfg.optimizer)
    train_loader = instantiate(cfg.dataloader.train)
    model = create_ddp_model(model, **cfg.train.ddp)
    trainer = (AMPTrainer if cfg.train.amp.enabled else SimpleTrainer)(model, train_loader, optim)
    checkpointer = DetectionCheckpointer(model, cfg.train.output_dir, trainer=trainer)
    trainer.register_hooks(
        [
            hooks.IterationTimer(),
            hooks.LRScheduler(scheduler=instantiate(cfg.lr_multiplier)),
            (
                hooks.PeriodicCheckpointer(checkpointer, **cfg.train.checkpointer)
                if comm.is_main_process()
                else None
            ),
            hooks.EvalHook(cfg.train.eval_period, lambda: do_test(cfg, model)),
            (
                hooks.PeriodicWriter(
                    default_writers(cfg.train.output_dir, cfg.train.max_iter),
                    period=cfg.train.log_period,
                )
                if comm.is_main_process()
                else None
            ),
        ]
    )
    checkpointer.resume_or_load(cfg.train.init_checkpoint, resume=args.resume)
    start_iter = trainer.iter + 1 if args.resume and checkpointer.has_checkpoint() else 0
    trainer.train(start_iter, cfg.train.max_iter)


def main_lazy(args, cfg):
    if args.eval_only:
        model = instantiate(cfg.model)
        check_start_weights(
            model, cfg.train.init_checkpoint, "train.init_checkpoint", eval_only=True
        )
        model.to(cfg.train.device)
        model = create_ddp_model(model)
        DetectionCheckpointer(model).load(cfg.train.init_checkpoint)
        return do_test(cfg, model)
    do_train(args, cfg)
    return None


# ---------------------------------------------------------------------------------------- yacs
class YacsTrainer(DefaultTrainer):
    """DefaultTrainer with d2dense's evaluators and validating mapper. Every evaluation (the
    periodic and final ones of training, and --eval-only) writes eval_results.json and
    inference_timing.json, as in the LazyConfig route."""

    @classmethod
    def test(cls, cfg, model, evaluators=None):
        results = timed_evaluation(
            model, cfg.OUTPUT_DIR, lambda: super(YacsTrainer, cls).test(cfg, model, evaluators)
        )
        _save_results(cfg.OUTPUT_DIR, results)
        return results

    @classmethod
    def build_evaluator(cls, cfg, dataset_name, output_folder=None):
        from d2dense.evaluation import build_evaluators

        return build_evaluators(dataset_name, output_dir=output_folder or cfg.OUTPUT_DIR)

    @classmethod
    def build_train_loader(cls, cfg):
        from detectron2.data import build_detection_train_loader

        from d2dense.data import SafeDatasetMapper

        return build_detection_train_loader(cfg, mapper=SafeDatasetMapper(cfg, is_train=True))

    @classmethod
    def build_test_loader(cls, cfg, dataset_name):
        from detectron2.data import build_detection_test_loader

        from d2dense.data import SafeDatasetMapper

        return build_detection_test_loader(
            cfg, dataset_name, mapper=SafeDatasetMapper(cfg, is_train=False)
        )


def main_yacs(args, cfg):
    if args.eval_only:
        model = YacsTrainer.build_model(cfg)
        check_start_weights(
            model,
            cfg.MODEL.WEIGHTS,
            "MODEL.WEIGHTS",
            eval_only=True,
            resume_dir=cfg.OUTPUT_DIR if args.resume else None,
        )
        DetectionCheckpointer(model, save_dir=cfg.OUTPUT_DIR).resume_or_load(
            cfg.MODEL.WEIGHTS, resume=args.resume
        )
        return YacsTrainer.test(cfg, model)
    trainer = YacsTrainer(cfg)
    check_start_weights(
        trainer.model,
        cfg.MODEL.WEIGHTS,
        "MODEL.WEIGHTS",
        eval_only=False,
        resume_dir=cfg.OUTPUT_DIR if args.resume else None,
    )
    trainer.resume_or_load(resume=args.resume)
    return trainer.train()


def main(args):
    loaded = load_config(args.config_file, args.opts)
    default_setup(loaded.cfg, args)
    return (main_lazy if loaded.lazy else main_yacs)(args, loaded.cfg)


def worker_count(num_gpus: int) -> int:
    """Processes to launch: ``--num-gpus``, or one on a machine without CUDA (the CPU runs the
    model in one process), which is said rather than done silently."""
    if torch.cuda.is_available():
        return num_gpus
    if num_gpus <= 1:
        return 1
    logging.getLogger("d2dense").warning(
        "--num-gpus %d, but CUDA is not available: running one process on the CPU", num_gpus
    )
    return 1


def invoke_main() -> None:
    args = default_argument_parser().parse_args()
    launch(
        main,
        worker_count(args.num_gpus),
        num_machines=args.num_machines,
        machine_rank=args.machine_rank,
        dist_url=args.dist_url,
        args=(args,),
    )


if __name__ == "__main__":
    invoke_main()
