"""FCN-8s: VGG16 made fully convolutional, class scores fused from strides 32, 16 and 8."""

import keras
import numpy as np
from keras import layers

from urbanseg.models import backbones
from urbanseg.models._common import (
    check_arguments,
    check_seed_arguments,
    logits_output,
    preprocess,
    resize_to,
    scaled,
)

_VGG16_STAGES = ((64, 64), (128, 128), (256, 256, 256), (512, 512, 512), (512, 512, 512))


def build_fcn(
    num_classes=19,
    input_shape=(256, 512, 3),
    *,
    variant="default",
    backbone_weights=None,
    width=1.0,
    **options,
):
    """FCN-8s for semantic segmentation, returning per-pixel logits at the input's resolution.

    Long, Shelhamer and Darrell, "Fully Convolutional Networks for Semantic Segmentation",
    CVPR 2015, arXiv:1411.4038. VGG16 to stride 32 with fc6 (7x7) and fc7 (1x1) as convolutions;
    class scores at stride 32, upsampled 2x by a transposed convolution initialised to bilinear
    interpolation, summed with the scores of pool4 (stride 16), upsampled 2x again, summed with
    those of pool3 (stride 8), and resized bilinearly to the input.

    Args:
        num_classes: number of output channels (classes).
        input_shape: (height, width, 3), height and width multiples of 32; images in [0, 255] RGB.
        variant: "default", or "seed" for the original notebook's "FCN" (in truth a small U-Net:
            four VGG stages, upsampling and concatenation; 6,904,162 parameters with 34 classes).
        backbone_weights: None, "imagenet" or a path to keras.applications.VGG16 (no top) weights,
            copied into the convolutions up to pool5; with "imagenet", VGG16's fully connected
            fc1 and fc2 also become fc6 (7x7) and fc7 (1x1), as in the paper (a path: fc6 and
            fc7 start from scratch). Needs width=1.
        width: channel multiplier; 1.0 is VGG16's 64..512 filters and 4096-channel fc6/fc7.
    """
    input_shape = check_arguments(
        "build_fcn", num_classes, input_shape, variant, width, options, valid_options=("width",)
    )
    if variant == "seed":
        check_seed_arguments("build_fcn", backbone_weights, ["width"] if width != 1.0 else [])
        return _build_seed_fcn(num_classes, input_shape)
    # The paper converts VGG16's classifier too: with ImageNet weights, fc6 and fc7 start from
    # fc1 and fc2 (a weights file given by path holds the convolutions only).
    reference = backbones.vgg16_reference(backbone_weights, width, top=True)
    inputs = keras.Input(input_shape, name="image")
    x = preprocess(inputs, "symmetric" if backbone_weights is None else "caffe")
    pools = {}
    for stage, filters in enumerate(_VGG16_STAGES, start=1):
        for index, count in enumerate(filters, start=1):
            x = layers.Conv2D(
                scaled(count, width),
                3,
                padding="same",
                activation="relu",
                name=f"block{stage}_conv{index}",
            )(x)
        x = pools[stage] = layers.MaxPooling2D(2, name=f"block{stage}_pool")(x)
    x = layers.Conv2D(scaled(4096, width), 7, padding="same", activation="relu", name="fc6")(x)
    x = layers.Dropout(0.5, name="fc6_dropout")(x)
    x = layers.Conv2D(scaled(4096, width), 1, activation="relu", name="fc7")(x)
    x = layers.Dropout(0.5, name="fc7_dropout")(x)
    x = layers.Conv2D(num_classes, 1, name="score_fr")(x)
    # Skip scores start at zero, so training begins from the stride-32 prediction (the paper's
    # FCN-32s -> 16s -> 8s progression, learned at once).
    for pool, upscore in ((4, "upscore2"), (3, "upscore_pool4")):
        x = layers.Conv2DTranspose(
            num_classes, 4, strides=2, padding="same", use_bias=False, name=upscore
        )(x)
        score = layers.Conv2D(num_classes, 1, kernel_initializer="zeros", name=f"score_pool{pool}")(
            pools[pool]
        )
        x = layers.Add(name=f"fuse_pool{pool}")([x, score])
    x = resize_to(x, input_shape[:2], name="upscore8")
    model = keras.Model(inputs, logits_output(x), name="fcn8s")
    for upscore in ("upscore2", "upscore_pool4"):
        model.get_layer(upscore).set_weights([_bilinear_kernel(4, num_classes)])
    if reference is not None:
        backbones.copy_weights(model, reference, bgr_input_layer="block1_conv1")
        if any(layer.name == "fc1" for layer in reference.layers):
            backbones.copy_fully_connected(model, reference)
    return model


def _bilinear_kernel(size, channels):
    """Transposed-convolution kernel (size, size, channels, channels) that upsamples each channel
    bilinearly on its own (the paper's initialisation of its learned upsampling)."""
    factor = (size + 1) // 2
    center = factor - 1 if size % 2 == 1 else factor - 0.5
    profile = 1 - np.abs(np.arange(size) - center) / factor
    kernel = np.zeros((size, size, channels, channels), dtype="float32")
    kernel[:, :, range(channels), range(channels)] = np.outer(profile, profile)[:, :, None]
    return kernel


def _build_seed_fcn(num_classes, input_shape):
    """The notebook's "FCN": four VGG stages, then upsampling and concatenation of each skip."""
    inputs = keras.Input(input_shape, name="image")
    x = preprocess(inputs, "unit")
    skips = []
    for stage, filters in enumerate((64, 128, 256, 512), start=1):
        for index in (1, 2):
            x = layers.Conv2D(
                filters, 3, padding="same", activation="relu", name=f"block{stage}_conv{index}"
            )(x)
        if stage < 4:
            skips.append(x)
            x = layers.MaxPooling2D(2, name=f"block{stage}_pool")(x)
    for stage, (filters, skip) in enumerate(zip((256, 128), reversed(skips)), start=1):
        x = layers.UpSampling2D(2, name=f"decoder_stage{stage}_upsample")(x)
        x = layers.Concatenate(name=f"decoder_stage{stage}_concat")([skip, x])
        x = layers.Conv2D(
            filters, 3, padding="same", activation="relu", name=f"decoder_stage{stage}_conv1"
        )(x)
    x = layers.UpSampling2D(2, name="decoder_stage3_upsample")(x)
    x = layers.Concatenate(name="decoder_stage3_concat")([skips[0], x])
    # The notebook ended in a softmax; the logits before it have the same parameters.
    x = layers.Conv2D(num_classes, 1, name="classifier")(x)
    return keras.Model(inputs, logits_output(x), name="fcn_seed")
