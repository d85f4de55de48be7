"""The ``urbanseg`` command line. Every command exits 0 on success and 2 on bad input, with a
one-line message naming the file or value at fault (never a bare traceback)."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

from . import __version__
from .errors import InputError

log = logging.getLogger("urbanseg")


def _size(text: str) -> tuple[int, int]:
    try:
        height, width = (int(part) for part in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: expected HxW, e.g. 256x512") from None
    return height, width


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text!r}: expected a count >= 0")
    return value


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
        raise InputError(f"{args.root}: {len(report.problems)} problem(s) found (listed above)")
    return 0


def cmd_evaluate(args) -> int:
    from .evaluation import evaluate_predictions, format_table, write_json

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
        print(f"wrote {args.json}")
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
    )
    print(summary.format())
    results_dir = Path(args.results or parameters.get("results_dir") or "results")
    if results_dir.is_dir():  # every model's results in one table (the report writes it too)
        try:
            print(f"summary of all runs: {write_summary(load_records(results_dir), results_dir)}")
        except InputError as error:  # a malformed old result must not hide this run's outcome
            log.warning("no summary.csv: %s", error)
    return summary.exit_code


def cmd_report(args) -> int:
    from .report import render_report

    summary = Path(args.results) / "summary.csv"
    before = summary.read_bytes() if summary.is_file() else None
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
        print(f"wrote {paths['summary']}")
    if notebooks:  # one line for the folder, not one per run
        plural = "s" if len(notebooks) > 1 else ""
        print(f"wrote {len(notebooks)} executed notebook{plural} (HTML) to {notebooks[0].parent}")
    for key in ("html", "pdf"):
        if key in paths:
            print(f"wrote {paths[key]}")
    return 0


def cmd_notebooks(args) -> int:
    from .resources import copy_notebooks

    written = copy_notebooks(args.out)
    print(f"copied {len(written)} notebooks to {args.out}: {', '.join(p.name for p in written)}")
    return 0


def cmd_new_model(args) -> int:
    from .notebooks import new_model

    path = new_model(args.name, args.notebooks)
    print(
        f"created {path}: write your model in build_my_model and describe it in model_info, "
        f"then run it with: urbanseg run {args.name}"
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
    print(f"wrote {path}: {len(manifest['files'])} files, {len(manifest['runs'])} runs")
    print(f"data fingerprint: {', '.join(prints)}")
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
    print(f"wrote {html_path} and {csv_path}")
    return 0


def cmd_predict(args) -> int:
    from .inference import predict_split

    count = predict_split(args.run, args.root, args.split, args.out, progress=not args.quiet)
    print(f"wrote {count} labelIds PNGs to {args.out}")
    return 0


def _run_epilog() -> str:
    """The models this run would find and every parameter with its default, then examples."""
    import textwrap

    from .config import RunConfig
    from .notebooks import default_notebooks_dir, discover_notebooks

    try:
        models = ", ".join(discover_notebooks(default_notebooks_dir())) or "none found"
    except (InputError, OSError):
        models = "none found"
    defaults = RunConfig().to_dict()
    parameters = ", ".join(f"{name}={value!r}" for name, value in defaults.items())
    wrap = textwrap.TextWrapper(width=96, initial_indent="  ", subsequent_indent="  ")
    return "\n".join(
        [
            "models (notebooks/MODEL.ipynb, or the installed ones):",
            wrap.fill(models),
            "parameters (-p NAME VALUE; see lib/urbanseg/config.py for what each does):",
            wrap.fill(parameters),
            "examples:",
            "  urbanseg run                                  # every model, the synthetic data",
            "  urbanseg run unet fcn -p epochs 20 --seeds 0 1 2",
            "  urbanseg run --root /data/cityscapes -f paper # the papers' recipe",
            "  urbanseg run -v segnet                        # the notebook's whole output",
        ]
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="urbanseg",
        description="Comparative semantic-segmentation studies on Cityscapes.",
        epilog="Run 'urbanseg COMMAND --help' for the options of a command.",
    )
    parser.add_argument("--version", action="version", version=f"urbanseg {__version__}")
    parser.add_argument(
        "-q", "--quiet", action="store_true", help="no progress bars or info messages"
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = commands.add_parser("synth", help="generate a synthetic Cityscapes-format data set")
    p.add_argument("out", type=Path, help="folder to create (must not exist or be empty)")
    p.add_argument("--train", type=_count, default=128, help="train images (default 128)")
    p.add_argument("--val", type=_count, default=24, help="val images (default 24)")
    p.add_argument("--test", type=_count, default=8, help="test images (default 8)")
    p.add_argument(
        "--size", type=_size, default=(256, 512), metavar="HxW", help="image size (default 256x512)"
    )
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.set_defaults(func=cmd_synth)

    p = commands.add_parser("check", help="validate a Cityscapes tree; counts per split and city")
    p.add_argument("root", type=Path, help="Cityscapes root (with leftImg8bit/ and gtFine/)")
    p.add_argument("--quick", action="store_true", help="check names and pairs only, decode no PNG")
    p.set_defaults(func=cmd_check)

    p = commands.add_parser(
        "evaluate", help="score official-format predictions like cityscapesScripts"
    )
    p.add_argument("--root", type=Path, required=True, help="Cityscapes root with the ground truth")
    p.add_argument(
        "--pred", type=Path, required=True, help="folder of labelIds PNGs, one per image"
    )
    p.add_argument(
        "--split", default="val", choices=("train", "val"), help="split to score (default val)"
    )
    p.add_argument("--json", type=Path, help="also write the metrics to this JSON file")
    p.add_argument("--no-instances", action="store_true", help="skip the instance-level iIoU")
    p.add_argument(
        "--threads",
        "--jobs",
        dest="jobs",
        type=int,
        default=None,
        metavar="N",
        help="threads decoding the PNGs (default: one per core)",
    )
    p.set_defaults(func=cmd_evaluate)

    p = commands.add_parser(
        "run",
        help="run model notebooks with papermill (default: all)",
        epilog=_run_epilog(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "models",
        nargs="*",
        metavar="MODEL",
        help="notebooks/MODEL.ipynb to run (default: every notebook)",
    )
    p.add_argument(
        "--root",
        help="Cityscapes root, the data_root parameter (default: the embedded synthetic tree)",
    )
    p.add_argument("--results", metavar="DIR", help="results folder (default: results)")
    p.add_argument(
        "-p",
        "--parameter",
        dest="parameters",
        nargs=2,
        action="append",
        default=[],
        metavar=("NAME", "VALUE"),
        help="set a notebook parameter (repeatable)",
    )
    p.add_argument(
        "-f",
        "--parameters-file",
        dest="params_file",
        metavar="PARAMS.yaml",
        help="notebook parameters from a YAML mapping (-p wins); a name without a file, such "
        "as 'paper', is a study shipped with urbanseg (studies/paper.yaml: the papers' recipe)",
    )
    p.add_argument(
        "--seeds",
        nargs="+",
        type=int,
        metavar="K",
        help="run every model once per seed, into RESULTS/MODEL/seed-K/ (default: one run, "
        "with the seed parameter)",
    )
    p.add_argument("--jobs", type=int, default=1, help="notebooks run at once (default 1)")
    p.add_argument(
        "--force",
        action="store_true",
        help="rerun models whose results are complete for these parameters",
    )
    p.add_argument(
        "--notebooks",
        default=None,
        metavar="DIR",
        help="notebooks folder "
        "(default: ./notebooks if it exists, else the notebooks installed with urbanseg)",
    )
    p.add_argument(
        "--timeout", type=int, default=None, help="per-cell time limit in seconds (default: none)"
    )
    p.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="stream each notebook's whole output (also kept in RESULTS/MODEL/seed-K/run.log) "
        "instead of a progress bar",
    )
    p.set_defaults(func=cmd_run)

    p = commands.add_parser("report", help="render the comparative HTML/PDF report")
    p.add_argument("--results", default="results", help="results folder (default results/)")
    p.add_argument("--out", default="report", help="output folder (default report/)")
    p.add_argument("--lang", default="pt", choices=("pt", "en"), help="language (default pt)")
    p.add_argument("--no-pdf", action="store_true", help="HTML only")
    p.add_argument(
        "--root",
        "--data-root",
        dest="data_root",
        default=None,
        help="Cityscapes root of the sample images, when it has moved since the runs (default: "
        "the root recorded in each metrics.json)",
    )
    for field, example in (("author", "Ana Souza"), ("group", "G3"), ("course", "Visão 2026")):
        p.add_argument(
            f"--{field}",
            default=None,
            help=f"the study's {field}, on the cover and in the metadata, e.g. {example!r} "
            "(default: RESULTS/study.yaml's, else none)",
        )
    p.set_defaults(func=cmd_report)

    p = commands.add_parser("notebooks", help="copy the model notebooks out (pip/Colab installs)")
    p.add_argument("out", type=Path, metavar="DIR", help="folder to copy them into")
    p.set_defaults(func=cmd_notebooks)

    p = commands.add_parser(
        "new-model", help="start a model of your own: NOTEBOOKS/NAME.ipynb from the template"
    )
    p.add_argument("name", metavar="NAME", help="the model's name: lowercase, digits and _")
    p.add_argument(
        "--notebooks",
        default="notebooks",
        metavar="DIR",
        help="notebooks folder (default notebooks)",
    )
    p.set_defaults(func=cmd_new_model)

    p = commands.add_parser(
        "validate",
        help="check a model notebook in a minute: parameters, model_info, a one-step run on "
        "two synthetic images, its result record (exit 2 if a problem is found)",
    )
    p.add_argument("notebook", type=Path, metavar="NOTEBOOK", help="notebooks/NAME.ipynb")
    p.add_argument(
        "--keep", type=Path, metavar="DIR", help="keep the tiny run (data, executed notebook) here"
    )
    p.set_defaults(func=cmd_validate)

    p = commands.add_parser(
        "bundle", help="one zip of the study to hand in: report, notebooks, records, manifest"
    )
    p.add_argument("--results", default="results", help="results folder (default results/)")
    p.add_argument("--report", default="report", help="report folder (default report/)")
    p.add_argument(
        "-o", "--out", default="submission.zip", help="the zip to write (default submission.zip)"
    )
    for field in ("author", "group", "course"):
        p.add_argument(
            f"--{field}", default=None, help=f"the study's {field} (default: RESULTS/study.yaml's)"
        )
    p.add_argument(
        "--predict",
        metavar="SPLIT",
        default=None,
        help="also each run's official-format predictions of SPLIT, for a teacher's leaderboard",
    )
    p.add_argument(
        "--root", default=None, help="the data set to predict (default: each run's recorded one)"
    )
    p.set_defaults(func=cmd_bundle)

    p = commands.add_parser(
        "verify",
        help="check a bundle: hashes, notebooks, records against their matrices, the report's "
        "table (exit 1 if a problem is found)",
    )
    p.add_argument("bundle", type=Path, metavar="BUNDLE.zip", help="a zip from urbanseg bundle")
    p.add_argument(
        "--expect-fingerprint",
        default=None,
        metavar="HASH",
        help="the validation set every run must have been scored on (urbanseg bundle prints it)",
    )
    p.set_defaults(func=cmd_verify)

    p = commands.add_parser(
        "rerun",
        help="run a bundle's notebooks again with their recorded parameters and list every "
        "metric that moved (exit 1 if one did)",
    )
    p.add_argument("bundle", type=Path, metavar="BUNDLE.zip", help="a zip from urbanseg bundle")
    p.add_argument(
        "--root", default=None, help="Cityscapes root to use instead of the recorded one"
    )
    p.add_argument(
        "--tolerance",
        type=float,
        default=0.005,
        help="largest change of a score (0..1) that counts as the same (default 0.005)",
    )
    p.set_defaults(func=cmd_rerun)

    p = commands.add_parser(
        "leaderboard",
        help="rank bundles by their predictions of a split whose labels only you have",
    )
    p.add_argument("bundles", nargs="+", type=Path, metavar="BUNDLE.zip")
    p.add_argument(
        "--gt", required=True, type=Path, metavar="ROOT", help="Cityscapes root with the labels"
    )
    p.add_argument(
        "--split", required=True, help="the split to score: any folder under ROOT/gtFine/"
    )
    p.add_argument(
        "-o",
        "--out",
        default="leaderboard.html",
        help="HTML table; a .csv beside it (default leaderboard.html)",
    )
    p.set_defaults(func=cmd_leaderboard)

    p = commands.add_parser(
        "predict", help="write official-format labelIds PNGs of a trained model"
    )
    p.add_argument("run", type=Path, metavar="RESULTS/MODEL", help="a model's results folder")
    p.add_argument("--root", type=Path, required=True, help="Cityscapes root")
    p.add_argument("--split", required=True, choices=("val", "test"), help="split to predict")
    p.add_argument("--out", type=Path, required=True, help="output folder")
    p.set_defaults(func=cmd_predict)
    for command in commands.choices.values():  # -q after the command works too
        command.add_argument(
            "-q",
            "--quiet",
            action="store_true",
            default=argparse.SUPPRESS,
            help="no progress bars or info messages",
        )
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
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
        print(f"urbanseg: error: {error}", file=sys.stderr)
        return 2
    except ModuleNotFoundError as error:
        if error.name != "tensorflow":
            raise
        print(
            "urbanseg: error: TensorFlow is not installed (the input pipeline needs it): "
            "pip install 'urbanseg[cpu]', or 'urbanseg[gpu]' for CUDA",
            file=sys.stderr,
        )
        return 2
    except KeyboardInterrupt:
        print("urbanseg: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
