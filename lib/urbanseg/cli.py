"""The ``urbanseg`` command line. Every command exits 0 on success and 2 on bad input, with a
one-line message naming the file or value at fault (never a bare traceback)."""

from __future__ import annotations

import argparse
import logging
import os
import re
import sys
from pathlib import Path

from . import __version__
from .errors import InputError

log = logging.getLogger("urbanseg")


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


def cmd_synth(args) -> int:
    from .synth import generate

    generate(
        args.out,
        train=args.train,
        val=args.val,
        test=args.test,
        size=args.size,
        seed=args.seed,
        progress=not args.quiet,
    )
    return 0


def cmd_check(args) -> int:
    from .check import check_tree, format_report

    report = check_tree(args.root, decode=not args.quick, progress=not args.quiet)
    print(format_report(report))
    if report.problems:
        count = len(report.problems)
        raise InputError(f"{args.root}: {count} problema(s) encontrado(s) (listados acima)")
    return 0


def cmd_evaluate(args) -> int:
    from .evaluation import check_json_path, evaluate_predictions, format_table, write_json

    if args.json:
        check_json_path(args.json)  # a typo costs no evaluation
    metrics = evaluate_predictions(
        args.root,
        args.pred,
        args.split,
        instances=not args.no_instances,
        jobs=args.jobs,
        progress=not args.quiet,
    )
    print(format_table(metrics))
    if args.json:
        write_json(metrics, args.json)
        print(f"gravado: {args.json}")
    return 0


def cmd_run(args) -> int:
    """Parameters from -f, then -p, then --root/--results; prints the summary and returns 0, or
    1 if a model failed. Bad parameters raise InputError (status 2) before anything runs."""
    from .config import load_parameters_file
    from .records import load_records
    from .resources import parameters_file
    from .runner import logger as runner_log
    from .runner import run_models
    from .summary import write_summary

    if args.cluster is None and (args.cluster_config or args.shared_results or args.without_models):
        raise InputError("--cluster-config, --shared-results e --without-models pedem --cluster")
    if args.cluster is not None and args.jobs != 1:
        log.warning("--jobs %d ignorado com --cluster: cada worker roda uma execução", args.jobs)
    parameters = load_parameters_file(parameters_file(args.params_file)) if args.params_file else {}
    parameters.update(dict(args.parameters))  # RunConfig checks and converts the text
    if args.root is not None:
        parameters["data_root"] = args.root
    if runner_log.level == logging.NOTSET:  # one line per model, even with -q
        runner_log.setLevel(logging.INFO)
    summary = run_models(
        args.models or None,
        results_dir=args.results,
        parameters=parameters,
        seeds=args.seeds,
        jobs=args.jobs,
        force=args.force,
        notebooks_dir=args.notebooks,
        timeout=args.timeout,
        progress=not args.quiet,
        verbose=args.verbose,
        cluster=args.cluster,
        cluster_config=args.cluster_config,
        shared_results=args.shared_results,
        keep_models=not args.without_models,
    )
    print(summary.format())
    results_dir = Path(args.results or parameters.get("results_dir") or "results")
    if results_dir.is_dir():  # every model's results in one table (the report writes it too)
        try:
            written = write_summary(load_records(results_dir, tolerant=True), results_dir)
            print(f"resumo de todas as execuções: {written}")
        except InputError as error:  # a malformed old result must not hide this run's outcome
            log.warning("sem summary.csv: %s", error)
        except OSError as error:  # a full disk: the runs are in place, only the table is not
            log.warning("sem summary.csv: %s: %s", error.filename or results_dir, error.strerror)
    return summary.exit_code


def cmd_report(args) -> int:
    from .report import render_report

    summary = Path(args.results) / "summary.csv"
    try:  # render_report says what is wrong with --results (a file, an unwritable place)
        before = summary.read_bytes()
    except OSError:
        before = None
    identity = {"author": args.author, "group": args.group, "course": args.course}
    paths = render_report(
        args.results,
        args.out,
        lang=args.lang,
        pdf=not args.no_pdf,
        data_root=args.data_root,
        identity=identity,
    )
    notebooks = [path for key, path in paths.items() if key not in ("summary", "html", "pdf")]
    if paths["summary"].read_bytes() != before:  # urbanseg run has listed it otherwise
        print(f"gravado: {paths['summary']}")
    if notebooks:  # one line for the folder, not one per run
        if len(notebooks) > 1:
            what = f"gravados: {len(notebooks)} notebooks executados"
        else:
            what = "gravado: 1 notebook executado"
        print(f"{what} (HTML) em {notebooks[0].parent}")
    for key in ("html", "pdf"):
        if key in paths:
            print(f"gravado: {paths[key]}")
    return 0


def cmd_notebooks(args) -> int:
    from .resources import copy_notebooks

    written = copy_notebooks(args.out)
    names = ", ".join(p.name for p in written)
    print(f"{len(written)} notebooks copiados para {args.out}: {names}")
    return 0


def cmd_new_model(args) -> int:
    from .notebooks import new_model

    path = new_model(args.name, args.notebooks)
    print(
        f"criado: {path}. Escreva o modelo em build_my_model e descreva-o em model_info; "
        f"depois, execute-o com: urbanseg run {args.name}"
    )
    return 0


def cmd_validate(args) -> int:
    from .validate import validate_notebook

    result = validate_notebook(args.notebook, keep=args.keep)
    print(result.format())
    return 0 if result.ok else 2


def cmd_bundle(args) -> int:
    from .bundle import make_bundle

    identity = {"author": args.author, "group": args.group, "course": args.course}
    path, manifest = make_bundle(
        args.results,
        args.report,
        args.out,
        identity=identity,
        predict=args.predict,
        root=args.root,
        progress=not args.quiet,
    )
    prints = sorted({str(run["data_fingerprint"]) for run in manifest["runs"]})
    print(f"gravado: {path} ({len(manifest['files'])} arquivos, {len(manifest['runs'])} execuções)")
    print(f"impressão digital dos dados: {', '.join(prints)}")
    return 0


def cmd_verify(args) -> int:
    from .bundle import verify_bundle

    result = verify_bundle(args.bundle, expect_fingerprint=args.expect_fingerprint)
    print(result.format())
    return 0 if result.ok else 1


def cmd_rerun(args) -> int:
    from .grading import rerun_bundle

    result = rerun_bundle(
        args.bundle, root=args.root, tolerance=args.tolerance, progress=not args.quiet
    )
    print(result.format())
    return 0 if result.ok else 1


def cmd_leaderboard(args) -> int:
    from .grading import leaderboard, write_leaderboard

    table = leaderboard(args.bundles, args.gt, args.split, progress=not args.quiet)
    html_path, csv_path = write_leaderboard(table, args.out, args.split)
    shown = table[["rank", "bundle", "model", "miou_mean", "verification", "error"]]
    print(shown.to_string(index=False, na_rep=""))
    print(f"gravados: {html_path} e {csv_path}")
    return 0


def cmd_predict(args) -> int:
    from .inference import predict_split

    count = predict_split(args.run, args.root, args.split, args.out, progress=not args.quiet)
    print(f"{'gravado' if count == 1 else 'gravados'}: {count} PNGs labelIds em {args.out}")
    return 0


def _run_epilog() -> str:
    """The models this run would find and every parameter with its default, then examples."""
    import textwrap

    from .config import RunConfig
    from .notebooks import default_notebooks_dir, discover_notebooks

    try:
        models = ", ".join(discover_notebooks(default_notebooks_dir())) or "nenhum encontrado"
    except (InputError, OSError):
        models = "nenhum encontrado"
    defaults = RunConfig().to_dict()
    parameters = ", ".join(f"{name}={value!r}" for name, value in defaults.items())
    wrap = textwrap.TextWrapper(width=96, initial_indent="  ", subsequent_indent="  ")
    return "\n".join(
        [
            "modelos (notebooks/MODEL.ipynb, ou os instalados):",
            wrap.fill(models),
            "parâmetros (-p NAME VALUE; o que cada um faz: lib/urbanseg/config.py):",
            wrap.fill(parameters),
            "exemplos:",
            "  urbanseg run                                  # todos os modelos, dados sintéticos",
            "  urbanseg run unet fcn -p epochs 20 --seeds 0 1 2",
            "  urbanseg run --root /data/cityscapes -f paper # a receita dos artigos",
            "  urbanseg run -v segnet                        # a saída inteira do notebook",
        ]
    )


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


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="urbanseg",
        description="Estudos comparativos de segmentação semântica no Cityscapes.",
        epilog="Use 'urbanseg COMANDO --help' para ver as opções de um comando.",
    )
    parser.add_argument(
        "--version",
        action="version",
        version=f"urbanseg {__version__}",
        help="mostra a versão e sai",
    )
    quiet = "sem barras de progresso nem mensagens informativas"
    parser.add_argument("-q", "--quiet", action="store_true", help=quiet)
    commands = parser.add_subparsers(dest="command", metavar="COMANDO")

    p = commands.add_parser(
        "synth", help="gera um conjunto de dados sintético no formato Cityscapes"
    )
    p.add_argument("out", type=Path, help="pasta a criar (não pode existir, ou deve estar vazia)")
    p.add_argument("--train", type=_count, default=128, help="imagens do split train (padrão 128)")
    p.add_argument("--val", type=_count, default=24, help="imagens do split val (padrão 24)")
    p.add_argument("--test", type=_count, default=8, help="imagens do split test (padrão 8)")
    p.add_argument(
        "--size",
        type=_size,
        default=(256, 512),
        metavar="AxL",
        help="tamanho das imagens, altura x largura (padrão 256x512)",
    )
    p.add_argument("--seed", type=int, default=0, help="semente aleatória (padrão 0)")
    p.set_defaults(func=cmd_synth)

    p = commands.add_parser(
        "check", help="valida uma árvore Cityscapes; contagens por split e por cidade"
    )
    p.add_argument(
        "root",
        type=_root("RAIZ", kind=Path),
        help="raiz do Cityscapes (com leftImg8bit/ e gtFine/)",
    )
    p.add_argument(
        "--quick", action="store_true", help="confere só nomes e pares, sem decodificar PNG"
    )
    p.set_defaults(func=cmd_check)

    p = commands.add_parser(
        "evaluate", help="pontua predições no formato oficial como o cityscapesScripts"
    )
    p.add_argument(
        "--root",
        type=_root("--root", kind=Path),
        required=True,
        help="raiz do Cityscapes com os rótulos de referência",
    )
    p.add_argument("--pred", type=Path, required=True, help="pasta de PNGs labelIds, um por imagem")
    p.add_argument(
        "--split", default="val", choices=("train", "val"), help="split a pontuar (padrão val)"
    )
    p.add_argument("--json", type=Path, help="grava também as métricas neste arquivo JSON")
    p.add_argument("--no-instances", action="store_true", help="pula o iIoU por instância")
    p.add_argument(
        "--threads",
        "--jobs",
        dest="jobs",
        type=int,
        default=None,
        metavar="N",
        help="threads que decodificam os PNGs (padrão: uma por núcleo)",
    )
    p.set_defaults(func=cmd_evaluate)

    p = commands.add_parser(
        "run",
        help="executa os notebooks dos modelos com o papermill (padrão: todos)",
        epilog=_run_epilog(),
        formatter_class=_RawEpilogFormatter,
    )
    p.add_argument(
        "models",
        nargs="*",
        metavar="MODELO",
        help="notebooks/MODEL.ipynb a executar (padrão: todos os notebooks)",
    )
    p.add_argument(
        "--root",
        type=_root("--root", synthetic=True),
        help="raiz do Cityscapes, o parâmetro data_root (padrão: a árvore sintética embutida)",
    )
    p.add_argument("--results", metavar="PASTA", help="pasta de resultados (padrão: results)")
    p.add_argument(
        "-p",
        "--parameter",
        dest="parameters",
        nargs=2,
        action="append",
        default=[],
        metavar=("NOME", "VALOR"),
        help="define um parâmetro dos notebooks (repetível)",
    )
    p.add_argument(
        "-f",
        "--parameters-file",
        dest="params_file",
        metavar="PARAMS.yaml",
        help="parâmetros dos notebooks tirados de um mapeamento YAML (-p prevalece); um nome sem "
        "arquivo, como 'paper', é um estudo que vem com o urbanseg (studies/paper.yaml: a "
        "receita dos artigos)",
    )
    p.add_argument(
        "--seeds",
        nargs="+",
        type=int,
        metavar="K",
        help="executa cada modelo uma vez por semente, em PASTA/MODELO/seed-K/ (padrão: uma "
        "execução, com o parâmetro seed)",
    )
    p.add_argument(
        "--jobs", type=int, default=1, help="notebooks executados ao mesmo tempo (padrão 1)"
    )
    p.add_argument(
        "--force",
        action="store_true",
        help="executa de novo os modelos cujos resultados estão completos para estes parâmetros",
    )
    p.add_argument(
        "--notebooks",
        default=None,
        metavar="PASTA",
        help="pasta dos notebooks "
        "(padrão: ./notebooks se existir, senão os notebooks instalados com o urbanseg)",
    )
    p.add_argument(
        "--timeout",
        type=int,
        default=None,
        help="limite de tempo por célula, em segundos (padrão: nenhum)",
    )
    cluster = p.add_argument_group('num cluster Dask (README, "Num cluster")')
    cluster.add_argument(
        "--cluster",
        help="executa cada (modelo, semente) como tarefa Dask: o endereço de um scheduler "
        "(tcp://HOST:8786), ou slurm / pbs para iniciar jobs pelo dask-jobqueue",
    )
    cluster.add_argument(
        "--cluster-config",
        type=Path,
        help="o que cada job de slurm / pbs pede: fila, tempo, núcleos, memória, GPUs",
    )
    cluster.add_argument(
        "--shared-results",
        action="store_true",
        help="os workers veem a pasta de resultados no mesmo caminho e gravam nela "
        "(padrão: cada execução volta para esta máquina)",
    )
    cluster.add_argument(
        "--without-models",
        action="store_true",
        help="não traz de volta os arquivos model.keras (predict e bundle precisam deles)",
    )
    p.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="mostra a saída inteira de cada notebook (guardada também em "
        "PASTA/MODELO/seed-K/run.log) em vez de uma barra de progresso",
    )
    p.set_defaults(func=cmd_run)

    # the study's identity: option -> what it is, an example
    identity = {
        "author": ("autor(a) do estudo", "Ana Souza"),
        "group": ("grupo do estudo", "G3"),
        "course": ("disciplina do estudo", "Visão 2026"),
    }

    p = commands.add_parser("report", help="gera o relatório comparativo em HTML/PDF")
    p.add_argument("--results", default="results", help="pasta de resultados (padrão results/)")
    p.add_argument("--out", default="report", help="pasta de saída (padrão report/)")
    p.add_argument("--lang", default="pt", choices=("pt", "en"), help="idioma (padrão pt)")
    p.add_argument("--no-pdf", action="store_true", help="só HTML")
    p.add_argument(
        "--root",
        "--data-root",
        dest="data_root",
        type=_root("--root"),
        default=None,
        help="raiz do Cityscapes das imagens de exemplo, se mudou de lugar desde as execuções "
        "(padrão: a raiz gravada em cada metrics.json)",
    )
    for field, (what, example) in identity.items():
        p.add_argument(
            f"--{field}",
            default=None,
            help=f"{what}, na capa e nos metadados, ex.: {example!r} "
            "(padrão: o valor em PASTA/study.yaml, senão nenhum)",
        )
    p.set_defaults(func=cmd_report)

    p = commands.add_parser(
        "notebooks", help="copia os notebooks dos modelos para fora (instalações pip/Colab)"
    )
    p.add_argument("out", type=Path, metavar="PASTA", help="pasta para onde copiá-los")
    p.set_defaults(func=cmd_notebooks)

    p = commands.add_parser(
        "new-model",
        help="começa um modelo próprio: NOTEBOOKS/NAME.ipynb a partir do modelo-base",
    )
    p.add_argument("name", metavar="NOME", help="o nome do modelo: minúsculas, dígitos e _")
    p.add_argument(
        "--notebooks",
        default="notebooks",
        metavar="PASTA",
        help="pasta dos notebooks (padrão notebooks)",
    )
    p.set_defaults(func=cmd_new_model)

    p = commands.add_parser(
        "validate",
        help="confere um notebook de modelo em um minuto: parâmetros, model_info, uma execução "
        "de um passo em duas imagens sintéticas, o registro do resultado (status 2 se houver "
        "problema)",
    )
    p.add_argument("notebook", type=Path, metavar="NOTEBOOK", help="notebooks/NAME.ipynb")
    p.add_argument(
        "--keep",
        type=Path,
        metavar="PASTA",
        help="guarda aqui a execução mínima (dados, notebook executado)",
    )
    p.set_defaults(func=cmd_validate)

    p = commands.add_parser(
        "bundle",
        help="um zip do estudo para entregar: relatório, notebooks, registros, manifesto",
    )
    p.add_argument("--results", default="results", help="pasta de resultados (padrão results/)")
    p.add_argument("--report", default="report", help="pasta do relatório (padrão report/)")
    p.add_argument(
        "-o",
        "--out",
        default="submission.zip",
        metavar="ARQ.zip",
        help="o zip a gravar (padrão submission.zip)",
    )
    for field, (what, _) in identity.items():
        p.add_argument(
            f"--{field}", default=None, help=f"{what} (padrão: o valor em PASTA/study.yaml)"
        )
    p.add_argument(
        "--predict",
        metavar="SPLIT",
        default=None,
        help="inclui também as predições de cada execução para o SPLIT, no formato oficial, "
        "para o ranking do professor",
    )
    p.add_argument(
        "--root",
        type=_root("--root"),
        default=None,
        help="o conjunto de dados a predizer (padrão: o gravado em cada execução)",
    )
    p.set_defaults(func=cmd_bundle)

    p = commands.add_parser(
        "verify",
        help="confere um pacote: hashes, notebooks, registros contra as suas matrizes, a tabela "
        "do relatório (status 1 se houver problema)",
    )
    p.add_argument("bundle", type=Path, metavar="BUNDLE.zip", help="um zip do urbanseg bundle")
    p.add_argument(
        "--expect-fingerprint",
        default=None,
        metavar="HASH",
        help="o conjunto de validação em que toda execução deve ter sido pontuada (o urbanseg "
        "bundle o mostra)",
    )
    p.set_defaults(func=cmd_verify)

    p = commands.add_parser(
        "rerun",
        help="executa de novo os notebooks de um pacote com os parâmetros gravados e lista toda "
        "métrica que mudou (status 1 se alguma mudou)",
    )
    p.add_argument("bundle", type=Path, metavar="BUNDLE.zip", help="um zip do urbanseg bundle")
    p.add_argument(
        "--root",
        type=_root("--root"),
        default=None,
        help="raiz do Cityscapes a usar no lugar da gravada",
    )
    p.add_argument(
        "--tolerance",
        type=float,
        default=0.005,
        help="maior variação de uma nota (0..1) que ainda conta como igual (padrão 0.005)",
    )
    p.set_defaults(func=cmd_rerun)

    p = commands.add_parser(
        "leaderboard",
        help="ordena pacotes pelas predições de um split cujos rótulos só você tem (o ranking)",
    )
    p.add_argument("bundles", nargs="+", type=Path, metavar="BUNDLE.zip")
    p.add_argument(
        "--gt",
        required=True,
        type=_root("--gt", kind=Path),
        metavar="RAIZ",
        help="raiz do Cityscapes com os rótulos",
    )
    p.add_argument(
        "--split", required=True, help="o split a pontuar: qualquer pasta em ROOT/gtFine/"
    )
    p.add_argument(
        "-o",
        "--out",
        default="leaderboard.html",
        metavar="ARQ.html",
        help="tabela HTML; um .csv ao lado (padrão leaderboard.html)",
    )
    p.set_defaults(func=cmd_leaderboard)

    p = commands.add_parser(
        "predict", help="grava PNGs labelIds no formato oficial a partir de um modelo treinado"
    )
    p.add_argument(
        "run", type=Path, metavar="RESULTADOS/MODELO", help="a pasta de resultados de um modelo"
    )
    p.add_argument(
        "--root", type=_root("--root", kind=Path), required=True, help="raiz do Cityscapes"
    )
    p.add_argument("--split", required=True, choices=("val", "test"), help="split a predizer")
    p.add_argument("--out", type=Path, required=True, help="pasta de saída")
    p.set_defaults(func=cmd_predict)
    for command in commands.choices.values():  # -q after the command works too
        command.add_argument(
            "-q",
            "--quiet",
            action="store_true",
            default=argparse.SUPPRESS,
            help=quiet,
        )
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except InputError as error:  # a value refused as it is read (an empty --root)
        print(f"urbanseg: erro: {error}", file=sys.stderr)
        return 2
    if args.command is None:  # bare `urbanseg`: what it can do
        parser.print_help()
        return 0
    logging.basicConfig(level=logging.WARNING if args.quiet else logging.INFO, format="%(message)s")
    for noisy in ("weasyprint", "fontTools"):  # page-by-page layout messages at INFO
        logging.getLogger(noisy).setLevel(logging.WARNING)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    try:
        return args.func(args)
    except InputError as error:
        print(f"urbanseg: erro: {error}", file=sys.stderr)
        return 2
    except ModuleNotFoundError as error:
        if error.name != "tensorflow":
            raise
        print(
            "urbanseg: erro: o TensorFlow não está instalado (o pipeline de entrada precisa "
            "dele): pip install 'urbanseg[cpu]', ou 'urbanseg[gpu]' para CUDA",
            file=sys.stderr,
        )
        return 2
    except KeyboardInterrupt:
        print("urbanseg: interrompido", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
