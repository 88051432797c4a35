"""Plotly figures for the teaching charts: the posterior per dimension and the training curves."""
from __future__ import annotations

import plotly.graph_objects as go

LAYOUT = dict(margin=dict(l=40, r=10, t=40, b=40), height=300, template="plotly_white",
              legend=dict(orientation="h", y=-0.25))


def posterior_figure(mu: list[float], sigma: list[float], z: list[float] | None = None) -> go.Figure:
    """q(z|x) per dimension as mean ± 2 sigma, over the prior's ± 2 band: the encoder predicts a
    distribution (a cloud), not a point; z is one draw from it."""
    dims = list(range(len(mu)))
    fig = go.Figure()
    fig.add_trace(go.Bar(x=dims, y=[4] * len(dims), base=[-2] * len(dims), marker_color="rgba(160,160,160,0.25)",
                         name="prior N(0,1): ±2", hoverinfo="skip"))
    fig.add_trace(go.Scatter(x=dims, y=mu, mode="markers", name="μ ± 2σ (posterior)",
                             marker=dict(color="#2563eb", size=9),
                             error_y=dict(type="data", array=[2 * s for s in sigma], color="#2563eb", thickness=2),
                             hovertemplate="z%{x}: μ=%{y:.2f}<extra></extra>"))
    if z is not None:
        fig.add_trace(go.Scatter(x=dims, y=z, mode="markers", name="z = μ + σ·ε (one sample)",
                                 marker=dict(color="#f97316", symbol="x", size=10),
                                 hovertemplate="z%{x} = %{y:.2f}<extra></extra>"))
    fig.update_layout(title="Encoder output q(z|x)", xaxis_title="latent dimension", yaxis_title="value",
                      bargap=0.5, **LAYOUT)
    fig.update_xaxes(tickmode="linear", dtick=1 if len(dims) <= 32 else 4)
    return fig


def history_figure(history: list[dict]) -> go.Figure:
    """Training curves: reconstruction falls while KL rises; their sum, -ELBO, falls."""
    ep = [h["epoch"] for h in history]
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=ep, y=[h["test_recon"] for h in history], name="reconstruction (test)"))
    fig.add_trace(go.Scatter(x=ep, y=[h["test_kl"] for h in history], name="KL (test)", yaxis="y2"))
    fig.add_trace(go.Scatter(x=ep, y=[h["test_neg_elbo"] for h in history], name="−ELBO (test)"))
    fig.update_layout(title="Training: the two terms of the ELBO", xaxis_title="epoch", yaxis_title="nats",
                      yaxis2=dict(title="KL (nats)", overlaying="y", side="right"), **LAYOUT)
    return fig
