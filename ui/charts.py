"""Plotly figures for the teaching charts: the posterior per dimension, the training curves, and the
lab's side-by-side maps, clouds, training snapshots and rate-distortion curve."""
from __future__ import annotations

import functools
import json

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from model.nets.kinds import kind_of
from model.store.pictures import base64_of

# The class colours of every chart and of the page's maps (sent to the page: ui/runtime.py page_rules), made for
# colour-blind readers: Paul Tol's "muted" scheme (nine colours told apart under protanopia, deuteranopia and
# tritanopia) and a dark grey for the tenth class; past ten, Okabe & Ito's orange, blue, vermillion and bluish green.
# A class is also named by the map's hover text and legend, never by its colour alone.
PALETTE = ("#CC6677", "#332288", "#DDCC77", "#117733", "#88CCEE", "#882255", "#44AA99", "#999933", "#AA4499",
           "#555555", "#E69F00", "#0072B2", "#D55E00", "#009E73")

LAYOUT = dict(margin=dict(l=40, r=10, t=40, b=40), height=300, template="plotly_white",
              legend=dict(orientation="h", y=-0.25))


def posterior_figure(mu: list[float], sigma: list[float] | None, z: list[float] | None = None) -> go.Figure:
    """q(z|x) per dimension as mean ± 2 sigma, over the prior's ± 2 band: the encoder predicts a
    distribution (a cloud), not a point; z is one draw from it. sigma None: an autoencoder's code,
    drawn as bare points (it has no spread)."""
    dims = list(range(len(mu)))
    fig = go.Figure()
    fig.add_trace(go.Bar(x=dims, y=[4] * len(dims), base=[-2] * len(dims), marker_color="rgba(160,160,160,0.25)",
                         name="prior N(0,1): ±2", hoverinfo="skip"))
    spread = {} if sigma is None else dict(
        error_y=dict(type="data", array=[2 * s for s in sigma], color="#2563eb", thickness=2))
    fig.add_trace(go.Scatter(x=dims, y=mu, mode="markers", marker=dict(color="#2563eb", size=9),
                             name="code z (a point: no σ)" if sigma is None else "μ ± 2σ (posterior)",
                             hovertemplate="z%{x}: μ=%{y:.2f}<extra></extra>", **spread))
    if z is not None:
        fig.add_trace(go.Scatter(x=dims, y=z, mode="markers", name="z = μ + σ·ε (one sample)",
                                 marker=dict(color="#f97316", symbol="x", size=10),
                                 hovertemplate="z%{x} = %{y:.2f}<extra></extra>"))
    fig.update_layout(title="Encoder output q(z|x)", xaxis_title="latent dimension", yaxis_title="value",
                      bargap=0.5, **LAYOUT)
    fig.update_xaxes(tickmode="linear", dtick=1 if len(dims) <= 32 else 4)
    return fig


def history_figure(history: list[dict], has_kl: bool = True) -> go.Figure:
    """Training curves: reconstruction falls while KL rises; their sum, -ELBO, falls. A kind with no KL
    term (a plain autoencoder) has only its reconstruction drawn."""
    ep = [h["epoch"] for h in history]
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=ep, y=[h["test_recon"] for h in history], name="reconstruction (test)"))
    if has_kl:
        fig.add_trace(go.Scatter(x=ep, y=[h["test_kl"] for h in history], name="KL (test)", yaxis="y2"))
        fig.add_trace(go.Scatter(x=ep, y=[h["test_neg_elbo"] for h in history], name="−ELBO (test)"))
    fig.update_layout(title="Training: the two terms of the ELBO", xaxis_title="epoch", yaxis_title="nats",
                      yaxis2=dict(title="KL (nats)", overlaying="y", side="right"), **LAYOUT)
    return fig


def typed(a, dtype: str = "<f4") -> dict:
    """An array as plotly.js's typed array ({dtype, bdata}: base64 of its little-endian bytes): a quarter of
    the JSON of its numbers written out, and nothing for plotly's Python validators to walk."""
    a = np.ascontiguousarray(a, dtype=dtype)
    return {"dtype": a.dtype.str[1:], "bdata": base64_of(a)}


@functools.lru_cache(maxsize=16)
def _row_of_maps(n: int, spacing: float, height: int, margin: tuple[int, int, int, int]) -> str:
    """The layout of one row of n maps in LAYOUT's look (make_subplots' axes and domains, one title annotation
    per map, the template), as JSON: built with plotly once per shape and filled in per request, since
    building and validating a figure through plotly's objects costs more than the rest of a comparison."""
    fig = make_subplots(rows=1, cols=max(1, n), subplot_titles=[str(i) for i in range(max(1, n))],
                        horizontal_spacing=spacing)
    fig.update_layout(**dict(LAYOUT, height=height, margin=dict(zip("lrtb", margin, strict=True))))
    return json.dumps(fig.to_plotly_json()["layout"], default=_plain)


def _plain(v):
    """json.dumps' fallback for the numpy numbers plotly's template holds."""
    return v.tolist() if hasattr(v, "tolist") else str(v)


def row_layout(titles: list[str], lims: list[float], spacing: float, height: int,
               margin: tuple[int, int, int, int]) -> dict:
    """A fresh layout dict for one row of maps: each map titled and squared to ±lim on both axes."""
    layout = json.loads(_row_of_maps(len(titles), spacing, height, margin))
    for col, (title, lim) in enumerate(zip(titles, lims, strict=True), start=1):
        layout["annotations"][col - 1]["text"] = title
        for axis in ("xaxis", "yaxis"):
            layout[f"{axis}{col if col > 1 else ''}"]["range"] = [-lim, lim]
    return layout


def on_map(col: int) -> dict:
    """The axes of the col-th map of a row (1-based), as a trace names them."""
    return {"xaxis": f"x{col if col > 1 else ''}", "yaxis": f"y{col if col > 1 else ''}"}


def _ellipses(mu: np.ndarray, sigma: np.ndarray, k: float = 2.0, n: int = 24) -> tuple[np.ndarray, np.ndarray]:
    """mu ± k sigma ellipses (axis-aligned: q(z|x) is diagonal) as one NaN-separated outline (float32)."""
    t = np.linspace(0, 2 * np.pi, n)
    xs = mu[:, :1] + k * sigma[:, :1] * np.cos(t)                  # (N, n)
    ys = mu[:, 1:2] + k * sigma[:, 1:2] * np.sin(t)
    gap = np.full((len(mu), 1), np.nan)
    return np.hstack([xs, gap]).ravel().astype(np.float32), np.hstack([ys, gap]).ravel().astype(np.float32)


def cloud_traces(c: dict) -> list[dict]:
    """One model's map for clouds_figure, as plain trace dicts: the prior's 2-sigma circle, each test image's
    q(z|x) as its mu ± 2 sigma ellipse (a VAE), and the means as points (all an autoencoder has). showlegend
    marks the traces the first map names in the legend."""
    ring = np.linspace(0, 2 * np.pi, 60)
    out = [dict(type="scatter", x=typed(2 * np.cos(ring)), y=typed(2 * np.sin(ring)), mode="lines", hoverinfo="skip",
                line=dict(color="#999", dash="dot"), name="prior N(0, I): 2σ", showlegend=True)]
    for k, cls in enumerate(c["classes"]):
        sel = c["labels"] == k
        color = PALETTE[k % len(PALETTE)]
        if c["sigma"] is not None:
            x, y = _ellipses(c["mu"][sel], c["sigma"][sel])
            out.append(dict(type="scatter", x=typed(x), y=typed(y), mode="lines", fill="toself", opacity=0.35,
                            line=dict(color=color, width=0.5), hoverinfo="skip", legendgroup=cls, showlegend=False))
        out.append(dict(type="scatter", x=typed(c["mu"][sel, 0]), y=typed(c["mu"][sel, 1]), mode="markers", name=cls,
                        legendgroup=cls, showlegend=True, marker=dict(color=color, size=4),
                        hovertemplate=f"{cls}<extra></extra>"))
    return out


def clouds_figure(panels: list[tuple[str, dict, list[dict]]]) -> str:
    """One 2-D map per model (name, its clouds, its cloud_traces), side by side, as the figure's JSON (what
    gr.Plot sends): each test image's q(z|x) as its mu ± 2 sigma ellipse (a VAE), or a bare point (an
    autoencoder), over the prior's 2-sigma circle. Each map has its own scale: an autoencoder's codes spread far."""
    lims = [max(3.0, float(np.abs(c["mu"]).max()) * 1.05) for _, c, _ in panels]
    layout = row_layout([n for n, _, _ in panels], lims, 0.05, 380, (40, 10, 40, 40))
    layout["title"] = {"text": "Posterior clouds: μ ± 2σ of each test image (an autoencoder has only points; "
                               "mind each map's scale)"}
    data = [dict(t, **on_map(col), showlegend=t["showlegend"] and col == 1)
            for col, (_, _, traces) in enumerate(panels, start=1) for t in traces]
    return json.dumps({"data": data, "layout": layout})


def organise_figure(panels: list[tuple[str, dict]]) -> dict:
    """The recorded training snapshots as an animation that the page assembles (assets/animate.js): one map
    per model, a training-time slider and Play. Sent as the layout, one trace template and, per model, its
    classes' colour indices (uint8) and its test means at every snapshot as int16 with their scale
    (model.serving.side_by_side.organising): a frame per snapshot is built in the page, not sent. Each model
    keeps its own axes, so the autoencoder's outward drift shows in the scale."""
    steps = min(len(s["step"]) for _, s in panels)
    titles = [f"{name}: mean |μ| {s['radius'][1]:.1f} → {s['radius'][steps - 1]:.1f}" for name, s in panels]
    lims = [float(s["reach"][:steps].max()) * 1.05 + 1e-6 for _, s in panels]
    layout = row_layout(titles, lims, 0.06, 440, (40, 10, 60, 90))
    epochs = panels[0][1]["epoch"]
    slider = dict(active=steps - 1, currentvalue=dict(prefix="training: epoch "), pad=dict(t=30),
                  steps=[dict(method="animate", label=f"{epochs[t]:.2f}",
                              args=[[str(t)], dict(mode="immediate", frame=dict(duration=0, redraw=False),
                                                   transition=dict(duration=0))]) for t in range(steps)])
    play = dict(type="buttons", showactive=False, x=0, y=-0.12, xanchor="left", direction="left", buttons=[
        dict(label="▶ Play", method="animate",
             args=[None, dict(frame=dict(duration=250, redraw=False), fromcurrent=False, transition=dict(duration=0))]),
        dict(label="❚❚ Pause", method="animate",
             args=[[None], dict(mode="immediate", frame=dict(duration=0, redraw=False))])])
    layout.update(title={"text": "Watch it organise: the test means during training"}, sliders=[slider],
                  updatemenus=[play])
    return {"layout": layout, "frames": steps, "palette": list(PALETTE),
            "trace": dict(type="scatter", mode="markers", showlegend=False, hoverinfo="skip", marker=dict(size=3)),
            "panels": [{"mu": typed(s["q"][:steps], "<i2"), "scale": s["scale"], "axes": on_map(col),
                        "colour": typed(s["labels"] % len(PALETTE), "u1")}
                       for col, (_, s) in enumerate(panels, start=1)]}


def rate_distortion_figure(sweep: dict, others: list[tuple[str, float, float]] = ()) -> go.Figure:
    """Distortion (reconstruction nats) against rate (KL nats) for the beta sweep, with lines of
    constant -ELBO = D + R (Alemi et al. 2018, "Fixing a Broken ELBO"). Each beta picks a point; the
    autoencoder has no finite rate and is drawn at the right edge. The sweep runs the page offers are
    named; others are (name, rate, distortion) of shipped models trained with other recipes."""
    vae = [r for r in sweep["runs"] if kind_of(r["kind"]).has_kl]          # a rate to plot
    ae = [r for r in sweep["runs"] if not kind_of(r["kind"]).has_kl]
    rates = [r["kl"] for r in vae] + [o[1] for o in others]
    dists = [r["recon"] for r in vae] + [r["recon"] for r in ae] + [o[2] for o in others]
    r_max = max(rates) * 1.35
    fig = go.Figure()
    lo, hi = min(dists) - 10, max(dists) + 10
    for elbo in np.arange(np.ceil((lo + min(rates)) / 10) * 10, hi + r_max, 10):
        fig.add_trace(go.Scatter(x=[0, r_max], y=[elbo, elbo - r_max], mode="lines", hoverinfo="skip",
                                 line=dict(color="#ddd", width=1), showlegend=False))
    fig.add_trace(go.Scatter(x=rates, y=[r["recon"] for r in vae], mode="lines+markers+text",
                             text=[f"β={r['beta']:g}" + (f" ({r['shipped_as']})" if r.get("shipped_as") else "")
                                   for r in vae], textposition="top right",
                             marker=dict(size=[14 if r.get("shipped_as") else 8 for r in vae], color="#2563eb"),
                             name="VAE, one β each", customdata=[r["neg_elbo"] for r in vae],
                             hovertemplate="rate %{x:.1f} nats, distortion %{y:.1f} nats<br>−ELBO %{customdata:.1f}"
                                           "<extra></extra>"))
    for r in ae:
        label = f"autoencoder ({r['shipped_as']}): rate → ∞" if r.get("shipped_as") else "autoencoder: rate → ∞"
        fig.add_trace(go.Scatter(x=[r_max], y=[r["recon"]], mode="markers+text", text=[label],
                                 textposition="top left",
                                 marker=dict(symbol="triangle-right", size=12, color="#dc2626"),
                                 name="autoencoder (no KL)", hovertemplate="distortion %{y:.1f} nats<extra></extra>"))
    for name, rate, dist in others:
        fig.add_trace(go.Scatter(x=[rate], y=[dist], mode="markers+text", text=[name], textposition="bottom right",
                                 marker=dict(symbol="star", size=14, color="#16a34a"),
                                 name=f"{name} (longer recipe)", hovertemplate="rate %{x:.1f}, distortion %{y:.1f}"
                                                                             "<extra></extra>"))
    fig.update_layout(title="The tug-of-war: distortion against rate (grey: lines of equal −ELBO)",
                      xaxis_title="rate: KL(q(z|x) ‖ N(0, I)), nats", yaxis_title="distortion: −log p(x|z), nats",
                      **dict(LAYOUT, height=380))
    fig.update_xaxes(range=[0, r_max * 1.02])
    fig.update_yaxes(range=[lo, hi])
    return fig


def factors_figure(factor_names: list[str], corr: list[list[float]], title: str) -> go.Figure:
    """What each latent dimension learned: |corr(μ_j, factor_k)| as a heatmap, factors down, dimensions
    across. A disentangled model lights one cell per row; an entangled one smears each row."""
    z = np.asarray(corr, dtype=float)
    fig = go.Figure(go.Heatmap(z=z, x=[f"z{j}" for j in range(z.shape[1])], y=factor_names, zmin=0, zmax=1,
                               colorscale="Blues", colorbar=dict(title="|corr|"),
                               hovertemplate="%{y} vs %{x}: |corr| %{z:.2f}<extra></extra>"))
    fig.update_layout(title=title, xaxis_title="latent dimension (μ)", **dict(LAYOUT, height=380))
    fig.update_yaxes(autorange="reversed")
    return fig


def typicality_figure(panels: list[tuple[str, dict, float, float]]) -> go.Figure:
    """One small histogram per score of the model's test set (rebuilt from its stored quantiles: share of the
    test images per bin), with this image's value marked by a vertical line; a value beyond the test set's
    range is marked at the edge, with its number. panels: (title, {"edges", "share"}, value, percentile)."""
    fig = make_subplots(rows=1, cols=len(panels), subplot_titles=[p[0] for p in panels], horizontal_spacing=0.12)
    for col, (_, hist, value, pct) in enumerate(panels, start=1):
        edges = np.asarray(hist["edges"], dtype=float)
        share = np.asarray(hist["share"], dtype=float) * 100
        fig.add_trace(go.Bar(x=(edges[:-1] + edges[1:]) / 2, y=share, width=np.diff(edges), showlegend=False,
                             marker_color="rgba(37,99,235,0.45)", name="test images",
                             hovertemplate="%{x:.0f} nats: %{y:.1f}% of the test images<extra></extra>"),
                      row=1, col=col)
        lo, hi = float(edges[0]), float(edges[-1])
        at = min(max(value, lo), hi)
        where = "" if at == value else (" (off the chart →)" if value > hi else " (← off the chart)")
        label = f"this image: {value:.0f}{where}<br>{pct:.0f}% score lower" if 1 <= pct <= 99 else \
            f"this image: {value:.0f}{where}<br>{pct:.1f}% score lower"
        fig.add_vline(x=at, line=dict(color="#dc2626", width=3), row=1, col=col,
                      annotation=dict(text=label, font=dict(color="#dc2626", size=11)),
                      annotation_position="top left" if at > (lo + hi) / 2 else "top right")
        fig.update_xaxes(title_text="nats (higher: less typical)", range=[lo - 0.02 * (hi - lo), hi + 0.02 * (hi - lo)],
                         row=1, col=col)
        fig.update_yaxes(title_text="% of test images" if col == 1 else None, row=1, col=col)
    fig.update_layout(bargap=0, **dict(LAYOUT, height=260, margin=dict(l=50, r=10, t=40, b=45)))
    return fig


FLOOR_MARKER = ("star", "#16a34a")          # the training set against the test set; a model: its kind's marker


LABEL_SPOTS = ("top center", "middle right", "bottom right", "bottom center")


def quality_figure(table: dict) -> go.Figure:
    """Precision against recall of every model's samples (Kynkäänniemi et al. 2019, k-NN manifolds of a
    Fashion-MNIST classifier's features): up is "samples look real", right is "samples cover the data". The
    training set against the test set is the floor, drawn as a star; uniform noise is left out (0, 0)."""
    fig = go.Figure()
    placed: list[tuple[float, float]] = []
    for r in table["rows"]:
        if r["model"] == "noise":
            continue
        near = sum(abs(r["recall"] - x) < 0.08 and abs(r["precision"] - y) < 0.08 for x, y in placed)
        placed.append((r["recall"], r["precision"]))          # labels of near points go round the marker
        kind = r.get("kind")
        symbol, colour = FLOOR_MARKER if kind is None else kind_of(kind).marker
        t = r.get("temperature")
        label = "training images (the floor)" if kind is None else (
            r["model"] + ("" if t in (None, 1, 1.0) else f" T={t:g}"))
        fig.add_trace(go.Scatter(x=[r["recall"]], y=[r["precision"]], mode="markers+text", text=[label],
                                 textposition=LABEL_SPOTS[near % len(LABEL_SPOTS)],
                                 marker=dict(symbol=symbol, size=13, color=colour),
                                 name=label, showlegend=False, customdata=[[r["fid"], r["sharpness"]]],
                                 hovertemplate=f"{label}<br>precision %{{y:.3f}}, recall %{{x:.3f}}<br>FID "
                                               "%{customdata[0]:.1f}, sharpness %{customdata[1]:.2f}<extra></extra>"))
    fig.update_layout(title="Samples: precision (they look real) against recall (they cover the data)",
                      xaxis_title="recall", yaxis_title="precision", **dict(LAYOUT, height=420))
    fig.update_xaxes(range=[-0.1, 1.0])
    fig.update_yaxes(range=[-0.05, 1.05])
    return fig
