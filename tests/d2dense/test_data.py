"""Data registration and the handling of bad annotations."""

import json
import logging
import os

import numpy as np
import pytest
from PIL import Image

import d2dense.data  # noqa: F401
from d2dense.data import SafeDatasetMapper, load_coco_detection_json, load_crowdhuman_odgt
from detectron2.data import DatasetCatalog, MetadataCatalog
from detectron2.structures import BoxMode

from conftest import requires_shared_data


def _write_image(path, w=64, h=48):
    Image.fromarray(np.full((h, w, 3), 127, dtype=np.uint8)).save(path)


@pytest.fixture
def bad_coco(tmp_path):
    for name in ("a.jpg", "b.jpg"):
        _write_image(tmp_path / name)
    (tmp_path / "corrupt.jpg").write_bytes(b"not a jpeg")
    data = {
        "images": [
            {"id": 1, "file_name": "a.jpg", "width": 64, "height": 48},
            {"id": 2, "file_name": "b.jpg", "width": 64, "height": 48},
            {"id": 3, "file_name": "missing.jpg", "width": 64, "height": 48},
            {"id": 4, "file_name": "corrupt.jpg", "width": 64, "height": 48},
            {"id": 5, "file_name": "a.jpg", "width": 64},  # no height
        ],
        "categories": [{"id": 3, "name": "cat"}, {"id": 7, "name": "dog"}],
        "annotations": [
            {"id": 10, "image_id": 1, "category_id": 3, "bbox": [4, 4, 20, 20], "iscrowd": 0},
            {"id": 18, "category_id": 3, "bbox": [4, 4, 20, 20], "iscrowd": 0},  # no image_id
            {
                "id": 11,
                "image_id": 1,
                "category_id": 7,
                "bbox": [50, 30, 30, 30],
                "iscrowd": 0,
            },  # clipped
            {
                "id": 12,
                "image_id": 1,
                "category_id": 99,
                "bbox": [4, 4, 10, 10],
                "iscrowd": 0,
            },  # unknown
            {
                "id": 13,
                "image_id": 2,
                "category_id": 3,
                "bbox": [10, 10, 0, 5],
                "iscrowd": 0,
            },  # degenerate
            {
                "id": 14,
                "image_id": 2,
                "category_id": 3,
                "bbox": [10, 10, -5, 5],
                "iscrowd": 0,
            },  # inverted
            {
                "id": 15,
                "image_id": 2,
                "category_id": 3,
                "bbox": [100, 100, 5, 5],
                "iscrowd": 0,
            },  # outside
            {
                "id": 16,
                "image_id": 2,
                "category_id": 7,
                "bbox": [1, 1, 30, 30],
                "iscrowd": 1,
            },  # ignore
            {
                "id": 17,
                "image_id": 2,
                "category_id": 7,
                "bbox": [1, 1, float("nan"), 3],
                "iscrowd": 0,
            },
        ],
    }
    path = tmp_path / "ann.json"
    path.write_text(json.dumps(data))
    return str(path), str(tmp_path)


def test_bad_annotations_are_dropped_or_clipped_with_a_log(bad_coco, caplog):
    json_file, root = bad_coco
    with caplog.at_level(logging.WARNING):
        dicts = load_coco_detection_json(json_file, root, dataset_name="t_bad_coco")
    by_id = {d["image_id"]: d for d in dicts}
    # missing file and missing height dropped, corrupt kept until it is read
    assert set(by_id) == {1, 2, 4}
    a = by_id[1]["annotations"]
    assert [o["category_id"] for o in a] == [0, 1]  # contiguous ids, unknown category dropped
    assert a[1]["bbox"] == [50.0, 30.0, 64.0, 48.0] and a[1]["bbox_mode"] == BoxMode.XYXY_ABS
    b = by_id[2]["annotations"]
    assert len(b) == 1 and b[0]["iscrowd"] == 1
    text = caplog.text
    for reason in (
        "unknown category_id",
        "missing file",
        "degenerate",
        "inverted",
        "non-finite",
        "clipped",
        "image without height dropped",
        "annotation without image_id dropped",
    ):
        assert reason in text, reason
    assert "missing.jpg" in text and "annotation 12" in text
    meta = MetadataCatalog.get("t_bad_coco")
    assert meta.thing_dataset_id_to_contiguous_id == {3: 0, 7: 1}


def test_corrupt_image_skipped_in_training_error_in_inference(bad_coco):
    json_file, root = bad_coco
    dicts = load_coco_detection_json(json_file, root)
    corrupt = next(d for d in dicts if d["file_name"].endswith("corrupt.jpg"))
    train_mapper = SafeDatasetMapper(is_train=True, augmentations=[], image_format="BGR")
    assert train_mapper(dict(corrupt)) is None
    test_mapper = SafeDatasetMapper(is_train=False, augmentations=[], image_format="BGR")
    with pytest.raises(RuntimeError, match="corrupt.jpg"):
        test_mapper(dict(corrupt))
    good = train_mapper(dict(dicts[0]))
    assert good["instances"].gt_boxes.tensor.shape == (2, 4)


def test_crowdhuman_odgt(tmp_path):
    images = tmp_path / "Images"
    images.mkdir()
    _write_image(images / "273271,1a0d6000b9e1f5b7.jpg", w=100, h=80)
    rec = {
        "ID": "273271,1a0d6000b9e1f5b7",
        "gtboxes": [
            {"tag": "person", "fbox": [10, 10, 20, 40], "extra": {}},
            {"tag": "person", "fbox": [-5, 50, 20, 60], "extra": {}},  # partly outside: clipped
            {"tag": "mask", "fbox": [50, 5, 30, 30], "extra": {"ignore": 1}},
            {"tag": "person", "fbox": [60, 40, 10, 10], "extra": {"ignore": 1}},
        ],
    }
    missing = {"ID": "nope", "gtboxes": []}
    odgt = tmp_path / "annotation_val.odgt"
    odgt.write_text(json.dumps(rec) + "\n" + json.dumps(missing) + "\n")
    dicts = load_crowdhuman_odgt(str(odgt), str(images), "t_crowdhuman")
    assert len(dicts) == 1
    d = dicts[0]
    assert (d["width"], d["height"]) == (100, 80)
    assert [o["iscrowd"] for o in d["annotations"]] == [0, 0, 1, 1]
    assert d["annotations"][0]["bbox"] == [10.0, 10.0, 30.0, 50.0]
    assert d["annotations"][1]["bbox"] == [0.0, 50.0, 15.0, 80.0]
    assert MetadataCatalog.get("t_crowdhuman").thing_classes == ["person"]


def test_bundled_sample_registered():
    dicts = DatasetCatalog.get("coco_sample_person")
    assert len(dicts) == 32
    assert all(os.path.isfile(d["file_name"]) for d in dicts)
    assert MetadataCatalog.get("coco_sample_person").thing_classes == ["person"]
    assert len(MetadataCatalog.get("coco_sample").thing_classes) == 80


@requires_shared_data
def test_shared_data_registered():
    assert len(DatasetCatalog.get("coco_mini_val")) == 158
    assert len(DatasetCatalog.get("pennfudan_train")) == 137
    sub = DatasetCatalog.get("pennfudan_train16")
    assert len(sub) == 16 and MetadataCatalog.get("pennfudan_train16").thing_classes == ["person"]


def test_subset_is_scored_on_its_images_with_the_official_areas():
    """A subset keeps its base's json: COCO evaluation reads the official annotation areas (the
    size buckets) and scores only the subset's images."""
    from d2dense.evaluation import NMSAwareCOCOEvaluator

    sub = DatasetCatalog.get("coco_sample_person_tiny")
    evaluator = NMSAwareCOCOEvaluator("coco_sample_person_tiny")
    assert evaluator._image_ids == sorted(d["image_id"] for d in sub)
    with open(MetadataCatalog.get("coco_sample_person").json_file) as f:
        official = {a["id"]: a["area"] for a in json.load(f)["annotations"]}
    gt = evaluator._coco_api.dataset["annotations"]
    assert gt and all(a["area"] == official[a["id"]] for a in gt)
    assert MetadataCatalog.get("coco_sample_person_tiny").subset_of == "coco_sample_person"
