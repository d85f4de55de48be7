"""U-Net: a contracting path of convolutions and an expanding path fed by skip connections."""

import keras
from keras import layers

from urbanseg.models._common import (
    BN_MOMENTUM,
    check_arguments,
    check_seed_arguments,
    logits_output,
    preprocess,
    scaled,
)

_LEVELS = 4  # down-sampling levels below the bottleneck


def build_unet(
    num_classes=19,
    input_shape=(256, 512, 3),
    *,
    variant="default",
    backbone_weights=None,
    width=1.0,
    batch_norm=True,
    **options,
):
    """U-Net for semantic segmentation, returning per-pixel logits at the input's resolution.

    Ronneberger, Fischer and Brox, "U-Net: Convolutional Networks for Biomedical Image
    Segmentation", MICCAI 2015, arXiv:1505.04597. Four levels of two 3x3 convolutions and a 2x2
    max-pool, a bottleneck, then four levels of a 2x2 transposed convolution, concatenation of the
    skip connection and two 3x3 convolutions. Unlike the paper, convolutions are padded, so the
    output has the input's size.

    Args:
        num_classes: number of output channels (classes).
        input_shape: (height, width, 3), height and width multiples of 32; images in [0, 255] RGB.
        variant: "default", or "seed" for the original notebook's U-Net (nearest upsampling,
            no batch norm; 31,381,090 parameters with 34 classes).
        backbone_weights: must be None (U-Net has no pretrained backbone).
        width: channel multiplier; 1.0 is the paper's 64 filters at the first level.
        batch_norm: batch normalization after every 3x3 convolution.
    """
    input_shape = check_arguments(
        "build_unet",
        num_classes,
        input_shape,
        variant,
        width,
        options,
        valid_options=("width", "batch_norm"),
    )
    if variant == "seed":
        check_seed_arguments(
            "build_unet",
            backbone_weights,
            [
                name
                for name, value, default in (
                    ("width", width, 1.0),
                    ("batch_norm", batch_norm, True),
                )
                if value != default
            ],
        )
        return _build_seed_unet(num_classes, input_shape)
    if backbone_weights is not None:
        raise ValueError("U-Net não tem backbone pré-treinado; use backbone_weights=None")

    inputs = keras.Input(input_shape, name="image")
    x = preprocess(inputs, "symmetric")
    level_filters = [scaled(64 * 2**level, width) for level in range(_LEVELS)]
    skips = []
    for level, filters in enumerate(level_filters, start=1):
        x = _double_conv(x, filters, batch_norm, name=f"encoder_stage{level}")
        skips.append(x)
        x = layers.MaxPooling2D(2, name=f"encoder_stage{level}_pool")(x)
    x = _double_conv(x, scaled(64 * 2**_LEVELS, width), batch_norm, name="bottleneck")
    for stage, (filters, skip) in enumerate(zip(reversed(level_filters), reversed(skips)), start=1):
        x = layers.Conv2DTranspose(filters, 2, strides=2, name=f"decoder_stage{stage}_upconv")(x)
        x = layers.Concatenate(name=f"decoder_stage{stage}_concat")([skip, x])
        x = _double_conv(x, filters, batch_norm, name=f"decoder_stage{stage}")
    x = layers.Conv2D(num_classes, 1, name="classifier")(x)
    return keras.Model(inputs, logits_output(x), name="unet")


def _double_conv(x, filters, batch_norm, name):
    for index in (1, 2):
        x = layers.Conv2D(
            filters, 3, padding="same", use_bias=not batch_norm, name=f"{name}_conv{index}"
        )(x)
        if batch_norm:
            x = layers.BatchNormalization(momentum=BN_MOMENTUM, name=f"{name}_bn{index}")(x)
        x = layers.ReLU(name=f"{name}_relu{index}")(x)
    return x


def _build_seed_unet(num_classes, input_shape):
    """The notebook's U-Net: 64..1024 filters, ReLU convolutions, nearest upsampling."""
    inputs = keras.Input(input_shape, name="image")
    x = preprocess(inputs, "unit")
    skips = []
    for level, filters in enumerate((64, 128, 256, 512), start=1):
        x = _seed_conv_block(x, filters, name=f"encoder_stage{level}")
        skips.append(x)
        x = layers.MaxPooling2D(2, name=f"encoder_stage{level}_pool")(x)
    x = _seed_conv_block(x, 1024, name="bottleneck")
    for stage, (filters, skip) in enumerate(zip((512, 256, 128, 64), reversed(skips)), start=1):
        x = layers.UpSampling2D(2, name=f"decoder_stage{stage}_upsample")(x)
        x = layers.Concatenate(name=f"decoder_stage{stage}_concat")([x, skip])
        x = _seed_conv_block(x, filters, name=f"decoder_stage{stage}")
    # The notebook ended in a softmax; the logits before it have the same parameters.
    x = layers.Conv2D(num_classes, 1, name="classifier")(x)
    return keras.Model(inputs, logits_output(x), name="unet_seed")


def _seed_conv_block(x, filters, name):
    for index in (1, 2):
        x = layers.Conv2D(
            filters, 3, padding="same", activation="relu", name=f"{name}_conv{index}"
        )(x)
    return x
