"""The command line: exit 0 on success, 2 with one line naming the fault on bad input."""

import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from urbanseg.cli import main


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_synth_then_check(tmp_path, capsys):
    root = tmp_path / "tree"
    code, _, err = run(
        capsys,
        "-q",
        "synth",
        str(root),
        "--train",
        "3",
        "--val",
        "2",
        "--test",
        "1",
        "--size",
        "64x128",
    )
    assert code == 0 and err == ""
    code, out, _ = run(capsys, "-q", "check", str(root))
    assert code == 0
    assert (
        "train     3 imagens" in out
        and "val       2 imagens" in out
        and "nenhum problema encontrado" in out
    )
    assert "128x64: 6" in out


def test_check_lists_every_problem_and_exits_2(tmp_path, capsys):
    root = tmp_path / "tree"
    assert (
        run(
            capsys,
            "-q",
            "synth",
            str(root),
            "--train",
            "3",
            "--val",
            "1",
            "--test",
            "0",
            "--size",
            "64x128",
        )[0]
        == 0
    )
    labels = sorted((root / "gtFine/train").glob("*/*_labelIds.png"))
    labels[0].unlink()
    Image.fromarray(np.full((64, 128), 99, np.uint8)).save(labels[1])
    labels[2].write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    code, out, err = run(capsys, "-q", "check", str(root))
    assert code == 2
    assert "3 problema(s)" in out
    assert labels[0].name.replace("_gtFine_labelIds.png", "") in out
    assert "ids de rótulo 99 fora de 0..33" in out and "não é um PNG válido" in out
    assert err.strip().startswith("urbanseg: erro:") and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize(
    "argv, fault",
    [
        (["check", "{tmp}/missing"], "{tmp}/missing: pasta raiz do Cityscapes não encontrada"),
        (["synth", "{tmp}/x", "--size", "16x16"], "size=16x16"),
    ],
)
def test_bad_input_is_one_line_and_status_2(tmp_path, capsys, argv, fault):
    code, _, err = run(capsys, "-q", *[a.format(tmp=tmp_path) for a in argv])
    assert code == 2
    assert err.strip().startswith(f"urbanseg: erro: {fault.format(tmp=tmp_path)}")
    assert len(err.strip().splitlines()) == 1


def test_synth_refuses_a_non_empty_folder_and_keeps_it(tmp_path, capsys):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("keep me")
    code, _, err = run(capsys, "-q", "synth", str(out))
    assert code == 2 and "já existe e não está vazio" in err
    assert [p.name for p in out.iterdir()] == ["notes.txt"]
    assert [p.name for p in tmp_path.iterdir()] == ["mine"]  # no staging folder left behind


def test_console_script_help_lists_the_commands():
    result = subprocess.run(
        [sys.executable, "-m", "urbanseg.cli", "--help"], capture_output=True, text=True, check=True
    )
    for command in ("synth", "check", "evaluate", "run", "report", "predict"):
        assert command in result.stdout


def test_quiet_is_accepted_before_or_after_the_command():
    from urbanseg.cli import build_parser

    parser = build_parser()
    assert parser.parse_args(["check", "x"]).quiet is False
    assert parser.parse_args(["-q", "check", "x"]).quiet is True
    assert parser.parse_args(["check", "x", "-q"]).quiet is True
    assert parser.parse_args(["run", "unet", "--quiet"]).quiet is True


def test_the_readme_synopsis_matches_the_parser():
    """Every option the README's command-line synopsis shows exists for its command."""
    import re
    from pathlib import Path

    from urbanseg.cli import build_parser

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    block = readme.split("## Linha de comando\n\n```\n", 1)[1].split("```", 1)[0]
    commands = build_parser()._subparsers._group_actions[0].choices
    checked, command = 0, None
    for line in block.splitlines():
        words = line.split("#", 1)[0].split()
        if words[:1] == ["urbanseg"]:
            command = commands[words[1]]
        known = {option for action in command._actions for option in action.option_strings}
        for option in re.findall(r"(?<![\w-])(--?[a-z][\w-]*)", " ".join(words)):
            assert option in known, f"{line.strip()}: {option} is not an option of the command"
            checked += 1
    assert checked >= 25 and len(commands) == 13


def test_bare_urbanseg_shows_the_commands(capsys):
    from urbanseg.cli import main

    assert main([]) == 0
    out = capsys.readouterr().out
    assert out.startswith("uso: urbanseg") and "evaluate" in out and "report" in out
    assert "\nopções:\n" in out and "mostra esta ajuda e sai" in out and "usage" not in out


def test_argparse_errors_are_portuguese_too(capsys):
    from urbanseg.cli import main

    for argv, message in [
        (["run", "--jobs", "x"], "urbanseg run: erro: argumento --jobs: valor int inválido: 'x'"),
        (["evaluate"], "urbanseg evaluate: erro: faltam argumentos obrigatórios: --root, --pred"),
        (
            ["synth", "x", "--size", "3"],
            "urbanseg synth: erro: argumento --size: '3': esperado HxW",
        ),
    ]:
        with pytest.raises(SystemExit) as raised:
            main(argv)
        err = capsys.readouterr().err
        assert raised.value.code == 2 and err.startswith("uso: urbanseg ")
        assert err.splitlines()[-1].startswith(message), err


def test_report_prints_its_files_and_no_tensorflow_start_up_notices(tmp_path):
    from fakes import make_results

    results, _ = make_results(tmp_path, failed=())
    report = ["report", "--results", str(results), "--out", str(tmp_path / "report"), "--no-pdf"]
    result = subprocess.run(
        [sys.executable, "-m", "urbanseg.cli", *report],
        capture_output=True,
        text=True,
        check=True,
    )
    printed = (result.stdout + result.stderr).splitlines()
    assert printed[-1] == f"gravado: {tmp_path / 'report' / 'relatorio.html'}"
    assert not [line for line in printed if "oneDNN" in line or "absl" in line]
