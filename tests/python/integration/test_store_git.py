"""The git snapshot against real repositories: the user's tree, index, HEAD and stash untouched."""

import os
import shutil
import subprocess

import pytest

import codedag

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")


def git(repo, *args):
    return subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, text=True).stdout


@pytest.fixture
def repo(tmp_path, monkeypatch):
    r = tmp_path / "repo"
    r.mkdir()
    git(r, "init", "-q", "-b", "main")
    git(r, "config", "user.email", "u@example.com")
    git(r, "config", "user.name", "U")
    (r / ".gitignore").write_text("*.log\nbig/\n")
    (r / "train.py").write_text("VERSION = 1\n")
    (r / "staged.py").write_text("a = 1\n")
    git(r, "add", ".")
    git(r, "commit", "-q", "-m", "first")
    # A messy working tree: a staged edit, an unstaged edit, a stash, untracked and ignored files.
    (r / "train.py").write_text("VERSION = 1\n# stash me\n")
    git(r, "stash", "-q")
    (r / "staged.py").write_text("a = 2\n")
    git(r, "add", "staged.py")
    (r / "train.py").write_text("VERSION = 2\n")
    (r / "new_module.py").write_text("NEW = True\n")
    (r / "run.log").write_text("ignored\n")
    monkeypatch.setenv("CODEDAG_HOME", str(tmp_path / "home"))
    monkeypatch.chdir(r)
    return r


def state(repo):
    return (
        git(repo, "status", "--porcelain", "--untracked-files=all"),
        git(repo, "stash", "list"),
        git(repo, "rev-parse", "HEAD"),
        git(repo, "diff", "--cached"),
        git(repo, "branch", "--list"),
    )


def test_snapshot_records_the_working_tree_and_touches_nothing(repo):
    before = state(repo)
    with codedag.Experiment("snap") as exp:
        pass
    assert state(repo) == before
    rec = codedag.Watcher().record(exp.test_name)
    g = rec["git"]
    assert g["present"] and g["dirty"] is True
    assert g["ref"] == f"refs/codedag/snap/{exp.test_name}"
    assert git(repo, "rev-parse", g["ref"]).strip() == g["commit"]
    assert g["parent"] == git(repo, "rev-parse", "HEAD").strip()
    files = set(git(repo, "ls-tree", "-r", "--name-only", g["commit"]).split())
    assert {"train.py", "staged.py", "new_module.py", ".gitignore"} <= files
    assert "run.log" not in files
    assert git(repo, "show", f"{g['commit']}:train.py") == "VERSION = 2\n"
    assert git(repo, "show", f"{g['commit']}:staged.py") == "a = 2\n"


def test_untracked_files_over_the_cap_are_left_out_and_listed(repo):
    (repo / "data.bin").write_bytes(b"x" * 2048)
    hooks = [h for h in codedag.store.default_hooks(snapshot=False)]
    exp = codedag.Experiment("cap", snapshot=False, hooks=[codedag.GitCommit(max_file_bytes=1024)])
    with exp:
        pass
    g = codedag.Watcher().record(exp.test_name)["git"]
    assert [s["path"] for s in g["skipped"]] == ["data.bin"]
    assert "data.bin" not in git(repo, "ls-tree", "-r", "--name-only", g["commit"])
    assert hooks  # default_hooks(snapshot=False) has no GitCommit
    assert not any(isinstance(h, codedag.GitCommit) for h in hooks)


def test_clean_tree_is_not_dirty(repo):
    git(repo, "stash", "-q", "-u")  # put everything away: the tree equals HEAD
    git(repo, "stash", "drop", "-q")
    git(repo, "checkout", "-q", "--", ".")
    with codedag.Experiment("clean") as exp:
        pass
    g = codedag.Watcher().record(exp.test_name)["git"]
    assert g["dirty"] is False
    assert git(repo, "rev-parse", g["commit"] + "^{tree}") == git(repo, "rev-parse", "HEAD^{tree}")


def test_outside_a_repository_snapshot_is_absent_without_error(tmp_path, monkeypatch):
    monkeypatch.setenv("CODEDAG_HOME", str(tmp_path / "home"))
    d = tmp_path / "plain"
    d.mkdir()
    monkeypatch.chdir(d)
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    with codedag.Experiment("nogit") as exp:
        pass
    g = codedag.Watcher().record(exp.test_name)["git"]
    assert g["present"] is False and "not inside a git repository" in g["reason"]


def test_repository_without_commits(tmp_path, monkeypatch):
    r = tmp_path / "fresh"
    r.mkdir()
    git(r, "init", "-q")
    (r / "a.py").write_text("x = 1\n")
    monkeypatch.setenv("CODEDAG_HOME", str(tmp_path / "home"))
    monkeypatch.chdir(r)
    with codedag.Experiment("fresh") as exp:
        pass
    g = codedag.Watcher().record(exp.test_name)["git"]
    assert g["present"] and g["parent"] is None and g["dirty"] is True
    assert git(r, "status", "--porcelain") == "?? a.py\n"
    assert os.listdir(r / ".git" / "refs" / "heads") == []
