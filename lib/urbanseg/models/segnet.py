"""SegNet: a VGG16 encoder whose pooling indices drive the decoder's unpooling."""

import keras
from keras import layers, ops

from urbanseg.models import backbones
from urbanseg.models._common import (
    BN_MOMENTUM,
    check_arguments,
    check_seed_arguments,
    logits_output,
    preprocess,
    scaled,
)

# Convolutions of each encoder stage (VGG16's, layers named block{stage}_conv{index}) and of each
# decoder stage, deepest first: decoder stage 1 mirrors encoder stage 5.
_ENCODER_FILTERS = ((64, 64), (128, 128), (256, 256, 256), (512, 512, 512), (512, 512, 512))
_DECODER_FILTERS = ((512, 512, 512), (512, 512, 256), (256, 256, 128), (128, 64), (64,))


@keras.saving.register_keras_serializable(package="urbanseg")
class MaxPoolingWithArgmax2D(layers.Layer):
    """2x2 max-pooling that also returns, per output value, where in its window the max was.

    Returns ``(pooled, indices)``; ``indices`` (int32, same shape as ``pooled``) is the window
    position 0..3 in row-major order (0 top-left, 1 top-right, 2 bottom-left, 3 bottom-right).
    Height and width must be even. Written with keras.ops only, so it runs on every backend.
    """

    def call(self, inputs):
        windows = _to_windows(inputs)
        return ops.max(windows, axis=3), ops.cast(ops.argmax(windows, axis=3), "int32")

    def compute_output_shape(self, input_shape):
        batch, height, width, channels = input_shape
        pooled = (
            batch,
            None if height is None else height // 2,
            None if width is None else width // 2,
            channels,
        )
        return pooled, pooled


@keras.saving.register_keras_serializable(package="urbanseg")
class MaxUnpooling2D(layers.Layer):
    """Inverse of MaxPoolingWithArgmax2D: each value goes back to the window position its max
    came from, zeros elsewhere. Call on ``[values, indices]``; output is twice as high and wide.
    """

    def call(self, inputs):
        values, indices = inputs
        _, height, width, channels = values.shape
        placed = ops.one_hot(indices, 4, axis=3, dtype=values.dtype) * ops.expand_dims(values, 3)
        placed = ops.reshape(placed, (-1, height, width, 2, 2, channels))
        placed = ops.transpose(placed, (0, 1, 3, 2, 4, 5))
        return ops.reshape(placed, (-1, 2 * height, 2 * width, channels))

    def compute_output_shape(self, input_shape):
        batch, height, width, channels = input_shape[0]
        return (
            batch,
            None if height is None else 2 * height,
            None if width is None else 2 * width,
            channels,
        )


def _to_windows(inputs):
    """(B, H, W, C) to (B, H/2, W/2, 4, C): each 2x2 window along axis 3, row-major."""
    _, height, width, channels = inputs.shape
    windows = ops.reshape(inputs, (-1, height // 2, 2, width // 2, 2, channels))
    windows = ops.transpose(windows, (0, 1, 3, 2, 4, 5))
    return ops.reshape(windows, (-1, height // 2, width // 2, 4, channels))


def build_segnet(
    num_classes=19,
    input_shape=(256, 512, 3),
    *,
    variant="default",
    backbone_weights=None,
    width=1.0,
    **options,
):
    """SegNet for semantic segmentation, returning per-pixel logits at the input's resolution.

    Badrinarayanan, Kendall and Cipolla, "SegNet: A Deep Convolutional Encoder-Decoder
    Architecture for Image Segmentation", TPAMI 2017, arXiv:1511.00561. A VGG16 encoder (13
    convolutions with batch norm, five 2x2 max-pools that keep their argmax indices) and a mirror
    decoder that unpools to those indices before its convolutions.

    Args:
        num_classes: number of output channels (classes).
        input_shape: (height, width, 3), height and width multiples of 32; images in [0, 255] RGB.
        variant: "default", or "seed" for the original notebook's runnable SegNet (three stages,
            plain upsampling, no indices; 1,296,930 parameters with 34 classes).
        backbone_weights: None, "imagenet" or a path to keras.applications.VGG16 (no top) weights,
            copied into the encoder's convolutions; needs width=1.
        width: channel multiplier; 1.0 is VGG16's 64..512 filters.
    """
    input_shape = check_arguments(
        "build_segnet", num_classes, input_shape, variant, width, options, valid_options=("width",)
    )
    if variant == "seed":
        check_seed_arguments("build_segnet", backbone_weights, ["width"] if width != 1.0 else [])
        return _build_seed_segnet(num_classes, input_shape)
    reference = backbones.vgg16_reference(backbone_weights, width)
    inputs = keras.Input(input_shape, name="image")
    x = preprocess(inputs, "symmetric" if backbone_weights is None else "caffe")
    pooling_indices = []
    for stage, filters in enumerate(_ENCODER_FILTERS, start=1):
        for index, count in enumerate(filters, start=1):
            x = _conv_bn_relu(x, scaled(count, width), name=f"block{stage}_conv{index}")
        x, indices = MaxPoolingWithArgmax2D(name=f"block{stage}_pool")(x)
        pooling_indices.append(indices)
    for stage, (filters, indices) in enumerate(
        zip(_DECODER_FILTERS, reversed(pooling_indices)), start=1
    ):
        x = MaxUnpooling2D(name=f"decoder_stage{stage}_unpool")([x, indices])
        for index, count in enumerate(filters, start=1):
            x = _conv_bn_relu(x, scaled(count, width), name=f"decoder_stage{stage}_conv{index}")
    x = layers.Conv2D(num_classes, 3, padding="same", name="classifier")(x)
    model = keras.Model(inputs, logits_output(x), name="segnet")
    if reference is not None:
        backbones.copy_weights(model, reference, bgr_input_layer="block1_conv1")
    return model


def _conv_bn_relu(x, filters, name):
    """Names ``name`` (the convolution, as VGG16's), ``name``_bn, ``name``_relu."""
    x = layers.Conv2D(filters, 3, padding="same", name=name)(x)
    x = layers.BatchNormalization(momentum=BN_MOMENTUM, name=f"{name}_bn")(x)
    return layers.ReLU(name=f"{name}_relu")(x)


def _build_seed_segnet(num_classes, input_shape):
    """The notebook's SegNet as it ran: three conv-BN-pool stages, nearest upsampling."""
    inputs = keras.Input(input_shape, name="image")
    x = preprocess(inputs, "unit")
    for stage, filters in enumerate((64, 128, 256), start=1):
        x = layers.Conv2D(
            filters, 3, padding="same", activation="relu", name=f"block{stage}_conv1"
        )(x)
        x = layers.BatchNormalization(name=f"block{stage}_conv1_bn")(x)
        x = layers.MaxPooling2D(2, name=f"block{stage}_pool")(x)
    for stage, filters in enumerate((256, 128), start=1):
        x = layers.UpSampling2D(2, name=f"decoder_stage{stage}_upsample")(x)
        x = layers.Conv2D(
            filters, 3, padding="same", activation="relu", name=f"decoder_stage{stage}_conv1"
        )(x)
    x = layers.UpSampling2D(2, name="decoder_stage3_upsample")(x)
    # The notebook ended in a softmax; the logits before it have the same parameters.
    x = layers.Conv2D(num_classes, 3, padding="same", name="classifier")(x)
    return keras.Model(inputs, logits_output(x), name="segnet_seed")
