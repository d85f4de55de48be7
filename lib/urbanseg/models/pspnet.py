"""PSPNet: a dilated ResNet50 and a pyramid pooling module of 1, 2, 3 and 6 bins."""

import keras
import numpy as np
from keras import layers, ops

from urbanseg.models import backbones
from urbanseg.models._common import (
    check_arguments,
    conv_bn_relu,
    logits_output,
    preprocess,
    resize_to,
    scaled,
    spatial_size,
)

_BINS = (1, 2, 3, 6)


@keras.saving.register_keras_serializable(package="urbanseg")
class AdaptiveAveragePooling2D(layers.Layer):
    """Average pooling to a fixed ``output_size`` = (rows, cols) bins, for any input size.

    Bin i of n over a length L spans [floor(i * L / n), ceil((i + 1) * L / n)), as torch's
    ``adaptive_avg_pool2d``: bins overlap when n does not divide L. Computed as two products
    with constant averaging matrices built from the static input size, with keras.ops only.
    """

    def __init__(self, output_size, **kwargs):
        super().__init__(**kwargs)
        self.output_size = (
            (output_size, output_size) if isinstance(output_size, int) else tuple(output_size)
        )

    def call(self, inputs):
        height, width = inputs.shape[1:3]
        if height is None or width is None:
            raise ValueError(
                f"{self.name} precisa de um mapa de features de tamanho fixo, "
                f"recebido {inputs.shape}"
            )
        rows = ops.convert_to_tensor(_averaging_matrix(height, self.output_size[0]), inputs.dtype)
        cols = ops.convert_to_tensor(_averaging_matrix(width, self.output_size[1]), inputs.dtype)
        return ops.einsum("ih,bhwc,jw->bijc", rows, inputs, cols)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], *self.output_size, input_shape[3])

    def get_config(self):
        return {**super().get_config(), "output_size": self.output_size}


def _averaging_matrix(length, bins):
    """(bins, length) matrix whose row i averages the inputs of bin i."""
    matrix = np.zeros((bins, length), dtype="float32")
    for i in range(bins):
        start, end = (i * length) // bins, -(-(i + 1) * length // bins)
        matrix[i, start:end] = 1.0 / (end - start)
    return matrix


def build_pspnet(
    num_classes=19,
    input_shape=(256, 512, 3),
    *,
    variant="default",
    backbone_weights=None,
    width=1.0,
    output_stride=16,
    aux_head=False,
    **options,
):
    """PSPNet for semantic segmentation, returning per-pixel logits at the input's resolution.

    Zhao, Shi, Qi, Wang and Jia, "Pyramid Scene Parsing Network", CVPR 2017, arXiv:1612.01105.
    A ResNet50 dilated to ``output_stride``; a pyramid pooling module that average-pools the
    features into 1x1, 2x2, 3x3 and 6x6 bins, reduces each to a quarter of the channels (1x1
    convolution, batch norm, ReLU), resizes them back bilinearly and concatenates them with the
    features; a 3x3 convolution with batch norm and ReLU, dropout, a 1x1 classifier and a
    bilinear resize to the input.

    Args:
        num_classes: number of output channels (classes).
        input_shape: (height, width, 3), height and width multiples of 32; images in [0, 255] RGB.
        variant: "default" only: the notebook's PSPNet cannot be rebuilt (see below).
        backbone_weights: None, "imagenet" or a path to keras.applications.ResNet50 (no top)
            weights; needs width=1.
        width: channel multiplier of the backbone and the head; 1.0 is ResNet50 and a 512-channel
            head.
        output_stride: 16 (default) or 8 (the paper's; four times the computation of the last
            stages).
        aux_head: add the paper's auxiliary classifier on the conv4 stage, as a second output
            ``aux_logits`` (for a weighted 0.4 loss); the first output stays the logits.
    """
    input_shape = check_arguments(
        "build_pspnet",
        num_classes,
        input_shape,
        variant,
        width,
        options,
        valid_options=("width", "output_stride", "aux_head"),
    )
    if variant == "seed":
        raise ValueError(
            "PSPNet não tem variante seed: o PSPNet do notebook original fazia pooling da saída "
            "de stride 32 e nunca a ampliava, então não produzia máscaras em tamanho real; use "
            "variant='default'"
        )
    if output_stride not in (8, 16):
        raise ValueError(f"output_stride deve ser 8 ou 16, recebido {output_stride!r}")
    if backbone_weights is not None and width != 1.0:
        raise ValueError(
            f"os pesos pré-treinados da ResNet50 exigem width=1.0, recebido width={width}"
        )

    # Weights first: a missing download fails before the model is built.
    reference = (
        None
        if backbone_weights is None
        else backbones.reference_backbone("resnet50", backbone_weights)
    )
    inputs = keras.Input(input_shape, name="image")
    x = preprocess(inputs, "symmetric" if backbone_weights is None else "caffe")
    features = backbones.resnet50_features(x, width, output_stride)
    x = _pyramid_pooling(features["conv5"])
    x = conv_bn_relu(x, scaled(512, width), 3, name="head")
    x = layers.Dropout(0.1, name="head_dropout")(x)
    x = layers.Conv2D(num_classes, 1, name="classifier")(x)
    outputs = logits_output(resize_to(x, input_shape[:2], name="upsample"))
    if aux_head:
        aux = conv_bn_relu(features["conv4"], scaled(256, width), 3, name="aux")
        aux = layers.Dropout(0.1, name="aux_dropout")(aux)
        aux = layers.Conv2D(num_classes, 1, name="aux_classifier")(aux)
        aux = logits_output(resize_to(aux, input_shape[:2], name="aux_upsample"), "aux_logits")
        outputs = [outputs, aux]
    model = keras.Model(inputs, outputs, name="pspnet")
    if reference is not None:
        backbones.copy_weights(model, reference, bgr_input_layer="conv1_conv")
    return model


def _pyramid_pooling(x):
    """Pyramid pooling module: ``ppm_bin{n}`` pools to n x n bins, then reduce and resize."""
    size = spatial_size(x)
    reduced_channels = x.shape[-1] // len(_BINS)
    branches = [x]
    for bins in _BINS:
        pooled = AdaptiveAveragePooling2D(bins, name=f"ppm_bin{bins}")(x)
        pooled = conv_bn_relu(pooled, reduced_channels, 1, name=f"ppm_bin{bins}")
        branches.append(resize_to(pooled, size, name=f"ppm_bin{bins}_upsample"))
    return layers.Concatenate(name="ppm_concat")(branches)
