"""The networks, their maths and the files they live in: the bottom of model/, imported by every job above
(training, analysis, serving) and importing none of them.

Read in this order:
    config.py      VAEConfig: every hyperparameter, saved inside each weights folder
    posterior.py   q(z|x): the diagonal Gaussian (sample, KL), or a point code (autoencoder, VQ-VAE)
    vae.py         ConvVAE: encoder, decoder, the VQ codebook; encode, reparameterize, decode
    losses.py      the ELBO and the IWAE bound (Kingma & Welling 2013; Burda et al. 2015)
    walk.py        moving through z: lerp, slerp, prior draws, traversals, attribute arithmetic
    placement.py   the 2-D map of the test means and where a new z lands on it
    encoding.py    a whole image set through the encoder, in batches
    limits.py      what a request may ask (ranges, checks) and the error a user sees
    pictures.py    tensors to crisp images, strips, grids, GIFs
    weights.py     weights folders: safetensors + JSON, atomic writes, the atlas, metrics
    snapshots.py   the test means recorded during training ("watch it organise")
    onnx.py        the decoder and encoder as ONNX, for the page (`python -m model export`)
    bundle.py      a model as one zip file (the Train tab's download), unpacked only after checks
    prior.py       the VQ-VAE's learned prior: a gated PixelCNN over its grid of code indices
    gan.py         a GAN whose generator is our Decoder: the discriminator and the losses
"""
