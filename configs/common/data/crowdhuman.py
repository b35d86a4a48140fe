"""CrowdHuman (full-body boxes, ignore regions) at 800/1400, 500 detections per image; evaluated
with COCO-style AP/AR and the crowd metrics AP50 / mMR / recall (both w/ and w/o NMS)."""

from .coco import dataloader

dataloader.train.dataset.names = "crowdhuman_train"
dataloader.test.dataset.names = "crowdhuman_val"
dataloader.train.mapper.augmentations[0].short_edge_length = (800,)
dataloader.train.mapper.augmentations[0].max_size = 1400
dataloader.test.mapper.augmentations[0].short_edge_length = 800
dataloader.test.mapper.augmentations[0].max_size = 1400
dataloader.evaluator.max_dets_per_image = 500
