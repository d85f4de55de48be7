"""Pieces shared by the five builders: argument checks, width scaling, conv blocks, outputs."""

import numbers

import keras
from keras import layers, ops

VARIANTS = ("default", "seed")

# Batch norm's moving statistics follow each batch's by 10% (torch's default, where Keras' is 1%
# and keras.applications' MobileNetV2 0.1%): short CPU runs of a few dozen steps otherwise end with
# moving statistics still near their initial values, and inference far off training.
BN_MOMENTUM = 0.9

# Mean of ImageNet in RGB order, subtracted by the caffe-style preprocessing of VGG16 and ResNet50.
CAFFE_MEAN_RGB = (123.68, 116.779, 103.939)


def check_arguments(builder_name, num_classes, input_shape, variant, width, options, valid_options):
    """Reject what no builder can use, with a message that names the value at fault."""
    if options:
        unknown = ", ".join(repr(name) for name in sorted(options))
        valid = ", ".join(valid_options)
        raise TypeError(
            f"{builder_name}() recebeu opção(ões) desconhecida(s) {unknown}; "
            f"opções válidas: {valid}"
        )
    if variant not in VARIANTS:
        raise ValueError(f"variant deve ser um de {VARIANTS}, recebido {variant!r}")
    if not _is_integer(num_classes) or num_classes < 1:
        raise ValueError(f"num_classes deve ser um inteiro positivo, recebido {num_classes!r}")
    if not isinstance(width, numbers.Real) or isinstance(width, bool) or width <= 0:
        raise ValueError(f"width deve ser um número positivo, recebido {width!r}")
    shape = tuple(input_shape)
    if len(shape) != 3 or shape[2] != 3 or not all(_is_integer(n) for n in shape):
        raise ValueError(f"input_shape deve ser (altura, largura, 3), recebido {input_shape!r}")
    if not all(n > 0 and n % 32 == 0 for n in shape[:2]):
        raise ValueError(
            f"a altura e a largura da entrada devem ser múltiplos de 32, recebido {input_shape!r}"
        )
    return tuple(int(n) for n in shape)


def _is_integer(value):
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def check_seed_arguments(builder_name, backbone_weights, non_defaults):
    """The seed variants rebuild the notebook's models exactly: no width, options or weights."""
    if backbone_weights is not None:
        raise ValueError(
            f"{builder_name}(variant='seed') não tem backbone pré-treinado; "
            "use backbone_weights=None"
        )
    if non_defaults:
        raise ValueError(
            f"{builder_name}(variant='seed') reconstrói exatamente o modelo do notebook "
            f"original e não aceita {', '.join(non_defaults)}"
        )


def scaled(filters, width, minimum=8):
    """A layer's channel count at a width multiplier, never below ``minimum``."""
    return max(minimum, int(round(filters * width)))  # noqa: RUF046 (NumPy 1.x rounds to float)


def preprocess(inputs, mode):
    """Map [0, 255] RGB images to what the first layer expects.

    ``"symmetric"``: [-1, 1] (MobileNetV2's preprocessing, and the default for models trained
    from scratch). ``"unit"``: [0, 1] (the seed notebook's). ``"caffe"``: ImageNet mean removed,
    as VGG16 and ResNet50 weights expect; those weights see BGR, so their first kernel is
    flipped on its input channels when copied (see ``backbones.copy_weights``).
    """
    if mode == "symmetric":
        scale, offset = 1.0 / 127.5, -1.0
    elif mode == "unit":
        scale, offset = 1.0 / 255.0, 0.0
    elif mode == "caffe":
        scale, offset = 1.0, [-mean for mean in CAFFE_MEAN_RGB]
    else:
        raise ValueError(f"modo de pré-processamento desconhecido {mode!r}")
    return layers.Rescaling(scale, offset, dtype="float32", name="preprocessing")(inputs)


def conv_bn_relu(x, filters, kernel_size=3, *, name, dilation_rate=1, batch_norm=True):
    """Convolution (no bias when batch norm follows), batch norm, ReLU: ``name``_conv/_bn/_relu."""
    x = layers.Conv2D(
        filters,
        kernel_size,
        padding="same",
        dilation_rate=dilation_rate,
        use_bias=not batch_norm,
        name=f"{name}_conv",
    )(x)
    if batch_norm:
        x = layers.BatchNormalization(momentum=BN_MOMENTUM, name=f"{name}_bn")(x)
    return layers.ReLU(name=f"{name}_relu")(x)


def separable_conv_bn_relu(x, filters, kernel_size=3, *, name, dilation_rate=1):
    """Depthwise-separable convolution as in DeepLabV3+ (arXiv:1802.02611, section 3.2): a
    depthwise (atrous) convolution, batch norm, ReLU, then a 1x1 pointwise convolution, batch
    norm, ReLU: ``name``_depthwise/_depthwise_bn/_depthwise_relu/_pointwise/_bn/_relu."""
    x = layers.DepthwiseConv2D(
        kernel_size,
        padding="same",
        dilation_rate=dilation_rate,
        use_bias=False,
        name=f"{name}_depthwise",
    )(x)
    x = layers.BatchNormalization(momentum=BN_MOMENTUM, name=f"{name}_depthwise_bn")(x)
    x = layers.ReLU(name=f"{name}_depthwise_relu")(x)
    x = layers.Conv2D(filters, 1, use_bias=False, name=f"{name}_pointwise")(x)
    x = layers.BatchNormalization(momentum=BN_MOMENTUM, name=f"{name}_bn")(x)
    return layers.ReLU(name=f"{name}_relu")(x)


@keras.saving.register_keras_serializable(package="urbanseg")
class BilinearResize(layers.Layer):
    """Bilinear resize of channels-last feature maps to a fixed ``size`` = (height, width).

    keras.layers.Resizing is not used inside models: as a preprocessing layer its ``training``
    defaults to True, which leaks to the layers after it, so that ``model(x)`` would run their
    batch norm in training mode (and update its statistics) at inference.
    """

    def __init__(self, size, **kwargs):
        super().__init__(**kwargs)
        self.size = tuple(size)

    def call(self, inputs):
        return ops.image.resize(inputs, self.size, interpolation="bilinear")

    def compute_output_shape(self, input_shape):
        return (input_shape[0], *self.size, input_shape[3])

    def get_config(self):
        return {**super().get_config(), "size": self.size}


def resize_to(x, size, name):
    """Bilinear resize of a feature map to ``size`` = (height, width)."""
    return BilinearResize(size, name=name)(x)


def logits_output(x, name="logits"):
    """The model's output: logits in float32, even when the rest runs in mixed precision."""
    return layers.Activation("linear", dtype="float32", name=name)(x)


def spatial_size(x):
    """Static (height, width) of a channels-last feature map."""
    return tuple(x.shape[1:3])
