"""Pictures: training curves, and the reasoning subgraph behind one answer
(networkx + matplotlib, written as PNG or SVG by the file suffix)."""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from kgdistill.graph import GraphBackend
from kgdistill.paths import GroundedPath


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    matplotlib.rcParams["svg.fonttype"] = "none"  # SVG text stays text (searchable, small)
    import matplotlib.pyplot as plt

    return plt


def plot_curves(teacher_curve: Sequence[dict], student_curve: Sequence[dict], path: str | Path) -> Path:
    """Training loss and validation Hits@1 per epoch of teacher and student."""
    plt = _pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.4))
    for name, curve, colour in (("teacher (GNN)", teacher_curve, "tab:blue"), ("student (LM)", student_curve,
                                                                              "tab:orange")):
        if not curve:
            continue
        ep = [c["epoch"] for c in curve]
        axes[0].plot(ep, [c["train_loss"] for c in curve], marker="o", color=colour, label=name)
        hits = [(e, c["valid_hits@1"]) for e, c in zip(ep, curve) if c.get("valid_hits@1") is not None]
        if hits:
            axes[1].plot([e for e, _ in hits], [100 * h for _, h in hits], marker="o", color=colour, label=name)
    axes[0].set(title="training loss", xlabel="epoch")
    axes[1].set(title="validation Hits@1 (strict, %)", xlabel="epoch")
    for ax in axes:
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    out = Path(path)
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out


def plot_reasoning(graph: GraphBackend, grounded: GroundedPath, path, context: int = 4,
                   title: str | None = None, entity_ids: list[int] | None = None):
    """The entities of a grounded path, up to ``context`` other neighbours of each, and
    the edges among them; the proving path drawn thick in red with its relations.
    ``path``: a file name (format from its extension) or a binary file object (SVG).
    ``entity_ids``: the path's entities as ids (labels may be shared)."""
    import networkx as nx

    plt = _pyplot()
    chain = list(entity_ids) if entity_ids is not None else [int(graph.entity_id(e)) for e in grounded.entities]
    nodes = set(chain)
    for e in chain:
        _, _, nbrs = graph.edges(np.array([e]))
        extra = [int(n) for n in dict.fromkeys(nbrs.tolist()) if int(n) not in nodes][:context]
        nodes.update(extra)
    g = nx.MultiDiGraph()
    g.add_nodes_from(nodes)
    for e in nodes:
        _, rels, nbrs = graph.edges(np.array([e]))
        for r, n in zip(rels.tolist(), nbrs.tolist()):
            if int(n) in nodes and r % 2 == 0:  # forward edges only: each triple once
                g.add_edge(e, int(n))
    proof, labels = set(), {}
    for i, rel in enumerate(grounded.relations):
        a, b = chain[i], chain[i + 1]
        edge = (b, a) if rel.inverse else (a, b)
        proof.add(edge)
        labels[edge] = rel.name  # the proving relation, even where two entities share several
    pos = nx.spring_layout(nx.Graph(g), seed=0, k=1.2)
    fig, ax = plt.subplots(figsize=(8, 6))
    other = [(u, v) for u, v in g.edges() if (u, v) not in proof]
    nx.draw_networkx_edges(g, pos, edgelist=other, ax=ax, edge_color="#bbbbbb", arrows=True, arrowsize=10)
    nx.draw_networkx_edges(g, pos, edgelist=sorted(proof), ax=ax, edge_color="tab:red", width=2.5, arrows=True,
                           arrowsize=16)
    colours = ["tab:green" if n == chain[0] else "tab:red" if n == chain[-1] else
               "#f4b183" if n in chain else "#dddddd" for n in g.nodes()]
    nx.draw_networkx_nodes(g, pos, ax=ax, node_color=colours, node_size=380)
    nx.draw_networkx_labels(g, pos, labels={n: graph.entity_label(n) for n in g.nodes()}, ax=ax, font_size=8)
    nx.draw_networkx_edge_labels(g, pos, edge_labels=labels, ax=ax, font_color="tab:red", font_size=8)
    ax.set_title(title or str(grounded), fontsize=9)
    ax.axis("off")
    fig.tight_layout()
    if hasattr(path, "write"):  # a file object: SVG (the service's pictures)
        fig.savefig(path, format="svg")
        plt.close(fig)
        return path
    out = Path(path)
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out
