"""Mutation run over every file format, through the CLI and the Python API.

Each input is a valid file of one format (dag, plan, device model, result JSON, run.json,
metrics.jsonl, backup archive with its manifest) mutated once: bytes flipped, inserted, deleted or
truncated, or a JSON value replaced by what broke CodeDAG before (50 000-deep nesting, 10**400,
1e400, NUL, escape sequences, ill-formed UTF-8, wrong types, `../../x`), or an archive member's
header or manifest rewritten so that it passes the tar checksum. Each input is then given to the
codedag CLI (a subprocess per command) and to the Python API (in a worker process, restarted if it
dies). Counted as findings: a CLI that dies of a signal, hangs, or prints "internal error"; a Python
worker that dies; any Python exception that is not a codedag.Error (a traceback).

    python tests/fuzz/mutate_formats.py --inputs 20000 --json bench/results/mutation_run.json

Exit status 1 when there is any finding; the JSON lists the first findings with their inputs kept
under --keep (default: a temporary directory that is removed when clean).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
CORPUS = HERE / "corpus"
RUN_ID = "230306.012.d5t"
FORMATS = ("dag", "plan", "device_model", "result_json", "run_record", "metrics_jsonl", "backup_archive")
CORPUS_DIR = {"dag": "dag_loader", "plan": "plan_loader"}

# --- mutations -----------------------------------------------------------------------------------

NASTY_VALUES = [
    "[" * 50000 + "]" * 50000,
    '{"a":' * 3000 + "1" + "}" * 3000,
    "1" + "0" * 400,
    "-1" + "0" * 30,
    "1e400",
    "-1e400",
    "18446744073709551616",
    '"\\u0000"',
    '"a\\u0000b"',
    '"\\u001b[2J\\u001b]0;owned\\u0007"',
    '"\\u202eevil"',
    '"\\ud800"',
    '"../../x"',
    '"refs/heads/main"',
    '"/etc/passwd"',
    '"--upload-pack=touch /tmp/pwned"',
    "null",
    "true",
    "-1",
    "0",
    "3.5",
    '""',
    "[]",
    "{}",
    "[1, 2, 3]",
    '{"value": "x"}',
    '"' + "x" * 100000 + '"',
]
RAW_BYTES = [
    b"\x00",
    b"\xff",
    b"\xfe\xff",
    b"\xc0\xaf",
    b"\xed\xa0\x80",
    b"\x1b[2J",
    b"\n",
    b'"',
    b"\\",
    b"{",
    b"]",
]


def json_paths(value, prefix=()):
    yield prefix
    if isinstance(value, dict):
        for k, v in value.items():
            yield from json_paths(v, prefix + (k,))
    elif isinstance(value, list):
        for i, v in enumerate(value[:50]):
            yield from json_paths(v, prefix + (i,))


def replace_at(doc, path, placeholder):
    if not path:
        return placeholder
    parent = doc
    for p in path[:-1]:
        parent = parent[p]
    parent[path[-1]] = placeholder
    return doc


def mutate_json(data: bytes, rng: random.Random) -> bytes | None:
    try:
        doc = json.loads(data)
    except (ValueError, RecursionError):
        return None
    paths = list(json_paths(doc))
    path = rng.choice(paths)
    action = rng.random()
    token = "\u2063CODEDAG_PLACEHOLDER\u2063"
    if action < 0.15 and path and isinstance(doc, (dict, list)):
        parent = doc
        for p in path[:-1]:
            parent = parent[p]
        if isinstance(parent, dict):
            key = path[-1]
            if rng.random() < 0.5:
                del parent[key]
            else:
                parent[rng.choice(["../../x", "", "\u0000", "\u001b[31m", "a.b", "name", "status"])] = (
                    parent.pop(key)
                )
            return json.dumps(doc, ensure_ascii=False).encode("utf-8", "surrogatepass")
    doc = replace_at(doc, path, token)
    text = json.dumps(doc, ensure_ascii=False).replace(
        json.dumps(token, ensure_ascii=False), rng.choice(NASTY_VALUES)
    )
    return text.encode("utf-8", "surrogatepass")


def mutate_bytes(data: bytes, rng: random.Random) -> bytes:
    b = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        op = rng.random()
        pos = rng.randint(0, max(0, len(b) - 1)) if b else 0
        if op < 0.3 and b:
            b[pos] ^= 1 << rng.randint(0, 7)
        elif op < 0.5:
            b[pos:pos] = rng.choice(RAW_BYTES)
        elif op < 0.65 and b:
            del b[pos : pos + rng.randint(1, 64)]
        elif op < 0.75 and b:
            del b[rng.randint(0, len(b)) :]
        elif op < 0.85 and b:
            end = min(len(b), pos + rng.randint(1, 128))
            b[pos:pos] = b[pos:end] * rng.randint(1, 20)
        else:
            b[pos:pos] = bytes(rng.randint(0, 255) for _ in range(rng.randint(1, 16)))
    return bytes(b)


# --- tar members with valid checksums (so mutations reach past the header check) --------------------


def tar_member(path: bytes, data: bytes, typeflag=b"0", size=None) -> bytes:
    h = bytearray(512)
    h[0 : min(100, len(path))] = path[:100]
    h[100:108] = b"%07o\0" % 0o644
    h[124:136] = (b"%011o\0" % (len(data) if size is None else size))[:12].ljust(12, b"\0")
    h[156:157] = typeflag[:1]
    h[257:263] = b"ustar\0"
    h[263:265] = b"00"
    h[148:156] = b" " * 8
    h[148:156] = b"%06o\0 " % sum(h)
    return bytes(h) + data + b"\0" * ((512 - len(data) % 512) % 512)


def read_members(archive: bytes):
    members, pos = [], 0
    while pos + 512 <= len(archive):
        h = archive[pos : pos + 512]
        if h == b"\0" * 512:
            break
        name = h[:100].rstrip(b"\0")
        size = int(h[124:136].strip(b"\0 ") or b"0", 8)
        members.append([name, archive[pos + 512 : pos + 512 + size]])
        pos += 512 + (size + 511) // 512 * 512
    return members


def mutate_archive(data: bytes, rng: random.Random) -> bytes:
    members = read_members(data)
    if not members or rng.random() < 0.25:
        return mutate_bytes(data, rng)
    manifest_index = next((i for i, (n, _) in enumerate(members) if n == b"codedag-backup.json"), None)
    op = rng.random()
    typeflag, size = b"0", None
    i = rng.randrange(len(members))
    if op < 0.3:  # a member's content (run.json, metrics, the manifest) mutated as its format
        name, body = members[i]
        members[i][1] = mutate_json(body, rng) or mutate_bytes(body, rng)
        if rng.random() < 0.6 and manifest_index is not None and i != manifest_index:
            # ... and the manifest updated to match, so restore gets as far as reading it
            man = json.loads(members[manifest_index][1])
            for m in man.get("members", []):
                if m.get("path", "").encode() == name:
                    m["bytes"], m["sha256"] = len(members[i][1]), hashlib.sha256(members[i][1]).hexdigest()
            members[manifest_index][1] = json.dumps(man).encode()
    elif op < 0.55:
        members[i][0] = rng.choice(
            [
                b"info/../../x",
                b"/etc/passwd",
                b"blob/./x",
                b"info//run.json",
                b"other/file",
                b"info/\x1b[2J",
                b"info/run.json",
            ]
        )
    elif op < 0.7:
        typeflag = rng.choice([b"1", b"2", b"3", b"5", b"x", b"g", b"L", b"\0"])
    elif op < 0.85:
        size = rng.choice([0, 1, 10**11, len(members[i][1]) + 1, 2**33])
    else:
        members.insert(rng.randrange(len(members) + 1), list(rng.choice(members)))
    out = b""
    for j, (n, body) in enumerate(members):
        out += tar_member(n, body, typeflag if j == i else b"0", size if j == i else None)
    return out + b"\0" * 1024


def mutate(fmt: str, data: bytes, rng: random.Random) -> bytes:
    if fmt == "backup_archive":
        return mutate_archive(data, rng)
    if fmt == "metrics_jsonl" and rng.random() < 0.5:
        lines = data.split(b"\n")
        k = rng.randrange(len(lines))
        lines[k] = mutate_json(lines[k], rng) or mutate_bytes(lines[k], rng)
        return b"\n".join(lines)
    if rng.random() < 0.55:
        mutated = mutate_json(data, rng)
        if mutated is not None:
            return mutated
    return mutate_bytes(data, rng)


# --- seeds ---------------------------------------------------------------------------------------


def load_seeds() -> dict[str, list[bytes]]:
    seeds: dict[str, list[bytes]] = {}
    for fmt in FORMATS:
        d = CORPUS / CORPUS_DIR.get(fmt, fmt)
        files = sorted(p for p in d.iterdir() if p.is_file())
        # Readable seeds first: the hand-written valid files, then the merged corpus.
        texts = [p.read_bytes() for p in files if p.suffix in (".json", ".jsonl", ".tar")]
        texts += [p.read_bytes() for p in files if p.suffix not in (".json", ".jsonl", ".tar")][:200]
        seeds[fmt] = [t for t in texts if len(t) < 2_000_000]
    seeds["dag"].append((REPO / "examples" / "dags" / "audio_pipeline.json").read_bytes())
    return seeds


# --- channels ------------------------------------------------------------------------------------


def store_with(home: Path, fmt: str, data: bytes) -> None:
    """A store holding one run whose run.json (or metrics.jsonl) is `data`."""
    run_dir = home / "info" / "moco" / RUN_ID
    run_dir.mkdir(parents=True, exist_ok=True)
    if fmt == "run_record":
        (run_dir / "run.json").write_bytes(data)
    else:
        valid = (CORPUS / "run_record" / "finished.json").read_bytes()
        (run_dir / "run.json").write_bytes(valid)
        (run_dir / "metrics.jsonl").write_bytes(data)


def cli_commands(fmt: str, path: Path, home: Path, out: Path) -> list[list[str]]:
    dag = str(REPO / "examples" / "dags" / "audio_pipeline.json")
    if fmt == "dag":
        return [["dag", "show", str(path)]]
    if fmt == "plan":
        return []  # no CLI command reads a plan without running a training script (optimize-run --plan)
    if fmt == "device_model":
        return [["optimize", dag, "--device-model", str(path), "-o", str(out / "plan.json")]]
    if fmt == "result_json":
        return [["report", str(path), "-o", str(out)]]
    if fmt in ("run_record", "metrics_jsonl"):
        return [["ls"], ["ls", "--json"], ["show", RUN_ID], ["show", RUN_ID, "--json"]]
    if fmt == "backup_archive":
        return [["restore", str(path)], ["ls", "--all"]]
    return []


def classify_cli(proc: subprocess.CompletedProcess | None) -> str | None:
    if proc is None:
        return "hang (timeout)"
    if proc.returncode < 0:
        return f"killed by signal {-proc.returncode}"
    err = proc.stderr
    # A Python traceback's own header: a clean error may quote a run's stored "Traceback" text.
    for marker in ("internal error", "terminate called", "Traceback (most recent call last)", "AddressSanitizer",
                   "Segmentation"):
        if marker in err:
            return f"{marker}: {err.strip()[-300:]}"
    return None


WORKER = r"""
import json, os, sys, warnings
warnings.simplefilter("ignore")
import codedag
for line in sys.stdin:
    task = json.loads(line)
    fmt, path, home = task["format"], task["path"], task["home"]
    try:
        if fmt == "dag":
            codedag.Dag.load(path)
        elif fmt == "plan":
            codedag.load_plan(path)
        elif fmt == "device_model":
            codedag.DeviceModel.load(path)
        elif fmt == "result_json":
            codedag.compare_results(path)
        elif fmt in ("run_record", "metrics_jsonl"):
            w = codedag.Watcher(home)
            w.load(as_frame=False)
            for call in (w.record, w.retrieve, w.series):
                try:
                    r = call(task["run_id"])
                    if call is w.retrieve:
                        r.properties
                except codedag.Error:
                    pass
        elif fmt == "backup_archive":
            codedag._core.load_json(path)  # an archive is not JSON: must be a clean FormatError
        result = "ok"
    except codedag.Error:
        result = "rejected"
    except BaseException as e:  # a traceback of another kind is a finding
        import traceback
        result = "traceback: " + "".join(traceback.format_exception_only(type(e), e)).strip()[-400:]
    sys.stdout.write(json.dumps(result) + "\n")
    sys.stdout.flush()
"""


class PythonWorker:
    def __init__(self, env):
        self.env = env
        self.proc = None

    def start(self):
        self.proc = subprocess.Popen(
            [sys.executable, "-c", WORKER],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            env=self.env,
        )

    def run(self, task: dict) -> str | None:
        if self.proc is None or self.proc.poll() is not None:
            self.start()
        try:
            self.proc.stdin.write(json.dumps(task) + "\n")
            self.proc.stdin.flush()
            line = self.proc.stdout.readline()
        except BrokenPipeError:
            line = ""
        if not line:
            code = self.proc.wait()
            self.proc = None
            return f"python worker died (exit {code})"
        result = json.loads(line)
        return result if result.startswith("traceback") else None

    def close(self):
        if self.proc and self.proc.poll() is None:
            self.proc.stdin.close()
            self.proc.wait(timeout=30)


def cli_path(arg: str | None) -> str:
    if arg:
        return os.path.abspath(arg)
    if os.environ.get("CODEDAG_CLI"):
        return os.path.abspath(os.environ["CODEDAG_CLI"])
    beside = Path(sys.executable).parent / "codedag"
    return str(beside) if beside.exists() else (shutil.which("codedag") or "codedag")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--inputs", type=int, default=20000)
    ap.add_argument("--seed", type=int, default=12)
    ap.add_argument("--json", help="write the summary here")
    ap.add_argument("--cli", help="the codedag executable (default: $CODEDAG_CLI, beside python, PATH)")
    ap.add_argument("--keep", help="keep inputs that found something here")
    ap.add_argument("--timeout", type=float, default=60.0)
    args = ap.parse_args(argv)

    rng = random.Random(args.seed)
    seeds = load_seeds()
    cli = cli_path(args.cli)
    work = Path(tempfile.mkdtemp(prefix="codedag_mutate_"))
    keep = Path(args.keep) if args.keep else work / "findings"
    env = dict(os.environ, NO_COLOR="1", CODEDAG_HOME=str(work / "home"), XDG_CACHE_HOME=str(work / "xdg"))
    worker = PythonWorker(env)
    counts = {fmt: {"inputs": 0, "cli_runs": 0, "python_runs": 0, "rejected_or_ok": 0} for fmt in FORMATS}
    findings: list[dict] = []
    started = time.time()
    try:
        for n in range(args.inputs):
            fmt = FORMATS[n % len(FORMATS)]
            data = mutate(fmt, rng.choice(seeds[fmt]), rng)
            case = work / f"case{n % 8}"
            shutil.rmtree(case, ignore_errors=True)
            (case / "out").mkdir(parents=True)
            home = case / "home"
            path = case / ("input.tar" if fmt == "backup_archive" else "input.json")
            path.write_bytes(data)
            if fmt in ("run_record", "metrics_jsonl"):
                store_with(home, fmt, data)
            counts[fmt]["inputs"] += 1
            problems = []
            for cmd in cli_commands(fmt, path, home, case / "out"):
                counts[fmt]["cli_runs"] += 1
                try:
                    proc = subprocess.run(
                        [cli, *cmd],
                        capture_output=True,
                        text=True,
                        errors="replace",
                        timeout=args.timeout,
                        env=dict(env, CODEDAG_HOME=str(home)),
                        cwd=case,
                    )
                except subprocess.TimeoutExpired:
                    proc = None
                what = classify_cli(proc)
                if what:
                    problems.append({"channel": "cli", "command": cmd, "finding": what})
            counts[fmt]["python_runs"] += 1
            what = worker.run({"format": fmt, "path": str(path), "home": str(home), "run_id": RUN_ID})
            if what:
                problems.append({"channel": "python", "finding": what})
            if problems:
                keep.mkdir(parents=True, exist_ok=True)
                kept = keep / f"{n:06d}_{fmt}{path.suffix}"
                kept.write_bytes(data)
                findings.append({"input": str(kept), "format": fmt, "problems": problems})
            else:
                counts[fmt]["rejected_or_ok"] += 1
            if (n + 1) % 1000 == 0:
                print(
                    f"· {n + 1}/{args.inputs} inputs, {len(findings)} with findings, "
                    f"{time.time() - started:.0f} s",
                    flush=True,
                )
    finally:
        worker.close()
    elapsed = time.time() - started
    crashes = sum(
        1 for f in findings for p in f["problems"] if "signal" in p["finding"] or "died" in p["finding"]
    )
    tracebacks = sum(
        1 for f in findings for p in f["problems"] if p["finding"].startswith(("traceback", "Traceback"))
    )
    summary = {
        "inputs": args.inputs,
        "seed": args.seed,
        "seconds": round(elapsed, 1),
        "cli_runs": sum(c["cli_runs"] for c in counts.values()),
        "python_runs": sum(c["python_runs"] for c in counts.values()),
        "inputs_with_findings": len(findings),
        "crashes": crashes,
        "tracebacks": tracebacks,
        "other_findings": sum(len(f["problems"]) for f in findings) - crashes - tracebacks,
        "per_format": counts,
        "findings": findings[:50],
        "load": os.getloadavg(),
    }
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(summary, indent=1) + "\n")
    mark = "✓" if not findings else "✗"
    print(
        f"{mark} {args.inputs} mutated inputs over {len(FORMATS)} formats: {summary['cli_runs']} CLI runs, "
        f"{summary['python_runs']} Python API runs; {crashes} crashes, {tracebacks} tracebacks, "
        f"{summary['other_findings']} other findings ({elapsed:.0f} s)"
    )
    for f in findings[:10]:
        print(f"  ✗ {f['format']}: {f['input']}: {f['problems'][0]['finding'][:200]}")
    if not findings:
        shutil.rmtree(work, ignore_errors=True)
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main())
