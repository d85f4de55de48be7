"""The five architectures: shapes, training, seed variants, custom layers, weights handling."""

import re

import keras
import numpy as np
import pytest

from urbanseg.models import (
    MODELS,
    AdaptiveAveragePooling2D,
    MaxPoolingWithArgmax2D,
    MaxUnpooling2D,
    WeightsUnavailableError,
    backbones,
    build_model,
)

# Small widths keep every test a fraction of a second to a few seconds on 2 cores.
TINY = {"unet": 0.125, "segnet": 0.125, "fcn": 0.125, "deeplab": 0.25, "pspnet": 0.125}


def tiny_model(name, input_shape=(64, 128, 3), num_classes=5, **options):
    return build_model(name, num_classes, input_shape, width=TINY[name], **options)


def default_layer_name(layer):
    """The name Keras gives a layer nobody named (its class in snake case, then _1, _2...)."""
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", type(layer).__name__)
    return re.sub("([a-z])([A-Z])", r"\1_\2", name).lower() + r"(_\d+)?"


def test_registry_lists_the_five_models_in_study_order():
    assert tuple(MODELS) == ("unet", "segnet", "fcn", "deeplab", "pspnet")


@pytest.mark.parametrize("input_shape", [(64, 128, 3), (128, 256, 3)])
@pytest.mark.parametrize("name", MODELS)
def test_output_is_float32_logits_at_input_resolution(name, input_shape):
    model = tiny_model(name, input_shape)
    images = np.random.default_rng(0).uniform(0, 255, (2, *input_shape)).astype("float32")
    logits = keras.ops.convert_to_numpy(model(images, training=False))
    assert logits.shape == (2, *input_shape[:2], 5)
    assert logits.dtype == np.float32
    assert np.all(np.isfinite(logits))
    # Every layer is named by the builder, none by Keras' global counters (conv2d_7...).
    assert not [
        layer.name for layer in model.layers if re.fullmatch(default_layer_name(layer), layer.name)
    ]


@pytest.mark.parametrize("name", MODELS)
def test_full_resolution_cityscapes_input_builds(name):
    model = tiny_model(name, (1024, 2048, 3), num_classes=19)
    assert tuple(model.output.shape) == (None, 1024, 2048, 19)


def training_batch():
    rng = np.random.default_rng(0)
    images = rng.uniform(0, 255, (2, 64, 128, 3)).astype("float32")
    labels = np.repeat(np.arange(5), 64 * 128 * 2 // 5 + 1)[: 2 * 64 * 128].reshape(2, 64, 128)
    labels[:, :8] = 255  # ignored pixels
    return images, labels


def compiled(model, run_eagerly):
    model.compile(
        optimizer=keras.optimizers.Adam(1e-3),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=255),
        run_eagerly=run_eagerly,
    )
    return model


@pytest.mark.parametrize("name", MODELS)
def test_a_few_training_steps_lower_the_loss(name):
    # Eager steps: a compiled step costs 3 to 17 s of graph building per model on 2 cores.
    keras.utils.set_random_seed(0)
    model = compiled(tiny_model(name), run_eagerly=True)
    images, labels = training_batch()
    losses = [float(model.train_on_batch(images, labels)) for _ in range(6)]
    assert losses[-1] < losses[0], losses


def test_compiled_training_step_runs_with_the_custom_layers():
    keras.utils.set_random_seed(0)
    model = compiled(tiny_model("segnet"), run_eagerly=False)
    images, labels = training_batch()
    losses = [float(model.train_on_batch(images, labels)) for _ in range(3)]
    assert np.all(np.isfinite(losses)) and losses[-1] < losses[0], losses


@pytest.mark.parametrize("name", MODELS)
def test_inference_call_leaves_batch_norm_statistics_alone(name):
    model = tiny_model(name)
    images, _ = training_batch()
    before = model.get_weights()
    eager = keras.ops.convert_to_numpy(model(images))
    for old, new in zip(before, model.get_weights()):
        np.testing.assert_array_equal(old, new)
    np.testing.assert_allclose(model.predict(images, verbose=0), eager, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("name", MODELS)
def test_logits_stay_float32_under_mixed_precision(name):
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        model = tiny_model(name)
    finally:
        keras.mixed_precision.set_global_policy("float32")
    assert model.output.dtype == "float32"
    assert model.get_layer("preprocessing").compute_dtype == "float32"
    images, _ = training_batch()
    assert keras.ops.convert_to_numpy(model(images)).dtype == np.float32


@pytest.mark.parametrize(
    "name, parameters", [("unet", 31_381_090), ("segnet", 1_296_930), ("fcn", 6_904_162)]
)
def test_seed_variants_have_the_original_parameter_counts(name, parameters):
    model = build_model(name, 34, (256, 256, 3), variant="seed")
    assert model.count_params() == parameters
    assert tuple(model.output.shape) == (None, 256, 256, 34)


@pytest.mark.parametrize("name", ["deeplab", "pspnet"])
def test_deeplab_and_pspnet_have_no_seed_variant(name):
    with pytest.raises(ValueError, match="máscaras em tamanho real"):
        build_model(name, 34, (256, 256, 3), variant="seed")


def test_seed_variant_takes_no_width():
    with pytest.raises(ValueError, match="width"):
        build_model("unet", 34, (256, 256, 3), variant="seed", width=0.5)


def test_unknown_model_name_lists_the_valid_ones():
    with pytest.raises(KeyError, match="unet, segnet, fcn, deeplab, pspnet"):
        build_model("mask_rcnn")


@pytest.mark.parametrize("name", MODELS)
def test_unknown_options_are_rejected_by_name(name):
    with pytest.raises(TypeError, match="'colour'.*'depth'"):
        build_model(name, 19, (64, 128, 3), depth=3, colour="red")


def test_input_sizes_must_be_multiples_of_32():
    with pytest.raises(ValueError, match="múltiplos de 32"):
        build_model("unet", 19, (100, 128, 3))


def test_unpooling_puts_each_maximum_back_where_it_came_from():
    rng = np.random.default_rng(0)
    x = rng.permutation(2 * 4 * 6 * 3).reshape(2, 4, 6, 3).astype("float32")  # no ties
    pooled, indices = MaxPoolingWithArgmax2D()(x)
    restored = keras.ops.convert_to_numpy(MaxUnpooling2D()([pooled, indices]))

    window_max = x.reshape(2, 2, 2, 3, 2, 3).max(axis=(2, 4))
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(pooled), window_max)
    is_max = x == np.repeat(np.repeat(window_max, 2, axis=1), 2, axis=2)
    np.testing.assert_array_equal(restored, np.where(is_max, x, 0.0))
    assert is_max.sum() == pooled.shape[0] * pooled.shape[1] * pooled.shape[2] * pooled.shape[3]


def test_segnet_decoder_unpools_to_its_encoder_indices():
    model = tiny_model("segnet")
    unpool = model.get_layer("decoder_stage5_unpool")
    assert unpool.input[1] is model.get_layer("block1_pool").output[1]


@pytest.mark.parametrize("height, width, bins", [(8, 16, 6), (9, 7, 3), (8, 16, 1), (5, 5, 2)])
def test_adaptive_average_pooling_matches_torch_bins(height, width, bins):
    x = np.random.default_rng(1).normal(size=(2, height, width, 3)).astype("float32")
    pooled = keras.ops.convert_to_numpy(AdaptiveAveragePooling2D(bins)(x))

    def span(i, length):  # torch.nn.functional.adaptive_avg_pool2d's bin boundaries
        return slice((i * length) // bins, -(-(i + 1) * length // bins))

    expected = np.array(
        [
            [x[:, span(i, height), span(j, width)].mean(axis=(1, 2)) for j in range(bins)]
            for i in range(bins)
        ]
    ).transpose(2, 0, 1, 3)
    np.testing.assert_allclose(pooled, expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", ["segnet", "pspnet"])
def test_save_and_load_round_trip_keeps_outputs(name, tmp_path):
    model = tiny_model(name)
    images = np.random.default_rng(2).uniform(0, 255, (1, 64, 128, 3)).astype("float32")
    path = tmp_path / f"{name}.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(loaded(images)), keras.ops.convert_to_numpy(model(images))
    )


@pytest.mark.parametrize("output_stride", [8, 16])
def test_pspnet_output_stride_sets_the_feature_size(output_stride):
    model = tiny_model("pspnet", (128, 256, 3), output_stride=output_stride)
    features = model.get_layer("conv5_block3_out").output
    assert tuple(features.shape[1:3]) == (128 // output_stride, 256 // output_stride)
    assert tuple(model.output.shape) == (None, 128, 256, 5)


def test_pspnet_aux_head_is_a_second_output():
    model = tiny_model("pspnet", aux_head=True)
    assert [output.shape for output in model.outputs] == [(None, 64, 128, 5)] * 2
    assert model.output_names == ["logits", "aux_logits"]


def test_deeplab_aspp_rates_and_output_stride():
    model = tiny_model("deeplab", (128, 256, 3))
    for rate in (6, 12, 18):
        assert model.get_layer(f"aspp_conv_{rate}_depthwise").dilation_rate == (rate, rate)
    assert tuple(model.get_layer("aspp_concat").output.shape[1:3]) == (8, 16)
    model = tiny_model("deeplab", (128, 256, 3), output_stride=8)
    assert model.get_layer("aspp_conv_24_depthwise").dilation_rate == (24, 24)
    assert tuple(model.get_layer("aspp_concat").output.shape[1:3]) == (16, 32)


def test_deeplab_aspp_and_decoder_are_depthwise_separable_as_in_the_paper():
    separable, plain = (tiny_model("deeplab", (64, 128, 3), separable=s) for s in (True, False))
    for name in ("aspp_conv_12", "decoder_conv1", "decoder_conv2"):
        depthwise = separable.get_layer(f"{name}_depthwise")
        assert isinstance(depthwise, keras.layers.DepthwiseConv2D)
        assert separable.get_layer(f"{name}_pointwise").kernel_size == (1, 1)
        assert plain.get_layer(f"{name}_conv").kernel_size == (3, 3)
    assert separable.count_params() < plain.count_params() / 1.5


def test_imagenet_weights_unavailable_says_what_to_download(monkeypatch, tmp_path):
    def offline(*args, **kwargs):
        raise Exception("URL fetch failure: no network")

    monkeypatch.setattr(keras.applications, "ResNet50", offline)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    with pytest.raises(WeightsUnavailableError) as error:
        build_model("pspnet", 19, (64, 128, 3), backbone_weights="imagenet")
    message = str(error.value)
    assert "resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5" in message
    assert str(tmp_path / "models") in message
    assert isinstance(error.value, RuntimeError)


@pytest.mark.parametrize("name, width", [("pspnet", 0.5), ("fcn", 0.25), ("deeplab", 0.25)])
def test_imagenet_weights_need_a_published_width(name, width):
    with pytest.raises(ValueError, match="width"):
        build_model(name, 19, (64, 128, 3), backbone_weights="imagenet", width=width)


def test_backbone_weights_from_a_file_are_copied_by_layer_name(tmp_path):
    reference = keras.applications.MobileNetV2(
        include_top=False, weights=None, alpha=0.35, input_shape=(224, 224, 3)
    )
    path = tmp_path / "mobilenet_v2_0.35_no_top.weights.h5"
    reference.save_weights(path)
    model = build_model("deeplab", 5, (224, 224, 3), width=0.35, backbone_weights=str(path))
    for name in ("Conv1", "block_13_depthwise", "block_16_project_BN"):
        for copied, original in zip(
            model.get_layer(name).get_weights(), reference.get_layer(name).get_weights()
        ):
            np.testing.assert_array_equal(copied, original)
    # Up to its first dilated block the backbone computes what keras.applications' does, on the
    # [0, 255] images that the model preprocesses itself.
    images = np.random.default_rng(3).uniform(0, 255, (1, 224, 224, 3)).astype("float32")
    ours = keras.Model(model.input, model.get_layer("block_12_add").output)(images)
    theirs = keras.Model(reference.input, reference.get_layer("block_12_add").output)(
        keras.applications.mobilenet_v2.preprocess_input(images.copy())
    )
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(ours), keras.ops.convert_to_numpy(theirs), rtol=1e-4, atol=1e-5
    )


def test_missing_weights_file_is_reported():
    with pytest.raises(WeightsUnavailableError, match="não encontrado"):
        build_model("deeplab", 5, (64, 128, 3), width=0.35, backbone_weights="/no/such.h5")


def test_caffe_weights_have_their_first_kernel_flipped_to_rgb():
    inputs = keras.Input((8, 8, 3))
    reference = keras.Model(inputs, keras.layers.Conv2D(4, 3, name="conv1_conv")(inputs))
    target_inputs = keras.Input((8, 8, 3))
    target = keras.Model(target_inputs, keras.layers.Conv2D(4, 3, name="conv1_conv")(target_inputs))
    backbones.copy_weights(target, reference, bgr_input_layer="conv1_conv")
    np.testing.assert_array_equal(
        target.get_layer("conv1_conv").get_weights()[0],
        reference.get_layer("conv1_conv").get_weights()[0][:, :, ::-1],
    )


@pytest.mark.parametrize("size, channels, units", [(7, 8, 16), (1, 32, 12)])
def test_a_dense_layer_becomes_the_equivalent_convolution(size, channels, units):
    """FCN's fc6/fc7 from VGG16's fc1/fc2: the converted convolution on a (k, k, c) input gives
    the Dense layer's output on the flattened input."""
    from urbanseg.models.backbones import dense_as_convolution

    rng = np.random.default_rng(0)
    dense = keras.layers.Dense(units)
    dense.build((None, size * size * channels))
    dense.set_weights([rng.normal(size=w.shape).astype("float32") for w in dense.get_weights()])
    convolution = keras.layers.Conv2D(units, size, padding="valid")
    convolution.build((None, size, size, channels))
    convolution.set_weights(dense_as_convolution(dense.get_weights(), size, channels))
    x = rng.normal(size=(2, size, size, channels)).astype("float32")
    expected = np.asarray(dense(x.reshape(2, -1)))
    np.testing.assert_allclose(np.asarray(convolution(x))[:, 0, 0], expected, rtol=1e-4, atol=1e-4)
    with pytest.raises(ValueError, match="não é um mapa .* achatado"):
        dense_as_convolution(dense.get_weights(), size + 1, channels)


@pytest.mark.slow
def test_fcn_with_imagenet_weights_converts_vgg16_fully_connected_layers(monkeypatch):
    from urbanseg.models import backbones

    vgg16 = keras.applications.VGG16(include_top=True, weights=None)  # random, no download
    asked = []

    def reference(architecture, weights, alpha=1.0):
        asked.append((architecture, weights))
        return vgg16

    monkeypatch.setattr(backbones, "reference_backbone", reference)
    model = build_model("fcn", 19, (64, 128, 3), backbone_weights="imagenet", width=1.0)
    assert asked == [("vgg16_top", "imagenet")]
    fc1_kernel, fc1_bias = vgg16.get_layer("fc1").get_weights()
    fc6_kernel, fc6_bias = model.get_layer("fc6").get_weights()
    np.testing.assert_array_equal(fc6_kernel, fc1_kernel.reshape(7, 7, 512, 4096))
    np.testing.assert_array_equal(fc6_bias, fc1_bias)
    np.testing.assert_array_equal(
        model.get_layer("fc7").get_weights()[0][0, 0], vgg16.get_layer("fc2").get_weights()[0]
    )
    np.testing.assert_array_equal(  # the convolutions too, the first flipped from BGR to RGB
        model.get_layer("block3_conv2").get_weights()[0],
        vgg16.get_layer("block3_conv2").get_weights()[0],
    )


# keras.applications' model whose layer names each backbone keeps (None: U-Net has no backbone)
REFERENCES = {
    "unet": None,
    "segnet": "VGG16",
    "fcn": "VGG16",
    "deeplab": "MobileNetV2",
    "pspnet": "ResNet50",
}


@pytest.mark.parametrize("name", MODELS)
def test_backbone_layers_are_those_named_as_in_keras_applications(name):
    """What backbone_lr_mult slows: every layer with weights that the ImageNet model has (and
    FCN's fc6, fc7, its fc1, fc2), nothing else."""
    model = tiny_model(name)
    found = {layer.name for layer in backbones.backbone_layers(model)}
    expected = set()
    if REFERENCES[name]:
        reference = getattr(keras.applications, REFERENCES[name])(
            weights=None, include_top=False, input_shape=(64, 64, 3)
        )
        expected = {layer.name for layer in reference.layers if layer.weights}
        expected &= {layer.name for layer in model.layers}
        expected |= {"fc6", "fc7"} if name == "fcn" else set()
        assert len(expected) > 10
    assert found == expected
