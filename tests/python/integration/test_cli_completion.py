"""`codedag completion bash|zsh|fish`: written from the subcommand table, so every command the help
lists completes; bash's completion is exercised the way bash calls it."""

import re
import shutil
import subprocess

import pytest


def commands_in_help(run_cli):
    help_text = run_cli("--help", check=True).stdout
    block = help_text.split("Subcommands:")[1]
    return re.findall(r"^  (\S+)\s", block, re.M)


def bash_complete(script: str, *words: str) -> list[str]:
    """What bash would offer after `codedag WORDS...` (the last word is the one being completed)."""
    words_array = " ".join(f"'{w}'" for w in ("codedag", *words))
    program = f"{script}\nCOMP_WORDS=({words_array}); COMP_CWORD={len(words)}; _codedag; printf '%s\\n' \"${{COMPREPLY[@]}}\""
    proc = subprocess.run(["bash", "-c", program], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    return [w for w in proc.stdout.splitlines() if w]


def test_bash_completes_commands_subcommands_and_options(run_cli):
    script = run_cli("completion", "bash", check=True).stdout
    everything = bash_complete(script, "")
    assert sorted(everything) == sorted(commands_in_help(run_cli))  # the table itself, nothing by hand
    assert bash_complete(script, "opt") == ["optimize", "optimize-run"]
    assert sorted(bash_complete(script, "dag", "s")) == ["show", "svg"]
    assert "--status" in bash_complete(script, "ls", "--st")
    assert "--template" in bash_complete(script, "new", "proj", "--t")
    assert bash_complete(script, "show", "") == []  # a run id or a file: bash's default completion


def test_zsh_and_fish_scripts_name_every_command(run_cli):
    commands = commands_in_help(run_cli)
    zsh = run_cli("completion", "zsh", check=True).stdout
    assert "bashcompinit" in zsh and "complete -o default -F _codedag codedag" in zsh
    fish = run_cli("completion", "fish", check=True).stdout
    for c in commands:
        assert re.search(rf"^complete -c codedag -n '[^']*' -a {re.escape(c)} -d ", fish, re.M), c
    assert "-l template" in fish and "-l status" in fish


@pytest.mark.skipif(shutil.which("zsh") is None, reason="zsh is not installed here")
def test_zsh_loads_the_script(run_cli, tmp_path):
    (tmp_path / "c.zsh").write_text(run_cli("completion", "zsh", check=True).stdout)
    proc = subprocess.run(["zsh", "-c", f"source {tmp_path / 'c.zsh'}"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


@pytest.mark.skipif(shutil.which("fish") is None, reason="fish is not installed here")
def test_fish_loads_the_script(run_cli, tmp_path):
    (tmp_path / "c.fish").write_text(run_cli("completion", "fish", check=True).stdout)
    proc = subprocess.run(["fish", "-c", f"source {tmp_path / 'c.fish'}"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
