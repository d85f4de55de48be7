"""The five architectures of the study and their registry: ``MODELS`` maps each name to its
builder. What else the study knows about a model (display name, paper, CPU width, backbone) is
its record in ``urbanseg.catalog``, keyed by the same names."""

import re

import keras

from urbanseg.models.backbones import WeightsUnavailableError, backbone_layers
from urbanseg.models.deeplab import build_deeplab
from urbanseg.models.fcn import build_fcn
from urbanseg.models.pspnet import AdaptiveAveragePooling2D, build_pspnet
from urbanseg.models.segnet import MaxPoolingWithArgmax2D, MaxUnpooling2D, build_segnet
from urbanseg.models.unet import build_unet

MODELS = {
    "unet": build_unet,
    "segnet": build_segnet,
    "fcn": build_fcn,
    "deeplab": build_deeplab,
    "pspnet": build_pspnet,
}


def build_model(
    name,
    num_classes=19,
    input_shape=(256, 512, 3),
    *,
    variant="default",
    backbone_weights=None,
    **options,
):
    """Build the model registered as ``name`` in MODELS; see each builder for its options."""
    try:
        builder = MODELS[name]
    except KeyError:
        raise KeyError(
            f"modelo desconhecido {name!r}; nomes válidos: {', '.join(MODELS)}"
        ) from None
    return builder(
        num_classes, input_shape, variant=variant, backbone_weights=backbone_weights, **options
    )


def context_of(model) -> dict:
    """Where ``model`` gathers context, and on what feature map (H, W): the ASPP's atrous rates
    (DeepLab), the pyramid's bins (PSPNet), else the deepest feature map (the bottleneck of
    U-Net and SegNet, FCN's fc7). A rate at least as large as the map, or more bins than
    cells, sees little but zero padding: the report warns about it. ``batch_norm``: whether
    the model normalises its activations (FCN-8s, as in the paper, does not)."""
    return {**_context_module(model), "batch_norm": _has_batch_norm(model)}


def _has_batch_norm(model) -> bool:
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            return True
        if isinstance(layer, keras.Model) and _has_batch_norm(layer):
            return True
    return False


def _context_module(model) -> dict:
    atrous = {}  # rate -> its 3x3 convolution (aspp_conv_<rate>_conv, or _depthwise if separable)
    for layer in model.layers:
        match = re.fullmatch(r"aspp_conv_(\d+)_(conv|depthwise)", layer.name)
        if match and int(match.group(1)) > 1:
            atrous[int(match.group(1))] = layer
    if atrous:
        first = atrous[min(atrous)]
        return {
            "module": "aspp",
            "feature_map": _spatial(first.input.shape),
            "rates": sorted(atrous),
        }
    pyramid = [layer for layer in model.layers if re.fullmatch(r"ppm_bin\d+", layer.name)]
    if pyramid:
        return {
            "module": "pyramid",
            "feature_map": _spatial(pyramid[0].input.shape),
            "bins": sorted({int(layer.name.removeprefix("ppm_bin")) for layer in pyramid}),
        }
    shapes = [_spatial(layer.output.shape) for layer in model.layers if _is_map(layer)]
    shapes = [hw for hw in shapes if hw != [1, 1]] or shapes  # not a global pooling
    return {"module": "bottleneck", "feature_map": min(shapes, key=lambda hw: hw[0] * hw[1])}


def _spatial(shape) -> list[int]:
    return [int(shape[1]), int(shape[2])]


def _is_map(layer) -> bool:
    try:
        shape = layer.output.shape
    except (AttributeError, ValueError):
        return False
    return len(shape) == 4 and shape[1] is not None and shape[2] is not None


__all__ = [
    "MODELS",
    "AdaptiveAveragePooling2D",
    "MaxPoolingWithArgmax2D",
    "MaxUnpooling2D",
    "WeightsUnavailableError",
    "backbone_layers",
    "build_deeplab",
    "build_fcn",
    "build_model",
    "build_pspnet",
    "build_segnet",
    "build_unet",
    "context_of",
]
