#!/usr/bin/env python
"""Convert a published checkpoint of DeFCN, YOLOF or OneNet to d2dense parameter names.

    python tools/convert_checkpoint.py --source defcn_cvpods \\
        --config-file configs/DeFCN/poto_3dmf_aux_R_50_FPN_3x.py IN.pth OUT.pth
    python tools/convert_checkpoint.py --source yolof_d2 \\
        --config-file configs/YOLOF/yolof_R_50_C5_1x.py YOLOF_R_50_C5_1x.pth OUT.pth
    python tools/convert_checkpoint.py --source onenet \\
        --config-file configs/OneNet/centernet_o2o_cls_R_50_DCN_270k.py onenet_r50dcn.pth OUT.pth \\
        --opts model.backbone.bottom_up.stages.stride_in_1x1=False

then ``train_net.py --config-file <same config> --eval-only train.init_checkpoint=OUT.pth`` (plus
the same ``--opts``). Sources: ``defcn_cvpods``, ``yolof_cvpods``, ``yolof_d2``, ``onenet`` (see
``d2dense/checkpoint_conversion.py`` for the rename tables). The model is built from the config
(on the CPU, no weights) to check that every converted tensor has a parameter of the same shape and
every parameter is filled; the report is printed and any problem (with the override that fixes it
where one exists) exits non-zero. ``--no-validate`` skips building the model (the input
normalisation is then read from the config, or d2dense's default is assumed without one).
"""

import argparse
import logging
import os
import sys

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO_ROOT)

from d2dense.checkpoint_conversion import (  # noqa: E402
    SOURCES,
    CheckpointConversionError,
    convert_state_dict,
    load_official_checkpoint,
    save_converted,
)

logger = logging.getLogger("d2dense.convert_checkpoint")


def build_parser():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--source", required=True, choices=sorted(SOURCES))
    parser.add_argument("--config-file", default="", help="our config the weights are for")
    parser.add_argument("input", help="official checkpoint (.pth / .pkl)")
    parser.add_argument("output", help="converted checkpoint (.pth)")
    parser.add_argument(
        "--no-validate", action="store_true", help="do not build the model to check the result"
    )
    parser.add_argument(
        "--allow-lossy",
        action="store_true",
        help="fold per-level FCOS scales that differ (approximate) instead of failing",
    )
    parser.add_argument(
        "--trusted",
        action="store_true",
        help="unpickle the input without restrictions (only for files you trust)",
    )
    parser.add_argument(
        "--opts", default=[], nargs=argparse.REMAINDER, help="config overrides (key=value)"
    )
    return parser


def _target(config_file, opts, validate):
    """(model or None, input_format, pixel_mean, pixel_std) from our config."""
    if not config_file:
        return None, None, None, None
    from detectron2.config import instantiate

    from d2dense.engine import load_config

    loaded = load_config(config_file, opts, device="cpu")
    cfg = loaded.cfg
    if loaded.lazy:
        mean, std = cfg.model.get("pixel_mean"), cfg.model.get("pixel_std")
    else:
        mean, std = cfg.MODEL.PIXEL_MEAN, cfg.MODEL.PIXEL_STD
    model = None
    if validate:
        if loaded.lazy:
            model = instantiate(cfg.model)
        else:
            from detectron2.modeling import build_model

            model = build_model(cfg)
        model.eval()
    return model, loaded.input_format, mean, std


def main(argv=None):
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if not args.no_validate and not args.config_file:
        print("--config-file is required unless --no-validate is given", file=sys.stderr)
        return 2
    model, input_format, mean, std = _target(args.config_file, args.opts, not args.no_validate)
    state_dict = load_official_checkpoint(args.input, trusted=args.trusted)
    try:
        converted, report = convert_state_dict(
            state_dict,
            args.source,
            target_model=model,
            input_format=input_format,
            pixel_mean=mean,
            pixel_std=std,
            allow_lossy=args.allow_lossy,
        )
    except CheckpointConversionError as e:
        print(e.report.summary())
        print(f"\nnot written: {args.output}", file=sys.stderr)
        return 1
    save_converted(converted, args.output, args.source)
    print(report.summary())
    print(f"\nwrote {args.output} ({len(converted)} tensors)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
