"""Seed 000's script helpers: seeds, seeded sampling, GPU detection, rank-0 printing."""

import random

import numpy as np
import pytest
import torch

import codedag


def test_seed_everything_makes_every_generator_repeat():
    codedag.seed_everything(123)
    first = (random.random(), np.random.rand(), torch.rand(3).tolist())
    codedag.seed_everything(123)
    assert (random.random(), np.random.rand(), torch.rand(3).tolist()) == first
    codedag.seed_everything(124)
    assert random.random() != first[0]
    assert torch.backends.cudnn.deterministic and not torch.backends.cudnn.benchmark
    with pytest.raises(TypeError):
        codedag.seed_everything("42")
    with pytest.raises(ValueError):
        codedag.seed_everything(-1)


def test_seeded_subsets_are_reproducible_and_distinct():
    a = codedag.seeded_indices(1000, 50, seed=66)
    assert a == codedag.seeded_indices(1000, 50, seed=66)
    assert a != codedag.seeded_indices(1000, 50, seed=67)
    assert len(set(a)) == 50 and all(0 <= i < 1000 for i in a)
    assert codedag.seeded_indices(5, None) == [0, 1, 2, 3, 4]
    assert codedag.seeded_indices(5, 10) == [0, 1, 2, 3, 4]
    data = list(range(100, 200))
    subset = codedag.seeded_subset(data, 10, seed=1)
    assert isinstance(subset, torch.utils.data.Subset) and len(subset) == 10
    assert [subset[i] for i in range(10)] == [data[i] for i in codedag.seeded_indices(100, 10, seed=1)]
    assert codedag.seeded_subset(data, None) is data
    with pytest.raises(ValueError):
        codedag.seeded_indices(10, -1)


def test_gpu_detection_reads_the_lease_and_the_override(monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "2,5")
    assert codedag.detect_gpus() == ["2", "5"]
    assert codedag.detect_num_gpus() == 2
    monkeypatch.setenv("NUM_GPUS_OVERRIDE", "1")
    assert codedag.detect_num_gpus() == 1
    monkeypatch.setenv("NUM_GPUS_OVERRIDE", "many")
    with pytest.raises(codedag.InputError, match="NUM_GPUS_OVERRIDE"):
        codedag.detect_num_gpus()
    monkeypatch.delenv("NUM_GPUS_OVERRIDE")
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    assert codedag.detect_gpus() == [] and codedag.detect_num_gpus(default=1) == 1


def test_only_rank_zero_prints(monkeypatch, capsys):
    monkeypatch.delenv("RANK", raising=False)
    monkeypatch.delenv("LOCAL_RANK", raising=False)
    monkeypatch.delenv("SLURM_PROCID", raising=False)
    codedag.rank_zero_print("hello")
    assert capsys.readouterr().out == "hello\n" and codedag.is_rank_zero() and codedag.get_rank() == 0
    monkeypatch.setenv("RANK", "3")
    codedag.rank_zero_print("hidden")
    assert capsys.readouterr().out == "" and not codedag.is_rank_zero() and codedag.get_rank() == 3
    monkeypatch.setenv("RANK", "0")
    monkeypatch.setenv("LOCAL_RANK", "1")
    assert not codedag.is_rank_zero()
