"""One model's run, step by step, as the notebooks call it.

A notebook is narrative plus these calls::

    run = Experiment("unet", RunConfig.from_dict(parameters))
    run.data_summary(); model = run.build_model(); run.model_summary()
    history = run.train(); metrics = run.evaluate(); run.finish()

Everything lands in ``results/<model>/`` (docs/results.md), each file written atomically;
``metrics.json`` is written last and marks the run complete.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from ._quiet import import_keras

keras = import_keras()

# after the quiet Keras import: these modules import Keras too
from . import catalog, data, models, pipeline
from .atomic import write_atomically
from .config import RunConfig, scale_bounds
from .costs import concurrent_runs, count_flops, measure_forward, peak_gpu_mb, peak_rss_mb
from .environment import environment, gpus
from .errors import InputError
from .inference import evaluate_model
from .labels import CLASS_NAMES, NUM_CLASSES
from .losses import median_frequency_weights
from .metrics import majority_baseline
from .parallel import Replicas, replicas
from .progress import report_stage
from .records import (
    HISTORY_FILE,
    Baseline,
    DataInfo,
    EvaluationInfo,
    PerImage,
    RunRecord,
    Timing,
    TrainingInfo,
)
from .results_folder import run_folder
from .train import (
    choose_precision,
    class_pixel_counts,
    discard_checkpoint,
    fit,
    save_model,
    set_determinism,
)

log = logging.getLogger(__name__)

NUM_SAMPLE_IMAGES = 4


def model_arguments(model_name: str, config: RunConfig) -> tuple[float | None, str | None]:
    """``width`` and ``backbone_weights`` for this model from study-wide parameters.

    Parameters apply to every notebook, so they are read per model: without a ``width``, the
    catalog's CPU-friendly width, or the paper's width (1.0) when pretrained weights are asked
    for (they exist only for it); ``backbone_weights`` is dropped, with a note, for a catalog
    model that has no pretrained backbone (U-Net), instead of failing its notebook.
    """
    info = catalog.model_info(model_name)
    weights = config.backbone_weights
    if weights is not None and model_name in catalog.CATALOG and info.backbone is None:
        log.info(
            "%s não tem backbone pré-treinado: backbone_weights=%r não se aplica",
            model_name,
            weights,
        )
        weights = None
    width = config.width
    if width is None and config.variant == "default":  # the seed variants have their own widths
        width = 1.0 if weights is not None else info.cpu_width
    return width, weights


class Experiment:
    """Data, model, training, evaluation and results of one model under one RunConfig."""

    def __init__(
        self,
        model_name: str,
        config: RunConfig,
        *,
        model_info: dict | None = None,
        progress: bool = True,
        deterministic: bool = False,
    ):
        """``model_info``: how a model outside the catalog describes itself in the report
        (``display_name``, ``description``, ``reference``, ``url``; see urbanseg.catalog)."""
        from .synth import ensure_default_dataset, is_synthetic

        self.model_name, self.config, self.progress = model_name, config, progress
        self.info = catalog.model_info(model_name, model_info)  # checked before anything runs
        self.model_info = dict(model_info or {}) if model_name not in catalog.CATALOG else {}
        # The images are cached at ``size``; the model trains on ``input_size``: crops of them
        # (after a random rescale) when crop_height/crop_width are given, else the whole image.
        self.size = (config.image_height, config.image_width)
        self.input_size = (
            (config.crop_height, config.crop_width) if config.crop_height else self.size
        )
        if config.data_root is None:
            self.root, self.synthetic = ensure_default_dataset(), True
        else:
            self.root = Path(config.data_root).expanduser()
            self.synthetic = is_synthetic(self.root)  # urbanseg synth marks its trees
        set_determinism(config.seed, deterministic)
        self.precision = choose_precision(bool(gpus()))
        # The images do not depend on the seed: every seed and model sees the same ones.
        train = data.find_samples(self.root, "train")
        self.holdout_samples: list[data.Sample] = []
        if config.selection == "holdout":
            train, holdout = data.holdout_split(train)
            self.holdout_samples = data.select_samples(holdout, config.max_val_images, seed=0)
        self.train_samples = data.select_samples(train, config.max_train_images, seed=0)
        self.val_samples = data.select_samples(
            data.find_samples(self.root, "val"), config.max_val_images, seed=0
        )
        if config.batch_size > len(self.train_samples):
            raise InputError(
                f"batch_size={config.batch_size}: maior que as {len(self.train_samples)} imagens "
                f"de treino desta execução; use batch_size <= {len(self.train_samples)}"
            )
        sample_stems = data.select_samples(self.val_samples, NUM_SAMPLE_IMAGES, seed=0)
        self.sample_stems = [s.stem for s in sample_stems]
        # `make lab` runs notebooks in notebooks/: their results go to the project's results/
        project = os.environ.get("URBANSEG_PROJECT_DIR")
        results = Path(project, config.results_dir) if project else Path(config.results_dir)
        self.out = run_folder(results, model_name, config.seed)
        self.model: keras.Model | None = None
        self.history: pd.DataFrame | None = None
        self.metrics: dict | None = None
        self.timing: dict[str, float] = {}
        self.training = TrainingInfo(
            selection=config.selection,
            monitor="holdout" if self.holdout_samples else "val",
            holdout_cities=sorted({s.city for s in self.holdout_samples}),
            monitor_images=len(self.holdout_samples or self.val_samples),
        )
        self._train_data = self._monitor_data = None
        log.info(
            "%s, semente %d: %d imagens de train e %d de val, de %s%s%s",
            model_name,
            config.seed,
            len(self.train_samples),
            len(self.val_samples),
            self.root,
            " (sintético)" if self.synthetic else "",
            f"; melhor época escolhida em {len(self.holdout_samples)} imagens de "
            f"{', '.join(self.training.holdout_cities)} (separadas do train)"
            if self.holdout_samples
            else "",
        )
        warning = data.upscaling_warning(self.size, self.original_size(), self.root)
        if warning:
            log.warning("%s", warning)

    # -- data ---------------------------------------------------------------------------------

    @property
    def monitor_samples(self) -> list[data.Sample]:
        """The images scored after every epoch: the held-out train cities when the best epoch
        is chosen on them, else the val split (for the curves only: nothing is chosen on it)."""
        return self.holdout_samples or self.val_samples

    def datasets(self):
        """The training and monitoring ``tf.data`` pipelines (built once, cached on disk); the
        training batches carry the mask once per model output (auxiliary heads)."""
        if self._train_data is None:
            self._train_data = self.training_batches(first_step=0)
            self._monitor_data = pipeline.make_dataset(  # at the model's input size
                self.monitor_samples,
                self.input_size,
                self.config.batch_size,
                progress=self.progress,
            )
        return self._train_data, self._monitor_data

    def training_batches(self, first_step: int = 0):
        """The training batches from optimizer step ``first_step`` on: the same whether or not
        the run was interrupted before it (``pipeline.make_dataset``), so that a resumed run
        trains as an uninterrupted one."""
        if first_step == 0 and self._train_data is not None:
            return self._train_data
        cfg = self.config
        return pipeline.make_dataset(
            self.train_samples,
            self.size,
            cfg.batch_size,
            training=True,
            seed=cfg.seed,
            augmentation=pipeline.Augmentation(
                scale_range=scale_bounds(cfg.scale_range),
                crop=None if cfg.crop_height is None else self.input_size,
                cat_max_ratio=cfg.cat_max_ratio,
                photometric=cfg.photometric,
            ),
            targets=len(self.model.outputs) if self.model is not None else 1,
            first_step=first_step,
            progress=self.progress,
        )

    def data_summary(self) -> pd.DataFrame:
        """Images per split and city of this run."""
        rows = []
        for split, samples in (("train", self.train_samples), ("val", self.val_samples)):
            for city, count in sorted(Counter(s.city for s in samples).items()):
                rows.append({"split": split, "city": city, "images": count})
        return pd.DataFrame(rows)

    def original_size(self) -> tuple[int, int]:
        """(H, W) of the data set's images (read from a training image's header)."""
        with Image.open(self.train_samples[0].image) as image:
            return image.height, image.width

    def class_frequencies(self) -> dict[str, float]:
        """Fraction of the valid training pixels (at the training size) of each class."""
        counts, _ = self._class_statistics()
        total = max(int(counts.sum()), 1)
        return {name: int(n) / total for name, n in zip(CLASS_NAMES, counts)}

    def _class_statistics(self) -> tuple[np.ndarray, np.ndarray]:
        if not hasattr(self, "_class_stats"):
            _, mask_paths = data.build_cache(self.train_samples, self.size, progress=self.progress)
            self._class_stats = class_pixel_counts(np.asarray(Image.open(p)) for p in mask_paths)
        return self._class_stats

    def training_examples(self, count: int = NUM_SAMPLE_IMAGES) -> tuple[np.ndarray, np.ndarray]:
        """RGB images and train-id masks of a few training images, at the training size."""
        chosen = data.select_samples(self.train_samples, count, seed=0)
        pairs = [data.load_pair(s, self.size) for s in chosen]
        return np.stack([p[0] for p in pairs]), np.stack([p[1] for p in pairs])

    def sample_batch(self, count: int = NUM_SAMPLE_IMAGES) -> tuple[np.ndarray, np.ndarray]:
        """RGB images and train-id masks of the fixed sample val images, at the training size
        (for the figures of the predictions, after :meth:`evaluate`)."""
        chosen = [s for s in self.val_samples if s.stem in self.sample_stems][:count]
        pairs = [data.load_pair(s, self.size) for s in chosen]
        return np.stack([p[0] for p in pairs]), np.stack([p[1] for p in pairs])

    # -- model --------------------------------------------------------------------------------

    def build_model(
        self, builder: Callable[..., keras.Model] | None = None, **options
    ) -> keras.Model:
        """The model of this notebook: ``models.build_model(model_name)``, or ``builder`` for a
        model the library does not know (a student's own notebook), called with the same
        arguments."""
        cfg = self.config
        width, backbone_weights = model_arguments(self.model_name, cfg)
        if width is not None:
            options.setdefault("width", width)
        for option, value, wanted in (
            ("output_stride", cfg.output_stride, cfg.output_stride is not None),
            ("aux_head", True, cfg.aux_loss > 0),
        ):
            if wanted and option in self.info.options:
                options.setdefault(option, value)
            elif wanted and self.model_name in catalog.CATALOG:
                log.info("%s não tem %s: o parâmetro não se aplica", self.model_name, option)
        self.model_options = dict(options)
        arguments = dict(
            num_classes=NUM_CLASSES,
            input_shape=(*self.input_size, 3),
            variant=cfg.variant,
            backbone_weights=backbone_weights,
            **options,
        )
        if builder is None and self.model_name not in models.MODELS:
            raise InputError(
                f"modelo {self.model_name!r} não é um de {', '.join(models.MODELS)}; "
                f"passe builder= a build_model() para um modelo próprio"
            )
        self._builder = builder or (lambda **given: models.build_model(self.model_name, **given))
        self._arguments = arguments
        self.model = self._builder(**arguments)
        built_by = getattr(builder, "__name__", "o construtor") if builder else "build_model"
        self._built_by = built_by
        self._check_output(self.model, built_by)
        return self.model

    def _check_output(self, model, name: str) -> None:
        """InputError, before any training, unless the model maps (H, W, 3) images to (H, W, 19)
        logits (its first output; auxiliary heads may differ)."""
        if not isinstance(model, keras.Model):
            raise InputError(f"{name} retornou {type(model).__name__}, não um keras.Model")
        expected = (*self.input_size, NUM_CLASSES)
        inputs, output = tuple(model.inputs[0].shape[1:]), tuple(model.outputs[0].shape[1:])
        if inputs != (*self.input_size, 3) or output != expected:
            raise InputError(
                f"{self.model_name}: {name} mapeia {_shape(inputs)} em {_shape(output)}; "
                f"esperado: imagens {_shape((*self.input_size, 3))} em logits {_shape(expected)} "
                "(um por train id, na resolução da entrada)"
            )

    def _backbone_rates(self) -> dict[str, float]:
        """``backbone_lr_mult`` for each layer of the model's ImageNet backbone."""
        factor = self.config.backbone_lr_mult
        if factor == 1.0:
            return {}
        names = [layer.name for layer in models.backbone_layers(self._require_model())]
        if not names:
            log.warning(
                "%s não tem backbone ImageNet: backbone_lr_mult=%g não muda nada",
                self.info.display_name,
                factor,
            )
        return dict.fromkeys(names, factor)

    def model_at(self, size: tuple[int, int]) -> keras.Model:
        """The trained model for inputs of ``size`` (H, W): built again at that size with the
        same arguments (the weights' shapes do not depend on it) and given its weights."""
        model = self._require_model()
        if tuple(model.inputs[0].shape[1:3]) == tuple(size):
            return model
        arguments = {**self._arguments, "input_shape": (*size, 3), "backbone_weights": None}
        other = self._builder(**arguments)
        other.set_weights(model.get_weights())
        return other

    def model_summary(self) -> dict[str, float]:
        """Parameters, and FLOPs per image at the evaluated resolution (image_height x
        image_width), which the report names: the same for every model whatever its crop."""
        model = self._require_model()
        return {
            "params": int(model.count_params()),
            "flops": int(count_flops(self.model_at(self.size))),
        }

    def describe(self) -> str:
        """One line for the notebook: the model, its size and cost, where its code is."""
        summary = self.model_summary()
        builder = getattr(self, "_built_by", "")
        where = (
            f"código em urbanseg/models/{self.model_name}.py"
            if self.model_name in models.MODELS and builder == "build_model"
            else f"código: {builder}, neste notebook"
        )
        height, width = self.size
        flops = summary["flops"]
        cost = f"{flops / 1e9:.2f} GFLOPs" if flops >= 1e8 else f"{flops / 1e6:.1f} MFLOPs"
        return (
            f"{self.info.display_name}: {_thousands(summary['params'])} parâmetros, "
            f"{cost.replace('.', ',')} por imagem a {height}x{width}; {where}"
        )

    def layer_table(self) -> pd.DataFrame:
        """The model's layers as the notebook shows them: name, type, output shape, parameters
        (a backbone counts as one layer, with all its parameters)."""
        rows = []
        for layer in self._require_model().layers:
            shapes = layer.output if isinstance(layer.output, (list, tuple)) else [layer.output]
            rows.append(
                {
                    "camada": layer.name,
                    "tipo": type(layer).__name__,
                    "saída": ", ".join(_shape(tensor.shape[1:]) for tensor in shapes),
                    "parâmetros": _thousands(layer.count_params()),
                }
            )
        return pd.DataFrame(rows)

    def history_table(self) -> pd.DataFrame:
        """The training history with the notebook's column names, rounded for reading."""
        if self.history is None:
            raise InputError("ainda não há histórico: chame run.train() antes")
        names = {
            "epoch": "época",
            "loss": "perda",
            "val_loss": "perda (acomp.)",
            "val_miou": "mIoU (acomp.)",
            "learning_rate": "taxa",
            "seconds": "segundos",
            "monitor_seconds": "s de acompanhamento",
        }
        return self.history.rename(columns=names).round(4).set_index("época")

    def context(self) -> dict:
        """Where the model gathers context and on what feature map (urbanseg.models.context_of)."""
        return models.context_of(self._require_model())

    # -- training and evaluation ----------------------------------------------------------------

    def train(self, *, class_weights=None, schedule: str = "poly") -> pd.DataFrame:
        """Fit for ``epochs``; the weights scored and kept in model.keras are the final epoch's
        (``selection="last"``) or the best epoch's on the held-out train cities
        (``"holdout"``), never chosen on the val split that is reported.

        ``class_weights``: None (every pixel counts the same), ``"median"`` (median-frequency
        balancing computed from the training labels) or one weight per class.
        """
        model, cfg = self._require_model(), self.config
        if isinstance(class_weights, str):
            if class_weights != "median":
                raise InputError(
                    f"class_weights={class_weights!r}: esperado None, 'median' ou 19 pesos"
                )
            class_weights = median_frequency_weights(*self._class_statistics())
            log.info(
                "pesos das classes por frequência mediana: %s", np.round(class_weights, 2).tolist()
            )
        self._check_memory()
        _, monitor_data = self.datasets()
        epochs, steps = self.schedule()
        self.out.mkdir(parents=True, exist_ok=True)
        select_best = cfg.selection == "holdout"
        options = dict(class_weights=class_weights, schedule=schedule, select_best=select_best)
        parallel = replicas()  # several GPUs: a replicated twin trains, its weights come back
        parallel.check_batch(cfg.batch_size)
        with self._memory_errors("treinar", self.input_size), parallel.scope():
            trained = model if parallel.count == 1 else self._twin(model, parallel)
            # a function of the first step: a resumed run gets the batches from there on
            self.history = self._fit(
                trained,
                self.training_batches,
                monitor_data,
                epochs,
                steps,
                monitor_model=model,
                **options,
            )
        if trained is not model:
            model.set_weights(trained.get_weights())
        if select_best:
            best = self.history.loc[self.history["val_miou"].idxmax(), "epoch"]
            self.training.best_epoch = int(best)
        else:
            self.training.best_epoch = epochs
            save_model(model, self.out / "model.keras")
        self.training.devices = parallel.count
        self.training.steps_per_epoch, self.training.iterations = steps, steps * epochs
        # resumed after an interruption: the same batches and state, and the seconds of every
        # attempt's finished epochs (those of an epoch cut short are lost)
        self.training.resumed = self.history.attrs.get("resumed_from_epoch", 0) > 0
        seconds = float(self.history["seconds"].sum())
        monitor = float(self.history["monitor_seconds"].fillna(0).sum())
        self.timing.update(
            train_seconds=seconds - monitor,
            monitor_seconds=monitor,
            train_images_per_second=epochs * steps * cfg.batch_size / (seconds - monitor),
        )
        write_atomically(self.out / HISTORY_FILE, self.history.to_csv(index=False))
        return self.history

    def _twin(self, model: keras.Model, parallel: Replicas) -> keras.Model:
        """``model`` built again, with its weights, in the scope of ``parallel``'s devices."""
        twin = self._builder(**{**self._arguments, "backbone_weights": None})
        twin.set_weights(model.get_weights())
        log.info(
            "treino em %d dispositivos (%s), %d imagens em cada um por passo",
            parallel.count,
            ", ".join(parallel.devices),
            self.config.batch_size // parallel.count,
        )
        return twin

    def _fit(self, model, train_data, monitor_data, epochs, steps, **options) -> pd.DataFrame:
        cfg = self.config
        return fit(
            model,
            train_data,
            monitor_data,
            epochs=epochs,
            learning_rate=cfg.learning_rate,
            steps_per_epoch=steps,
            optimizer=cfg.optimizer,
            momentum=cfg.momentum,
            weight_decay=cfg.weight_decay,
            min_learning_rate=cfg.min_learning_rate,
            warmup_steps=cfg.warmup_iterations,
            aux_weight=cfg.aux_loss,
            layer_rates=self._backbone_rates(),
            best_path=self.out / "model.keras",
            checkpoint_dir=self.out,
            run_id=cfg.digest(self.model_name),
            keep_checkpoint=True,  # until finish() has written the record
            progress=self.progress,
            **options,
        )

    def schedule(self) -> tuple[int, int]:
        """(epochs, optimizer steps per epoch): ``epochs`` passes over the training images, or,
        with ``iterations``, that many steps in epochs of equal length (at most one pass each;
        80,000 steps of a 371-step pass: 216 epochs of 371 = 80,136)."""
        cfg = self.config
        one_pass = max(len(self.train_samples) // cfg.batch_size, 1)
        if cfg.iterations is None:
            return cfg.epochs, one_pass
        epochs = math.ceil(cfg.iterations / one_pass)
        return epochs, math.ceil(cfg.iterations / epochs)

    def evaluate(self, protocol: str = "full") -> dict:
        """Score the model on the whole (selected) val split, the first time it sees those
        images, the way ``eval_mode`` says (the image resized to the training size, the whole
        image, or sliding windows); keep each image's confusion matrix and the sample
        predictions; measure the forward pass's speed."""
        model, cfg = self._require_model(), self.config
        self.protocol = protocol
        report_stage(f"avaliando {len(self.val_samples)} imagens")
        with self._memory_errors("avaliar", self.size):
            evaluation = evaluate_model(
                self.model_at(self.size) if cfg.eval_mode == "resize" else model,
                self.val_samples,
                self.size,
                protocol=protocol,
                mode=cfg.eval_mode,
                overlap=cfg.eval_overlap,
                whole_model=self.model_at(self.original_size())
                if cfg.eval_mode == "whole"
                else None,
                batch_size=cfg.batch_size,
                keep=set(self.sample_stems),
                progress=self.progress,
            )
        self.metrics = evaluation.metrics
        PerImage(evaluation.stems, evaluation.cities, evaluation.per_image).write(self.out)
        for stem, prediction in evaluation.kept.items():
            data.write_png(self.out / "samples" / f"{stem}.png", prediction)
        # timed at the evaluated resolution, like the FLOPs, whatever the training crop, on a
        # batch no larger than the evaluation's own (at most the val images)
        forward_batch = max(min(cfg.batch_size, len(self.val_samples)), 1)
        report_stage("medindo a velocidade")
        with self._memory_errors("medir a velocidade", self.size):
            speed = measure_forward(self.model_at(self.size), self.size, batch_size=forward_batch)
        report_stage(None)
        self.timing.update(speed, pipeline_images_per_second=evaluation.pipeline_images_per_second)
        return self.metrics

    def _check_memory(self) -> None:
        """InputError, before training, when one batch's input and logits (float32) alone
        exceed the machine's memory: a lower bound of what training needs, which would
        otherwise end with the kernel killed rather than a message."""
        height, width = self.input_size
        needed = self.config.batch_size * height * width * (3 + NUM_CLASSES) * 4
        available = _physical_memory()
        if available and needed > available:
            raise InputError(
                f"batch_size={self.config.batch_size} a {height}x{width}: só a entrada e os "
                f"logits de um lote ocupam {_bytes(needed)}, mais que os {_bytes(available)} "
                f"de memória; {self._what_to_lower()}"
            )

    @contextlib.contextmanager
    def _memory_errors(self, doing: str, size: tuple[int, int]) -> Iterator[None]:
        """Out of memory (RAM or GPU, any backend) while ``doing`` something on images of
        ``size`` becomes a one-line InputError that names the parameters to lower."""
        try:
            yield
        except Exception as error:
            if not _out_of_memory(error):
                raise
            height, width = size
            raise InputError(
                f"memória esgotada ao {doing} com batch_size={self.config.batch_size} a "
                f"{height}x{width}; {self._what_to_lower()}"
            ) from None

    def _what_to_lower(self) -> str:
        cfg = self.config
        names = ["batch_size", "image_height/image_width"]
        if cfg.crop_height is not None:
            names.append("crop_height/crop_width")
        if cfg.eval_mode != "resize":
            names.append("eval_mode='resize'")
        return f"reduza {', '.join(names[:-1])} ou {names[-1]}"

    def majority_baseline(self) -> dict:
        """What predicting the most frequent training class everywhere would score on val."""
        frequencies = self.class_frequencies()
        majority = CLASS_NAMES.index(max(frequencies, key=frequencies.get))
        return majority_baseline(self.metrics["confusion_matrix"], majority)

    def predict_samples(self) -> np.ndarray:
        """Predicted train ids of the sample images (after :meth:`evaluate`)."""
        return np.stack(
            [
                np.asarray(Image.open(self.out / "samples" / f"{stem}.png"))
                for stem in self.sample_stems
            ]
        )

    def save_figure(self, figure, name: str) -> None:
        """Save ``figure`` as figures/<name>.png and, inside a notebook, show it there."""
        from .plots import save_figure

        path = self.out / "figures" / f"{name}.png"
        save_figure(figure, path)
        _show_in_notebook(path, alt=name.replace("_", " "))

    def finish(self) -> Path:
        """Write metrics.json (last, atomically): the run is complete."""
        if self.metrics is None:
            raise RuntimeError("finish() precisa de evaluate() antes")
        self.timing.update(
            peak_rss_mb=peak_rss_mb(), gpu_peak_mb=peak_gpu_mb(), concurrent_runs=concurrent_runs()
        )
        baseline = self.majority_baseline()
        original_size = self.original_size()
        record = RunRecord(
            model=self.model_name,
            status="ok",
            digest=self.config.digest(self.model_name),
            parameters=self.config.to_dict(),
            **self.model_summary(),
            model_options=getattr(self, "model_options", {}),
            model_info=self.model_info,
            precision=self.precision,
            context=self.context(),
            data=DataInfo(
                root=str(self.root.resolve()),
                synthetic=self.synthetic,
                train_images=len(self.train_samples),
                val_images=len(self.val_samples),
                image_size=original_size,
                class_pixel_fraction=self.class_frequencies(),
                sample_stems=self.sample_stems,
            ),
            training=self.training,
            evaluation=EvaluationInfo(
                split="val",
                protocol=self.protocol,
                resolution=original_size if self.protocol == "full" else self.size,
                input_scale=self.size[0] / original_size[0]
                if self.config.eval_mode == "resize"
                else 1.0,
                mode=self.config.eval_mode,
                overlap=self.config.eval_overlap if self.config.eval_mode == "slide" else None,
            ),
            metrics=self.metrics,
            baseline=Baseline(baseline["class"], baseline["miou"], baseline["pixel_accuracy"]),
            timing=Timing(**self.timing),
            environment=environment(),
        )
        path = record.write(self.out)  # and an earlier failed.json is gone
        discard_checkpoint(self.out)  # kept until now: a rerun would not train again
        log.info(
            "%s: mIoU %.4f, resultados em %s", self.model_name, self.metrics["miou"] or 0, self.out
        )
        return path

    def _require_model(self) -> keras.Model:
        if self.model is None:
            raise RuntimeError("chame build_model() antes")
        return self.model


def _out_of_memory(error: BaseException) -> bool:
    """Whether ``error`` says the machine or the GPU ran out of memory: MemoryError (NumPy),
    TensorFlow's ResourceExhaustedError, PyTorch's OutOfMemoryError, XLA's RESOURCE_EXHAUSTED."""
    return (
        isinstance(error, MemoryError)
        or type(error).__name__ in ("ResourceExhaustedError", "OutOfMemoryError")
        or "RESOURCE_EXHAUSTED" in str(error)[:1000]
    )


def _bytes(count: float) -> str:
    """1536 -> "2 KiB"."""
    for unit in ("B", "KiB", "MiB", "GiB"):
        if count < 1024:
            return f"{count:.0f} {unit}"
        count /= 1024
    return f"{count:.0f} TiB"


def _physical_memory() -> int | None:
    """The machine's RAM in bytes, None where the system does not say."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        return None


def _show_in_notebook(path: Path, alt: str) -> None:
    """Display a PNG as the cell's output when running in a Jupyter kernel (no-op elsewhere):
    the figures are built on their own Agg canvas, which Jupyter does not display by itself."""
    try:
        from IPython import get_ipython
        from IPython.display import Image as IPythonImage
        from IPython.display import display
    except ImportError:
        return
    if get_ipython() is not None:
        display(IPythonImage(filename=str(path), alt=alt))


def _shape(shape) -> str:
    return "x".join("?" if size is None else str(size) for size in shape)


def _thousands(count: int) -> str:
    """1945827 -> "1.945.827", as the report writes counts."""
    return f"{int(count):,}".replace(",", ".")
