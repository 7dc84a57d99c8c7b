"""The tracer's fold/record rule follows the one library decision (codedag.libraries), not the
install path: a dependency installed with `pip install --target` into a directory on sys.path (no
"site-packages" in its path; the Kaggle-offline way) is library code -- its private helpers are not
contexts and no plan can move them -- while the user's own functions stay contexts."""

from __future__ import annotations

import importlib
import sys

import pytest

torch = pytest.importorskip("torch")
from torch.utils.data import DataLoader, Dataset  # noqa: E402

import codedag  # noqa: E402
from codedag import libraries  # noqa: E402

PACKAGE = "cdg_offline_dep"


def install_with_target(root):
    """What `pip install --target root` leaves: the package and its dist-info with a RECORD."""
    pkg = root / PACKAGE
    pkg.mkdir()
    (pkg / "__init__.py").write_text(
        "import numpy as np\n\n"
        "def _window(x):\n    return np.hanning(x.shape[-1]).astype(x.dtype) * x\n\n"
        "def smooth(x):\n    return _window(x) + 1.0\n"
    )
    info = root / f"{PACKAGE}-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {PACKAGE}\nVersion: 1.0\n")
    (info / "top_level.txt").write_text(PACKAGE + "\n")
    (info / "RECORD").write_text(f"{PACKAGE}/__init__.py,,\n{info.name}/METADATA,,\n{info.name}/RECORD,,\n")


def test_target_installed_dependency_is_library_in_the_dag(tmp_path, monkeypatch):
    import numpy as np

    install_with_target(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    libraries.reset()
    try:
        dep = importlib.import_module(PACKAGE)
        assert libraries.decide(PACKAGE).library, libraries.decide(PACKAGE)

        class Signals(Dataset):
            def __len__(self):
                return 8

            def __getitem__(self, i):
                return torch.from_numpy(scale(dep.smooth(np.ones(256, dtype=np.float32) * i)))

        def scale(x):
            return x * 0.5

        tracer = codedag.EnhancedTracer()
        with tracer.tracing_context():
            next(iter(DataLoader(Signals(), batch_size=4)))
        nodes = {n.qualname: n for n in tracer.dag.nodes}
        assert not any(q.endswith("_window") for q in nodes), sorted(nodes)  # a library's internals fold
        smooth = [n for q, n in nodes.items() if q.endswith("smooth")]
        assert smooth and all(n.library for n in smooth), sorted(nodes)
        assert any(q.endswith("scale") and not n.library for q, n in nodes.items()), sorted(nodes)
    finally:
        sys.modules.pop(PACKAGE, None)
        libraries.reset()
