"""Code that only looks like training code: other libraries' .item(), .step(), .forward()."""
import numpy as np


class Stepper:
    def step(self):
        return 1

    def forward(self, x):
        return x


def simulate(env, steps):
    total = 0
    for t in range(steps):
        total += np.float64(t).item()
        env.step()
    return total


def collect(rows):
    out = []
    for row in rows:
        out.append(row.tolist())
    return out
