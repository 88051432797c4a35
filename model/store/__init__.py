"""Files and formats: where the networks live on disk and how they travel, imported by every job above
(data, analysis, training, serving) and importing only model.nets.

Read in this order:
    weights.py      weights folders: safetensors + JSON, atomic writes, the atlas, metrics
    companions.py   the networks beside a model in its folder: the VQ-VAE's prior, the classifier
    pictures.py     tensors to crisp images, strips, grids, GIFs
    snapshots.py    the test means recorded during training ("watch it organise")
    onnx.py         the decoder and encoder as ONNX, for the page (`python -m model export`)
    bundle.py       a model as one zip file (the Train tab's download), unpacked only after checks
"""
