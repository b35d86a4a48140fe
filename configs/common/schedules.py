"""LR schedules: detectron2's 1x/2x/3x/6x/9x for 16-image batches (linear warm-up 1000 iters)."""

from detectron2 import model_zoo

_schedules = model_zoo.get_config("common/coco_schedule.py")
lr_multiplier_1x = _schedules.lr_multiplier_1x
lr_multiplier_2x = _schedules.lr_multiplier_2x
lr_multiplier_3x = _schedules.lr_multiplier_3x
lr_multiplier_6x = _schedules.lr_multiplier_6x
lr_multiplier_9x = _schedules.lr_multiplier_9x
