"""A run's report: the loss curve as a PNG, and what happened as Markdown and HTML.

``write_report(run_dir, sections)`` reads ``metrics.jsonl`` (one line per step, plus the
evaluation lines), draws training and validation loss against steps with matplotlib (no screen
needed: the Agg backend), and writes ``report.md`` and ``report.html`` (the PNG embedded, so the
HTML file is self-contained). ``sections`` is a list of ``(title, markdown)`` pairs the caller
fills: settings, samples, figures.
"""

from __future__ import annotations

import base64
import html
from pathlib import Path

from llmlab.assets.files import atomic_write_bytes
from llmlab.training.events import read_jsonl


def loss_curve(run_dir: Path, out: Path | None = None) -> Path:
    """Training loss per step and validation loss per evaluation, as ``loss.png``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    records = read_jsonl(run_dir / "metrics.jsonl")
    train = [(r["step"], r["loss"]) for r in records if "loss" in r]
    val = [(r["step"], r["val_loss"]) for r in records if "val_loss" in r]
    fig, ax = plt.subplots(figsize=(7, 4), dpi=110)
    if train:
        ax.plot(*zip(*train, strict=True), label="training loss", color="#3d5a80", linewidth=1)
    if val:
        ax.plot(*zip(*val, strict=True), "o-", label="validation loss", color="#e07a5f")
    ax.set_xlabel("step")
    ax.set_ylabel("cross-entropy (nats per token)")
    ax.set_title(f"loss curve: {run_dir.name}")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    out = out or run_dir / "loss.png"
    fig.savefig(out)
    plt.close(fig)
    return out


def write_report(run_dir: Path, title: str, sections: list[tuple[str, str]]) -> tuple[Path, Path, Path]:
    """``report.md``, ``report.html`` and ``loss.png`` in ``run_dir``; returns their paths."""
    png = loss_curve(run_dir)
    md = [f"# {title}", "", "![loss curve](loss.png)", ""]
    for heading, body in sections:
        md += [f"## {heading}", "", body.rstrip(), ""]
    md_path = run_dir / "report.md"
    atomic_write_bytes(md_path, "\n".join(md).encode())
    image = base64.b64encode(png.read_bytes()).decode()
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'>",
        f"<title>{html.escape(title)}</title>",
        "<style>body{font-family:system-ui,sans-serif;max-width:52em;margin:2em auto;padding:0 1em;line-height:1.5}"
        "pre{background:#f4f4f4;padding:.8em;white-space:pre-wrap}table{border-collapse:collapse}"
        "td,th{border:1px solid #ccc;padding:.2em .6em}</style></head><body>",
        f"<h1>{html.escape(title)}</h1>",
        f"<img alt='loss curve' src='data:image/png;base64,{image}' style='max-width:100%'>",
    ]
    for heading, body in sections:
        parts.append(f"<h2>{html.escape(heading)}</h2>{_md_block(body)}")
    parts.append("</body></html>")
    html_path = run_dir / "report.html"
    atomic_write_bytes(html_path, "\n".join(parts).encode())
    return md_path, html_path, png


def _md_block(body: str) -> str:
    """The small Markdown subset the reports use: fenced blocks, tables, lists and paragraphs."""
    out, lines, i = [], body.strip().splitlines(), 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("```"):
            j = i + 1
            while j < len(lines) and not lines[j].startswith("```"):
                j += 1
            out.append("<pre>" + html.escape("\n".join(lines[i + 1 : j])) + "</pre>")
            i = j + 1
        elif line.startswith("|"):
            rows = []
            while i < len(lines) and lines[i].startswith("|"):
                cells = [c.strip() for c in lines[i].strip("|").split("|")]
                if not all(set(c) <= set("-: ") for c in cells):
                    rows.append("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in cells) + "</tr>")
                i += 1
            out.append("<table>" + "".join(rows) + "</table>")
        elif line.startswith("- "):
            items = []
            while i < len(lines) and lines[i].startswith("- "):
                items.append(f"<li>{html.escape(lines[i][2:])}</li>")
                i += 1
            out.append("<ul>" + "".join(items) + "</ul>")
        else:
            if line.strip():
                out.append(f"<p>{html.escape(line)}</p>")
            i += 1
    return "\n".join(out)
