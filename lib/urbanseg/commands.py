"""What each ``urbanseg`` subcommand does, given its parsed arguments: each returns the exit
status (0, or 1 where a check found a problem) and raises InputError for bad input, which
urbanseg.cli.main turns into one line and status 2."""

from __future__ import annotations

import logging
from pathlib import Path

from .errors import InputError

log = logging.getLogger("urbanseg")


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
    from .resources import parameters_file
    from .results_folder import load_records
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
