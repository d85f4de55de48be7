"""What ``urbanseg run`` checks before any notebook starts, so that a mistake is one line and
exit status 2 at once rather than a failed run an hour later: the results folder is not among
the project's code, the seeds are integers, every data root is a Cityscapes tree with train and
val (and held-out cities where a run selects on them), every weights file exists; and a warning
when a run's size is beyond its images'."""

from __future__ import annotations

import contextlib
import logging
import re
from collections.abc import Iterable
from pathlib import Path

from .config import RunConfig
from .errors import InputError

logger = logging.getLogger(__name__)


def check_results_dir(results_dir: str, notebooks_dir: Path) -> None:
    """InputError for a results folder inside the project's code (``-p results_dir notebooks``
    would write runs among the notebooks)."""
    from . import resources

    target = Path(results_dir).expanduser().resolve()
    code = [notebooks_dir, Path("notebooks"), Path("lib"), Path("templates")]
    code.append(Path(__file__).parent)  # the package itself
    for shipped in (resources.notebooks_dir, resources.templates_dir):
        with contextlib.suppress(InputError):
            code.append(shipped())
    here = Path.cwd().resolve()
    for folder in code:
        if not folder.is_dir():
            continue
        folder = folder.resolve()
        if folder == here or folder in here.parents:  # notebooks in the working folder itself
            continue
        if target == folder or folder in target.parents:
            raise InputError(
                f"results_dir={results_dir!r}: fica dentro de {folder} (código do projeto); "
                "escolha outra pasta, ex.: results"
            )


def check_inputs(configs: list[RunConfig], *, remote: bool) -> None:
    """What the notebooks will read, checked before any of them starts: every data root is a
    Cityscapes tree with train and val images paired with their labels (``data.find_samples``,
    what the notebooks call), and every ``backbone_weights`` file exists. On a cluster
    (``remote``), a path that does not exist here may exist on the workers: a warning."""
    from PIL import Image

    from .data import find_samples, holdout_split, upscaling_warning
    from .synth import DEFAULT_SIZE, default_dataset_root

    roots: dict[str, bool] = {}  # root: whether some run selects on held-out cities
    originals: dict[str | None, tuple[int, int]] = {None: DEFAULT_SIZE}  # root: images' (H, W)
    for config in configs:
        if config.data_root is not None:
            holdout = roots.get(config.data_root, False) or config.selection == "holdout"
            roots[config.data_root] = holdout
    for root, holdout in roots.items():
        path = Path(root).expanduser()
        if remote and not path.exists():
            logger.warning(
                "data_root %s não existe aqui: os workers do cluster precisam dela", root
            )
            continue
        train = find_samples(path, "train")
        find_samples(path, "val")
        if holdout:
            holdout_split(train)
        try:
            with Image.open(train[0].image) as image:  # the header only
                originals[root] = (image.height, image.width)
        except OSError:  # not an image: the run's reader names it (urbanseg check finds it)
            pass
    sizes = dict.fromkeys((c.data_root, (c.image_height, c.image_width)) for c in configs)
    for root, size in sizes:  # once each, in the runs' order
        if root in originals:
            warning = upscaling_warning(size, originals[root], root or default_dataset_root())
            if warning:
                logger.warning("%s", warning)
    weights = {c.backbone_weights for c in configs} - {None, "imagenet"}
    for name in sorted(weights):
        if Path(name).is_file():
            continue
        if remote and not Path(name).exists():
            logger.warning("backbone_weights %s não existe aqui: os workers precisam dele", name)
            continue
        raise InputError(
            f"backbone_weights={name!r}: arquivo de pesos não encontrado "
            "(passe o caminho de um arquivo, 'imagenet' ou None)"
        )


def check_seeds(seeds: Iterable[int]) -> list[int]:
    checked = []
    for seed in seeds:
        try:
            checked.append(RunConfig.from_dict({"seed": seed}).seed)
        except InputError as error:
            number = re.fullmatch(r"-?\d+", str(seed).strip())
            reason = str(error).split(": ", 1)[-1] if number else "esperado um número inteiro"
            raise InputError(f"semente {seed!r}: {reason}") from None
    if not checked:
        raise InputError("--seeds: passe pelo menos uma semente, ex.: --seeds 0 1 2")
    return list(dict.fromkeys(checked))
