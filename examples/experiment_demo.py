"""A tiny training-shaped script run under codedag.Experiment.

    python examples/experiment_demo.py --lr=0.1 --epochs 3 --note "a b"
    codedag ls demo ; codedag show <id> ; codedag rerun <id> --lr=0.5

It records its arguments (dump_info), a best metric (dump_metric) and a loss series (log_metric).
Options for tests: --fail raises, --sleep S waits per epoch, --name picks the experiment name.
"""

import argparse
import math
import time

import codedag


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--lr", type=float, default=0.1)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--note", default="")
    parser.add_argument("--name", default="demo")
    parser.add_argument("--sleep", type=float, default=0.0)
    parser.add_argument("--fail", action="store_true")
    args = parser.parse_args()

    with codedag.Experiment(args.name) as exp:
        exp.dump_info("params", vars(args))
        for epoch in range(args.epochs):
            for step in range(10):
                exp.log_metric("loss", math.exp(-args.lr * (epoch * 10 + step)), step=epoch * 10 + step)
            acc = 1 - math.exp(-args.lr * (epoch + 1))
            exp.dump_metric("acc", acc, "max", epoch=epoch)
            if args.sleep:
                time.sleep(args.sleep)
        if args.fail:
            raise RuntimeError("failing on purpose (--fail)")
        print(f"{exp.test_name} acc={acc:.4f}")


if __name__ == "__main__":
    main()
