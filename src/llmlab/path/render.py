"""A tiny document model for the learning path's reports: headed blocks, as Markdown or HTML.

A report is a list of :class:`Block` (a heading plus a list of items, a table, or nothing, in
which case ``empty`` is said instead). The same blocks render to Markdown (what the learner
keeps next to their own notes) and to one self-contained HTML file: inline CSS, no script, no
external URL, so it opens offline and can be mailed. Inline markup is limited to ``**bold**``
and ```code```; everything else is escaped.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field

BAR_WIDTH = 20


@dataclass(frozen=True)
class Block:
    heading: str
    items: list[str] = field(default_factory=list)  # a bullet list
    table: tuple[list[str], list[list[str]]] | None = None  # (header, rows)
    empty: str = ""  # said when there are no items or rows


def bar(fraction: float, width: int = BAR_WIDTH) -> str:
    """``█████░░░░░ 50%``: a text progress bar that reads the same in Markdown and HTML."""
    fraction = min(max(fraction, 0.0), 1.0)
    full = round(fraction * width)
    return "█" * full + "░" * (width - full) + f" {fraction:.0%}"


def _md_cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def to_markdown(title: str, subtitle: str, blocks: list[Block]) -> str:
    lines = [f"# {title}", "", f"_{subtitle}_", ""]
    for b in blocks:
        lines += [f"## {b.heading}", ""]
        if b.table is not None and b.table[1]:
            header, rows = b.table
            lines.append("| " + " | ".join(header) + " |")
            lines.append("|" + "---|" * len(header))
            lines += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in rows]
        elif b.items:
            lines += [f"- {item}" for item in b.items]
        else:
            lines.append(b.empty)
        lines.append("")
    return "\n".join(lines)


_BOLD = re.compile(r"\*\*(.+?)\*\*")
_CODE = re.compile(r"`([^`]+)`")

STYLE = (
    "body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;max-width:60em;margin:2em auto;"
    "padding:0 1em;line-height:1.5;color:#222}h1{margin-bottom:0}.sub{color:#666;margin-top:.2em}"
    "h2{border-bottom:1px solid #ddd;padding-bottom:.2em;margin-top:1.6em}"
    "table{border-collapse:collapse;width:100%}td,th{border:1px solid #ddd;padding:.3em .6em;"
    "text-align:left;vertical-align:top}th{background:#f4f4f4}code{background:#f4f4f4;padding:0 .2em}"
    ".empty{color:#777;font-style:italic}.bar{font-family:monospace;white-space:nowrap;color:#2a7}"
)


def _inline(text: str) -> str:
    out = html.escape(str(text))
    out = _BOLD.sub(r"<strong>\1</strong>", out)
    return _CODE.sub(r"<code>\1</code>", out)


def _cell(text: str) -> str:
    cls = " class='bar'" if "█" in text or "░" in text else ""
    return f"<td{cls}>{_inline(text)}</td>"


def to_html(title: str, subtitle: str, blocks: list[Block]) -> str:
    parts = [
        "<!doctype html>",
        "<html lang='en'><head><meta charset='utf-8'>",
        "<meta name='viewport' content='width=device-width, initial-scale=1'>",
        f"<title>{html.escape(title)}</title><style>{STYLE}</style></head><body>",
        f"<h1>{html.escape(title)}</h1><p class='sub'>{html.escape(subtitle)}</p>",
    ]
    for b in blocks:
        parts.append(f"<h2>{html.escape(b.heading)}</h2>")
        if b.table is not None and b.table[1]:
            header, rows = b.table
            parts.append("<table><tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in header) + "</tr>")
            parts += ["<tr>" + "".join(_cell(c) for c in row) + "</tr>" for row in rows]
            parts.append("</table>")
        elif b.items:
            parts.append("<ul>" + "".join(f"<li>{_inline(i)}</li>" for i in b.items) + "</ul>")
        else:
            parts.append(f"<p class='empty'>{html.escape(b.empty)}</p>")
    parts.append("</body></html>\n")
    return "\n".join(parts)
