#!/usr/bin/env python
"""Rebuild the tiny bundled sample ``datasets/coco_sample`` from ``../shared/data/coco_mini``.

Picks the train images with 1-6 non-crowd persons, smallest JPEGs first (so the sample stays small),
and writes their official annotations unchanged (all categories, licence and url fields kept):
``instances.json`` (80 categories) and ``person.json`` (person only).
"""

import argparse
import json
import os
import shutil


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--src", default="../shared/data/coco_mini")
    ap.add_argument("--dst", default="datasets/coco_sample")
    ap.add_argument("--num-images", type=int, default=32)
    args = ap.parse_args()

    with open(os.path.join(args.src, "annotations/instances_train2017.json")) as f:
        data = json.load(f)
    persons = {}
    for a in data["annotations"]:
        if a["category_id"] == 1 and not a["iscrowd"]:
            persons[a["image_id"]] = persons.get(a["image_id"], 0) + 1
    crowd_images = {a["image_id"] for a in data["annotations"] if a["iscrowd"]}
    image_dir = os.path.join(args.src, "train2017")
    candidates = [
        im
        for im in data["images"]
        if 1 <= persons.get(im["id"], 0) <= 6 and im["id"] not in crowd_images
    ]
    candidates.sort(key=lambda im: os.path.getsize(os.path.join(image_dir, im["file_name"])))
    chosen = sorted(candidates[: args.num_images], key=lambda im: im["id"])
    ids = {im["id"] for im in chosen}

    os.makedirs(os.path.join(args.dst, "images"), exist_ok=True)
    for im in chosen:
        shutil.copy(os.path.join(image_dir, im["file_name"]), os.path.join(args.dst, "images"))
    annos = [a for a in data["annotations"] if a["image_id"] in ids]
    for a in annos:
        a.pop("segmentation", None)  # boxes only: keeps the sample small
    out = dict(data, images=chosen, annotations=annos)
    with open(os.path.join(args.dst, "instances.json"), "w") as f:
        json.dump(out, f)
    person = dict(
        out,
        categories=[c for c in data["categories"] if c["id"] == 1],
        annotations=[a for a in annos if a["category_id"] == 1],
    )
    with open(os.path.join(args.dst, "person.json"), "w") as f:
        json.dump(person, f)
    print(
        f"{len(chosen)} images, {len(annos)} boxes ({len(person['annotations'])} persons) -> {args.dst}"
    )


if __name__ == "__main__":
    main()
