"""What the study knows about each model, in one record per model (no Keras import).

The builders live in ``urbanseg.models`` (``MODELS``, keyed by the same names); everything else
a reader, the runner or the report needs about a model lives here: its display name, the paper,
the width it trains at on a CPU, the ImageNet backbone ``backbone_weights`` loads, its colour in
every figure and a one-paragraph description per language.

A model that is not in the catalog (a student's sixth notebook) describes itself: its notebook
passes a ``model_info`` dict to ``Experiment``, the run record keeps it, and
``model_info(key, supplied)`` turns it into the same kind of record.

    >>> model_info("deeplab").display_name
    'DeepLabV3+'
    >>> model_info("mine", {"display_name": "MinhaNet"}).display_name
    'MinhaNet'
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from .errors import InputError


@dataclass(frozen=True)
class ModelInfo:
    key: str  # the notebook's file stem and the results folder's name
    display_name: str
    description: Mapping[str, str] = field(default_factory=dict)  # language -> one paragraph
    reference: str | None = None  # the citation: authors. title. venue. arXiv:id.
    url: str | None = None  # where the paper is
    cpu_width: float | None = None  # channel multiplier of the CPU-friendly default run
    backbone: str | None = None  # the ImageNet backbone backbone_weights="imagenet" loads
    color: str | None = None  # its colour in every figure; None: one of EXTRA_COLORS
    # Builder options the run parameters set: "output_stride" (the output_stride parameter),
    # "aux_head" (on when aux_loss > 0).
    options: tuple[str, ...] = ()

    def describe(self, lang: str) -> str | None:
        """The description in ``lang`` (or in the only language given), None when there is none."""
        if lang in self.description:
            return self.description[lang]
        return next(iter(self.description.values()), None)


def _paper(authors: str, title: str, venue: str, arxiv: str) -> dict[str, str]:
    return {
        "reference": f"{authors}. {title}. {venue}. arXiv:{arxiv}.",
        "url": f"https://arxiv.org/abs/{arxiv}",
    }


CATALOG: dict[str, ModelInfo] = {
    "unet": ModelInfo(
        key="unet",
        display_name="U-Net",
        cpu_width=0.25,
        color="#1f77b4",
        **_paper(
            "O. Ronneberger, P. Fischer, T. Brox",
            "U-Net: Convolutional Networks for Biomedical Image Segmentation",
            "MICCAI 2015",
            "1505.04597",
        ),
        description={
            "pt": "Rede codificador-decodificador simétrica, proposta para imagens biomédicas. O "
            "codificador reduz a resolução com convoluções e max-pooling; o decodificador a "
            "recupera com convoluções transpostas e concatena, em cada escala, as características "
            'do codificador (conexões de atalho, "skip connections"), o que preserva bordas e '
            "detalhes finos.",
            "en": "A symmetric encoder-decoder network, proposed for biomedical images. The "
            "encoder reduces resolution with convolutions and max pooling; the decoder restores "
            "it with transposed convolutions and concatenates, at every scale, the encoder's "
            "features (skip connections), which preserves edges and fine detail.",
        },
    ),
    "segnet": ModelInfo(
        key="segnet",
        display_name="SegNet",
        cpu_width=0.25,
        backbone="VGG16",
        color="#ff7f0e",
        **_paper(
            "V. Badrinarayanan, A. Kendall, R. Cipolla",
            "SegNet: A Deep Convolutional Encoder-Decoder Architecture for Image Segmentation",
            "IEEE TPAMI 2017",
            "1511.00561",
        ),
        description={
            "pt": "Codificador-decodificador em que o decodificador reaproveita os índices do "
            "max-pooling do codificador: cada ativação volta à posição exata de onde veio "
            '("unpooling"), sem aprender pesos de interpolação. Isso dá uma rede leve, que '
            "recupera contornos com pouca memória.",
            "en": "An encoder-decoder whose decoder reuses the encoder's max-pooling indices: "
            "each activation returns to the exact position it came from (unpooling), with no "
            "learned interpolation weights. The result is a light network that recovers "
            "contours with little memory.",
        },
    ),
    "fcn": ModelInfo(
        key="fcn",
        display_name="FCN-8s",
        cpu_width=0.25,
        backbone="VGG16",
        color="#2ca02c",
        **_paper(
            "J. Long, E. Shelhamer, T. Darrell",
            "Fully Convolutional Networks for Semantic Segmentation",
            "CVPR 2015",
            "1411.4038",
        ),
        description={
            "pt": "A primeira rede totalmente convolucional para segmentação: um classificador "
            "sem camadas densas produz um mapa de escores a 1/32 da resolução, que é ampliado "
            "por convoluções transpostas e somado aos escores das camadas a 1/16 e 1/8 (a "
            "variante FCN-8s), combinando semântica grossa com localização mais fina.",
            "en": "The first fully convolutional network for segmentation: a classifier without "
            "dense layers produces a score map at 1/32 of the resolution, which transposed "
            "convolutions upsample and add to the scores of the 1/16 and 1/8 layers (the "
            "FCN-8s variant), combining coarse semantics with finer localisation.",
        },
    ),
    "deeplab": ModelInfo(
        key="deeplab",
        display_name="DeepLabV3+",
        cpu_width=0.5,
        backbone="MobileNetV2",
        color="#d62728",
        options=("output_stride",),
        **_paper(
            "L.-C. Chen, Y. Zhu, G. Papandreou, F. Schroff, H. Adam",
            "Encoder-Decoder with Atrous Separable Convolution for Semantic Image Segmentation",
            "ECCV 2018",
            "1802.02611",
        ),
        description={
            "pt": "Usa convoluções dilatadas (atrous) para ampliar o campo receptivo sem perder "
            "resolução e um módulo ASPP (Atrous Spatial Pyramid Pooling) com convoluções 3×3 de "
            "várias taxas de dilatação e pooling global da imagem, capturando contexto em "
            "várias escalas. Um decodificador leve combina o resultado com características de "
            "baixo nível a 1/4 da resolução para refinar as bordas. Como no artigo, as "
            "convoluções 3×3 do ASPP e do decodificador são separáveis em profundidade "
            "(depthwise separable), bem mais leves.",
            "en": "Uses dilated (atrous) convolutions to widen the receptive field without "
            "losing resolution, and an ASPP module (Atrous Spatial Pyramid Pooling) of 3×3 "
            "convolutions at several dilation rates plus global image pooling to capture "
            "context at several scales. A light decoder merges the result with low-level "
            "features at 1/4 resolution to refine boundaries. As in the paper, the 3×3 "
            "convolutions of the ASPP and the decoder are depthwise separable, much lighter.",
        },
    ),
    "pspnet": ModelInfo(
        key="pspnet",
        display_name="PSPNet",
        cpu_width=0.25,
        backbone="ResNet50",
        color="#9467bd",
        options=("output_stride", "aux_head"),
        **_paper(
            "H. Zhao, J. Shi, X. Qi, X. Wang, J. Jia",
            "Pyramid Scene Parsing Network",
            "CVPR 2017",
            "1612.01105",
        ),
        description={
            "pt": "Agrega contexto global com um módulo de pooling em pirâmide: as "
            "características do backbone são resumidas em grades de 1×1, 2×2, 3×3 e 6×6, "
            "reduzidas, ampliadas de volta e concatenadas ao mapa original antes da "
            'classificação, para que cada pixel "veja" a cena inteira.',
            "en": "Aggregates global context with a pyramid pooling module: the backbone's "
            "features are summarised on 1×1, 2×2, 3×3 and 6×6 grids, reduced, upsampled back "
            "and concatenated to the original map before classification, so that every pixel "
            '"sees" the whole scene.',
        },
    ),
}

ORDER = tuple(CATALOG)  # how tables, figures and the runner list the models

# The data set every report cites.
CITYSCAPES = _paper(
    "M. Cordts, M. Omran, S. Ramos, T. Rehfeld, M. Enzweiler, R. Benenson, U. Franke, S. Roth, "
    "B. Schiele",
    "The Cityscapes Dataset for Semantic Urban Scene Understanding",
    "CVPR 2016",
    "1604.01685",
)

EXTRA_COLORS = ("#8c564b", "#e377c2", "#17becf", "#bcbd22", "#7f7f7f")

# What a notebook's model_info may hold (the fields a student can describe).
_SUPPLIED_FIELDS = ("display_name", "description", "reference", "url")


def model_info(key: str, supplied: Mapping | None = None) -> ModelInfo:
    """The catalog record of ``key``; for a model outside the catalog, the record its notebook
    ``supplied`` (its ``model_info`` dict), else one that only knows the name.

    Raises InputError for a supplied field that is unknown or not text.
    """
    if key in CATALOG:
        return CATALOG[key]
    supplied = dict(supplied or {})
    unknown = sorted(set(supplied) - set(_SUPPLIED_FIELDS))
    if unknown:
        raise InputError(
            f"model_info de {key!r}: campo(s) desconhecido(s) {', '.join(unknown)}; "
            f"válidos: {', '.join(_SUPPLIED_FIELDS)}"
        )
    description = supplied.pop("description", None) or {}
    if isinstance(description, str):
        description = {"any": description}  # one text, shown whatever the report's language
    if isinstance(description, dict):
        fields = {**supplied, **{f"description[{lang}]": v for lang, v in description.items()}}
    else:
        fields = {**supplied, "description": description}
    for name, value in fields.items():
        if not isinstance(value, str) and not (value is None and name in _SUPPLIED_FIELDS):
            raise InputError(
                f"model_info de {key!r}: {name} deve ser texto, recebido {value!r} (description: "
                "um texto, ou um texto por idioma)"
            )
    return ModelInfo(
        key=key,
        display_name=supplied.get("display_name") or key,
        description=description,
        reference=supplied.get("reference"),
        url=supplied.get("url"),
    )


def display_name(key: str) -> str:
    """ "deeplab" -> "DeepLabV3+"; a model outside the catalog shows as its key."""
    return CATALOG[key].display_name if key in CATALOG else key


def sort_key(key: str) -> tuple[int, str]:
    """The catalog's models in catalog order, then any other model alphabetically."""
    return (ORDER.index(key), "") if key in CATALOG else (len(ORDER), key.lower())


def model_colors(keys: Iterable[str]) -> dict[str, str]:
    """A stable colour per model: a catalog model always gets its own colour; the others take
    EXTRA_COLORS in the order given."""
    colors, extra = {}, 0
    for key in keys:
        if key in CATALOG and CATALOG[key].color:
            colors[key] = CATALOG[key].color
        else:
            colors[key] = EXTRA_COLORS[extra % len(EXTRA_COLORS)]
            extra += 1
    return colors
