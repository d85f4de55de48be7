"""The five architectures of the study and their registry: ``MODELS`` maps each name to its
builder. What else the study knows about a model (display name, paper, CPU width, backbone) is
its record in ``urbanseg.catalog``, keyed by the same names."""

from urbanseg.models.backbones import WeightsUnavailableError
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
        raise KeyError(f"unknown model {name!r}; valid names: {', '.join(MODELS)}") from None
    return builder(
        num_classes, input_shape, variant=variant, backbone_weights=backbone_weights, **options
    )


__all__ = [
    "MODELS",
    "AdaptiveAveragePooling2D",
    "MaxPoolingWithArgmax2D",
    "MaxUnpooling2D",
    "WeightsUnavailableError",
    "build_deeplab",
    "build_fcn",
    "build_model",
    "build_pspnet",
    "build_segnet",
    "build_unet",
]
