"""The five architectures of the study and their registry."""

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

# Width multipliers for CPU runs (width=1.0 is the paper's size): at 128x256, batch 8, one training
# step takes 0.15 to 0.35 s on 2 cores, so 64 images x 10 epochs train in 20 to 40 s and leave
# room for loading and evaluation within one to two minutes per model.
CPU_WIDTHS = {"unet": 0.25, "segnet": 0.25, "fcn": 0.25, "deeplab": 0.5, "pspnet": 0.25}

# The ImageNet backbone whose weights backbone_weights loads; U-Net has none.
PRETRAINED = {"segnet": "VGG16", "fcn": "VGG16", "deeplab": "MobileNetV2", "pspnet": "ResNet50"}


def build_model(name, num_classes=19, input_shape=(256, 512, 3), *, variant="default",
                backbone_weights=None, **options):
    """Build the model registered as ``name`` in MODELS; see each builder for its options."""
    try:
        builder = MODELS[name]
    except KeyError:
        raise KeyError(f"unknown model {name!r}; valid names: {', '.join(MODELS)}") from None
    return builder(num_classes, input_shape, variant=variant, backbone_weights=backbone_weights,
                   **options)


__all__ = ["MODELS", "CPU_WIDTHS", "PRETRAINED", "build_model", "build_unet", "build_segnet", "build_fcn",
           "build_deeplab", "build_pspnet", "MaxPoolingWithArgmax2D", "MaxUnpooling2D",
           "AdaptiveAveragePooling2D", "WeightsUnavailableError"]
