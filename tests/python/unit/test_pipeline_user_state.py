"""The closed loop leaves the user's world as it found it: generators (global, the loader's), threads,
loader attributes -- so a seed sweep after optimize_pipeline still draws each cell's own stream."""

import random

import loop_targets as lt
import numpy as np
import torch
from torch.utils.data import DataLoader

import codedag
from codedag.pipeline.user_state import UserState


def draws():
    return random.random(), float(np.random.rand()), float(torch.rand(()))


def test_user_state_restores_what_it_captured():
    g = torch.Generator().manual_seed(3)
    loader = DataLoader(lt.Images(n=8), batch_size=4, shuffle=True, generator=g)
    random.seed(1)
    np.random.seed(2)
    torch.manual_seed(3)
    threads = torch.get_num_threads()
    state = UserState(loader)
    random.seed(9)
    np.random.seed(9)
    torch.manual_seed(9)
    list(loader)  # advances the loader's generator
    torch.set_num_threads(1)
    loader.__dict__["num_workers"] = 5
    assert set(state.changed()) >= {"random", "numpy.random", "torch generator", "the DataLoader's generator",
                                    "DataLoader.num_workers"}
    assert state.restore() == []
    assert state.changed() == []
    assert torch.get_num_threads() == threads and loader.num_workers == 0


def test_optimize_pipeline_leaves_every_generator_where_the_script_left_it():
    g = torch.Generator().manual_seed(5)
    loader = DataLoader(lt.Images(n=40, steps=("random_flip", "brighten")), batch_size=8, shuffle=True, generator=g)
    plan = {"schema": "codedag.plan/1", "context_device_map": {"loop_targets.brighten": "batch:cpu"}}
    random.seed(123)
    np.random.seed(123)
    torch.manual_seed(123)
    want = draws()
    random.seed(123)
    np.random.seed(123)
    torch.manual_seed(123)
    loader_state = g.get_state()
    threads = torch.get_num_threads()
    result = codedag.optimize_pipeline(loader, plan=plan, verify_batches=1, measure_batches=2, repeats=2,
                                       keep=False, quiet=True)
    assert result["settings"] or result["reason"]
    assert draws() == want  # the script's streams continue as if the loop had not run
    assert torch.equal(g.get_state(), loader_state)
    assert torch.get_num_threads() == threads
    assert loader.num_workers == 0 and not hasattr(lt.brighten, "__codedag_original__")
