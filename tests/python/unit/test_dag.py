"""The DAG model through the Python API: load, validate, round-trip, errors as Python exceptions."""

import json

import pytest

import codedag

SMALL = {
    "schema": "codedag.dag/1",
    "meta": {"batches": 1},
    "nodes": [
        {"id": 1, "name": "getitem", "calls": 4, "cpu_ns": 100},
        {"id": 2, "name": "load", "parent": 1, "depth": 1, "calls": 4, "cpu_ns": 300, "out_bytes": 64},
        {"id": 3, "name": "crop", "parent": 1, "depth": 1, "calls": 4, "cpu_ns": 50},
    ],
    "edges": [
        {"src": 2, "dst": 3, "kind": "data", "bytes": 64, "count": 4},
        {"src": 1, "dst": 2, "kind": "call", "count": 4},
    ],
}


def test_round_trip_through_file(tmp_path):
    dag = codedag.Dag.from_dict(SMALL)
    assert len(dag.nodes) == 3 and len(dag.edges) == 2
    path = tmp_path / "dag.json"
    dag.save(str(path))
    again = codedag.Dag.load(str(path))
    assert again.to_dict() == dag.to_dict()
    assert json.loads(path.read_text())["schema"] == "codedag.dag/1"


def test_dot_written(tmp_path):
    dag = codedag.Dag.from_dict(SMALL)
    text = dag.to_dot(str(tmp_path / "dag.dot"), placement={3: "batch:cpu"})
    assert (tmp_path / "dag.dot").read_text() == text
    assert "[batch:cpu]" in text


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda d: d.update(schema="codedag.dag/7"), "unknown schema"),
        (lambda d: d["nodes"][2].update(id=1), "used twice"),
        (lambda d: d["edges"][0].update(dst=9), "dst 9"),
        (lambda d: d["edges"].append({"src": 3, "dst": 2}), "cycle"),
        (lambda d: d["nodes"][0].update(cpu_ns=-1), "must not be negative"),
    ],
)
def test_rejections_are_format_errors(edit, message):
    doc = json.loads(json.dumps(SMALL))
    edit(doc)
    with pytest.raises(codedag.FormatError, match=message):
        codedag.Dag.from_dict(doc)


def test_error_hierarchy():
    assert issubclass(codedag.FormatError, codedag.InputError)
    assert issubclass(codedag.InputError, codedag.Error)
    assert issubclass(codedag.InputError, ValueError)
    assert issubclass(codedag.NotFoundError, LookupError)
    with pytest.raises(codedag.NotFoundError):
        codedag.Dag.load("/nonexistent/dag.json")


def test_bad_json_names_line(tmp_path):
    path = tmp_path / "dag.json"
    path.write_text('{"schema": "codedag.dag/1",\n "nodes": [,]}')
    with pytest.raises(codedag.FormatError, match=r"dag.json:2:"):
        codedag.Dag.load(str(path))
