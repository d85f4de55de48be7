"""The ``urbanseg`` command line. Every command exits 0 on success and 2 on bad input, with a
one-line message naming the file or value at fault (never a bare traceback)."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

from . import __version__, commands
from .cli_parsing import _count, _Parser, _RawEpilogFormatter, _root, _size
from .errors import InputError


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
    subcommands = parser.add_subparsers(dest="command", metavar="COMANDO")

    p = subcommands.add_parser(
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
    p.set_defaults(func=commands.cmd_synth)

    p = subcommands.add_parser(
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
    p.set_defaults(func=commands.cmd_check)

    p = subcommands.add_parser(
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
    p.set_defaults(func=commands.cmd_evaluate)

    p = subcommands.add_parser(
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
    p.set_defaults(func=commands.cmd_run)

    # the study's identity: option -> what it is, an example
    identity = {
        "author": ("autor(a) do estudo", "Ana Souza"),
        "group": ("grupo do estudo", "G3"),
        "course": ("disciplina do estudo", "Visão 2026"),
    }

    p = subcommands.add_parser("report", help="gera o relatório comparativo em HTML/PDF")
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
    p.set_defaults(func=commands.cmd_report)

    p = subcommands.add_parser(
        "notebooks", help="copia os notebooks dos modelos para fora (instalações pip/Colab)"
    )
    p.add_argument("out", type=Path, metavar="PASTA", help="pasta para onde copiá-los")
    p.set_defaults(func=commands.cmd_notebooks)

    p = subcommands.add_parser(
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
    p.set_defaults(func=commands.cmd_new_model)

    p = subcommands.add_parser(
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
    p.set_defaults(func=commands.cmd_validate)

    p = subcommands.add_parser(
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
    p.set_defaults(func=commands.cmd_bundle)

    p = subcommands.add_parser(
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
    p.set_defaults(func=commands.cmd_verify)

    p = subcommands.add_parser(
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
    p.set_defaults(func=commands.cmd_rerun)

    p = subcommands.add_parser(
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
    p.set_defaults(func=commands.cmd_leaderboard)

    p = subcommands.add_parser(
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
    p.set_defaults(func=commands.cmd_predict)
    for command in subcommands.choices.values():  # -q after the command works too
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
