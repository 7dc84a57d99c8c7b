"""Pipelines for the closed-loop tests (a module of its own: plan keys are real
"loop_targets.<name>" names, importable by spawned DataLoader workers)."""

import random

import numpy as np
import torch
from torch.utils.data import Dataset, IterableDataset

SIZE = 16


def image(i):
    """A deterministic per-sample image (no generator of the process is touched)."""
    g = torch.Generator().manual_seed(7000 + i)
    return torch.rand(3, SIZE, SIZE, generator=g)


# --- functions that draw randomness, each from another kind of generator ---------------------

def random_flip(x):
    """The issue's example: per-sample augmentation that a batched call turns into per-batch."""
    return x.flip(-1) if np.random.rand() < 0.5 else x


def lucky_jitter(x):
    """Draws, but its output never shows it: a batched call always equals the per-sample calls."""
    return x + 0.0 * np.random.rand()


def python_random_flip(x):
    return x.flip(-1) if random.random() < 0.5 else x


def torch_random_flip(x):
    return x.flip(-1) if torch.rand(()) < 0.5 else x


module_rng = np.random.default_rng(5)


def generator_flip(x):
    """A numpy Generator held at module level."""
    return x.flip(-1) if module_rng.random() < 0.5 else x


class Augment:
    """A callable transform with its own generator (self.rng)."""

    def __init__(self, seed=3):
        self.rng = np.random.RandomState(seed)

    def __call__(self, x):
        return x.flip(-1) if self.rng.rand() < 0.5 else x


augment = Augment()


def brighten(x):
    """Deterministic and batch-safe: vectorises."""
    return x * 1.5 + 0.1


def call_augment(x):
    return augment(x)


def flip_batch_once(x):
    """A dishonest 'per-sample' strategy: one draw for the whole batch."""
    return x.flip(-1) if torch.rand(()) < 0.5 else x


def flip_each(x):
    """An honest per-sample strategy: one draw per sample of the leading dimension."""
    if x.dim() == 3:
        return x.flip(-1) if torch.rand(()) < 0.5 else x
    keep = torch.rand(x.shape[0]) < 0.5
    return torch.where(keep.view(-1, 1, 1, 1), x, x.flip(-1))


STEPS = {"random_flip": random_flip, "lucky_jitter": lucky_jitter, "python_random_flip": python_random_flip,
         "torch_random_flip": torch_random_flip, "generator_flip": generator_flip, "call_augment": call_augment,
         "brighten": brighten}


class Images(Dataset):
    """image(i) through the named steps; looked up at call time, as module functions are."""

    def __init__(self, n=64, steps=("brighten",)):
        self.n, self.steps = n, steps

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        x = image(i)
        for step in self.steps:
            x = globals()[step](x)
        return x, i


class PeekingImages(Images):
    """Looks at the transformed value before returning it (x.shape), as datasets that check sizes do."""

    def __getitem__(self, i):
        x = brighten(image(i))
        if x.shape[0] != 3:
            raise ValueError("not an RGB image")
        return x, i


class StreamOfImages(IterableDataset):
    """An IterableDataset: the same stream every time it is iterated (split between workers)."""

    def __init__(self, n=48):
        self.n = n

    def __iter__(self):
        info = torch.utils.data.get_worker_info()
        start, step = (0, 1) if info is None else (info.id, info.num_workers)
        for i in range(start, self.n, step):
            yield brighten(image(i)), i


class MixedPaths(Images):
    """Half the samples take the planned step, half do not: collation cannot batch them."""

    def __getitem__(self, i):
        x = image(i)
        return (brighten(x) if i % 2 == 0 else x), i


class Threads(Dataset):
    """Reports the threads torch and the BLAS libraries may use in the process loading the sample."""

    def __len__(self):
        return 8

    def __getitem__(self, i):
        from threadpoolctl import threadpool_info

        blas = [p["num_threads"] for p in threadpool_info() if p.get("user_api") == "blas"]
        return torch.tensor([torch.get_num_threads(), max(blas) if blas else -1])


class Broken(Images):
    """Sample 5 cannot be loaded (a corrupt file)."""

    def __getitem__(self, i):
        if i == 5:
            raise ValueError("sample 5: truncated file")
        return super().__getitem__(i)


def read_values(f):
    """Reads a sample from an open file: only valid inside the dataset's ``with open(...)`` block."""
    return torch.tensor([float(v) for v in f.read().split()])


class FileSamples(Dataset):
    """Each sample is read by a planned function from a file the dataset opens and closes itself."""

    def __init__(self, directory, n=8):
        self.paths = []
        for i in range(n):
            path = f"{directory}/sample_{i}.txt"
            with open(path, "w") as f:
                f.write(" ".join(str(i + j) for j in range(4)))
            self.paths.append(path)

    def __len__(self):
        return len(self.paths)

    def __getitem__(self, i):
        with open(self.paths[i]) as f:
            return read_values(f), i


# --- values that go to code outside the plan (deferral_gate.py) --------------------------------

def seed_of(i):
    """A planned call whose value numpy's C seeding code consumes (it cannot take a promise)."""
    return np.array([11, i], dtype=np.int64)


def as_array(x):
    return x.numpy() * 2.0


class SeededImages(Dataset):
    """seed_of(i) -> np.random.default_rng (C); as_array(x) -> torch.from_numpy (C); brighten -> the batch."""

    def __init__(self, n=16):
        self.n = n

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        rng = np.random.default_rng(seed_of(i))
        x = torch.from_numpy(as_array(image(i))) + float(rng.random())
        return brighten(x), i


class SeededStream(IterableDataset):
    """The same as SeededImages as a stream: a fetch that raises could not be fetched again."""

    def __init__(self, n=16):
        self.n = n

    def __iter__(self):
        for i in range(self.n):
            yield SeededImages(self.n)[i]


def stack_pairs(samples):
    """A collate_fn of the user's own: it receives the samples, so nothing in them may be deferred."""
    return torch.stack([x for x, _ in samples]), torch.tensor([i for _, i in samples])


def scale(x):
    return x * 2.0


class BranchingImages(Dataset):
    """scale's value reaches the batch for the first samples; later ones hand it to torch.from_numpy
    (C code). Each sample also draws from numpy's global generator before the planned call."""

    def __init__(self, n=12):
        self.n = n

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        noise = np.random.rand()
        y = scale(image(i).numpy() + noise)
        return (y if i < 4 else torch.from_numpy(y)), i


def logged_brighten(x):
    """brighten, writing where it ran ("<pid> <ndim>") to the file CODEDAG_TEST_CALL_LOG names: a
    batched call runs in the main process on 4-d input, an in-place one wherever the sample is made."""
    import os

    with open(os.environ["CODEDAG_TEST_CALL_LOG"], "a") as log:
        log.write(f"{os.getpid()} {x.dim()}\n")
    return x * 1.5 + 0.1


class LoggedImages(Images):
    def __getitem__(self, i):
        return logged_brighten(image(i)), i


def trim(x):
    """A per-sample step before a planned transform chain (audio's fix_length)."""
    return x[:, : SIZE - 2]


class Brighten:
    def __call__(self, x):
        return x * 1.5 + 0.1


class Darken:
    def __call__(self, x):
        return x * 0.5


class Chain:
    """A torchvision-style Compose: returns its last transform's value, the very same object."""

    def __init__(self, *transforms):
        self.transforms = transforms

    def __call__(self, x):
        for t in self.transforms:
            x = t(x)
        return x


class ChainedImages(Images):
    """trim -> Chain(Brighten(), Darken()): planned calls nested in a planned call."""

    def __init__(self, n=16):
        super().__init__(n)
        self.chain = Chain(Brighten(), Darken())

    def __getitem__(self, i):
        return self.chain(trim(image(i))), i


def floor_below_max(x):
    """AmplitudeToDB's floor: nothing more than 80 below the maximum. Over a batch, the maximum is
    the batch's: one loud sample floors the others -- equal to the per-sample calls only on batches
    where nothing is that quiet."""
    return torch.maximum(x, x.max() - 80.0)


class LoudImages(Images):
    """image(i) through floor_below_max; sample 13 (the fourth batch of 4) is 1000 times louder."""

    def __getitem__(self, i):
        x = image(i) * (1000.0 if i == 13 else 1.0)
        return floor_below_max(x), i
