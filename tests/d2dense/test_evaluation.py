"""Tests of d2dense.evaluation: NMS-aware COCO evaluation and crowd (AP@0.5 / mMR / recall)
evaluation, on tiny inline datasets with hand-computed answers. Offline, CPU only."""

import json
import math
import uuid

import numpy as np
import pytest
import torch

from detectron2.data import DatasetCatalog, MetadataCatalog
from detectron2.data.datasets import register_coco_instances
from detectron2.structures import Boxes, BoxMode, Instances

from d2dense.evaluation import (
    CrowdEvaluator,
    NMSAwareCOCOEvaluator,
    average_precision,
    crowd_metrics,
    log_average_miss_rate,
    match_detections,
    split_nms_columns,
)

IMAGE_SIZE = (200, 200)
COCO_KEYS = ["AP", "AP50", "AP75", "APs", "APm", "APl", "AR@100"]


def make_instances(dets, image_size=IMAGE_SIZE):
    """dets: list of (xyxy, score, class)."""
    inst = Instances(image_size)
    boxes = torch.tensor([d[0] for d in dets], dtype=torch.float32).reshape(-1, 4)
    inst.pred_boxes = Boxes(boxes)
    inst.scores = torch.tensor([d[1] for d in dets], dtype=torch.float32)
    inst.pred_classes = torch.tensor([d[2] for d in dets], dtype=torch.int64)
    return inst


def run(evaluator, preds_by_image):
    """preds_by_image: {image_id: list of (xyxy, score, class)}; one process() call per image."""
    evaluator.reset()
    for image_id, dets in preds_by_image.items():
        evaluator.process([{"image_id": image_id}], [{"instances": make_instances(dets)}])
    return evaluator.evaluate()


def xywh2xyxy(b):
    return [b[0], b[1], b[0] + b[2], b[1] + b[3]]


@pytest.fixture
def registry():
    """Registers datasets under unique names and removes them afterwards."""
    names = []

    def _name(prefix):
        name = f"{prefix}_{uuid.uuid4().hex[:8]}"
        names.append(name)
        return name

    yield _name
    for name in names:
        if name in DatasetCatalog.list():
            DatasetCatalog.remove(name)
        MetadataCatalog.remove(name)


# ------------------------------------------------------------------------------------------------
# Tiny COCO dataset with NON-contiguous category ids (1 = cat, 3 = dog): contiguous 0 and 1.
# Small, medium and large boxes of both classes so every COCO area range has ground truth.
CAT, DOG = 0, 1
COCO_GT = {
    1: [  # image_id: (xywh, json category id, iscrowd)
        ([10, 10, 100, 120], 1, 0),  # large cat
        ([120, 20, 50, 60], 3, 0),  # medium dog
        ([150, 150, 20, 20], 1, 0),  # small cat
    ],
    2: [
        ([20, 30, 110, 100], 3, 0),  # large dog
        ([140, 100, 40, 40], 1, 0),  # medium cat
        ([170, 10, 20, 20], 3, 0),  # small dog
        ([0, 150, 100, 50], 1, 1),  # crowd of cats
    ],
    3: [],  # an image without ground truth
    4: [([20, 20, 150, 150], 1, 0)],  # only a large cat
}
JSON_TO_CONTIGUOUS = {1: CAT, 3: DOG}


@pytest.fixture
def coco_dataset(tmp_path, registry):
    images, annotations = [], []
    for image_id, anns in COCO_GT.items():
        images.append({"id": image_id, "file_name": f"{image_id}.jpg", "height": 200, "width": 200})
        for box, cat, crowd in anns:
            annotations.append(
                {
                    "id": len(annotations) + 1,
                    "image_id": image_id,
                    "bbox": box,
                    "area": box[2] * box[3],
                    "category_id": cat,
                    "iscrowd": crowd,
                }
            )
    coco = {
        "info": {},
        "licenses": [],
        "images": images,
        "annotations": annotations,
        "categories": [{"id": 1, "name": "cat"}, {"id": 3, "name": "dog"}],
    }
    json_file = tmp_path / "tiny_coco.json"
    json_file.write_text(json.dumps(coco))
    name = registry("d2dense_test_coco")
    register_coco_instances(name, {}, str(json_file), str(tmp_path))
    return name


def perfect_coco_predictions(score=0.9):
    """Every normal gt predicted exactly, with distinct scores."""
    preds = {}
    for image_id, anns in COCO_GT.items():
        dets = []
        for k, (box, cat, crowd) in enumerate(anns):
            if not crowd:
                dets.append((xywh2xyxy(box), score - 0.1 * k, JSON_TO_CONTIGUOUS[cat]))
        preds[image_id] = dets
    return preds


def test_coco_perfect(coco_dataset):
    # Built before anything called DatasetCatalog.get: the evaluator must load the id map
    # itself, otherwise the non-contiguous ids silently give AP 0.
    assert "thing_dataset_id_to_contiguous_id" not in MetadataCatalog.get(coco_dataset).as_dict()
    evaluator = NMSAwareCOCOEvaluator(coco_dataset, distributed=False)
    results = run(evaluator, perfect_coco_predictions())
    assert list(results) == ["bbox", "bbox_nms", "nms_delta"]
    for column in ("bbox", "bbox_nms"):
        for key in COCO_KEYS + ["AP-cat", "AP-dog"]:
            assert results[column][key] == pytest.approx(100.0), (column, key)
    for key in COCO_KEYS:
        assert results["nms_delta"][key] == pytest.approx(0.0)


def test_coco_crowd_region_is_ignored(coco_dataset):
    preds = perfect_coco_predictions(score=0.5)
    # Highest-scoring cat detection exactly on the crowd region of image 2: COCO matches it to
    # the crowd and ignores it, so it is not a false positive.
    preds[2].append(([0, 150, 100, 200], 0.99, CAT))
    results = run(NMSAwareCOCOEvaluator(coco_dataset), preds)
    assert results["bbox"]["AP"] == pytest.approx(100.0)
    assert results["bbox_nms"]["AP"] == pytest.approx(100.0)

    # The same box as a dog (no dog crowd there) is a false positive ranked first.
    preds[2][-1] = ([0, 150, 100, 200], 0.99, DOG)
    results = run(NMSAwareCOCOEvaluator(coco_dataset), preds)
    assert results["bbox"]["AP-dog"] < 100.0
    assert results["bbox"]["AP-cat"] == pytest.approx(100.0)


def test_coco_duplicates_nms_helps(coco_dataset, tmp_path):
    preds = {}
    for image_id, dets in perfect_coco_predictions().items():
        with_dups = []
        for box, score, cls in dets:
            with_dups.append((box, score, cls))
            # 1-pixel shifted copy just below its original: IoU with it > 0.6 even for the
            # 20x20 boxes, so NMS@0.6 removes it; it interleaves FPs with TPs in the raw column.
            with_dups.append(([c + 1 for c in box], score - 0.01, cls))
        preds[image_id] = with_dups
    out = tmp_path / "out"
    results = run(NMSAwareCOCOEvaluator(coco_dataset, output_dir=str(out)), preds)
    assert results["bbox_nms"]["AP"] == pytest.approx(100.0)
    assert results["bbox"]["AP"] < results["bbox_nms"]["AP"]
    assert results["nms_delta"]["AP"] > 0
    assert results["nms_delta"]["AP"] == pytest.approx(
        results["bbox_nms"]["AP"] - results["bbox"]["AP"]
    )
    # Per-column json, in the dataset's category ids.
    raw = json.loads((out / "coco_instances_results_bbox.json").read_text())
    nms = json.loads((out / "coco_instances_results_bbox_nms.json").read_text())
    num_gt = sum(1 for anns in COCO_GT.values() for a in anns if not a[2])
    assert len(raw) == 2 * num_gt and len(nms) == num_gt
    assert {r["category_id"] for r in raw} == {1, 3}


def test_coco_empty_predictions_are_zero(coco_dataset):
    results = run(NMSAwareCOCOEvaluator(coco_dataset), {i: [] for i in COCO_GT})
    for column in ("bbox", "bbox_nms", "nms_delta"):
        for key, value in results[column].items():
            assert value == 0.0, (column, key, value)


def test_coco_no_gt_in_area_range_is_nan(coco_dataset):
    # Image 4 holds a single large cat: small/medium AP and dog AP are undefined there (NaN),
    # AP is defined -- 100 when found, 0.0 when nothing is predicted.
    evaluator = NMSAwareCOCOEvaluator(coco_dataset)
    for dets, expected in ((perfect_coco_predictions()[4], 100.0), ([], 0.0)):
        evaluator.reset()
        evaluator.process([{"image_id": 4}], [{"instances": make_instances(dets)}])
        results = evaluator.evaluate(img_ids=[4])
        for column in ("bbox", "bbox_nms"):
            res = results[column]
            assert res["AP"] == pytest.approx(expected) and res["APl"] == pytest.approx(expected)
            assert res["AP-cat"] == pytest.approx(expected)
            assert math.isnan(res["APs"]) and math.isnan(res["APm"]) and math.isnan(res["AP-dog"])
    # Image 3 has no ground truth at all: every metric is undefined.
    evaluator.reset()
    evaluator.process([{"image_id": 3}], [{"instances": make_instances([])}])
    results = evaluator.evaluate(img_ids=[3])
    assert all(math.isnan(v) for v in results["bbox"].values())


def test_coco_top_k_cap(coco_dataset, tmp_path):
    # Image 1: 150 candidates; 147 identical junk boxes outscore the 3 true boxes.
    junk = [([60, 60, 70, 70], 0.9, CAT)] * 147
    truth = [(xywh2xyxy(b), 0.1, JSON_TO_CONTIGUOUS[c]) for b, c, _ in COCO_GT[1]]
    preds = perfect_coco_predictions()
    preds[1] = junk + truth
    results = run(NMSAwareCOCOEvaluator(coco_dataset, output_dir=str(tmp_path)), preds)
    raw = json.loads((tmp_path / "coco_instances_results_bbox.json").read_text())
    assert sum(r["image_id"] == 1 for r in raw) == 100  # capped at max_dets_per_image
    # Raw top-100 is all junk: image 1's gts are missed. NMS collapses the junk first, then caps.
    assert results["bbox"]["AR@100"] < 100.0
    assert results["bbox_nms"]["AR@100"] == pytest.approx(100.0)

    # A larger cap (CrowdHuman uses 500) keeps every candidate; AR is reported at that cap.
    results = run(NMSAwareCOCOEvaluator(coco_dataset, max_dets_per_image=500), preds)
    assert "AR@500" in results["bbox"] and "AR@100" not in results["bbox"]
    assert results["bbox"]["AR@500"] == pytest.approx(100.0)
    assert results["nms_delta"]["AR@500"] == pytest.approx(0.0)


def test_coco_images_the_loader_drops_are_not_scored(coco_dataset, registry, caplog):
    """An image the dataset loader drops (a missing file) is never shown to the model: it is
    left out, with a warning, rather than counted as misses. Predictions for an image id the
    dataset does not have are skipped with a warning."""
    from detectron2.data.datasets import load_coco_json

    DatasetCatalog.get(coco_dataset)  # loading fills in the class metadata
    meta = MetadataCatalog.get(coco_dataset)
    name = registry("d2dense_test_dropped")
    DatasetCatalog.register(
        name,
        lambda: [
            d
            for d in load_coco_json(meta.json_file, meta.image_root, coco_dataset)
            if d["image_id"] != 4  # as if 4.jpg were missing
        ],
    )
    MetadataCatalog.get(name).set(
        json_file=meta.json_file,
        thing_classes=meta.thing_classes,
        thing_dataset_id_to_contiguous_id=meta.thing_dataset_id_to_contiguous_id,
    )
    preds = {k: v for k, v in perfect_coco_predictions().items() if k != 4}
    preds[99] = [([0, 0, 10, 10], 0.9, CAT)]
    with caplog.at_level("WARNING", logger="d2dense"):
        results = run(NMSAwareCOCOEvaluator(name), preds)
    assert results["bbox"]["AP"] == pytest.approx(100.0)
    assert results["bbox"]["AR@100"] == pytest.approx(100.0)
    assert "1 of the 4 images" in caplog.text and "image ids" in caplog.text
    # the full dataset still counts image 4's cat as a miss when it gets no prediction
    full = run(NMSAwareCOCOEvaluator(coco_dataset), {k: v for k, v in preds.items() if k != 99})
    assert full["bbox"]["AR@100"] < 100.0


def test_coco_evaluator_on_dataset_dicts(registry, tmp_path):
    # A dataset in detectron2's format (no json_file): converted to COCO json on the fly.
    name = registry("d2dense_test_dicts")
    dicts = [
        {
            "file_name": "a.jpg",
            "image_id": "a",
            "height": 200,
            "width": 200,
            "annotations": [
                {"bbox": [10, 10, 110, 130], "bbox_mode": BoxMode.XYXY_ABS, "category_id": 0},
                {"bbox": [120, 20, 50, 60], "bbox_mode": BoxMode.XYWH_ABS, "category_id": 0},
            ],
        }
    ]
    DatasetCatalog.register(name, lambda: dicts)
    MetadataCatalog.get(name).set(thing_classes=["person"])
    results = run(
        NMSAwareCOCOEvaluator(name),
        {"a": [([10, 10, 110, 130], 0.9, 0), ([120, 20, 170, 80], 0.8, 0)]},
    )
    assert results["bbox"]["AP"] == pytest.approx(100.0)
    assert "AP-person" not in results["bbox"]  # per-class AP only for > 1 class
    # With output_dir the converted json is cached there, as detectron2's COCOEvaluator does.
    NMSAwareCOCOEvaluator(name, output_dir=str(tmp_path))
    assert (tmp_path / f"{name}_coco_format.json").is_file()


def test_split_nms_columns_is_class_aware():
    inst = make_instances(
        [
            ([0, 0, 10, 10], 0.5, 0),
            ([0, 0, 10, 10], 0.9, 1),  # same box, other class: survives NMS
            ([0, 0, 10, 11], 0.8, 1),  # duplicate of the previous one: suppressed
            ([50, 50, 60, 60], 0.7, 0),
        ]
    )
    raw, nms = split_nms_columns(inst, nms_thresh=0.6, max_dets=3)
    assert raw.scores.tolist() == pytest.approx([0.9, 0.8, 0.7])
    assert nms.scores.tolist() == pytest.approx([0.9, 0.7, 0.5])
    raw, nms = split_nms_columns(make_instances([]), 0.6, 100)
    assert len(raw) == len(nms) == 0


# ------------------------------------------------------------------------------------------------
# Crowd evaluation: core functions.


def test_match_detections_rules():
    gt = np.array([[0, 0, 10, 10], [20, 0, 30, 10], [0, 50, 100, 100]], dtype=float)
    ignore = np.array([False, False, True])
    dets = np.array(
        [
            [0, 0, 10, 10],  # TP on gt 0
            [0, 0, 10, 10],  # duplicate of gt 0, lower score: gt taken -> FP
            [21, 0, 31, 10],  # TP on gt 1 (IoU 9/11)
            [10, 60, 20, 70],  # inside the ignore region (IoA 1, IoU 0.02): ignored
            [60, 0, 70, 10],  # nothing there: FP
        ],
        dtype=float,
    )
    scores = np.array([0.9, 0.8, 0.3, 0.95, 0.1])
    labels, matched = match_detections(dets, scores, gt, ignore)
    assert labels.tolist() == [1, 0, 1, -1, 0]
    assert matched.tolist() == [True, True, False]

    # Greedy by score: the higher-scoring detection takes the gt even with a lower IoU.
    labels, _ = match_detections([[0, 0, 10, 12], [0, 0, 10, 10]], [0.9, 0.5], [[0, 0, 10, 10]])
    assert labels.tolist() == [1, 0]
    # Best IoU among unmatched gts.
    labels, matched = match_detections([[2, 0, 12, 10]], [1.0], [[0, 0, 10, 10], [3, 0, 13, 10]])
    assert labels.tolist() == [1] and matched.tolist() == [False, True]
    # A normal gt wins over an ignore region; the duplicate on the ignore region is ignored.
    labels, _ = match_detections(
        [[0, 0, 10, 10], [0, 0, 10, 10]],
        [0.9, 0.8],
        [[0, 0, 10, 10], [0, 0, 50, 50]],
        [False, True],
    )
    assert labels.tolist() == [1, -1]
    # IoU exactly 0.5 is a match (>=).
    labels, _ = match_detections([[0, 0, 10, 10]], [1.0], [[0, 0, 10, 20]])
    assert labels.tolist() == [1]
    # Empty inputs.
    labels, matched = match_detections(np.zeros((0, 4)), [], [[0, 0, 1, 1]])
    assert labels.shape == (0,) and matched.tolist() == [False]
    labels, matched = match_detections([[0, 0, 1, 1]], [0.5], np.zeros((0, 4)))
    assert labels.tolist() == [0] and matched.shape == (0,)


def test_average_precision_hand_computed():
    # TP, FP, TP over 3 gts: recall 1/3, 1/3, 2/3; precision 1, 1/2, 2/3.
    # Envelope 1, 2/3, 2/3 -> AP = 1/3 * 1 + 1/3 * 2/3 = 5/9.
    assert average_precision([0.9, 0.8, 0.7], [1, 0, 1], 3) == pytest.approx(5 / 9)
    assert average_precision([0.9, 0.8], [1, 1], 2) == pytest.approx(1.0)
    # TP, FP, TP, TP: precision 1, 1/2, 2/3, 3/4 rises after the FP; the monotone envelope
    # 1, 3/4, 3/4, 3/4 gives 1/3 * (1 + 3/4 + 3/4) = 5/6 (the raw precision would give 0.806)
    assert average_precision([0.9, 0.8, 0.7, 0.6], [1, 0, 1, 1], 3) == pytest.approx(5 / 6)
    assert average_precision([0.9, 0.8], [0, 1], 2) == pytest.approx(0.25)
    # Ignored detections (label -1) do not count; input order does not matter.
    assert average_precision([0.7, 0.99, 0.9, 0.8], [1, -1, 1, 0], 3) == pytest.approx(5 / 9)
    assert average_precision([], [], 3) == 0.0
    assert math.isnan(average_precision([0.9], [0], 0))


def test_log_average_miss_rate_hand_computed():
    # Perfect: miss rate 0 (clamped to 1e-10, as in Caltech's toolbox) at FPPI 0.
    assert log_average_miss_rate([0.9, 0.8], [1, 1], 2, 1) == pytest.approx(1e-10)
    # Nothing detected: miss rate 1 everywhere.
    assert log_average_miss_rate([], [], 2, 1) == 1.0
    assert log_average_miss_rate([0.9], [0], 2, 1) == 1.0
    # One of two gts found, no FP: 0.5 at every reference.
    assert log_average_miss_rate([0.9], [1], 2, 1) == pytest.approx(0.5)
    # TP, FP, TP over 3 gts and 4 images: FPPI 0, 0, .25, .25 / miss 1, 2/3, 2/3, 1/3.
    # References 10^-2 .. 10^-0.75 (< .25) -> 2/3; 10^-0.5, 10^-0.25, 1 -> 1/3.
    expected = (2 / 3) ** (6 / 9) * (1 / 3) ** (3 / 9)
    assert log_average_miss_rate([0.9, 0.8, 0.7], [1, 0, 1], 3, 4) == pytest.approx(expected)
    # An FPPI exactly on a reference (1 FP / 10 images = 10^-1) counts for that reference:
    # refs 0.01 .. 0.0562 (4) -> miss 1/2 (TP first); 0.1 .. 1 (5) -> 0 (-> 1e-10) after the
    # second TP.
    expected = 0.5 ** (4 / 9) * 1e-10 ** (5 / 9)
    assert log_average_miss_rate([0.9, 0.8, 0.7], [1, 0, 1], 2, 10) == pytest.approx(expected)
    # FP first then TP, 10 images: FPPI .1 reached before the TP -> refs < .1 get miss 1,
    # refs >= .1 get 1/2.
    expected = 1.0 ** (4 / 9) * 0.5 ** (5 / 9)
    assert log_average_miss_rate([0.9, 0.8], [0, 1], 2, 10) == pytest.approx(expected)
    assert math.isnan(log_average_miss_rate([0.9], [0], 0, 1))


def test_crowd_metrics_images_without_gt_count_in_fppi():
    gt = np.array([[0, 0, 10, 10]], dtype=float)
    one = (np.array([[0, 0, 10, 10]]), np.array([0.9]), gt, np.array([False]))
    fp = (np.array([[50, 50, 60, 60]]), np.array([0.95]), np.zeros((0, 4)), np.zeros(0, bool))
    # 1 FP (ranked first) on an image without gt, 2 images: FPPI 0.5 before the TP.
    m = crowd_metrics([one, fp])
    assert m["recall"] == pytest.approx(1.0)
    assert m["AP50"] == pytest.approx(0.5)
    # refs < 0.5 (7 of them: 10^-2 .. 10^-0.5) -> miss 1, refs 10^-0.25, 1 -> miss 0 (1e-10).
    assert m["mMR"] == pytest.approx(1e-10 ** (2 / 9))
    # With 10 images the FP is at FPPI 0.1: refs 0.01 .. 0.0562 -> miss 1, the other 5 -> 0.
    m = crowd_metrics([one, fp] + [(np.zeros((0, 4)), [], np.zeros((0, 4)), [])] * 8)
    assert m["AP50"] == pytest.approx(0.5)  # AP does not depend on the number of images
    assert m["mMR"] == pytest.approx(1e-10 ** (5 / 9))


# ------------------------------------------------------------------------------------------------
# Crowd evaluation: the evaluator on a registered person dataset.
# Image 1: two people and an ignore region; image 2: one person; images 3, 4: no gt.
CROWD_GT = {
    1: [([0, 0, 50, 100], 0), ([100, 0, 150, 100], 0), ([0, 150, 200, 200], 1)],
    2: [([20, 20, 80, 140], 0)],
    3: [],
    4: [],
}


def register_crowd_dataset(registry, classes=("person",), extra=None):
    name = registry("d2dense_test_crowd")
    dicts = []
    for image_id, anns in CROWD_GT.items():
        annotations = [
            {"bbox": box, "bbox_mode": BoxMode.XYXY_ABS, "category_id": 0, "iscrowd": crowd}
            for box, crowd in anns
        ]
        annotations += (extra or {}).get(image_id, [])
        dicts.append(
            {
                "file_name": f"{image_id}.jpg",
                "image_id": image_id,
                "height": 200,
                "width": 200,
                "annotations": annotations,
            }
        )
    DatasetCatalog.register(name, lambda: dicts)
    MetadataCatalog.get(name).set(thing_classes=list(classes))
    return name


def perfect_crowd_predictions():
    return {
        i: [(box, 0.9 - 0.1 * k, 0) for k, (box, crowd) in enumerate(anns) if not crowd]
        for i, anns in CROWD_GT.items()
    }


def assert_metrics(res, ap, mmr, recall):
    assert res["AP50"] == pytest.approx(ap)
    assert res["mMR"] == pytest.approx(mmr, abs=1e-6)  # a perfect mMR is 1e-8 %, see docs
    assert res["recall"] == pytest.approx(recall)


def test_crowd_perfect(registry):
    name = register_crowd_dataset(registry)
    results = run(CrowdEvaluator(name), perfect_crowd_predictions())
    assert list(results) == ["crowd", "crowd_nms", "crowd_nms_delta"]
    assert_metrics(results["crowd"], 100.0, 0.0, 100.0)
    assert_metrics(results["crowd_nms"], 100.0, 0.0, 100.0)
    assert_metrics(results["crowd_nms_delta"], 0.0, 0.0, 0.0)


def test_crowd_no_predictions(registry):
    name = register_crowd_dataset(registry)
    results = run(CrowdEvaluator(name, distributed=False), {i: [] for i in CROWD_GT})
    for column in ("crowd", "crowd_nms"):
        assert_metrics(results[column], 0.0, 100.0, 0.0)


def test_crowd_known_miss(registry):
    # Only image 1's two people are found: recall 2/3, precision 1 -> AP 2/3, miss rate 1/3
    # at every reference FPPI -> mMR 1/3. Image 2 was never processed: its gt counts as missed.
    name = register_crowd_dataset(registry)
    preds = perfect_crowd_predictions()
    del preds[2]
    results = run(CrowdEvaluator(name), preds)
    assert_metrics(results["crowd"], 200 / 3, 100 / 3, 200 / 3)


def test_crowd_duplicate_and_nms(registry, tmp_path):
    # Image 1: person A (0.9), a 2-px shifted duplicate of A (0.8, IoU 0.92), person B (0.7);
    # image 2's person is missed. Raw: TP, FP, TP over 3 gts and 4 images -> AP 5/9,
    # mMR (2/3)^(6/9) (1/3)^(3/9), recall 2/3 (see test_log_average_miss_rate_hand_computed).
    # NMS@0.6 removes the duplicate: TP, TP -> AP 2/3, mMR 1/3, recall 2/3.
    name = register_crowd_dataset(registry)
    preds = {
        1: [([0, 0, 50, 100], 0.9, 0), ([2, 0, 52, 100], 0.8, 0), ([100, 0, 150, 100], 0.7, 0)],
        2: [],
        3: [],
        4: [],
    }
    results = run(CrowdEvaluator(name, output_dir=str(tmp_path)), preds)
    mmr = (2 / 3) ** (6 / 9) * (1 / 3) ** (3 / 9)
    assert_metrics(results["crowd"], 500 / 9, 100 * mmr, 200 / 3)
    assert_metrics(results["crowd_nms"], 200 / 3, 100 / 3, 200 / 3)
    assert results["crowd_nms_delta"]["AP50"] == pytest.approx(200 / 3 - 500 / 9)
    assert results["crowd_nms_delta"]["mMR"] == pytest.approx(100 / 3 - 100 * mmr)
    raw = json.loads((tmp_path / "crowd_results_crowd.json").read_text())
    nms = json.loads((tmp_path / "crowd_results_crowd_nms.json").read_text())
    assert len(raw) == 3 and len(nms) == 2
    assert raw[1]["bbox"] == pytest.approx([2, 0, 50, 100])  # XYWH


def test_crowd_detection_on_ignore_region(registry):
    name = register_crowd_dataset(registry)
    preds = perfect_crowd_predictions()
    # Top-scoring detections inside image 1's ignore region (IoA 1, IoU < 0.5): not FPs.
    preds[1] += [([10, 160, 60, 200], 0.99, 0), ([100, 150, 200, 200], 0.98, 0)]
    results = run(CrowdEvaluator(name), preds)
    assert_metrics(results["crowd"], 100.0, 0.0, 100.0)
    # The same detection on an image without an ignore region is an FP ranked first.
    preds = perfect_crowd_predictions()
    preds[2].append(([10, 160, 60, 200], 0.99, 0))
    results = run(CrowdEvaluator(name), preds)
    # FP at FPPI 1/4 then all TPs: refs < 1/4 -> miss 1, 3 refs -> 0 (1e-10).
    assert results["crowd"]["AP50"] < 100.0
    assert results["crowd"]["mMR"] == pytest.approx(100 * 1e-10 ** (3 / 9))


def test_crowd_images_without_gt_and_cap(registry):
    name = register_crowd_dataset(registry)
    preds = perfect_crowd_predictions()
    # 600 identical low-score boxes on image 3 (no gt): raw keeps 500 FPs; NMS keeps 1.
    preds[3] = [([60, 60, 70, 70], 0.05, 0)] * 600
    evaluator = CrowdEvaluator(name)
    results = run(evaluator, preds)
    assert results["crowd"]["AP50"] == pytest.approx(100.0)  # FPs ranked after every TP
    assert results["crowd"]["recall"] == pytest.approx(100.0)
    assert results["crowd_nms"]["mMR"] == pytest.approx(0.0, abs=1e-6)
    (image3,) = [p for p in evaluator._predictions if p["image_id"] == 3]
    assert len(image3["crowd"][1]) == 500 and len(image3["crowd_nms"][1]) == 1


def test_crowd_multiclass_needs_class_id(registry):
    # A second class (id 1) whose boxes must neither be positives nor absorb predictions.
    extra = {
        2: [
            {
                "bbox": [100, 100, 190, 190],
                "bbox_mode": BoxMode.XYXY_ABS,
                "category_id": 1,
                "iscrowd": 0,
            }
        ]
    }
    name = register_crowd_dataset(registry, classes=("person", "car"), extra=extra)
    with pytest.raises(ValueError, match="class_id"):
        CrowdEvaluator(name)
    preds = perfect_crowd_predictions()
    preds[2].append(([100, 100, 190, 190], 0.95, 1))  # a correct car: not a person prediction
    results = run(CrowdEvaluator(name, class_id=0), preds)
    assert_metrics(results["crowd"], 100.0, 0.0, 100.0)
    # Predicting a person where the car is: FP.
    preds[2][-1] = ([100, 100, 190, 190], 0.95, 0)
    results = run(CrowdEvaluator(name, class_id=0), preds)
    assert results["crowd"]["AP50"] < 100.0


def test_crowd_no_gt_is_nan(registry):
    name = register_crowd_dataset(registry)
    evaluator = CrowdEvaluator(name)
    evaluator.process([{"image_id": 3}], [{"instances": make_instances([([0, 0, 9, 9], 0.5, 0)])}])
    results = evaluator.evaluate(img_ids=[3, 4])
    for column in ("crowd", "crowd_nms"):
        assert all(math.isnan(v) for v in results[column].values())
