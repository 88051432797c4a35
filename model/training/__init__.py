"""Training: the one training loop (the command line, the lab and any later worker call it), its
checkpoints and devices, the evaluation that writes a weights folder's metrics and atlas, and the lab's
recipe. Imports model.nets, model.data and model.analysis.

Read in this order:
    loop.py          `python -m model train`: setup, steps, epochs, the weights folder at the end
    checkpoints.py   resumable checkpoints (safetensors, no pickle, atomic)
    devices.py       CPU or GPU, and torchrun's process group (DistributedDataParallel)
    evaluate.py      `python -m model evaluate`: test metrics and the atlas (the map, thumbnails)
    lab.py           `python -m model lab`: one recipe, the bottleneck varies; the beta sweep
    gan.py           `python -m model gan`: a GAN whose generator is our decoder (background run)
    prior.py         `python -m model prior`: the VQ-VAE's PixelCNN prior over its code grid
    background.py    what those long runs share: a time budget, SIGTERM, sample grids
"""
