"""The core area of CodeDAG (see its modules)."""

__all__: list[str] = []
