"""The pipeline corpus: realistic DataLoader pipelines the tracer, the optimizer and the migrator are
tested on (see README.md for the protocol), plus the fixture pipelines of the tracer's own tests
(``pure_pipeline``, ``image_pipeline``). Importable as ``pipelines.<name>`` with ``tests/`` on
``sys.path`` (pytest's configuration puts it there), so spawned DataLoader workers can import it too.
"""
