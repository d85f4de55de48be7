"""Dilated MobileNetV2 and ResNet50 backbones, and ImageNet weights copied by layer name.

keras.applications has no dilation option, so the backbones are rebuilt here with the same
layer names as keras.applications; pretrained weights are then copied layer by layer from the
keras.applications model (a dilation or a stride of 1 leaves every kernel's shape unchanged).
"""

import logging
import os
import re

import keras
from keras import layers

from urbanseg.errors import InputError
from urbanseg.models._common import BN_MOMENTUM, scaled

logger = logging.getLogger(__name__)

# Width multipliers (alpha) for which keras.applications publishes MobileNetV2 ImageNet weights.
MOBILENET_V2_ALPHAS = (0.35, 0.5, 0.75, 1.0, 1.3, 1.4)

# (filters, stride, expansion) of each inverted residual block of MobileNetV2, block_0..block_16.
_MOBILENET_V2_BLOCKS = (
    (16, 1, 1),
    (24, 2, 6),
    (24, 1, 6),
    (32, 2, 6),
    (32, 1, 6),
    (32, 1, 6),
    (64, 2, 6),
    (64, 1, 6),
    (64, 1, 6),
    (64, 1, 6),
    (96, 1, 6),
    (96, 1, 6),
    (96, 1, 6),
    (160, 2, 6),
    (160, 1, 6),
    (160, 1, 6),
    (320, 1, 6),
)

# (stage name, bottleneck filters, blocks) of ResNet50.
_RESNET50_STAGES = (("conv2", 64, 3), ("conv3", 128, 4), ("conv4", 256, 6), ("conv5", 512, 3))


class WeightsUnavailableError(InputError, RuntimeError):
    """Pretrained weights that cannot be found or loaded (no network, missing file)."""


# The layers of the ImageNet backbones, by the names keras.applications gives them, and FCN's
# fc6, fc7 (converted from VGG16's fc1, fc2): the layers a pretrained model starts from, which
# ``backbone_layers`` finds and the training's ``backbone_lr_mult`` slows down.
BACKBONE_LAYER = re.compile(
    r"block[1-5]_conv[1-3]|fc[67]"  # VGG16: SegNet's encoder, FCN-8s
    r"|(bn_)?Conv1|expanded_conv_.+|block_\d+_.+"  # MobileNetV2: DeepLabV3+
    r"|conv1_(conv|bn)|conv[2-5]_block\d+_\d_(conv|bn)"  # ResNet50: PSPNet
)


def backbone_layers(model) -> list:
    """The layers with weights of ``model``'s ImageNet backbone (none for U-Net), whether or not
    they were given ImageNet weights."""
    return [
        layer for layer in model.layers if layer.weights and BACKBONE_LAYER.fullmatch(layer.name)
    ]


def _make_divisible(value, divisor=8):
    """MobileNetV2's channel rounding (the same as keras.applications')."""
    rounded = max(divisor, int(value + divisor / 2) // divisor * divisor)
    if rounded < 0.9 * value:
        rounded += divisor
    return rounded


def _mobilenet_bn(name):
    return layers.BatchNormalization(epsilon=1e-3, momentum=BN_MOMENTUM, name=name)


def _resnet_bn(name):
    return layers.BatchNormalization(epsilon=1.001e-5, momentum=BN_MOMENTUM, name=name)


def _inverted_residual_block(x, filters, stride, expansion, alpha, block_id, dilation_rate):
    """MobileNetV2's block with keras.applications' layer names, plus a dilation rate."""
    in_channels = x.shape[-1]
    pointwise_filters = _make_divisible(int(filters * alpha))
    inputs = x
    if block_id:
        prefix = f"block_{block_id}_"
        x = layers.Conv2D(
            expansion * in_channels, 1, padding="same", use_bias=False, name=f"{prefix}expand"
        )(x)
        x = _mobilenet_bn(f"{prefix}expand_BN")(x)
        x = layers.ReLU(6.0, name=f"{prefix}expand_relu")(x)
    else:
        prefix = "expanded_conv_"
    if stride == 2:
        # keras.applications pads (0, 1) on even sizes, then convolves without padding.
        x = layers.ZeroPadding2D(((0, 1), (0, 1)), name=f"{prefix}pad")(x)
    x = layers.DepthwiseConv2D(
        3,
        strides=stride,
        dilation_rate=dilation_rate,
        use_bias=False,
        padding="same" if stride == 1 else "valid",
        name=f"{prefix}depthwise",
    )(x)
    x = _mobilenet_bn(f"{prefix}depthwise_BN")(x)
    x = depthwise_output = layers.ReLU(6.0, name=f"{prefix}depthwise_relu")(x)
    x = layers.Conv2D(
        pointwise_filters, 1, padding="same", use_bias=False, name=f"{prefix}project"
    )(x)
    x = _mobilenet_bn(f"{prefix}project_BN")(x)
    if in_channels == pointwise_filters and stride == 1:
        x = layers.Add(name=f"{prefix}add")([inputs, x])
    return x, depthwise_output


def mobilenet_v2_features(x, alpha, output_stride):
    """MobileNetV2 up to its last inverted residual block (320 * alpha channels).

    Once the feature map reaches ``output_stride``, later strides become 1 and the depthwise
    convolutions dilate instead (the first such block keeps the current rate, as in DeepLab).
    Returns ``(stride-4 features, final features)``; the stride-4 ones are
    ``block_2_depthwise_relu``, the decoder end point of the official DeepLab MobileNetV2
    (``layer_4/depthwise_output`` in its slim naming).
    """
    x = layers.Conv2D(
        _make_divisible(32 * alpha), 3, strides=2, padding="same", use_bias=False, name="Conv1"
    )(x)
    x = _mobilenet_bn("bn_Conv1")(x)
    x = layers.ReLU(6.0, name="Conv1_relu")(x)
    current_stride, rate = 2, 1
    for block_id, (filters, stride, expansion) in enumerate(_MOBILENET_V2_BLOCKS):
        block_rate = rate
        if stride == 2 and current_stride == output_stride:
            stride, rate = 1, rate * 2
        elif stride == 2:
            current_stride *= 2
        x, depthwise_output = _inverted_residual_block(
            x, filters, stride, expansion, alpha, block_id, block_rate
        )
        if block_id == 2:
            low_level = depthwise_output
    return low_level, x


def _bottleneck_block(x, filters, stride, dilation_rate, conv_shortcut, name):
    """ResNet50's bottleneck block with keras.applications' layer names, plus a dilation rate."""
    if conv_shortcut:
        shortcut = layers.Conv2D(4 * filters, 1, strides=stride, name=f"{name}_0_conv")(x)
        shortcut = _resnet_bn(f"{name}_0_bn")(shortcut)
    else:
        shortcut = x
    x = layers.Conv2D(filters, 1, strides=stride, name=f"{name}_1_conv")(x)
    x = _resnet_bn(f"{name}_1_bn")(x)
    x = layers.Activation("relu", name=f"{name}_1_relu")(x)
    x = layers.Conv2D(
        filters, 3, padding="same", dilation_rate=dilation_rate, name=f"{name}_2_conv"
    )(x)
    x = _resnet_bn(f"{name}_2_bn")(x)
    x = layers.Activation("relu", name=f"{name}_2_relu")(x)
    x = layers.Conv2D(4 * filters, 1, name=f"{name}_3_conv")(x)
    x = _resnet_bn(f"{name}_3_bn")(x)
    x = layers.Add(name=f"{name}_add")([shortcut, x])
    return layers.Activation("relu", name=f"{name}_out")(x)


def resnet50_features(x, width, output_stride):
    """ResNet50 (v1, bottlenecks [3, 4, 6, 3]) with features at ``output_stride`` (8 or 16).

    The stages past ``output_stride`` keep stride 1 and dilate their 3x3 convolutions (2, then
    4), their first block keeping the previous rate, as torchvision's
    ``replace_stride_with_dilation``. Returns a dict of each stage's output by stage name.
    """
    x = layers.ZeroPadding2D(3, name="conv1_pad")(x)
    x = layers.Conv2D(scaled(64, width), 7, strides=2, name="conv1_conv")(x)
    x = _resnet_bn("conv1_bn")(x)
    x = layers.Activation("relu", name="conv1_relu")(x)
    x = layers.ZeroPadding2D(1, name="pool1_pad")(x)
    x = layers.MaxPooling2D(3, strides=2, name="pool1_pool")(x)
    features = {"conv1": x}
    current_stride, rate = 4, 1
    for stage, filters, blocks in _RESNET50_STAGES:
        stride = 1 if stage == "conv2" else 2
        first_rate = rate
        if stride == 2 and current_stride == output_stride:
            stride, rate = 1, rate * 2
        elif stride == 2:
            current_stride *= 2
        for block in range(1, blocks + 1):
            x = _bottleneck_block(
                x,
                scaled(filters, width),
                stride if block == 1 else 1,
                first_rate if block == 1 else rate,
                conv_shortcut=block == 1,
                name=f"{stage}_block{block}",
            )
        features[stage] = x
    return features


def keras_cache_folder():
    """The folder where keras.applications looks for (and downloads) weights files."""
    home = os.environ.get("KERAS_HOME", os.path.join(os.path.expanduser("~"), ".keras"))
    return os.path.join(home, "models")


def reference_backbone(architecture, weights, alpha=1.0):
    """keras.applications' model with ``weights`` ("imagenet" or a weights-file path).

    ``architecture`` is "mobilenet_v2", "resnet50", "vgg16" or "vgg16_top" (VGG16 with its fully
    connected layers, 528 MB). Raises WeightsUnavailableError,
    naming the file to fetch and where to put it, when the weights cannot be had.
    """
    if architecture == "mobilenet_v2":
        file_name = f"mobilenet_v2_weights_tf_dim_ordering_tf_kernels_{float(alpha)}_224_no_top.h5"
        constructor, kwargs = "MobileNetV2", {"alpha": alpha}
    elif architecture == "resnet50":
        file_name = "resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5"
        constructor, kwargs = "ResNet50", {}
    elif architecture == "vgg16":
        file_name = "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5"
        constructor, kwargs = "VGG16", {}
    elif architecture == "vgg16_top":  # with the fully connected fc1, fc2 (FCN's fc6, fc7)
        file_name = "vgg16_weights_tf_dim_ordering_tf_kernels.h5"
        constructor, kwargs = "VGG16", {"include_top": True}
    else:
        raise ValueError(f"backbone desconhecido {architecture!r}")
    if weights != "imagenet" and not os.path.isfile(os.fspath(weights)):
        raise WeightsUnavailableError(f"{weights}: arquivo de pesos do backbone não encontrado")
    build = getattr(keras.applications, constructor)
    source = weights if weights == "imagenet" else os.fspath(weights)
    try:
        options = {"include_top": False, **kwargs}
        if not options["include_top"]:
            options["input_shape"] = (224, 224, 3)
        return build(weights=source, **options)
    except Exception as error:  # the download or the file failed: say what to do instead
        reason = (str(error).strip().splitlines() or [type(error).__name__])[0]
        if weights == "imagenet":
            raise WeightsUnavailableError(
                f"os pesos ImageNet de {constructor} não puderam ser baixados ({reason}): "
                f"coloque {file_name} em {keras_cache_folder()}{os.sep} ou passe "
                f"backbone_weights='/caminho/para/{file_name}'"
            ) from error
        raise WeightsUnavailableError(
            f"{weights}: não foi possível carregar os pesos de {constructor} ({reason})"
        ) from error


def copy_weights(model, reference, bgr_input_layer=None):
    """Copy the weights of every layer of ``reference`` into ``model``'s layer of the same name.

    ``bgr_input_layer``: the first convolution of weights trained on BGR (caffe-style) images;
    its kernel is flipped on its input channels so that ``model`` takes RGB.
    Returns the number of layers copied.
    """
    copied = 0
    for source in reference.layers:
        weights = source.get_weights()
        if not weights:
            continue
        try:
            target = model.get_layer(source.name)
        except ValueError:
            continue  # a layer this model does not use, e.g. MobileNetV2's final Conv_1
        if source.name == bgr_input_layer:
            weights[0] = weights[0][:, :, ::-1, :]
        target.set_weights(weights)
        copied += 1
    if not copied:
        raise WeightsUnavailableError(
            f"nenhuma camada de {reference.name} corresponde a {model.name}"
        )
    logger.info("pesos de %d camadas copiados de %s para %s", copied, reference.name, model.name)
    return copied


def vgg16_reference(backbone_weights, width: float, *, top: bool = False):
    """keras.applications.VGG16 holding the requested weights, or None without any; loaded
    before the model is built, so a missing download fails first. Needs width=1. ``top``: with
    ImageNet weights, the model with its fully connected layers (FCN converts them)."""
    if backbone_weights is None:
        return None
    if width != 1.0:
        raise ValueError(
            f"os pesos pré-treinados da VGG16 exigem width=1.0, recebido width={width}"
        )
    architecture = "vgg16_top" if top and backbone_weights == "imagenet" else "vgg16"
    return reference_backbone(architecture, backbone_weights)


def dense_as_convolution(dense_weights, kernel_size: int, channels: int):
    """The weights of a Dense layer that reads a flattened (k, k, channels) map (channels last),
    as those of the equivalent k x k convolution: what FCN does to VGG16's fc1 and fc2
    (Long et al., arXiv:1411.4038, section 3.1). The convolution, with "valid" padding on a
    (k, k, channels) input, gives the Dense layer's output at its one position."""
    kernel, bias = dense_weights
    units = kernel.shape[-1]
    if kernel.shape[0] != kernel_size * kernel_size * channels:
        raise ValueError(
            f"um kernel Dense de {kernel.shape[0]} entradas não é um mapa "
            f"{kernel_size}x{kernel_size}x{channels} achatado"
        )
    return [kernel.reshape(kernel_size, kernel_size, channels, units), bias]


def copy_fully_connected(model, reference) -> None:
    """VGG16's fc1 and fc2 into FCN's fc6 (7x7 convolution) and fc7 (1x1)."""
    model.get_layer("fc6").set_weights(
        dense_as_convolution(reference.get_layer("fc1").get_weights(), 7, 512)
    )
    model.get_layer("fc7").set_weights(
        dense_as_convolution(reference.get_layer("fc2").get_weights(), 1, 4096)
    )
    logger.info("fc1, fc2 da VGG16 convertidas nas convoluções fc6, fc7 de %s", model.name)
