"""Measures of trained models: how sharp their images are, how far their samples lie from the data, how
disentangled their dimensions are, the attribute directions in their latent space, how typical an image is
to them, and how well their map separates the classes. Imports model.nets, model.store and model.data only.

Read in this order:
    sample_quality.py   sharpness and nearest-neighbour distances (the lab's blur in numbers)
    quality.py          FID, precision and recall on the classifier's features (Kynkäänniemi et al. 2019)
    typicality.py       the 8-bit -ELBO, the complexity-corrected score (Serrà et al. 2020), IWAE, percentiles
    separation.py       the leave-one-out k-NN class accuracy of a map's points (the Train tab's number)
    attributes.py       attribute directions (White 2016): `python -m model attributes`
    disentangle.py      MIG (Chen et al. 2018) and the prior-sample distance: `python -m model disentangle`
"""
