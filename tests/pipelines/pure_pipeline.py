"""Pure-Python pipelines with a known shape, for exact assertions on contexts, counts and edges."""

from __future__ import annotations

import threading


class Blob:
    """A value with identity (weakref-able), like an image or a tensor."""

    def __init__(self, data):
        self.data = data


def read(i):
    return Blob([i, i + 1, i + 2])


def double(blob):
    return Blob([v * 2 for v in blob.data])


def pair(blob):
    return (Blob(blob.data[:1]), Blob(blob.data[1:]))


def merge(parts):
    return Blob(parts[0].data + parts[1].data)


def sample(i):
    """read -> double -> pair -> merge, then double again from a second call site."""
    b = read(i)
    b = double(b)
    parts = pair(b)
    m = merge(parts)
    return double(m)


def run(n):
    return [sample(i) for i in range(n)]


# ---- id reuse: short-lived objects whose ids are recycled at once ---------------------------


def make_temp(i):
    return Blob(i)


def consume(blob):
    return blob.data


def churn(n):
    """Each temporary dies before the next is made, so CPython reuses its address: a tracer matching
    bare ids would link `consume` to a `make_temp` whose value it never received."""
    total = 0
    for i in range(n):
        make_temp(i)  # result dropped immediately
        total += consume(Blob(i))  # a Blob made here, not by make_temp
    return total


# ---- depth, recursion, generators, exceptions, threads ----------------------------------------


def level3(x):
    return x + 1


def level2(x):
    return level3(x) + 1


def level1(x):
    return level2(x) + 1


def fact(n):
    return 1 if n <= 1 else n * fact(n - 1)


def numbers(n):
    for i in range(n):
        yield Blob(i)


def use_generator(n):
    return [consume(b) for b in numbers(n)]


class PipelineError(Exception):
    pass


def fails(x):
    level1(x)
    raise PipelineError(f"bad sample {x}")


def worker_task(results, i):
    results[i] = consume(read(i))


def threaded(n):
    results = [None] * n
    threads = [threading.Thread(target=worker_task, args=(results, i)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def feedback(x, steps):
    for _ in range(steps):
        x = double(x)  # one call site feeding its own output back: a self loop to drop
    return x


def closure_user(blob):
    def inner():
        return blob.data  # `blob` is a cell variable of closure_user

    return inner()


# ---- generated code, properties, views --------------------------------------------------------


def step(blob):
    return Blob(blob.data + [0])


def generated_caller(source: str):
    """A function compiled from "<string>" source, as dataclasses, namedtuple and numba make them."""
    namespace = {"step": step}
    exec(source, namespace)  # noqa: S102 - generated code is what this fixture is about
    return namespace["call"]


SAME = "def call(blob):\n    return step(blob)\n"
OTHER = "def call(blob):\n    blob = step(blob)\n    return step(blob)\n"


def run_generated(callers, n):
    """The same place calls several generated functions; each of them calls `step`."""
    out = []
    for i in range(n):
        for call in callers:  # one call site, several code objects
            out.append(call(Blob([i])))
    return out


class Frame:
    def __init__(self, width, height):
        self._width, self._height = width, height

    @property
    def area(self):
        return self._width * self._height

    def scaled(self, k):
        return Frame(self._width * k, self._height * k)


def use_properties(n):
    total = 0
    for i in range(n):
        total += Frame(i, 2).scaled(2).area
    return total
