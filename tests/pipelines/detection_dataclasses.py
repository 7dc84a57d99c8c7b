"""Object detection samples as dataclasses and namedtuples, whose methods are code generated at run
time (exec of "<string>" source): two dataclasses with the same field layout call the same
default_factory from identical generated __init__ code, dataclasses.replace() re-creates them, and a
custom collate_fn stacks images and keeps per-sample box lists. Two forked workers.

    DetectionDataset.__getitem__ -> load_image -> empty_boxes (from generated __init__)
        -> jitter_boxes -> hflip ; collate_detections
"""

from __future__ import annotations

import dataclasses
from collections import namedtuple
from dataclasses import dataclass, field

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from . import _data

Box = namedtuple("Box", "x0 y0 x1 y1")
EXPECTED_CONTEXTS = (
    "DetectionDataset.__getitem__",
    "load_image",
    "empty_boxes",
    "jitter_boxes",
    "hflip",
    "collate_detections",
)
EXPECTED_EDGES = (("load_image", "hflip"),)


def empty_boxes() -> np.ndarray:
    return np.zeros((0, 4), dtype=np.float32)


@dataclass
class Annotation:
    label: int
    boxes: np.ndarray = field(default_factory=empty_boxes)


@dataclass
class PseudoLabel:  # a teacher model's boxes, kept beside the annotation
    label: int
    boxes: np.ndarray = field(default_factory=empty_boxes)


@dataclass
class Sample:
    image: torch.Tensor
    target: Annotation
    pseudo: PseudoLabel


def _write_images(directory) -> None:
    rng = np.random.default_rng(53)
    np.save(directory / "images.npy", rng.integers(0, 256, (24, 3, 32, 32), dtype=np.uint8))


def load_image(images: np.ndarray, index: int) -> torch.Tensor:
    return torch.from_numpy(np.array(images[index])).float().div_(255.0)


def jitter_boxes(boxes: list[Box], rng: np.random.Generator) -> np.ndarray:
    shift = rng.normal(0.0, 1.0, (len(boxes), 4)).astype(np.float32)
    return np.asarray(boxes, dtype=np.float32) + shift


def hflip(image: torch.Tensor, boxes: np.ndarray, width: int):
    flipped = boxes.copy()
    flipped[:, [0, 2]] = width - boxes[:, [2, 0]]
    return image.flip(-1), flipped


class DetectionDataset(Dataset):
    def __init__(self, directory, seed: int = 0):
        self.images = np.load(directory / "images.npy", mmap_mode="r")
        self.seed = seed

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int) -> Sample:
        rng = np.random.default_rng((self.seed, index))
        image = load_image(self.images, index)
        boxes = [Box(*sorted(rng.integers(0, 32, 2)), *sorted(rng.integers(0, 32, 2))) for _ in range(1 + index % 3)]
        target = Annotation(index % 4)
        pseudo = PseudoLabel(index % 4)
        target = dataclasses.replace(target, boxes=jitter_boxes(boxes, rng))
        image, flipped = hflip(image, target.boxes, image.shape[-1])
        return Sample(image, dataclasses.replace(target, boxes=flipped), pseudo)


def collate_detections(samples: list[Sample]):
    images = torch.stack([s.image for s in samples])
    labels = torch.tensor([s.target.label for s in samples])
    return images, labels, [torch.from_numpy(s.target.boxes) for s in samples]


def make_loader(num_workers: int = 0) -> DataLoader:
    dataset = DetectionDataset(_data.built("detection_dataclasses", _write_images))
    context = "fork" if num_workers else None
    return DataLoader(dataset, batch_size=4, num_workers=num_workers, multiprocessing_context=context,
                      collate_fn=collate_detections)
