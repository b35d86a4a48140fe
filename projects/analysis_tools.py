"""What the analysis scripts of ``projects/`` share: a trained model from a LazyConfig and a
checkpoint, and the dataset arguments."""

import torch

from detectron2.data import DatasetCatalog

import d2dense.data  # noqa: F401  (registers the datasets)
from d2dense.engine import load_config

__all__ = ["add_dataset_arguments", "dataset_records", "load_model"]


def load_model(config_file, checkpoint, overrides, device):
    """-> (the LazyConfig, at the scale its overrides name; the model in eval mode on ``device``
    with ``checkpoint`` loaded)."""
    loaded = load_config(config_file, overrides, device)
    if not loaded.lazy:
        raise ValueError(f"{config_file}: the analysis tools read LazyConfig files (.py or a run's "
                         "config.yaml), not yacs")  # fmt: skip
    return loaded.cfg, loaded.build_model(checkpoint)


def add_dataset_arguments(parser):
    """--dataset / --max-images / --device."""
    parser.add_argument("--dataset", required=True, help="a registered dataset name")
    parser.add_argument("--max-images", type=int, default=0, help="0 = the whole dataset")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")


def dataset_records(args):
    records = DatasetCatalog.get(args.dataset)
    return records[: args.max_images] if args.max_images else records
