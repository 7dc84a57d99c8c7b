"""Text classification: reviews read from a text file, lower-cased and split by a regular
expression, mapped to ids through a vocabulary built at start-up, truncated, and padded per batch by
a custom collate_fn (pad_sequence). Two spawned workers.

    ReviewDataset.__getitem__ -> tokenize -> Vocabulary.encode -> truncate
    collate_padded (torch.nn.utils.rnn.pad_sequence)
"""

from __future__ import annotations

import collections
import re

import torch
from torch.nn.utils.rnn import pad_sequence
from torch.utils.data import DataLoader, Dataset

from . import _data

MAX_TOKENS = 48
EXPECTED_CONTEXTS = (
    "ReviewDataset.__getitem__",
    "tokenize",
    "Vocabulary.encode",
    "truncate",
    "collate_padded",
)
EXPECTED_EDGES = (("tokenize", "Vocabulary.encode"), ("Vocabulary.encode", "truncate"))
TOKEN = re.compile(r"[a-z']+|[0-9]+|[^\sa-z0-9]")
WORDS = ["the", "film", "was", "a", "slow", "burn", "but", "the", "ending", "paid", "off", "with", "a", "quiet", "honest", "scene", "that", "stayed", "with", "me", "awful", "pacing", "wooden", "dialogue", "and", "a", "plot", "that", "forgot", "itself", "halfway", "through", "i", "wanted", "my", "evening", "back", "great", "soundtrack", "sharp", "editing", "10", "out", "of", "10", "would", "watch", "again", "with", "friends", "and", "family"]


def _write_reviews(directory) -> None:
    import random

    rng = random.Random(13)
    with open(directory / "reviews.txt", "w", encoding="utf-8") as f:
        for i in range(40):
            words = [rng.choice(WORDS) for _ in range(rng.randint(8, 70))]
            f.write(f"{i % 2}\t{' '.join(words).capitalize()}!\n")


def tokenize(text: str) -> list[str]:
    return TOKEN.findall(text.lower())


def truncate(ids: torch.Tensor, limit: int) -> torch.Tensor:
    return ids[:limit]


class Vocabulary:
    def __init__(self, texts, min_count: int = 1):
        counts = collections.Counter(token for text in texts for token in tokenize(text))
        self.index = {"<pad>": 0, "<unk>": 1}
        for token, n in counts.most_common():
            if n >= min_count:
                self.index[token] = len(self.index)

    def encode(self, tokens: list[str]) -> torch.Tensor:
        return torch.tensor([self.index.get(t, 1) for t in tokens], dtype=torch.long)


class ReviewDataset(Dataset):
    def __init__(self, path):
        with open(path, encoding="utf-8") as f:
            rows = [line.rstrip("\n").split("\t", 1) for line in f]
        self.labels = [int(label) for label, _ in rows]
        self.texts = [text for _, text in rows]
        self.vocab = Vocabulary(self.texts)

    def __len__(self) -> int:
        return len(self.texts)

    def __getitem__(self, index: int):
        tokens = tokenize(self.texts[index])
        ids = truncate(self.vocab.encode(tokens), MAX_TOKENS)
        return ids, self.labels[index]


def collate_padded(samples):
    ids, labels = zip(*samples, strict=True)
    lengths = torch.tensor([len(x) for x in ids])
    return pad_sequence(list(ids), batch_first=True, padding_value=0), lengths, torch.tensor(labels)


def make_loader(num_workers: int = 0) -> DataLoader:
    dataset = ReviewDataset(_data.built("text_tokens", _write_reviews) / "reviews.txt")
    context = "spawn" if num_workers else None
    return DataLoader(dataset, batch_size=8, num_workers=num_workers, multiprocessing_context=context,
                      collate_fn=collate_padded, shuffle=False)
