"""Write notebooks/<model>.ipynb (and _template.ipynb) from one list of cells.

The five notebooks differ only in their model name and narrative; this script keeps their
code cells identical. Edit the narrative here and run ``python tools/make_notebooks.py``.
Notebooks are written without outputs.
"""

from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"

NARRATIVE = {
    "unet": dict(
        title="U-Net",
        paper="Ronneberger, Fischer e Brox (2015). *U-Net: Convolutional Networks for Biomedical "
              "Image Segmentation*. MICCAI. [arXiv:1505.04597](https://arxiv.org/abs/1505.04597)",
        idea="""A U-Net foi proposta para segmentar imagens biomédicas com poucos exemplos de treino.
Ela tem um **codificador** (contração) que reduz a resolução e aumenta o número de canais, capturando
*o que* há na imagem, e um **decodificador** (expansão) simétrico que recupera a resolução.

A ideia-chave são as **conexões de atalho** (*skip connections*): em cada nível, o mapa de
características do codificador é concatenado ao do decodificador na mesma resolução. Assim, o
decodificador recebe o contexto global (vindo do fundo da rede) e os detalhes finos de borda
(vindos do início), o que é exatamente o que a segmentação precisa: saber *o que* é e *onde* termina.""",
        diagram="""entrada ─ conv×2 ──────────────────────────────► concat ─ conv×2 ─ 1×1 ─► logits
             └ pool ─ conv×2 ─────────────────► concat ─ conv×2 ┘ ↑ up
                       └ pool ─ conv×2 ─────► concat ─ conv×2 ┘ ↑ up
                                 └ pool ─ conv×2 ─ ... gargalo ┘""",
    ),
    "segnet": dict(
        title="SegNet",
        paper="Badrinarayanan, Kendall e Cipolla (2017). *SegNet: A Deep Convolutional "
              "Encoder-Decoder Architecture for Image Segmentation*. IEEE TPAMI. "
              "[arXiv:1511.00561](https://arxiv.org/abs/1511.00561)",
        idea="""A SegNet também é um codificador-decodificador, com um codificador no estilo VGG16. Sua
ideia-chave é a forma de aumentar a resolução: cada *max-pooling* do codificador **guarda a posição
(índice) do máximo** de cada janela, e o decodificador faz o *unpooling* **para essas posições**:
o valor volta exatamente para onde estava o máximo, e as demais posições ficam com zero. As
convoluções seguintes "preenchem" o mapa esparso.

Comparada à U-Net, a SegNet não copia mapas de características inteiros — só os índices —, o que
economiza memória e preserva bordas. O notebook original descartava esses índices (usava um
*upsampling* simples); aqui eles são usados, como no artigo.""",
        diagram="""codificador:  conv ─ pool ──índices──┐      decodificador:
                                      └──► unpool(índices) ─ conv ─ ...
                x = [[1 3]    pool → 4, índice (1,1)    unpool → [[0 0]
                     [2 4]]                                       [0 4]]""",
    ),
    "fcn": dict(
        title="FCN-8s",
        paper="Long, Shelhamer e Darrell (2015). *Fully Convolutional Networks for Semantic "
              "Segmentation*. CVPR. [arXiv:1411.4038](https://arxiv.org/abs/1411.4038)",
        idea="""A FCN (*Fully Convolutional Network*) foi o primeiro modelo a treinar de ponta a ponta uma rede
de classificação (VGG16) para predizer uma classe **por pixel**: as camadas densas viram
convoluções, e a rede aceita imagens de qualquer tamanho.

A saída do VGG tem 1/32 da resolução — grossa demais. A variante **FCN-8s** combina escores de
classe de três profundidades: os do fim da rede (passo 32, muito contexto) são ampliados e
**somados** aos escores calculados no passo 16 e depois no passo 8 (mais detalhe espacial). O
resultado é ampliado até o tamanho da entrada.""",
        diagram="""VGG: ... pool3 (1/8) ── pool4 (1/16) ── pool5 (1/32) ─ fc6/fc7 ─ escores
                  │               │                                  │ ×2
                  │               └── escores ────────────────────► (+) ×2
                  └── escores ────────────────────────────────────► (+) ×8 ─► logits""",
    ),
    "deeplab": dict(
        title="DeepLabV3+",
        paper="Chen, Zhu, Papandreou, Schroff e Adam (2018). *Encoder-Decoder with Atrous Separable "
              "Convolution for Semantic Image Segmentation*. ECCV. "
              "[arXiv:1802.02611](https://arxiv.org/abs/1802.02611)",
        idea="""A DeepLabV3+ usa **convoluções dilatadas** (*atrous*): um filtro 3×3 com "buracos" que enxerga
uma região maior sem perder resolução nem acrescentar parâmetros. O *backbone* (aqui a
MobileNetV2, leve) para no passo 16, e o módulo **ASPP** (*Atrous Spatial Pyramid Pooling*) aplica
em paralelo uma convolução 1×1, três convoluções 3×3 com taxas 6, 12 e 18 e um ramo de *pooling*
global da imagem — cinco "campos de visão" diferentes, concatenados.

Um **decodificador** leve junta a saída do ASPP (ampliada 4×) às características de baixo nível
do passo 4 (reduzidas a 48 canais) para refinar as bordas. No notebook original o ASPP usava
convoluções 1×1 dilatadas (a dilatação não tem efeito num filtro 1×1), não tinha o ramo de imagem
e a saída ficava em 1/16 da entrada — o modelo não conseguia treinar contra máscaras de tamanho
cheio.""",
        diagram="""MobileNetV2 (passo 16) ─┬─ 1×1 ────────────┐
                        ├─ 3×3, taxa 6 ─────┤
                        ├─ 3×3, taxa 12 ────┼─ concat ─ 1×1 ─ ×4 ─┐
                        ├─ 3×3, taxa 18 ────┤                     ├─ concat ─ 3×3 ─ ×4 ─► logits
                        └─ pool global ─────┘   passo 4 ─ 1×1 (48)┘""",
    ),
    "pspnet": dict(
        title="PSPNet",
        paper="Zhao, Shi, Qi, Wang e Jia (2017). *Pyramid Scene Parsing Network*. CVPR. "
              "[arXiv:1612.01105](https://arxiv.org/abs/1612.01105)",
        idea="""A PSPNet parte da observação de que muitos erros de segmentação são de **contexto**: um barco
na estrada é provavelmente um carro. Sobre as características de uma ResNet50 dilatada (passo 8
ou 16), o **módulo de pooling em pirâmide** calcula médias em grades de 1×1, 2×2, 3×3 e 6×6
células, reduz cada uma com uma convolução 1×1, amplia-as de volta e as concatena às
características originais: cada pixel passa a "ver" a cena inteira, as metades, os terços e os
sextos da imagem.

No notebook original a pirâmide era aplicada sobre a saída de passo 32 e nunca ampliada: a
máscara de saída não tinha o tamanho da imagem. Aqui a saída é ampliada bilinearmente até a
entrada, e o *pooling* adaptativo funciona para qualquer tamanho de característica.""",
        diagram="""ResNet50 dilatada ─┬──────────────────────────────┐
                   ├─ média 1×1 ─ 1×1 conv ─ ampliar ┤
                   ├─ média 2×2 ─ 1×1 conv ─ ampliar ┼─ concat ─ 3×3 ─ classes ─ ampliar ─► logits
                   ├─ média 3×3 ─ 1×1 conv ─ ampliar ┤
                   └─ média 6×6 ─ 1×1 conv ─ ampliar ┘""",
    ),
    "_template": dict(
        title="Meu modelo (modelo-base para um sexto modelo)",
        paper="Cite aqui o artigo do seu modelo (autores, ano, título, arXiv).",
        idea="""Este é o modelo-base para acrescentar um **sexto modelo** ao estudo. Copie este arquivo para
`notebooks/<nome>.ipynb` (sem o `_` inicial): o executor (`urbanseg run`) e o relatório o
encontram sozinhos, sem nenhum registro. Descreva aqui a arquitetura, a ideia-chave e por que ela
serve à segmentação, e escreva a função `build_my_model` na seção **Modelo**: ela recebe os mesmos
argumentos dos cinco construtores da biblioteca e devolve um `keras.Model` com *logits*
`(lote, H, W, num_classes)`.""",
        diagram="""entrada (H×W×3, 0–255) ─► ... sua arquitetura ... ─► logits (H×W×19)""",
    ),
}

PARAMETERS = '''# Parâmetros (papermill -p NOME VALOR os substitui; um nome desconhecido é um erro)
data_root = None  # raiz do Cityscapes; None: o conjunto sintético embutido
image_height = 128  # resolução de treino (múltiplos de 32)
image_width = 256
epochs = 10
batch_size = 4
max_train_images = None  # None: o split de treino inteiro
max_val_images = None  # None: o split de validação inteiro
learning_rate = 0.002  # Adam com decaimento polinomial
backbone_weights = None  # None, "imagenet" ou um arquivo de pesos (DeepLab, PSPNet)
variant = "default"  # "seed": a arquitetura do notebook original (U-Net, SegNet, FCN)
width = None  # multiplicador de canais; None: o padrão do modelo para CPU
seed = 0
results_dir = "results"'''

CUSTOM_BUILDER = '''import keras
from keras import layers


def build_my_model(num_classes=19, input_shape=(128, 256, 3), *, variant="default",
                   backbone_weights=None, width=1.0):
    """Exemplo mínimo: troque pela sua arquitetura."""
    inputs = keras.Input(input_shape)
    x = layers.Rescaling(1 / 255)(inputs)
    filters = max(int(32 * width), 8)
    x = layers.Conv2D(filters, 3, strides=2, padding="same", activation="relu")(x)
    x = layers.Conv2D(filters * 2, 3, strides=2, padding="same", activation="relu")(x)
    x = layers.Conv2D(num_classes, 1)(x)
    outputs = layers.UpSampling2D(4, interpolation="bilinear")(x)
    return keras.Model(inputs, outputs, name="my_model")


model = run.build_model(build_my_model)
run.model_summary()'''


def cells(name: str, text: dict) -> list:
    model_name = name.lstrip("_") if name != "_template" else "my_model"
    build = CUSTOM_BUILDER if name == "_template" else "model = run.build_model()\nrun.model_summary()"
    return [
        new_markdown_cell(f"# {text['title']} em Cityscapes\n\n"
                          "Notebook do estudo comparativo **urbanseg**: treina e avalia um modelo de "
                          "segmentação semântica nas 19 classes do Cityscapes e grava os resultados em "
                          f"`results/{model_name}/`, que o relatório (`make report`) compara com os "
                          "dos outros modelos.\n\n"
                          f"## A arquitetura\n\n{text['idea']}\n\n```text\n{text['diagram']}\n```\n\n"
                          f"**Referência:** {text['paper']}"),
        new_markdown_cell("## Parâmetros\n\nA célula abaixo tem a etiqueta `parameters`: o papermill "
                          "(`urbanseg run`, `make report`) injeta depois dela os valores passados na linha "
                          "de comando. Os padrões rodam o conjunto sintético numa CPU de 2 núcleos em "
                          "poucos minutos."),
        new_code_cell(PARAMETERS, metadata={"tags": ["parameters"]}),
        new_code_cell("from urbanseg.config import from_namespace\n\n"
                      "config = from_namespace(globals())  # valida todos os parâmetros antes de treinar\n"
                      "config"),
        new_code_cell("import logging\nimport sys\n\nimport pandas as pd\nfrom IPython.display import display\n\n"
                      "from urbanseg import plots\nfrom urbanseg.experiment import Experiment\n\n"
                      "logging.basicConfig(level=logging.INFO, format=\"%(message)s\", stream=sys.stdout, force=True)\n"
                      + ("# o nome do modelo é o nome deste arquivo, sem .ipynb: troque 'my_model'\n"
                         if name == "_template" else "")
                      + f"run = Experiment({model_name!r}, config)"),
        new_markdown_cell("## Dados\n\nSplit oficial por pasta (treino e validação de cidades distintas), "
                          "pares imagem/rótulo casados pelo nome `cidade_seq_quadro`, os 34 ids do "
                          "Cityscapes convertidos nos 19 *train ids* (os demais são ignorados, 255). As "
                          "imagens são redimensionadas uma única vez para um cache em disco (uint8) e "
                          "lidas em lotes por um `tf.data`, com espelhamento e recorte em escala aleatórios "
                          "no treino."),
        new_code_cell("display(run.data_summary().pivot_table(index='city', columns='split', values='images', "
                      "fill_value=0))\n"
                      "run.save_figure(plots.class_frequency(run.class_frequencies()), 'class_frequency')\n"
                      "images, masks = run.sample_batch()\n"
                      "run.save_figure(plots.dataset_samples(images, masks), 'dataset_samples')"),
        new_markdown_cell("## Modelo\n\nParâmetros treináveis e FLOPs por imagem na resolução de treino."),
        new_code_cell(build),
        new_markdown_cell("## Treino\n\nEntropia cruzada por pixel sobre os *logits*, ignorando os pixels void; "
                          "Adam com taxa de aprendizado em decaimento polinomial. Ao fim de cada época, o mIoU "
                          "de validação é calculado com a mesma matriz de confusão da avaliação oficial, e os "
                          "pesos da melhor época são guardados em `model.keras`."),
        new_code_cell("history = run.train()\n"
                      "run.save_figure(plots.training_curves(history), 'curves')\n"
                      "history.round(4)"),
        new_markdown_cell("## Avaliação\n\nProtocolo oficial: a predição é ampliada até a resolução original do "
                          "rótulo e comparada pixel a pixel; IoU por classe = TP / (TP + FP + FN) acumulados "
                          "sobre todo o split de validação; iIoU pondera cada instância pelo tamanho médio "
                          "da sua classe."),
        new_code_cell("metrics = run.evaluate()\n"
                      "summary = {k: metrics[k] for k in ('miou', 'category_miou', 'iiou', 'pixel_accuracy', "
                      "'mean_accuracy', 'fw_iou')}\n"
                      "display(pd.Series(summary, name=run.model_name).to_frame().T.round(4))\n"
                      "run.save_figure(plots.per_class_iou(metrics), 'per_class_iou')\n"
                      "run.save_figure(plots.confusion_matrix(metrics), 'confusion_matrix')"),
        new_markdown_cell("## Exemplos\n\nImagem, rótulo, predição e mapa de erros (vermelho: pixel errado; "
                          "preto: ignorado) nas mesmas imagens de validação para todos os modelos."),
        new_code_cell("run.save_figure(plots.sample_predictions(images, masks, run.predict_samples()), 'samples')"),
        new_code_cell("run.finish()"),
    ]


def main() -> None:
    for name, text in NARRATIVE.items():
        notebook = new_notebook(cells=cells(name, text), metadata={
            "kernelspec": {"name": "urbanseg", "display_name": "Python (urbanseg)", "language": "python"},
            "language_info": {"name": "python"},
        })
        for index, cell in enumerate(notebook.cells):
            cell["id"] = f"{name.strip('_')}-{index}"
        nbformat.validate(notebook)
        nbformat.write(notebook, NOTEBOOKS / f"{name}.ipynb")
        print(NOTEBOOKS / f"{name}.ipynb")


if __name__ == "__main__":
    main()
