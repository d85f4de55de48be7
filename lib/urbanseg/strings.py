"""Every user-facing string of the report and of the plots, in Brazilian Portuguese and English.

``text(key, lang)`` looks a string up (``str.format`` fields are filled by the caller);
``class_name``, ``category_name`` and ``model_name`` translate the names the library uses;
``number``, ``percent`` and friends format values the way a reader of ``lang`` expects
(``45,3`` in Portuguese, ``45.3`` in English). Adding a language is adding one dictionary.
"""

from __future__ import annotations

import math

LANGUAGES = ("pt", "en")

MODEL_NAMES = {
    "unet": "U-Net",
    "segnet": "SegNet",
    "fcn": "FCN-8s",
    "deeplab": "DeepLabV3+",
    "pspnet": "PSPNet",
}

CLASS_NAMES_PT = {
    "road": "pista",
    "sidewalk": "calçada",
    "building": "edifício",
    "wall": "muro",
    "fence": "cerca",
    "pole": "poste",
    "traffic light": "semáforo",
    "traffic sign": "placa de trânsito",
    "vegetation": "vegetação",
    "terrain": "terreno",
    "sky": "céu",
    "person": "pessoa",
    "rider": "ciclista/motociclista",
    "car": "carro",
    "truck": "caminhão",
    "bus": "ônibus",
    "train": "trem/bonde",
    "motorcycle": "motocicleta",
    "bicycle": "bicicleta",
}

CATEGORY_NAMES_PT = {
    "flat": "plano",
    "construction": "construção",
    "object": "objeto",
    "nature": "natureza",
    "sky": "céu",
    "human": "humano",
    "vehicle": "veículo",
    "void": "vazio",
}

REFERENCES = {  # model -> (authors, title, venue, arXiv id)
    "unet": ("O. Ronneberger, P. Fischer, T. Brox",
             "U-Net: Convolutional Networks for Biomedical Image Segmentation", "MICCAI 2015",
             "1505.04597"),
    "segnet": ("V. Badrinarayanan, A. Kendall, R. Cipolla",
               "SegNet: A Deep Convolutional Encoder-Decoder Architecture for Image Segmentation",
               "IEEE TPAMI 2017", "1511.00561"),
    "fcn": ("J. Long, E. Shelhamer, T. Darrell",
            "Fully Convolutional Networks for Semantic Segmentation", "CVPR 2015", "1411.4038"),
    "deeplab": ("L.-C. Chen, Y. Zhu, G. Papandreou, F. Schroff, H. Adam",
                "Encoder-Decoder with Atrous Separable Convolution for Semantic Image Segmentation",
                "ECCV 2018", "1802.02611"),
    "pspnet": ("H. Zhao, J. Shi, X. Qi, X. Wang, J. Jia", "Pyramid Scene Parsing Network",
               "CVPR 2017", "1612.01105"),
    "cityscapes": ("M. Cordts, M. Omran, S. Ramos, T. Rehfeld, M. Enzweiler, R. Benenson, "
                   "U. Franke, S. Roth, B. Schiele",
                   "The Cityscapes Dataset for Semantic Urban Scene Understanding", "CVPR 2016",
                   "1604.01685"),
}

# fmt: off
STRINGS: dict[str, dict[str, str]] = {
"pt": {
    # --- document ---
    "title": "Segmentação semântica de cenas urbanas",
    "subtitle": "Estudo comparativo de U-Net, SegNet, FCN, DeepLab e PSPNet no Cityscapes",
    "course": "Introdução à Aprendizagem Profunda — relatório gerado por urbanseg {version}",
    "cover_date": "Data",
    "cover_models": "Modelos",
    "cover_data": "Dados",
    "toc": "Sumário",
    "figure": "Figura",
    "table": "Tabela",
    "page": "página",
    "synthetic_badge": "dados sintéticos",
    "real_badge": "Cityscapes",
    "not_available": "—",
    # --- section titles ---
    "sec_summary": "Resumo",
    "sec_data": "Dados",
    "sec_method": "Metodologia",
    "sec_results": "Resultados",
    "sec_discussion": "Discussão",
    "sec_repro": "Reprodutibilidade",
    "sec_appendix": "Anexos",
    "sub_models": "Modelos",
    "sub_training": "Configuração do treinamento",
    "sub_metrics": "Métricas",
    "sub_protocol": "Protocolo de avaliação",
    "sub_corrections": "O que foi corrigido em relação ao notebook original",
    "sub_overall": "Resultados gerais",
    "sub_per_class": "IoU por classe",
    "sub_speed": "Qualidade versus velocidade",
    "sub_curves": "Curvas de treinamento",
    "sub_confusion": "Matrizes de confusão",
    "sub_samples": "Exemplos de previsões",
    "sub_failed": "Execuções que falharam",
    "sub_references": "Referências",
    "sub_commands": "Como reproduzir",
    "sub_environment": "Ambiente de execução",
    # --- 1. summary ---
    "summary_question": (
        "Qual das cinco arquiteturas clássicas de segmentação semântica — U-Net, SegNet, FCN, "
        "DeepLab e PSPNet — rotula melhor cada pixel de uma cena urbana, e a que custo em "
        "tempo e memória? Este estudo treinou e avaliou {n_models} sob o mesmo protocolo, com "
        "as métricas oficiais do benchmark Cityscapes, e compara aqui os resultados."),
    "summary_n_models_one": "um modelo",
    "summary_n_models_many": "{n} modelos",
    "summary_synthetic_warning": (
        "Atenção: estes resultados foram obtidos com o conjunto de dados sintético embutido no "
        "urbanseg, não com o Cityscapes real. Os números servem para verificar o procedimento e "
        "comparar os modelos entre si, mas não são comparáveis aos resultados publicados no "
        "Cityscapes."),
    "summary_best_intro": "Melhor modelo em cada critério:",
    "summary_criterion": "Critério",
    "summary_best_model": "Melhor modelo",
    "summary_value": "Valor",
    "summary_failed_one": "Uma execução falhou e aparece na Seção 4: {models}.",
    "summary_failed_many": "{n} execuções falharam e aparecem na Seção 4: {models}.",
    "summary_headline_caption": (
        "mIoU, mIoU por categoria e acurácia de pixel de cada modelo no conjunto de validação "
        "(em %, quanto maior, melhor)."),
    # --- 2. data ---
    "data_real": (
        "Os modelos foram treinados e avaliados no Cityscapes (Cordts et al., 2016), um conjunto "
        "de imagens de câmera veicular de 50 cidades alemãs com anotação fina por pixel. Usamos "
        "a divisão oficial por cidade: treino, validação (Frankfurt, Lindau e Münster) e teste "
        "(cujos rótulos não são públicos). Como os rótulos de teste não são públicos, todas as "
        "métricas deste relatório são medidas na validação."),
    "data_synthetic": (
        "Os modelos foram treinados e avaliados no conjunto sintético embutido no urbanseg: "
        "cenas geradas por programa, com exatamente o formato de arquivos do Cityscapes "
        "(mesmos nomes, mesmos ids de rótulo, mesmas cores). Ele existe para que o estudo "
        "inteiro rode em qualquer computador, sem o download do Cityscapes, que exige cadastro. "
        "Os números obtidos com ele NÃO são comparáveis aos resultados publicados para o "
        "Cityscapes; para o estudo real, execute com DATA=/caminho/para/cityscapes."),
    "data_root": "Raiz dos dados",
    "data_kind": "Conjunto de dados",
    "data_kind_real": "Cityscapes (real)",
    "data_kind_synthetic": "sintético (formato Cityscapes)",
    "data_train_images": "Imagens de treino usadas",
    "data_val_images": "Imagens de validação avaliadas",
    "data_original_size": "Resolução original (L × A)",
    "data_training_size": "Resolução de treinamento (L × A)",
    "data_classes": "Classes avaliadas",
    "data_varies": "varia por modelo: {values}",
    "data_table_caption": "Conjunto de dados usado neste estudo.",
    "data_frequency_text": (
        "A distribuição das classes é muito desigual: poucas classes de \"fundo\" (pista, "
        "edifício, vegetação, céu) ocupam a maior parte dos pixels, enquanto objetos pequenos "
        "(postes, semáforos, placas, pessoas) ocupam frações mínimas. Isso explica por que a "
        "acurácia de pixel é alta mesmo para modelos fracos e por que o mIoU, que dá o mesmo "
        "peso a todas as classes, é a métrica principal do benchmark."),
    "data_frequency_caption": "Fração dos pixels de treino ocupada por cada classe (escala logarítmica).",
    "data_samples_caption": "Imagens da validação e suas máscaras de referência coloridas pela legenda oficial.",
    "data_legend_caption": "Legenda das 19 classes avaliadas, agrupadas por categoria. Pixels ignorados (void) aparecem em preto.",
    "data_unavailable": (
        "As imagens de exemplo não puderam ser mostradas: os dados em {root} não estão "
        "disponíveis nesta máquina ({reason}). Gere o relatório com --data-root apontando para "
        "os dados para incluí-las."),
    "data_no_frequency": "As frações de pixels por classe não foram registradas nos resultados.",
    "data_no_root": (
        "As imagens de exemplo não puderam ser mostradas: os resultados não registram a raiz "
        "dos dados (data.root em metrics.json). Gere o relatório com --data-root apontando "
        "para os dados para incluí-las."),
    # --- 3. method ---
    "method_intro": (
        "Os modelos são construídos pela biblioteca urbanseg (Keras 3) com uma mesma assinatura, "
        "treinados com os mesmos dados e parâmetros e avaliados pelo mesmo código. Cada modelo "
        "foi executado em um notebook próprio (ver Anexos)."),
    "model_unet": (
        "Rede codificador-decodificador simétrica, proposta para imagens biomédicas. O "
        "codificador reduz a resolução com convoluções e max-pooling; o decodificador a recupera "
        "com convoluções transpostas e concatena, em cada escala, as características do "
        "codificador (conexões de atalho, \"skip connections\"), o que preserva bordas e "
        "detalhes finos."),
    "model_segnet": (
        "Codificador-decodificador em que o decodificador reaproveita os índices do max-pooling "
        "do codificador: cada ativação volta à posição exata de onde veio (\"unpooling\"), sem "
        "aprender pesos de interpolação. Isso dá uma rede leve, que recupera contornos com "
        "pouca memória."),
    "model_fcn": (
        "A primeira rede totalmente convolucional para segmentação: um classificador sem camadas "
        "densas produz um mapa de escores a 1/32 da resolução, que é ampliado por convoluções "
        "transpostas e somado aos escores das camadas a 1/16 e 1/8 (a variante FCN-8s), "
        "combinando semântica grossa com localização mais fina."),
    "model_deeplab": (
        "Usa convoluções dilatadas (atrous) para ampliar o campo receptivo sem perder "
        "resolução e um módulo ASPP (Atrous Spatial Pyramid Pooling) com convoluções 3×3 de "
        "várias taxas de dilatação e pooling global da imagem, capturando contexto em várias "
        "escalas. Um decodificador leve combina o resultado com características de baixo nível "
        "a 1/4 da resolução para refinar as bordas."),
    "model_pspnet": (
        "Agrega contexto global com um módulo de pooling em pirâmide: as características do "
        "backbone são resumidas em grades de 1×1, 2×2, 3×3 e 6×6, reduzidas, ampliadas de volta "
        "e concatenadas ao mapa original antes da classificação, para que cada pixel \"veja\" a "
        "cena inteira."),
    "model_other": (
        "Modelo adicional, sem descrição cadastrada no urbanseg; a arquitetura está descrita no "
        "notebook correspondente (ver Anexos)."),
    "model_reference": "Referência: {authors}. {title}. {venue}. arXiv:{arxiv}.",
    "training_intro": (
        "Todos os parâmetros registrados pelos notebooks estão na tabela abaixo. Otimizador "
        "Adam com decaimento polinomial da taxa de aprendizado até zero; a semente fixa a "
        "amostragem das imagens e a inicialização dos pesos."),
    "training_caption": "Parâmetros de treinamento (exatamente como registrados em metrics.json).",
    "param_name": "Parâmetro",
    "param_value": "Valor",
    "param_description": "Descrição",
    "param_data_root": "raiz do Cityscapes (None: conjunto sintético embutido)",
    "param_image_height": "altura das imagens no treinamento (múltiplo de 32)",
    "param_image_width": "largura das imagens no treinamento (múltiplo de 32)",
    "param_epochs": "número de épocas de treinamento",
    "param_batch_size": "imagens por lote",
    "param_max_train_images": "limite de imagens de treino (None: todas)",
    "param_max_val_images": "limite de imagens de validação (None: todas)",
    "param_learning_rate": "taxa de aprendizado inicial (Adam, decaimento polinomial até 0)",
    "param_backbone_weights": "pesos pré-treinados do backbone (None: inicialização aleatória)",
    "param_variant": "\"default\" ou \"seed\" (a arquitetura do notebook original)",
    "param_width": "multiplicador do número de canais (None: padrão do modelo)",
    "param_seed": "semente aleatória",
    "param_results_dir": "pasta onde os resultados foram gravados",
    "metrics_intro": (
        "Todas as métricas seguem as definições do script oficial do Cityscapes "
        "(cityscapesScripts, evalPixelLevelSemanticLabeling) e são calculadas a partir de uma "
        "única matriz de confusão acumulada sobre todo o conjunto de validação — não por imagem "
        "e depois promediadas. Os valores aparecem em porcentagem."),
    "metric_iou": (
        "IoU (interseção sobre união) de uma classe = VP / (VP + FP + FN), onde VP, FP e FN são "
        "os verdadeiros positivos, falsos positivos e falsos negativos dessa classe na matriz "
        "de confusão."),
    "metric_miou": "mIoU: média do IoU sobre as 19 classes avaliadas (a métrica principal do benchmark).",
    "metric_iiou": (
        "iIoU: IoU por instância para as 8 classes com instâncias (pessoa, ciclista, carro, "
        "caminhão, ônibus, trem, motocicleta, bicicleta); cada pixel de VP e FN é ponderado "
        "pela razão entre o tamanho médio de uma instância da classe e o tamanho da sua "
        "instância, para que objetos pequenos pesem tanto quanto os grandes."),
    "metric_category": (
        "IoU por categoria: o mesmo IoU depois de agrupar as 19 classes nas 7 categorias "
        "(plano, construção, objeto, natureza, céu, humano, veículo); mIoU por categoria é a "
        "média sobre elas."),
    "metric_pixel_accuracy": (
        "Acurácia de pixel: pixels válidos corretamente classificados / pixels válidos. O "
        "caminho oficial dessa métrica (evalPixelAccuracy) tem um erro conhecido; por isso ela "
        "é definida aqui diretamente a partir da matriz de confusão."),
    "metric_mean_accuracy": "Acurácia média: média sobre as classes de VP / (VP + FN) (a revocação de cada classe).",
    "metric_fwiou": "FWIoU: média dos IoU ponderada pela frequência de cada classe nos pixels de referência.",
    "metric_cost": (
        "Custo: número de parâmetros, FLOPs por imagem na resolução de treinamento "
        "(2 × multiplicações-adições), tempo total de treinamento e imagens por segundo na "
        "inferência. Tempos só são comparáveis entre modelos executados na mesma máquina "
        "(Seção 6)."),
    "protocol_split": "Conjunto avaliado: {split} ({n} imagens).",
    "protocol_full": (
        "As previsões são ampliadas (vizinho mais próximo sobre os rótulos) para a resolução "
        "original das anotações, {size}, antes da comparação — o protocolo oficial."),
    "protocol_train": (
        "As previsões são comparadas na resolução de treinamento, {size}, com as anotações "
        "reduzidas por vizinho mais próximo; os números são por isso apenas aproximações do "
        "protocolo oficial, que avalia na resolução original."),
    "protocol_void": (
        "Pixels cuja anotação é ignorada (void, id de treino 255) não contam em nenhuma métrica; "
        "uma previsão de classe ignorada sobre um pixel válido conta como falso negativo."),
    "protocol_varies": "O protocolo difere entre os modelos: {values}.",
    "corrections_intro": (
        "Este estudo partiu de um notebook do Colab. Ao reproduzi-lo, encontramos erros que "
        "invalidavam as comparações; a tabela abaixo diz o que mudou."),
    "corrections_problem": "No notebook original",
    "corrections_fix": "Neste estudo",
    "correction_1_problem": (
        "Métricas calculadas sobre probabilidades softmax contra rótulos one-hot: a \"acurácia "
        "de pixel\" comparava números reais, o IoU era calculado por imagem sobre todas as "
        "classes e o mIoU era igual ao IoU."),
    "correction_1_fix": "Uma matriz de confusão acumulada sobre toda a validação, com as definições oficiais.",
    "correction_2_problem": "Os 34 ids de rótulo usados como classes, incluindo void.",
    "correction_2_fix": "As 19 classes de treino do benchmark, com os pixels void ignorados.",
    "correction_3_problem": (
        "Divisão aleatória de 500 imagens de treino+validação: quadros de uma mesma gravação "
        "caíam no treino e no teste."),
    "correction_3_fix": "A divisão oficial por cidade; a avaliação é feita na validação.",
    "correction_4_problem": (
        "Imagens lidas com cv2 (BGR) e mostradas como RGB; imagens em float64 na memória "
        "(500 imagens era o limite)."),
    "correction_4_fix": "Imagens RGB em uint8, lidas em fluxo (tf.data) com cache em disco; memória constante.",
    "correction_5_problem": (
        "DeepLab com ASPP de convoluções 1×1 (dilatar um kernel 1×1 não faz nada), sem pooling "
        "da imagem e saída a 1/16 da entrada; PSPNet com a pirâmide sobre a saída a 1/32, nunca "
        "ampliada. Nenhum dos dois podia ser treinado contra as máscaras em tamanho real."),
    "correction_5_fix": (
        "ASPP com convoluções 3×3 dilatadas e pooling da imagem, decodificador e saída na "
        "resolução da entrada; PSPNet com a pirâmide completa e saída ampliada."),
    "correction_6_problem": "SegNet sem os índices de pooling (o que define a arquitetura).",
    "correction_6_fix": "SegNet com unpooling pelos índices do max-pooling.",
    # --- 4. results ---
    "results_intro": (
        "A Tabela {table} resume as métricas na validação e o custo de cada modelo. Em negrito, "
        "o melhor valor de cada coluna: o maior para as métricas e para a velocidade de "
        "inferência, o menor para parâmetros, FLOPs e tempo de treinamento."),
    "results_caption": "Métricas na validação (em %) e custo de cada modelo. Melhor valor de cada coluna em negrito.",
    "col_model": "Modelo",
    "col_miou": "mIoU",
    "col_category_miou": "mIoU cat.",
    "col_iiou": "iIoU",
    "col_pixel_accuracy": "Acur. pixel",
    "col_mean_accuracy": "Acur. média",
    "col_fw_iou": "FWIoU",
    "col_params": "Parâm.",
    "col_flops": "FLOPs",
    "col_train_time": "Treino",
    "col_inference": "Inferência",
    "col_memory": "Memória",
    "unit_percent": "%",
    "unit_millions": "milhões",
    "unit_giga": "G",
    "unit_time": "tempo",
    "unit_img_s": "img/s",
    "unit_mib": "MiB (pico)",
    "col_epochs": "Épocas",
    "heatmap_caption": "IoU (%) de cada classe por modelo. Células vazias: classe ausente da validação (IoU indefinido).",
    "bars_caption": "IoU (%) por classe, lado a lado para cada modelo.",
    "speed_text": (
        "A Figura {figure} coloca cada modelo no plano velocidade × qualidade: à direita, os mais "
        "rápidos; acima, os mais precisos; o tamanho do ponto é o número de parâmetros."),
    "speed_caption": "mIoU (%) versus imagens por segundo na inferência (escala logarítmica); área do ponto proporcional ao número de parâmetros.",
    "curves_caption": "Perda (treino tracejado, validação contínua) e mIoU de validação por época.",
    "curves_missing": "Sem history.csv para: {models}.",
    "confusion_text": (
        "Cada linha da matriz é uma classe real e soma 100 %: a diagonal é a revocação da "
        "classe; fora dela, para onde vão os pixels confundidos. A coluna à direita mostra os "
        "pixels previstos como classe ignorada (contam como erro)."),
    "confusion_caption": "Matriz de confusão normalizada por linha (%) — {model}.",
    "samples_text": (
        "As mesmas imagens da validação para todos os modelos, na resolução de treinamento. Nos "
        "mapas de erro, vermelho indica pixel errado, preto indica pixel ignorado na avaliação "
        "e cinza claro indica acerto."),
    "samples_caption": "Imagens da validação, referência e previsão de cada modelo.",
    "errors_caption": "Mapas de erro de cada modelo nas mesmas imagens (vermelho: erro; preto: ignorado).",
    "samples_missing": "Nenhum modelo gravou previsões de exemplo (results/<modelo>/samples/).",
    "failed_title": "Falhou: {model}",
    "failed_text": "A execução deste modelo falhou e ele não entra nas comparações. Erro registrado:",
    "failed_notebook": "Notebook executado até o erro:",
    "failed_badge": "falhou",
    "failed_date": "Data: {date}",
    # --- 5. discussion ---
    "discussion_intro": (
        "As observações abaixo são derivadas automaticamente dos números deste relatório; elas "
        "descrevem estes resultados, com estes dados e este treinamento, e não devem ser "
        "generalizadas sem experimentos adicionais."),
    "disc_best": "{model} obteve o maior mIoU ({value} %), {margin} pontos acima de {second} ({second_value} %).",
    "disc_baseline": (
        "Como referência, prever sempre a classe mais frequente no treino ({cls}) daria mIoU de "
        "{miou} % e acurácia de pixel de {accuracy} %."
    ),
    "disc_baseline_above": "Todos os modelos ficam acima dessa referência.",
    "disc_baseline_below": "Não a superam: {models}.",
    "disc_single": "Apenas um modelo tem resultados ({model}, mIoU {value} %); não há comparação entre arquiteturas.",
    "disc_hardest": "As classes mais difíceis, pela média do IoU entre os modelos, foram {classes}.",
    "disc_easiest": "As mais fáceis foram {classes}.",
    "disc_undefined": "IoU indefinido (classe ausente das anotações de validação): {classes}.",
    "disc_small": (
        "Em objetos pequenos ({classes}), o melhor modelo foi {model}, com IoU médio de "
        "{value} %."),
    "disc_large": "Nas grandes regiões de fundo ({classes}), o melhor foi {model} ({value} %).",
    "disc_small_none": (
        "Nenhum modelo segmentou os objetos pequenos ({classes}): o IoU médio de cada modelo "
        "nessas classes arredonda para 0,0 %."),
    "disc_large_none": "Nenhum modelo segmentou as grandes regiões de fundo ({classes}).",
    "disc_same_best": "O mesmo modelo lidera nos dois grupos.",
    "disc_fastest": (
        "O modelo mais rápido na inferência foi {model} ({speed} imagens/s), com mIoU de "
        "{value} %; o de maior mIoU, {best}, processa {best_speed} imagens/s."),
    "disc_fastest_is_best": "{model} foi ao mesmo tempo o mais rápido e o de maior mIoU.",
    "disc_pareto": (
        "Nenhum outro modelo é ao mesmo tempo mais rápido e mais preciso que {models} "
        "(a fronteira de Pareto velocidade × mIoU)."),
    "disc_efficiency": (
        "Em eficiência de parâmetros, {model} obteve {value} pontos de mIoU por milhão de "
        "parâmetros; {largest}, o maior modelo ({params} M), obteve {largest_value}."),
    "disc_iiou": (
        "O iIoU ficou abaixo do IoU médio das classes com instâncias em {models}: esses modelos "
        "erram proporcionalmente mais nas instâncias pequenas (pessoas e veículos distantes)."),
    "disc_synthetic": (
        "Lembrete: os dados são sintéticos; a ordem dos modelos aqui não prevê a ordem no "
        "Cityscapes real."),
    "disc_failed_one": "{models} falhou e não entra nestas observações.",
    "disc_failed_many": "{models} falharam e não entram nestas observações.",
    # --- 6. reproducibility ---
    "repro_intro": (
        "O estudo inteiro roda com um comando a partir de um clone do repositório; os "
        "resultados de cada modelo ficam em results/<modelo>/ e este relatório é regenerado a "
        "partir deles."),
    "repro_make": "Tudo, com o conjunto padrão (prepara o ambiente, executa os notebooks, gera o relatório):",
    "repro_run": "Estes mesmos modelos e parâmetros:",
    "repro_report": "Somente o relatório, a partir de results/:",
    "repro_seed": "Semente: {seed}. A mesma semente e os mesmos parâmetros reproduzem a amostragem e a inicialização; em GPU, operações não determinísticas podem mudar os últimos dígitos.",
    "env_caption": "Ambiente em que cada modelo foi executado (de metrics.json, \"environment\").",
    "env_key": "Item",
    "env_urbanseg": "urbanseg",
    "env_python": "Python",
    "env_keras": "Keras",
    "env_backend": "Backend do Keras",
    "env_tensorflow": "TensorFlow",
    "env_numpy": "NumPy",
    "env_platform": "Sistema",
    "env_cpu": "CPU",
    "env_gpu": "GPU",
    "env_git_commit": "Commit git",
    "env_date": "Data da execução",
    "env_digest": "Hash dos parâmetros",
    "env_peak_rss_mb": "Memória máxima (MB)",
    "env_none": "nenhuma",
    # --- 7. appendix ---
    "appendix_intro": (
        "Cada modelo foi treinado e avaliado em um notebook executado (papermill). As versões "
        "em HTML abaixo mostram o texto, as saídas e os gráficos; o código fica oculto e pode "
        "ser exibido pelo botão no topo de cada página."),
    "appendix_link": "Notebook de {model}",
    "appendix_missing": "{model}: notebook executado não encontrado.",
    "appendix_failed_export": "{model}: o notebook não pôde ser convertido ({error}).",
    "notebook_toggle_show": "Mostrar código",
    "notebook_toggle_hide": "Ocultar código",
    "notebook_back": "← Relatório",
    "split_val": "validação (val)",
    "split_train": "treino (train)",
    "split_test": "teste (test)",
    "references_intro": "",
    # --- plots ---
    "plot_epoch": "época",
    "plot_loss": "perda",
    "plot_train_loss": "perda de treino",
    "plot_val_loss": "perda de validação",
    "plot_val_miou": "mIoU de validação (%)",
    "plot_loss_title": "Perda",
    "plot_miou_title": "mIoU de validação",
    "plot_curves_title": "Curvas de treinamento",
    "plot_iou": "IoU (%)",
    "plot_per_class_title": "IoU por classe (mIoU = {miou} %)",
    "plot_confusion_title": "Matriz de confusão normalizada (%)",
    "plot_confusion_counts_title": "Matriz de confusão (pixels)",
    "plot_true_class": "classe real",
    "plot_predicted_class": "classe prevista",
    "plot_void": "ignorado",
    "plot_image": "imagem",
    "plot_ground_truth": "referência",
    "plot_prediction": "previsão",
    "plot_error_map": "erros",
    "plot_no_prediction": "sem previsão",
    "plot_legend_title": "Classes do Cityscapes",
    "plot_heatmap_title": "IoU por classe (%)",
    "plot_bars_title": "IoU por classe e modelo",
    "plot_speed_x": "inferência (imagens/s, escala log)",
    "plot_speed_y": "mIoU (%)",
    "plot_speed_title": "Qualidade × velocidade",
    "plot_params_legend": "{value} M parâmetros",
    "plot_frequency_x": "fração dos pixels (escala log)",
    "plot_frequency_title": "Frequência das classes",
    "plot_samples_title": "Exemplos do conjunto de dados",
    "plot_metric_percent": "valor (%)",
    "plot_metrics_title": "Métricas por modelo",
    "metric_name_miou": "mIoU",
    "metric_name_category_miou": "mIoU por categoria",
    "metric_name_iiou": "iIoU",
    "metric_name_pixel_accuracy": "acurácia de pixel",
    "metric_name_mean_accuracy": "acurácia média",
    "metric_name_fw_iou": "FWIoU",
    "metric_name_inference": "velocidade de inferência",
    "metric_name_params": "menos parâmetros",
    "metric_name_train_time": "treino mais rápido",
    # --- units ---
    "unit_images_per_second": "{value} imagens/s",
    "unit_params": "{value} M parâmetros",
    "unit_duration_h": "{h} h {m:02d} min",
    "unit_duration_m": "{m} min {s:02d} s",
    "unit_duration_s": "{s} s",
    "list_and": " e ",
},
"en": {
    "title": "Semantic segmentation of urban scenes",
    "subtitle": "A comparative study of U-Net, SegNet, FCN, DeepLab and PSPNet on Cityscapes",
    "course": "Introduction to Deep Learning — report generated by urbanseg {version}",
    "cover_date": "Date",
    "cover_models": "Models",
    "cover_data": "Data",
    "toc": "Contents",
    "figure": "Figure",
    "table": "Table",
    "page": "page",
    "synthetic_badge": "synthetic data",
    "real_badge": "Cityscapes",
    "not_available": "—",
    "sec_summary": "Summary",
    "sec_data": "Data",
    "sec_method": "Method",
    "sec_results": "Results",
    "sec_discussion": "Discussion",
    "sec_repro": "Reproducibility",
    "sec_appendix": "Appendix",
    "sub_models": "Models",
    "sub_training": "Training setup",
    "sub_metrics": "Metrics",
    "sub_protocol": "Evaluation protocol",
    "sub_corrections": "What was corrected relative to the original notebook",
    "sub_overall": "Overall results",
    "sub_per_class": "Per-class IoU",
    "sub_speed": "Quality versus speed",
    "sub_curves": "Training curves",
    "sub_confusion": "Confusion matrices",
    "sub_samples": "Sample predictions",
    "sub_failed": "Failed runs",
    "sub_references": "References",
    "sub_commands": "How to reproduce",
    "sub_environment": "Execution environment",
    "summary_question": (
        "Which of five classic semantic-segmentation architectures — U-Net, SegNet, FCN, "
        "DeepLab and PSPNet — best labels every pixel of an urban scene, and at what cost in "
        "time and memory? This study trained and evaluated {n_models} under one protocol, with "
        "the official Cityscapes benchmark metrics, and compares the results here."),
    "summary_n_models_one": "one model",
    "summary_n_models_many": "{n} models",
    "summary_synthetic_warning": (
        "Note: these results come from urbanseg's embedded synthetic data set, not from the "
        "real Cityscapes. They check the procedure and compare the models with each other, but "
        "they are not comparable to published Cityscapes results."),
    "summary_best_intro": "Best model for each criterion:",
    "summary_criterion": "Criterion",
    "summary_best_model": "Best model",
    "summary_value": "Value",
    "summary_failed_one": "One run failed and is shown in Section 4: {models}.",
    "summary_failed_many": "{n} runs failed and are shown in Section 4: {models}.",
    "summary_headline_caption": (
        "mIoU, category mIoU and pixel accuracy of each model on the validation set (in %, "
        "higher is better)."),
    "data_real": (
        "The models were trained and evaluated on Cityscapes (Cordts et al., 2016), dash-camera "
        "images from 50 German cities with fine per-pixel annotation. We use the official split "
        "by city: train, validation (Frankfurt, Lindau and Münster) and test (whose labels are "
        "withheld). Since the test labels are not public, every metric in this report is "
        "measured on the validation set."),
    "data_synthetic": (
        "The models were trained and evaluated on urbanseg's embedded synthetic data set: "
        "procedurally generated scenes in exactly the Cityscapes file format (same names, label "
        "ids and colours). It lets the whole study run on any computer without the Cityscapes "
        "download, which requires registration. Numbers obtained on it are NOT comparable to "
        "published Cityscapes results; for the real study, run with DATA=/path/to/cityscapes."),
    "data_root": "Data root",
    "data_kind": "Data set",
    "data_kind_real": "Cityscapes (real)",
    "data_kind_synthetic": "synthetic (Cityscapes format)",
    "data_train_images": "Training images used",
    "data_val_images": "Validation images evaluated",
    "data_original_size": "Original resolution (W × H)",
    "data_training_size": "Training resolution (W × H)",
    "data_classes": "Evaluated classes",
    "data_varies": "varies by model: {values}",
    "data_table_caption": "Data set used in this study.",
    "data_frequency_text": (
        "Classes are very unevenly distributed: a few background classes (road, building, "
        "vegetation, sky) cover most pixels, while small objects (poles, traffic lights, signs, "
        "people) cover tiny fractions. This is why pixel accuracy is high even for weak models "
        "and why mIoU, which weighs every class equally, is the benchmark's main metric."),
    "data_frequency_caption": "Fraction of the training pixels covered by each class (log scale).",
    "data_samples_caption": "Validation images and their reference masks in the official colours.",
    "data_legend_caption": "Legend of the 19 evaluated classes, grouped by category. Ignored (void) pixels are black.",
    "data_unavailable": (
        "Sample images could not be shown: the data at {root} is not available on this machine "
        "({reason}). Render the report with --data-root pointing at the data to include them."),
    "data_no_frequency": "Per-class pixel fractions were not recorded in the results.",
    "data_no_root": (
        "Sample images could not be shown: the results do not record the data root (data.root "
        "in metrics.json). Render the report with --data-root pointing at the data to include "
        "them."),
    "method_intro": (
        "The models are built by the urbanseg library (Keras 3) with one shared signature, "
        "trained on the same data with the same parameters and evaluated by the same code. "
        "Each model ran in its own notebook (see Appendix)."),
    "model_unet": (
        "A symmetric encoder-decoder network, proposed for biomedical images. The encoder "
        "reduces resolution with convolutions and max pooling; the decoder restores it with "
        "transposed convolutions and concatenates, at every scale, the encoder's features "
        "(skip connections), which preserves edges and fine detail."),
    "model_segnet": (
        "An encoder-decoder whose decoder reuses the encoder's max-pooling indices: each "
        "activation returns to the exact position it came from (unpooling), with no learned "
        "interpolation weights. The result is a light network that recovers contours with "
        "little memory."),
    "model_fcn": (
        "The first fully convolutional network for segmentation: a classifier without dense "
        "layers produces a score map at 1/32 of the resolution, which transposed convolutions "
        "upsample and add to the scores of the 1/16 and 1/8 layers (the FCN-8s variant), "
        "combining coarse semantics with finer localisation."),
    "model_deeplab": (
        "Uses dilated (atrous) convolutions to widen the receptive field without losing "
        "resolution, and an ASPP module (Atrous Spatial Pyramid Pooling) of 3×3 convolutions at "
        "several dilation rates plus global image pooling to capture context at several "
        "scales. A light decoder merges the result with low-level features at 1/4 resolution "
        "to refine boundaries."),
    "model_pspnet": (
        "Aggregates global context with a pyramid pooling module: the backbone's features are "
        "summarised on 1×1, 2×2, 3×3 and 6×6 grids, reduced, upsampled back and concatenated to "
        "the original map before classification, so that every pixel \"sees\" the whole scene."),
    "model_other": (
        "An additional model with no description registered in urbanseg; its architecture is "
        "described in its notebook (see Appendix)."),
    "model_reference": "Reference: {authors}. {title}. {venue}. arXiv:{arxiv}.",
    "training_intro": (
        "Every parameter the notebooks recorded is in the table below. Adam optimiser with a "
        "polynomial decay of the learning rate to zero; the seed fixes image sampling and "
        "weight initialisation."),
    "training_caption": "Training parameters (exactly as recorded in metrics.json).",
    "param_name": "Parameter",
    "param_value": "Value",
    "param_description": "Description",
    "param_data_root": "Cityscapes root (None: the embedded synthetic data set)",
    "param_image_height": "training image height (multiple of 32)",
    "param_image_width": "training image width (multiple of 32)",
    "param_epochs": "number of training epochs",
    "param_batch_size": "images per batch",
    "param_max_train_images": "limit on training images (None: all)",
    "param_max_val_images": "limit on validation images (None: all)",
    "param_learning_rate": "initial learning rate (Adam, polynomial decay to 0)",
    "param_backbone_weights": "pretrained backbone weights (None: random initialisation)",
    "param_variant": "\"default\" or \"seed\" (the original notebook's architecture)",
    "param_width": "channel multiplier (None: the model's default)",
    "param_seed": "random seed",
    "param_results_dir": "folder the results were written to",
    "metrics_intro": (
        "Every metric follows the definitions of the official Cityscapes script "
        "(cityscapesScripts, evalPixelLevelSemanticLabeling) and is computed from one confusion "
        "matrix accumulated over the whole validation set — not per image and then averaged. "
        "Values are percentages."),
    "metric_iou": (
        "IoU (intersection over union) of a class = TP / (TP + FP + FN), where TP, FP and FN "
        "are the class's true positives, false positives and false negatives in the confusion "
        "matrix."),
    "metric_miou": "mIoU: the mean IoU over the 19 evaluated classes (the benchmark's main metric).",
    "metric_iiou": (
        "iIoU: instance-level IoU for the 8 classes with instances (person, rider, car, truck, "
        "bus, train, motorcycle, bicycle); every TP and FN pixel is weighted by the ratio of "
        "the class's average instance size to the size of its instance, so that small objects "
        "weigh as much as large ones."),
    "metric_category": (
        "Category IoU: the same IoU after merging the 19 classes into the 7 categories (flat, "
        "construction, object, nature, sky, human, vehicle); category mIoU is their mean."),
    "metric_pixel_accuracy": (
        "Pixel accuracy: correctly classified valid pixels / valid pixels. The official code "
        "path for this metric (evalPixelAccuracy) has a known bug, so it is defined here "
        "directly from the confusion matrix."),
    "metric_mean_accuracy": "Mean accuracy: the mean over classes of TP / (TP + FN) (each class's recall).",
    "metric_fwiou": "FWIoU: the mean of the IoUs weighted by each class's frequency in the reference pixels.",
    "metric_cost": (
        "Cost: number of parameters, FLOPs per image at the training resolution (2 × "
        "multiply-adds), total training time and inference images per second. Times are only "
        "comparable between models run on the same machine (Section 6)."),
    "protocol_split": "Evaluated split: {split} ({n} images).",
    "protocol_full": (
        "Predictions are upsampled (nearest neighbour on the labels) to the annotations' "
        "original resolution, {size}, before comparison — the official protocol."),
    "protocol_train": (
        "Predictions are compared at the training resolution, {size}, against annotations "
        "downsampled by nearest neighbour; the numbers are therefore only approximations of "
        "the official protocol, which scores at the original resolution."),
    "protocol_void": (
        "Pixels whose annotation is ignored (void, train id 255) count in no metric; a "
        "prediction of an ignored class on a valid pixel counts as a false negative."),
    "protocol_varies": "The protocol differs between models: {values}.",
    "corrections_intro": (
        "This study started from a Colab notebook. Reproducing it, we found errors that "
        "invalidated its comparisons; the table below lists what changed."),
    "corrections_problem": "In the original notebook",
    "corrections_fix": "In this study",
    "correction_1_problem": (
        "Metrics on softmax probabilities against one-hot labels: its \"pixel accuracy\" "
        "compared floats, its IoU was per image over all classes, and its mIoU equalled its "
        "IoU."),
    "correction_1_fix": "One confusion matrix accumulated over the whole validation set, with the official definitions.",
    "correction_2_problem": "The 34 label ids used as classes, void included.",
    "correction_2_fix": "The benchmark's 19 train ids, with void pixels ignored.",
    "correction_3_problem": (
        "A random split of 500 images of train+val: frames of one drive landed in both train "
        "and test."),
    "correction_3_fix": "The official split by city; evaluation on the validation set.",
    "correction_4_problem": (
        "Images read with cv2 (BGR) and plotted as RGB; images held as float64 in memory (500 "
        "images was the limit)."),
    "correction_4_fix": "RGB uint8 images streamed with tf.data and a disk cache; flat memory.",
    "correction_5_problem": (
        "DeepLab with an ASPP of 1×1 convolutions (dilating a 1×1 kernel does nothing), no "
        "image pooling and output at 1/16 of the input; PSPNet with the pyramid on the stride-32 "
        "output, never upsampled. Neither could train against full-size masks."),
    "correction_5_fix": (
        "ASPP of dilated 3×3 convolutions with image pooling, a decoder and output at the "
        "input resolution; PSPNet with the full pyramid and upsampled output."),
    "correction_6_problem": "SegNet without its pooling indices (what defines the architecture).",
    "correction_6_fix": "SegNet with unpooling by the max-pooling indices.",
    "results_intro": (
        "Table {table} summarises the validation metrics and the cost of every model. The best "
        "value of each column is in bold: the highest for the metrics and inference speed, the "
        "lowest for parameters, FLOPs and training time."),
    "results_caption": "Validation metrics (in %) and cost of every model. Best value of each column in bold.",
    "col_model": "Model",
    "col_miou": "mIoU",
    "col_category_miou": "Cat. mIoU",
    "col_iiou": "iIoU",
    "col_pixel_accuracy": "Pixel acc.",
    "col_mean_accuracy": "Mean acc.",
    "col_fw_iou": "FWIoU",
    "col_params": "Params",
    "col_flops": "FLOPs",
    "col_train_time": "Training",
    "col_inference": "Inference",
    "col_memory": "Memory",
    "unit_percent": "%",
    "unit_millions": "millions",
    "unit_giga": "G",
    "unit_time": "time",
    "unit_img_s": "img/s",
    "unit_mib": "MiB (peak)",
    "col_epochs": "Epochs",
    "heatmap_caption": "IoU (%) of every class per model. Empty cells: class absent from the validation set (undefined IoU).",
    "bars_caption": "IoU (%) per class, side by side for every model.",
    "speed_text": (
        "Figure {figure} places every model on the speed × quality plane: faster to the right, "
        "more accurate to the top; the point size is the number of parameters."),
    "speed_caption": "mIoU (%) versus inference images per second (log scale); point area proportional to the number of parameters.",
    "curves_caption": "Loss (training dashed, validation solid) and validation mIoU per epoch.",
    "curves_missing": "No history.csv for: {models}.",
    "confusion_text": (
        "Each row of a matrix is a true class and sums to 100 %: the diagonal is the class's "
        "recall; off the diagonal, where its pixels went. The right-hand column shows the "
        "pixels predicted as an ignored class (they count as errors)."),
    "confusion_caption": "Row-normalised confusion matrix (%) — {model}.",
    "samples_text": (
        "The same validation images for every model, at the training resolution. In the error "
        "maps, red marks a wrong pixel, black a pixel ignored in the evaluation and light grey "
        "a correct one."),
    "samples_caption": "Validation images, reference and every model's prediction.",
    "errors_caption": "Every model's error map on the same images (red: wrong; black: ignored).",
    "samples_missing": "No model saved sample predictions (results/<model>/samples/).",
    "failed_title": "Failed: {model}",
    "failed_text": "This model's run failed and it is left out of the comparisons. Recorded error:",
    "failed_notebook": "Notebook executed up to the error:",
    "failed_badge": "failed",
    "failed_date": "Date: {date}",
    "discussion_intro": (
        "The observations below are derived automatically from the numbers in this report; "
        "they describe these results, with this data and this training, and should not be "
        "generalised without further experiments."),
    "disc_best": "{model} reached the highest mIoU ({value} %), {margin} points above {second} ({second_value} %).",
    "disc_baseline": (
        "For reference, always predicting the most frequent training class ({cls}) would give an "
        "mIoU of {miou} % and a pixel accuracy of {accuracy} %."
    ),
    "disc_baseline_above": "Every model is above this floor.",
    "disc_baseline_below": "Not above it: {models}.",
    "disc_single": "Only one model has results ({model}, mIoU {value} %); there is no comparison between architectures.",
    "disc_hardest": "The hardest classes, by IoU averaged over the models, were {classes}.",
    "disc_easiest": "The easiest were {classes}.",
    "disc_undefined": "Undefined IoU (class absent from the validation annotations): {classes}.",
    "disc_small": "On small objects ({classes}), the best model was {model}, with a mean IoU of {value} %.",
    "disc_large": "On large background regions ({classes}), the best was {model} ({value} %).",
    "disc_small_none": (
        "No model segments the small objects ({classes}): each model's mean IoU on these "
        "classes rounds to 0.0 %."),
    "disc_large_none": "No model segments the large background regions ({classes}).",
    "disc_same_best": "The same model leads both groups.",
    "disc_fastest": (
        "The fastest model at inference was {model} ({speed} images/s), with an mIoU of "
        "{value} %; the most accurate, {best}, processes {best_speed} images/s."),
    "disc_fastest_is_best": "{model} was both the fastest and the most accurate model.",
    "disc_pareto": (
        "No other model is both faster and more accurate than {models} (the speed × mIoU "
        "Pareto front)."),
    "disc_efficiency": (
        "In parameter efficiency, {model} reached {value} mIoU points per million parameters; "
        "{largest}, the largest model ({params} M), reached {largest_value}."),
    "disc_iiou": (
        "iIoU was below the mean IoU of the instance classes for {models}: these models miss "
        "proportionally more of the small instances (distant people and vehicles)."),
    "disc_synthetic": (
        "Reminder: the data is synthetic; the ranking of the models here does not predict "
        "their ranking on the real Cityscapes."),
    "disc_failed_one": "{models} failed and is left out of these observations.",
    "disc_failed_many": "{models} failed and are left out of these observations.",
    "repro_intro": (
        "The whole study runs with one command from a clone of the repository; each model's "
        "results live in results/<model>/ and this report is regenerated from them."),
    "repro_make": "Everything, on the default data set (sets up the environment, runs the notebooks, renders the report):",
    "repro_run": "These same models and parameters:",
    "repro_report": "Only the report, from results/:",
    "repro_seed": "Seed: {seed}. The same seed and parameters reproduce sampling and initialisation; on GPUs, non-deterministic operations may change the last digits.",
    "env_caption": "Environment each model ran in (from metrics.json, \"environment\").",
    "env_key": "Item",
    "env_urbanseg": "urbanseg",
    "env_python": "Python",
    "env_keras": "Keras",
    "env_backend": "Keras backend",
    "env_tensorflow": "TensorFlow",
    "env_numpy": "NumPy",
    "env_platform": "System",
    "env_cpu": "CPU",
    "env_gpu": "GPU",
    "env_git_commit": "Git commit",
    "env_date": "Run date",
    "env_digest": "Parameter hash",
    "env_peak_rss_mb": "Peak memory (MB)",
    "env_none": "none",
    "appendix_intro": (
        "Each model was trained and evaluated in an executed notebook (papermill). The HTML "
        "versions below show the narrative, outputs and plots; the code is hidden and can be "
        "shown with the button at the top of each page."),
    "appendix_link": "{model} notebook",
    "appendix_missing": "{model}: executed notebook not found.",
    "appendix_failed_export": "{model}: the notebook could not be converted ({error}).",
    "notebook_toggle_show": "Show code",
    "notebook_toggle_hide": "Hide code",
    "notebook_back": "← Report",
    "split_val": "validation (val)",
    "split_train": "training (train)",
    "split_test": "test",
    "references_intro": "",
    "plot_epoch": "epoch",
    "plot_loss": "loss",
    "plot_train_loss": "training loss",
    "plot_val_loss": "validation loss",
    "plot_val_miou": "validation mIoU (%)",
    "plot_loss_title": "Loss",
    "plot_miou_title": "Validation mIoU",
    "plot_curves_title": "Training curves",
    "plot_iou": "IoU (%)",
    "plot_per_class_title": "Per-class IoU (mIoU = {miou} %)",
    "plot_confusion_title": "Normalised confusion matrix (%)",
    "plot_confusion_counts_title": "Confusion matrix (pixels)",
    "plot_true_class": "true class",
    "plot_predicted_class": "predicted class",
    "plot_void": "ignored",
    "plot_image": "image",
    "plot_ground_truth": "reference",
    "plot_prediction": "prediction",
    "plot_error_map": "errors",
    "plot_no_prediction": "no prediction",
    "plot_legend_title": "Cityscapes classes",
    "plot_heatmap_title": "Per-class IoU (%)",
    "plot_bars_title": "IoU per class and model",
    "plot_speed_x": "inference (images/s, log scale)",
    "plot_speed_y": "mIoU (%)",
    "plot_speed_title": "Quality × speed",
    "plot_params_legend": "{value} M parameters",
    "plot_frequency_x": "fraction of pixels (log scale)",
    "plot_frequency_title": "Class frequency",
    "plot_samples_title": "Data set samples",
    "plot_metric_percent": "value (%)",
    "plot_metrics_title": "Metrics per model",
    "metric_name_miou": "mIoU",
    "metric_name_category_miou": "category mIoU",
    "metric_name_iiou": "iIoU",
    "metric_name_pixel_accuracy": "pixel accuracy",
    "metric_name_mean_accuracy": "mean accuracy",
    "metric_name_fw_iou": "FWIoU",
    "metric_name_inference": "inference speed",
    "metric_name_params": "fewest parameters",
    "metric_name_train_time": "fastest training",
    "unit_images_per_second": "{value} images/s",
    "unit_params": "{value} M parameters",
    "unit_duration_h": "{h} h {m:02d} min",
    "unit_duration_m": "{m} min {s:02d} s",
    "unit_duration_s": "{s} s",
    "list_and": " and ",
},
}
# fmt: on


def _check_lang(lang: str) -> str:
    if lang not in STRINGS:
        raise ValueError(f"lang={lang!r}: must be one of {', '.join(LANGUAGES)}")
    return lang


def text(key: str, lang: str = "pt", **fields) -> str:
    """The string ``key`` in ``lang``, with ``fields`` filled in by ``str.format``."""
    value = STRINGS[_check_lang(lang)][key]
    return value.format(**fields) if fields else value


def class_name(name: str, lang: str = "pt") -> str:
    """A Cityscapes class name ("traffic light") as a reader of ``lang`` knows it."""
    return CLASS_NAMES_PT.get(name, name) if _check_lang(lang) == "pt" else name


def category_name(name: str, lang: str = "pt") -> str:
    return CATEGORY_NAMES_PT.get(name, name) if _check_lang(lang) == "pt" else name


def model_name(name: str) -> str:
    """Display name of a model ("deeplab" -> "DeepLabV3+"); an unknown model shows as given."""
    return MODEL_NAMES.get(name, name)


def model_description(name: str, lang: str = "pt") -> str:
    key = f"model_{name}"
    return text(key if key in STRINGS[_check_lang(lang)] else "model_other", lang)


def reference(name: str, lang: str = "pt") -> str | None:
    if name not in REFERENCES:
        return None
    authors, title, venue, arxiv = REFERENCES[name]
    return text("model_reference", lang, authors=authors, title=title, venue=venue, arxiv=arxiv)


def join_names(names, lang: str = "pt") -> str:
    """"a, b e c" / "a, b and c"."""
    names = list(names)
    if len(names) <= 1:
        return "".join(names)
    return ", ".join(names[:-1]) + text("list_and", lang) + names[-1]


def number(value, decimals: int = 1, lang: str = "pt") -> str:
    """A number with ``decimals`` digits, thin-space thousands, the decimal mark of ``lang``."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return text("not_available", lang)
    formatted = f"{float(value):,.{decimals}f}"  # 12,345.6
    if _check_lang(lang) == "pt":
        formatted = formatted.replace(",", "\u2009").replace(".", ",")
    else:
        formatted = formatted.replace(",", "\u2009")
    return formatted


def percent(fraction, decimals: int = 1, lang: str = "pt") -> str:
    """A score in [0, 1] as a percentage without the sign: 0.4532 -> "45,3" (pt) / "45.3" (en)."""
    if fraction is None or (isinstance(fraction, float) and math.isnan(fraction)):
        return text("not_available", lang)
    return number(100.0 * float(fraction), decimals, lang)


def duration(seconds, lang: str = "pt") -> str:
    """12.3 -> "12 s"; 725 -> "12 min 05 s"; 4000 -> "1 h 06 min"."""
    if seconds is None or (isinstance(seconds, float) and math.isnan(seconds)):
        return text("not_available", lang)
    seconds = int(round(float(seconds)))
    if seconds >= 3600:
        return text("unit_duration_h", lang, h=seconds // 3600, m=seconds % 3600 // 60)
    if seconds >= 60:
        return text("unit_duration_m", lang, m=seconds // 60, s=seconds % 60)
    return text("unit_duration_s", lang, s=seconds)
