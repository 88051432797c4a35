"""What the app serves, without the UI: the models a server offers, every request it answers (each checking its
untrusted arguments) and the training service the Train tab talks to. Imports everything below it; nothing
here imports gradio or plotly.

Read in this order:
    registry.py         the models a server offers, loaded on first use (ModelEntry, LoadedModel, ModelRegistry)
    requests.py         decode, encode, reparameterize, sample, interpolate, pick, the map, attributes
    side_by_side.py     the Compare tab's requests: 2-4 models on the same inputs
    typicality.py       Is this typical?: one image's scores and verdict, the anomaly map, a folder's check
    results_figure.py   a picture of one model's results: `python -m model figure`
    training/           the training service: which live jobs run, who may control them, where they train
"""
