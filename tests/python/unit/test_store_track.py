"""exp.track (issue 14): tensors accumulate detached on their device; the host copy happens once per
window of log_every steps (counted with a Tensor subclass whose .item() counts its calls)."""

import pytest

import codedag

torch = pytest.importorskip("torch")


class Counting(torch.Tensor):
    syncs = 0

    def item(self):
        Counting.syncs += 1
        return super().item()


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("CODEDAG_HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    for key in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "CODEDAG_RUN_ID"):
        monkeypatch.delenv(key, raising=False)
    return tmp_path / "home"


def test_track_syncs_once_per_window_and_logs_window_means(home):
    Counting.syncs = 0
    w = torch.ones(1, requires_grad=True)
    with codedag.Experiment("loop", snapshot=False) as exp:
        for i in range(7):
            loss = (w * float(i)).sum().as_subclass(Counting)
            exp.track(loss=loss, acc=i / 10, log_every=3)
            if i < 2:
                assert Counting.syncs == 0  # nothing copied to the host inside a window
        assert Counting.syncs == 2  # after steps 2 and 5
        # The sums keep no autograd graph alive.
        assert not exp._tracker.sums["loss"].requires_grad
    assert Counting.syncs == 3  # the partial window at end()
    series = codedag.Watcher(str(home)).series(exp.test_name)
    assert [(s, v) for s, v, _ in series["loss"]] == [(2, 1.0), (5, 4.0), (6, 6.0)]
    assert [s for s, _, _ in series["acc"]] == [2, 5, 6]
    assert series["acc"][0][1] == pytest.approx(0.1)


def test_track_refuses_what_it_cannot_average(home):
    with codedag.Experiment("loop", snapshot=False) as exp:
        with pytest.raises(codedag.InputError, match="expected a scalar"):
            exp.track(loss=torch.ones(3))
        with pytest.raises(codedag.InputError, match="expected a number"):
            exp.track(name="text")
        exp.track(loss=1.0, log_every=5)
        with pytest.raises(codedag.InputError, match="every 5 steps already"):
            exp.track(loss=1.0, log_every=2)
    with pytest.raises(codedag.StateError):
        exp.track(loss=1.0)
