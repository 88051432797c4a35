"""A GAN's generator (model/nets/gan.py): our decoder trained against a discriminator, with no encoder, so no
reconstruction, no ELBO and no likelihood; z ~ N(0, I)."""
from __future__ import annotations

from . import ModelKind

KIND = ModelKind(
    name="gan", label="GAN", order=40, has_encoder=False,
    about="a GAN's generator: our decoder trained against a discriminator, with no encoder, so no "
          "reconstruction, no ELBO and no map of encoded images (its map shows its own draws)",
    compare_note=("The GAN's samples are the sharpest, but it cannot encode", ": its generator is the same "
                  "decoder, trained to fool a discriminator instead of to reconstruct, so nothing averages over a "
                  "cloud. It has no encoder: no reconstruction, no ELBO, and its walk runs between two of its own "
                  "draws."),
    picker_note=("A GAN has no encoder", ": Encode, Draw and Is this typical? need another model, and Interpolate "
                 "walks between two of its own draws instead of the two images. Its z slides, samples and walks "
                 "like any decoder's; its map shows its own draws z ~ N(0, I), placed by UMAP of the images they "
                 "make and coloured by each image's nearest test image."),
    samples_from="z ~ N(0, I) through the generator",
    marker=("square", "#ea580c"),
)
