"""Measures of trained models: how sharp their images are, how far their samples lie from the data, how
disentangled their dimensions are, and the attribute directions found in their latent space. Imports
model.nets and model.data only.

Read in this order:
    sample_quality.py   sharpness and nearest-neighbour distances (the lab's blur in numbers)
    attributes.py       attribute directions (White 2016): `python -m model attributes`
    disentangle.py      MIG (Chen et al. 2018) and the prior-sample distance: `python -m model disentangle`
"""
