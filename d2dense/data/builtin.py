"""Dataset names d2dense registers (in addition to detectron2's builtin ``coco_2017_*``, which work
as usual when ``DETECTRON2_DATASETS`` points at a COCO folder).

=========================  ======================================================================
name                       source
=========================  ======================================================================
coco_sample                ``datasets/coco_sample`` (bundled: 32 COCO train2017 images, 80 classes)
coco_sample_person         same images, person only
coco_sample_person_tiny    its first 4 images (smoke tests)
coco_mini_{train,val}      ``<shared>/coco_mini`` (official COCO 2017 subset, 80 classes)
coco_mini_person_{t,v}     ``<shared>/coco_mini`` person-only views (ignore regions kept)
pennfudan_{train,val,all}  ``<shared>/pennfudan`` (Penn-Fudan pedestrians, 1 class)
pennfudan_train16          its first 16 train images (cpu-study.md memorisation regime)
crowdhuman_{train,val}     ``$DETECTRON2_DATASETS/crowdhuman`` (official odgt layout)
=========================  ======================================================================

``<shared>`` is ``$D2DENSE_SHARED_DATA`` if set, else ``../shared/data`` next to the repository.
Sets whose files are absent are not registered, so ``DatasetCatalog.list()`` shows what is usable.
Registration is lazy (files are read on ``DatasetCatalog.get``) and idempotent.
"""

import json
import os

from detectron2.data import DatasetCatalog, MetadataCatalog

from .coco_format import load_coco_detection_json
from .crowdhuman import load_crowdhuman_odgt

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

__all__ = [
    "register_all",
    "register_coco_detection",
    "register_subset",
    "shared_data_root",
    "REPO_ROOT",
]


def shared_data_root() -> str:
    return os.environ.get("D2DENSE_SHARED_DATA", os.path.join(REPO_ROOT, "..", "shared", "data"))


def register_coco_detection(name: str, json_file: str, image_root: str, **metadata) -> None:
    """Register a COCO-format detection json under ``name`` with d2dense's validating loader."""
    if name in DatasetCatalog.list():
        return
    DatasetCatalog.register(
        name, lambda: load_coco_detection_json(json_file, image_root, dataset_name=name)
    )
    # Class names and the id map are needed before the first DatasetCatalog.get (visualiser,
    # evaluator, num_classes checks); reading the categories of these small jsons costs ~10 ms.
    with open(json_file) as f:
        cats = sorted(json.load(f)["categories"], key=lambda c: c["id"])
    MetadataCatalog.get(name).set(
        json_file=json_file,
        image_root=image_root,
        evaluator_type="coco",
        thing_classes=[c["name"] for c in cats],
        thing_dataset_id_to_contiguous_id={c["id"]: i for i, c in enumerate(cats)},
        **metadata,
    )


def register_subset(name: str, base: str, num_images: int) -> None:
    """Register the first ``num_images`` images of dataset ``base`` as ``name``. It keeps the base's
    ``json_file``, so COCO evaluation reads the official annotations (their ``area``, hence the
    APs/APm/APl buckets, and ``iscrowd``), restricted to the images this subset returns; the
    metadata ``subset_of`` records the base."""
    if name in DatasetCatalog.list():
        return
    base_meta = MetadataCatalog.get(base)

    DatasetCatalog.register(name, lambda: DatasetCatalog.get(base)[:num_images])
    keep = (
        "person_dataset",
        "evaluator_type",
        "thing_classes",
        "thing_dataset_id_to_contiguous_id",
        "image_root",
        "json_file",
    )
    MetadataCatalog.get(name).set(
        subset_of=base, **{k: v for k, v in base_meta.as_dict().items() if k in keep}
    )


def _register_crowdhuman(root: str) -> None:
    for split in ("train", "val"):
        name = f"crowdhuman_{split}"
        odgt = os.path.join(root, f"annotation_{split}.odgt")
        if name in DatasetCatalog.list() or not os.path.isfile(odgt):
            continue
        image_root = os.path.join(root, "Images")
        DatasetCatalog.register(
            name,
            lambda odgt=odgt, image_root=image_root, name=name: load_crowdhuman_odgt(
                odgt, image_root, name
            ),
        )
        MetadataCatalog.get(name).set(
            thing_classes=["person"], evaluator_type="crowd", image_root=image_root
        )


def register_all() -> None:
    sample = os.path.join(REPO_ROOT, "datasets", "coco_sample")
    if os.path.isdir(sample):
        images = os.path.join(sample, "images")
        register_coco_detection("coco_sample", os.path.join(sample, "instances.json"), images)
        register_coco_detection(
            "coco_sample_person", os.path.join(sample, "person.json"), images, person_dataset=True
        )
        # 4 images: smoke tests of train_net / tools that must also evaluate quickly.
        register_subset("coco_sample_person_tiny", "coco_sample_person", 4)
    shared = shared_data_root()
    coco_mini = os.path.join(shared, "coco_mini")
    for split in ("train", "val"):
        ann = os.path.join(coco_mini, "annotations", f"instances_{split}2017.json")
        if os.path.isfile(ann):
            images = os.path.join(coco_mini, f"{split}2017")
            register_coco_detection(f"coco_mini_{split}", ann, images)
            register_coco_detection(
                f"coco_mini_person_{split}",
                os.path.join(coco_mini, "annotations", f"person_{split}2017.json"),
                images,
                person_dataset=True,
            )
    pennfudan = os.path.join(shared, "pennfudan")
    for split in ("train", "val", "all"):
        ann = os.path.join(pennfudan, "annotations", f"{split}.json")
        if os.path.isfile(ann):
            register_coco_detection(
                f"pennfudan_{split}", ann, os.path.join(pennfudan, "images"), person_dataset=True
            )
    if "pennfudan_train" in DatasetCatalog.list():
        # cpu-study.md "memorisation" regime: the first 16 training images, trained and tested on.
        register_subset("pennfudan_train16", "pennfudan_train", 16)
    _register_crowdhuman(
        os.path.join(os.environ.get("DETECTRON2_DATASETS", "datasets"), "crowdhuman")
    )
