"""A study's report: ``DIR/report.md`` (figures as ``DIR/figures/*.png``) and
``DIR/report.html``, the same content in one file with every figure inlined.

A report is a list of blocks — ``("heading", text)``, ``("paragraph", text)``,
``("table", DataFrame)``, ``("figure", Exhibit)`` — rendered twice, so the two files
never say different things.
"""

from __future__ import annotations

import base64
import html
import re
from pathlib import Path

import numpy as np
import pandas as pd

from disentangle.reproduce.figures import Exhibit
from disentangle.run_folder import atomic_write_bytes
from disentangle.viz.figures import figure_to_png_bytes

#: Markdown's inline code, drawn as <code> in the HTML page
_CODE = re.compile(r"`([^`]+)`")
REPORT_MD = "report.md"
REPORT_HTML = "report.html"
FIGURES = "figures"
_STYLE = ("body{font-family:sans-serif;max-width:70em;margin:2em auto;padding:0 1em;line-height:1.4}"
          "table{border-collapse:collapse;margin:1em 0;font-size:90%}td,th{border:1px solid #ccc;padding:.2em .5em}"
          "th{background:#f3f3f3}.wide{overflow-x:auto}figure{margin:1em 0}img{max-width:100%}")


def _cell(value) -> str:
    if isinstance(value, (float, np.floating)):
        return "—" if np.isnan(value) else f"{value:.3f}"
    return str(value)


def _markdown_table(frame: pd.DataFrame) -> str:
    lines = ["| " + " | ".join(map(str, frame.columns)) + " |", "|" + "---|" * len(frame.columns)]
    lines += ["| " + " | ".join(_cell(value) for value in row) + " |" for row in frame.itertuples(index=False)]
    return "\n".join(lines)


def _breakable(text: str) -> str:
    return text.replace(".", ".<wbr>").replace("_", "_<wbr>")


def _html_table(frame: pd.DataFrame) -> str:
    # long score names (``beta_vae.eval_accuracy``) may break after their dots and underscores
    head = "".join(f"<th>{_breakable(html.escape(str(column)))}</th>" for column in frame.columns)
    rows = "".join("<tr>" + "".join(f"<td>{html.escape(_cell(value))}</td>" for value in row) + "</tr>"
                   for row in frame.itertuples(index=False))
    return f'<div class="wide"><table><tr>{head}</tr>{rows}</table></div>'


def write_report(out: Path, title: str, blocks: list[tuple[str, object]]) -> tuple[Path, Path]:
    """Write ``out/report.md``, ``out/report.html`` and every figure's PNG (atomically);
    returns the two report paths. Figures of an earlier report are replaced."""
    figures = Path(out) / FIGURES
    figures.mkdir(parents=True, exist_ok=True)
    for old in figures.glob("*.png"):
        old.unlink()
    markdown, body = [f"# {title}"], [f"<h1>{html.escape(title)}</h1>"]
    for kind, content in blocks:
        if kind == "heading":
            markdown.append(f"## {content}")
            body.append(f"<h2>{html.escape(content)}</h2>")
        elif kind == "paragraph":
            markdown.append(content)
            body.append("<p>" + _CODE.sub(r"<code>\1</code>", html.escape(content)) + "</p>")
        elif kind == "table":
            markdown.append(_markdown_table(content))
            body.append(_html_table(content))
        elif kind == "figure":
            exhibit: Exhibit = content
            if exhibit.figure is not None:
                png = figure_to_png_bytes(exhibit.figure)
                atomic_write_bytes(figures / f"{exhibit.name}.png", png)
                markdown.append(f"![{exhibit.caption}]({FIGURES}/{exhibit.name}.png)\n\n*{exhibit.caption}*")
                uri = "data:image/png;base64," + base64.b64encode(png).decode("ascii")
                body.append(f'<figure><img alt="{html.escape(exhibit.caption)}" src="{uri}">'
                            f"<figcaption>{html.escape(exhibit.caption)}</figcaption></figure>")
            else:
                markdown.append(f"*{exhibit.caption}*")
                body.append(f"<p><em>{html.escape(exhibit.caption)}</em></p>")
            if exhibit.table is not None and not exhibit.table.empty:
                markdown.append(_markdown_table(exhibit.table))
                body.append(_html_table(exhibit.table))
        else:
            raise ValueError(f"unknown report block '{kind}'")
    page = (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
            f"<style>{_STYLE}</style></head><body>\n" + "\n".join(body) + "\n</body></html>\n")
    md_path, html_path = Path(out) / REPORT_MD, Path(out) / REPORT_HTML
    atomic_write_bytes(md_path, ("\n\n".join(markdown) + "\n").encode("utf-8"))
    atomic_write_bytes(html_path, page.encode("utf-8"))
    return md_path, html_path
