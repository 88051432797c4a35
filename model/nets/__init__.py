"""The networks and their maths: the bottom of model/, imported by every job above (store, training, analysis,
serving) and importing none of them.

Read in this order:
    kinds/         the model kinds (VAE, autoencoder, VQ-VAE, GAN), one module each: what each can do (an
                   encoder, σ, a KL term, a likelihood, a learned prior), its words for the page, and its hooks
                   (how the encoder's output becomes q(z|x), the VQ codebook). A new kind: one module there
    config.py      VAEConfig: every hyperparameter, saved inside each weights folder
    posterior.py   q(z|x): the diagonal Gaussian (sample, KL), or a point code (autoencoder, VQ-VAE)
    vae.py         ConvVAE: encoder, decoder, built as the kind says; encode, reparameterize, decode
    losses.py      the ELBO and the IWAE bound (Kingma & Welling 2013; Burda et al. 2015)
    walk.py        moving through z: lerp, slerp, prior draws, traversals, attribute arithmetic
    placement.py   the 2-D map of the test means and where a new z lands on it
    encoding.py    a whole image set through the encoder, in batches
    limits.py      what a request may ask (ranges, checks) and the error a user sees
    prior.py       the VQ-VAE's learned prior: a gated PixelCNN over its grid of code indices
    gan.py         a GAN whose generator is our Decoder: the discriminator and the losses
    classifier.py  a small Fashion-MNIST classifier, the features behind the sample-quality measures
"""
