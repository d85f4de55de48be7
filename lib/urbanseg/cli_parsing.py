"""argparse for ``urbanseg``, in Portuguese: its own words (usage, group titles, -h, error
messages), placeholders as the README writes them, and the types of the command line's values
(sizes, counts, data roots). urbanseg.cli builds the parser with these."""

from __future__ import annotations

import argparse
import re
import sys

from .errors import InputError


def _size(text: str) -> tuple[int, int]:
    try:
        height, width = (int(part) for part in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r}: esperado HxW (altura x largura), ex.: 256x512"
        ) from None
    return height, width


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text!r}: esperado um inteiro >= 0")
    return value


def _root(option: str, *, kind=str, synthetic: bool = False):
    """The argparse type of a data-root option: the text as ``kind``, or InputError for an
    empty one, which is what `--root $DATA` gives when DATA is unset (never the synthetic tree:
    that is what leaving the option out means, where ``synthetic``)."""

    def parse(text: str):
        if not text.strip():
            hint = f", ou omita {option} para a árvore sintética" if synthetic else ""
            raise InputError(
                f"{option} {text!r}: caminho vazio (uma variável como $DATA não definida?); "
                f"passe a raiz do Cityscapes{hint}"
            )
        return kind(text)

    return parse


# --- argparse's own words in Portuguese ----------------------------------------------------------

# argparse's messages (Python 3.10 to 3.13) and their Portuguese; anything else is left as is.
_ARGPARSE_MESSAGES = (
    (r"^argument (\S+): ", r"argumento \1: "),
    (r"the following arguments are required: ", "faltam argumentos obrigatórios: "),
    (r"unrecognized arguments: ", "argumentos não reconhecidos: "),
    (r"invalid choice: (.*) \(choose from (.*)\)$", r"escolha inválida: \1 (opções: \2)"),
    (r"invalid (\w+) value: ", r"valor \1 inválido: "),
    (r"expected one argument$", "esperado um argumento"),
    (r"expected at least one argument$", "esperado pelo menos um argumento"),
    (r"expected at most one argument$", "esperado no máximo um argumento"),
    (r"expected (\d+) arguments?$", r"esperados \1 argumentos"),
    (r"ambiguous option: (\S+) could match (.*)$", r"opção ambígua: \1 pode ser \2"),
)


def _portuguese(message: str) -> str:
    """An argparse error message in Portuguese, as far as _ARGPARSE_MESSAGES knows it."""
    for pattern, replacement in _ARGPARSE_MESSAGES:
        message = re.sub(pattern, replacement, message, count=1)
    return message


# The placeholders argparse would make of an option's name (--root ROOT), as the README has them.
_METAVARS = {
    "root": "RAIZ",
    "data_root": "RAIZ",
    "gt": "RAIZ",
    "out": "PASTA",
    "results": "PASTA",
    "report": "PASTA",
    "pred": "PASTA",
    "json": "ARQ.json",
    "jobs": "N",
    "threads": "N",
    "train": "N",
    "val": "N",
    "test": "N",
    "seed": "S",
    "timeout": "SEGUNDOS",
    "author": "NOME",
    "group": "GRUPO",
    "course": "CURSO",
    "tolerance": "TOL",
    "cluster": "ENDEREÇO",
    "cluster_config": "ARQ.yaml",
}


class _HelpFormatter(argparse.HelpFormatter):
    """argparse's help with "uso:" for "usage:" and Portuguese placeholders (_METAVARS)."""

    def add_usage(self, usage, actions, groups, prefix=None):
        super().add_usage(usage, actions, groups, "uso: " if prefix is None else prefix)

    def _get_default_metavar_for_optional(self, action):
        return _METAVARS.get(action.dest, action.dest.upper())

    def _get_default_metavar_for_positional(self, action):
        return _METAVARS.get(action.dest, action.dest)


class _RawEpilogFormatter(_HelpFormatter, argparse.RawDescriptionHelpFormatter):
    """The same, with the epilog printed as written (urbanseg run's lists and examples)."""


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose own words (usage, group titles, -h, errors) are Portuguese. The
    subparsers are built by the same class (add_subparsers uses the parser's type)."""

    def __init__(self, *args, add_help: bool = True, **kwargs):
        kwargs.setdefault("formatter_class", _HelpFormatter)
        super().__init__(*args, add_help=False, **kwargs)
        self._positionals.title = "argumentos"
        self._optionals.title = "opções"
        if add_help:
            self.add_argument(
                "-h",
                "--help",
                action="help",
                default=argparse.SUPPRESS,
                help="mostra esta ajuda e sai",
            )

    def error(self, message: str):
        self.print_usage(sys.stderr)
        self.exit(2, f"{self.prog}: erro: {_portuguese(message)}\n")
