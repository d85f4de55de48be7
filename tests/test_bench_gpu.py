"""benchmarks/bench_gpu.py: its helpers, a tiny run on JAX in which TensorFlow cannot be
imported (as on the GPU machine, which has none), and the plain-PyTorch U-Net, which must have
the Keras U-Net's parameters (where torch is installed)."""

import argparse
import csv
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from urbanseg.catalog import ORDER

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_gpu.py"


def _load_script():
    spec = importlib.util.spec_from_file_location("bench_gpu", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


bench_gpu = _load_script()


def _row(implementation, backend, model, train_img_s, **measured):
    row = dict.fromkeys(bench_gpu.COLUMNS)
    row.update(implementation=implementation, backend=backend, model=model, train_img_s=train_img_s)
    row.update(measured)
    return row


def test_parse_size_takes_height_by_width_in_multiples_of_32():
    assert bench_gpu.parse_size("512x1024") == (512, 1024)
    assert bench_gpu.parse_size("32X64") == (32, 64)
    for wrong in ("512", "500x1000", "ax64", "0x64", "32x64x3"):
        with pytest.raises(argparse.ArgumentTypeError, match="size must be"):
            bench_gpu.parse_size(wrong)


def test_defaults_are_the_papers_settings_and_nonsense_is_refused(capsys):
    args = bench_gpu.parse_arguments(["--backends", "jax"])
    assert (args.width, args.size, args.batch, args.precision) == (
        1.0,
        (512, 1024),
        8,
        "mixed_bfloat16",
    )
    assert (args.warmup, args.steps, args.repeats, args.matmul_size) == (3, 10, 30, 8192)
    assert args.models == list(ORDER) == ["unet", "segnet", "fcn", "deeplab", "pspnet"]
    assert (args.out, args.compile, args.worker) == ("bench", None, None)
    for wrong in (["--steps", "0"], ["--models", "vgg"], ["--precision", "float16"]):
        with pytest.raises(SystemExit):
            bench_gpu.parse_arguments(["--backends", "jax", *wrong])
    with pytest.raises(SystemExit) as done:
        bench_gpu.parse_arguments(["--help"])
    assert done.value.code == 0
    shown = capsys.readouterr().out
    assert "--matmul-size" in shown and "--compile" in shown and "--worker" not in shown


def test_training_tflops_are_three_forward_passes():
    assert bench_gpu.training_tflops(2e9, 100) == pytest.approx(0.6)


def test_speed_ratio_compares_the_named_implementations_on_the_unet():
    rows = [
        _row("keras", "jax", "unet", 30.0),
        _row("keras", "jax", "fcn", 90.0),
        _row("torch-eager", "torch", "unet", 20.0),
        _row("torch-compile", "torch", "unet", None, error="OutOfMemoryError: CUDA"),
    ]
    keras_jax = ("keras", "jax")
    assert bench_gpu.speed_ratio(rows, keras_jax, ("torch-eager", "torch")) == 1.5
    assert bench_gpu.speed_ratio(rows, keras_jax, ("torch-compile", "torch")) is None
    assert bench_gpu.speed_ratio(rows, keras_jax, ("keras", "torch")) is None


def test_a_failed_measurement_is_a_row_with_an_error_and_a_good_one_gets_its_tflops():
    args = bench_gpu.parse_arguments(["--backends", "jax", "--size", "64x128", "--batch", "4"])
    row = bench_gpu.empty_row("keras", "jax", "pspnet", args)

    def out_of_memory():
        raise MemoryError("RESOURCE_EXHAUSTED: Out of memory allocating 1 GiB\nmore detail")

    failed = bench_gpu.measured(row, 400.0, out_of_memory)
    assert failed["error"] == "MemoryError: RESOURCE_EXHAUSTED: Out of memory allocating 1 GiB"
    assert failed["train_img_s"] is None and failed["matmul_tflops"] == 400.0
    assert (failed["size"], failed["batch"], failed["width"]) == ("64x128", 4, 1.0)

    found = {"params": 10, "forward_flops": 2e11, "train_img_s": 100.0, "infer_img_s": 300.0}
    done = bench_gpu.measured(row, 400.0, lambda: dict(found))
    assert done["gflops_forward"] == 200.0 and done["train_tflops"] == pytest.approx(60.0)
    assert done["peak_percent"] == pytest.approx(15.0) and done["error"] is None
    assert "forward_flops" not in done


def test_markdown_page_has_the_context_the_table_and_the_ratio(tmp_path):
    measured = {"params": 1_234_567, "gflops_forward": 0.0484, "train_tflops": 1.5}
    rows = [
        _row("keras", "jax", "unet", 30.0, **measured, peak_percent=0.2, infer_img_s=75.0),
        _row("torch-eager", "torch", "unet", 20.0, **measured, params_match=True),
        _row("keras", "jax", "pspnet", None, error="XlaRuntimeError: RESOURCE_EXHAUSTED | oom"),
    ]
    context = {
        "device": "NVIDIA H100 80GB HBM3",
        "date": "2025-01-02 03:04 UTC",
        "versions": "keras 3.8.0, jax 0.5.0, torch 2.6.0",
        "command": "python benchmarks/bench_gpu.py --batch 8",
        "settings": "width 1.0, 512x1024, batch 8",
        "matmul_tflops": {"jax": 712.34, "torch": 650.0},
    }
    page = bench_gpu.render_markdown(rows, context)
    assert page.startswith("# GPU benchmark")
    assert "- Device: NVIDIA H100 80GB HBM3" in page
    assert "- Command: `python benchmarks/bench_gpu.py --batch 8`" in page
    assert "- Matmul peak: jax 712.3 TFLOP/s, torch 650.0 TFLOP/s" in page
    assert "| keras | jax | unet | 1,234,567 | 0.0484 | 30.0 | 1.5 | 0.2 | 75.0 | – |  |" in page
    assert "| torch-eager | torch | unet | 1,234,567 (= Keras) |" in page
    assert "RESOURCE_EXHAUSTED / oom |" in page  # a | in an error would break the table
    assert "Keras on JAX / plain PyTorch (eager): 1.50x" in page
    assert "(torch.compile)" not in page  # no compiled row, no ratio to it

    csv_path, markdown_path = bench_gpu.write_results(rows, context, tmp_path / "bench")
    assert markdown_path.read_text() == page
    written = list(csv.DictReader(csv_path.open()))
    assert list(written[0]) == list(bench_gpu.COLUMNS)
    assert [row["model"] for row in written] == ["unet", "unet", "pspnet"]
    assert written[1]["params_match"] == "True" and written[2]["train_img_s"] == ""
    assert sorted(path.name for path in (tmp_path / "bench").iterdir()) == ["GPU.md", "gpu.csv"]


@pytest.mark.slow
def test_tiny_run_on_jax_measures_each_model_without_tensorflow(tmp_path):
    pytest.importorskip("jax")
    import keras

    from urbanseg.costs import count_flops
    from urbanseg.models import build_model

    # On the GPU machine TensorFlow is not installed: here, importing it raises.
    poison = tmp_path / "no_tensorflow" / "tensorflow"
    poison.mkdir(parents=True)
    (poison / "__init__.py").write_text("raise RuntimeError('bench_gpu imported TensorFlow')\n")
    library = str(Path(__file__).resolve().parents[1] / "lib")
    environment = {
        **os.environ,
        "KERAS_BACKEND": "jax",
        "PYTHONPATH": os.pathsep.join(
            filter(None, [str(poison.parent), library, os.environ.get("PYTHONPATH")])
        ),
    }
    out = tmp_path / "bench"
    command = [
        sys.executable,
        str(SCRIPT),
        *("--backends", "jax", "--models", "unet", "fcn", "--width", "0.125"),
        *("--size", "32x64", "--batch", "2", "--steps", "1", "--warmup", "1", "--repeats", "2"),
        *("--precision", "float32", "--matmul-size", "128", "--out", str(out)),
    ]
    done = subprocess.run(command, capture_output=True, text=True, env=environment, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "imported TensorFlow" not in done.stdout + done.stderr

    rows = list(csv.DictReader((out / "gpu.csv").open()))
    assert [(row["implementation"], row["backend"], row["model"]) for row in rows] == [
        ("keras", "jax", "unet"),
        ("keras", "jax", "fcn"),
    ]
    for row in rows:
        assert row["error"] == "", row["error"]
        assert (row["width"], row["size"], row["batch"], row["precision"]) == (
            "0.125",
            "32x64",
            "2",
            "float32",
        )
        model = build_model(row["model"], 19, (32, 64, 3), width=0.125)
        assert int(row["params"]) == model.count_params()
        assert float(row["gflops_forward"]) * 1e9 == pytest.approx(count_flops(model))
        train_img_s, infer_img_s = float(row["train_img_s"]), float(row["infer_img_s"])
        matmul = float(row["matmul_tflops"])
        assert train_img_s > 0 and infer_img_s > 0 and matmul > 0
        tflops = float(row["train_tflops"])
        assert tflops == pytest.approx(3 * float(row["gflops_forward"]) * train_img_s / 1000)
        assert float(row["peak_percent"]) == pytest.approx(100 * tflops / matmul)
        assert row["peak_gpu_mb"] == "" and row["params_match"] == ""  # no GPU; Keras rows
    assert len({row["matmul_tflops"] for row in rows}) == 1  # one measurement per worker

    page = (out / "GPU.md").read_text()
    assert "- Device: CPU" in page and "- Settings: width 0.125, 32x64, batch 2, float32" in page
    assert f"- Versions: keras {keras.__version__}" in page
    assert "| implementation | backend | model | params |" in page
    for row in rows:
        assert f"| keras | jax | {row['model']} | {int(row['params']):,} |" in page
    assert "plain PyTorch (eager)" not in page  # no torch rows, no ratio
    assert "| keras | jax | unet |" in done.stdout  # the table on stdout too


@pytest.mark.parametrize("width", [0.125, 0.3, 1.0])
def test_plain_pytorch_unet_has_the_keras_unets_parameters(width):
    torch = pytest.importorskip("torch")
    from urbanseg.models import build_model

    keras_unet = build_model("unet", 19, (64, 128, 3), width=width)
    torch_unet = bench_gpu.build_torch_unet(19, width)
    trainable = sum(int(np.prod(weight.shape)) for weight in keras_unet.trainable_weights)
    assert sum(parameter.numel() for parameter in torch_unet.parameters()) == trainable
    assert bench_gpu.torch_param_count(torch_unet) == keras_unet.count_params()
    torch_unet.eval()
    with torch.no_grad():
        logits = torch_unet(torch.zeros(1, 3, 64, 128))
    assert logits.shape == (1, 19, 64, 128) and logits.dtype == torch.float32


def test_plain_pytorch_unet_computes_what_the_keras_unet_computes_with_its_weights():
    torch = pytest.importorskip("torch")
    import keras

    from urbanseg.models import build_model

    keras_unet = build_model("unet", 19, (64, 128, 3), width=0.125)
    rng = np.random.default_rng(0)
    for layer in keras_unet.layers:  # biases and batch norm statistics away from 0 and 1
        weights = layer.get_weights()
        if isinstance(layer, keras.layers.BatchNormalization):  # gamma, beta, mean, variance
            shape = weights[0].shape
            weights = [rng.uniform(0.5, 1.5, shape), rng.normal(0, 0.2, shape)]
            weights += [rng.normal(0, 0.2, shape), rng.uniform(0.5, 1.5, shape)]
        elif len(weights) == 2:  # kernel, bias
            weights[1] = rng.normal(0, 0.1, weights[1].shape)
        layer.set_weights([np.asarray(weight, "float32") for weight in weights])
    torch_unet = bench_gpu.build_torch_unet(19, 0.125).eval()
    _copy_keras_weights(keras_unet, torch_unet)

    images = rng.uniform(0, 255, (2, 64, 128, 3)).astype("float32")
    expected = keras.ops.convert_to_numpy(keras_unet(images, training=False))
    with torch.no_grad():
        logits = torch_unet(torch.from_numpy(images).permute(0, 3, 1, 2))
    found = logits.permute(0, 2, 3, 1).numpy()
    np.testing.assert_allclose(found, expected, rtol=1e-4, atol=1e-4 * np.abs(expected).max())


def _copy_keras_weights(keras_unet, torch_unet) -> None:
    """Each Keras layer's weights into its plain-PyTorch counterpart, by the Keras names."""
    import torch

    blocks = [(f"encoder_stage{level}", torch_unet.encoder[level - 1]) for level in range(1, 5)]
    blocks.append(("bottleneck", torch_unet.bottleneck))
    blocks += [(f"decoder_stage{stage}", torch_unet.decoder[stage - 1]) for stage in range(1, 5)]
    convolutions = [("classifier", torch_unet.classifier)]
    convolutions += [
        (f"decoder_stage{stage}_upconv", torch_unet.upconvs[stage - 1]) for stage in range(1, 5)
    ]
    batch_norms = []
    for name, block in blocks:  # conv, bn, relu, conv, bn, relu
        convolutions += [(f"{name}_conv1", block[0]), (f"{name}_conv2", block[3])]
        batch_norms += [(f"{name}_bn1", block[1]), (f"{name}_bn2", block[4])]
    with torch.no_grad():
        for name, module in convolutions:
            kernel, *bias = keras_unet.get_layer(name).get_weights()
            # Keras: (h, w, in, out), transposed (h, w, out, in); torch: (out, in, h, w),
            # transposed (in, out, h, w): the same permutation for both
            module.weight.copy_(torch.from_numpy(kernel.transpose(3, 2, 0, 1)))
            assert (module.bias is None) == (not bias)
            if bias:
                module.bias.copy_(torch.from_numpy(bias[0]))
        for name, module in batch_norms:
            gamma, beta, mean, variance = keras_unet.get_layer(name).get_weights()
            for target, value in zip(
                (module.weight, module.bias, module.running_mean, module.running_var),
                (gamma, beta, mean, variance),
            ):
                target.copy_(torch.from_numpy(value))


@pytest.mark.slow
def test_torch_worker_trains_the_plain_pytorch_unet_beside_the_keras_one(tmp_path):
    pytest.importorskip("torch")
    out = tmp_path / "bench"
    command = [
        sys.executable,
        str(SCRIPT),
        *("--backends", "torch", "--models", "unet", "--width", "0.125", "--size", "32x64"),
        *("--batch", "2", "--steps", "1", "--warmup", "1", "--repeats", "2"),
        *("--precision", "float32", "--matmul-size", "128", "--no-compile", "--out", str(out)),
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    rows = {row["implementation"]: row for row in csv.DictReader((out / "gpu.csv").open())}
    assert sorted(rows) == ["keras", "torch-eager"]
    assert rows["torch-eager"]["params"] == rows["keras"]["params"]
    assert rows["torch-eager"]["params_match"] == "True"
    assert float(rows["torch-eager"]["train_img_s"]) > 0
    assert float(rows["torch-eager"]["infer_img_s"]) > 0
    assert rows["torch-eager"]["error"] == rows["keras"]["error"] == ""
