"""DeepLabV3+: a dilated MobileNetV2, atrous spatial pyramid pooling and a light decoder."""

import keras
from keras import layers

from urbanseg.models import backbones
from urbanseg.models._common import (
    check_arguments,
    conv_bn_relu,
    logits_output,
    preprocess,
    resize_to,
    scaled,
    separable_conv_bn_relu,
    spatial_size,
)

_ATROUS_RATES_AT_OS16 = (6, 12, 18)


def build_deeplab(
    num_classes=19,
    input_shape=(256, 512, 3),
    *,
    variant="default",
    backbone_weights=None,
    width=1.0,
    output_stride=16,
    separable=True,
    **options,
):
    """DeepLabV3+ for semantic segmentation, returning per-pixel logits at the input's resolution.

    Chen, Zhu, Papandreou, Schroff and Adam, "Encoder-Decoder with Atrous Separable Convolution
    for Semantic Image Segmentation", ECCV 2018, arXiv:1802.02611. A MobileNetV2 backbone
    dilated to ``output_stride``; ASPP of a 1x1 convolution, three 3x3 atrous convolutions
    (rates 6, 12, 18 at output stride 16, doubled at 8) and image pooling, each with batch norm
    and ReLU, concatenated and projected; a decoder that fuses the stride-4 features reduced to
    48 channels, two 3x3 convolutions, and a bilinear resize to the input. The 3x3
    convolutions of ASPP and decoder are depthwise separable, as in the paper.

    Args:
        num_classes: number of output channels (classes).
        input_shape: (height, width, 3), height and width multiples of 32; images in [0, 255] RGB.
        variant: "default" only: the notebook's DeepLab cannot be rebuilt (see below).
        backbone_weights: None, "imagenet" (keras.applications.MobileNetV2's, for width in
            0.35, 0.5, 0.75, 1.0, 1.3, 1.4) or a path to MobileNetV2 (no top) weights of that alpha.
        width: MobileNetV2's alpha; the ASPP and decoder channels (256, 48) scale with it too.
        output_stride: 16 (the paper's training setting) or 8.
        separable: depthwise-separable 3x3 convolutions in ASPP and decoder (the paper's);
            False: plain 3x3 convolutions.
    """
    input_shape = check_arguments(
        "build_deeplab",
        num_classes,
        input_shape,
        variant,
        width,
        options,
        valid_options=("width", "output_stride", "separable"),
    )
    if variant == "seed":
        raise ValueError(
            "DeepLab não tem variante seed: o DeepLab do notebook original (convoluções "
            "'atrous' 1x1, sem image pooling, saída a 1/16 da entrada) não produzia máscaras "
            "em tamanho real; use variant='default'"
        )
    if output_stride not in (8, 16):
        raise ValueError(f"output_stride deve ser 8 ou 16, recebido {output_stride!r}")
    if backbone_weights == "imagenet" and width not in backbones.MOBILENET_V2_ALPHAS:
        raise ValueError(
            f"os pesos ImageNet da MobileNetV2 existem só para width (alpha) em "
            f"{backbones.MOBILENET_V2_ALPHAS}, recebido width={width}"
        )

    # Weights first: a missing download fails before the model is built.
    reference = (
        None
        if backbone_weights is None
        else backbones.reference_backbone("mobilenet_v2", backbone_weights, alpha=width)
    )
    inputs = keras.Input(input_shape, name="image")
    x = preprocess(inputs, "symmetric")  # MobileNetV2's own preprocessing: [-1, 1]
    low_level, x = backbones.mobilenet_v2_features(x, alpha=width, output_stride=output_stride)
    block = separable_conv_bn_relu if separable else conv_bn_relu
    rates = [rate * 16 // output_stride for rate in _ATROUS_RATES_AT_OS16]
    x = _aspp(x, scaled(256, width), rates, block)
    x = resize_to(x, spatial_size(low_level), name="decoder_upsample")
    low_level = conv_bn_relu(low_level, scaled(48, width), 1, name="decoder_low_level")
    x = layers.Concatenate(name="decoder_concat")([x, low_level])
    x = block(x, scaled(256, width), 3, name="decoder_conv1")
    x = block(x, scaled(256, width), 3, name="decoder_conv2")
    x = layers.Conv2D(num_classes, 1, name="classifier")(x)
    x = resize_to(x, input_shape[:2], name="upsample")
    model = keras.Model(inputs, logits_output(x), name="deeplabv3plus")
    if reference is not None:
        backbones.copy_weights(model, reference)
    return model


def _aspp(x, filters, rates, block):
    """Atrous spatial pyramid pooling: ``aspp_conv_1``, ``aspp_conv_{rate}`` (each a ``block``),
    ``aspp_pooling``."""
    size = spatial_size(x)
    branches = [conv_bn_relu(x, filters, 1, name="aspp_conv_1")]
    for rate in rates:
        branches.append(block(x, filters, 3, dilation_rate=rate, name=f"aspp_conv_{rate}"))
    # Image pooling: global context at any input size, broadcast back to the feature map.
    pooled = layers.GlobalAveragePooling2D(keepdims=True, name="aspp_pooling")(x)
    pooled = conv_bn_relu(pooled, filters, 1, name="aspp_pooling")
    branches.append(layers.UpSampling2D(size, name="aspp_pooling_upsample")(pooled))
    x = layers.Concatenate(name="aspp_concat")(branches)
    x = conv_bn_relu(x, filters, 1, name="aspp_projection")
    return layers.Dropout(0.1, name="aspp_dropout")(x)
