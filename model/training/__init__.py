"""Training: the runs (the VAE, the GAN, the VQ-VAE's prior, the classifier) on one shared base, the live jobs
the Train tab starts, their checkpoints and devices, the evaluation that writes a weights folder's metrics and
atlas, and the lab's recipe. Imports model.nets, model.store, model.data and model.analysis.

Read in this order:
    run.py           what every run shares: TrainConfig, the epoch order, the resume check, the budget, CLI errors
    loop.py          `python -m model train`: setup, steps (a generator), epochs, the weights folder at the end
    checkpoints.py   resumable checkpoints (safetensors, no pickle, atomic)
    devices.py       CPU or GPU, and torchrun's process group (DistributedDataParallel)
    evaluate.py      `python -m model evaluate`: test metrics and the atlas (the map, thumbnails)
    control.py       a live run's folder: its files, the Control a page sends, the JSON both sides write
    live_view.py     what the Train tab shows of a live run (live.json)
    worker.py        `python -m model worker`: a training process that trains many live jobs in fair turns
    lab.py           `python -m model lab`: one recipe, the bottleneck varies; the beta sweep
    gan.py           `python -m model gan`: a GAN whose generator is our decoder (checkpointed, resumable)
    prior.py         `python -m model prior`: the VQ-VAE's PixelCNN prior over its code grid
    classifier.py    `python -m model classifier`: the classifier behind FID, precision and recall
"""
