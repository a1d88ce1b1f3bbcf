"""The interactive meaning map: one self-contained HTML page (a canvas and 100 lines of JavaScript).

No library, no CDN, no network: the points are embedded as JSON and drawn on a ``<canvas>``.
Hover a point to see its word, group and nearest neighbours; scroll to zoom around the pointer;
drag to pan; double-click to reset. With several frames (snapshots of training) a slider and a
play button step through them, the points gliding from one frame to the next.

Data layout: ``{"title", "groups": [{"name", "color"}], "words": [...], "group": [index per word],
"frames": [{"name", "xy": [[x, y] per word], "neighbours": [[word, ...] per word]}]}``.
"""

from __future__ import annotations

import html
import json
from typing import Any

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>__TITLE__</title>
<style>
body { margin: 0; font: 14px system-ui, sans-serif; background: #fafafa; color: #222; }
header { padding: 8px 14px; display: flex; gap: 16px; align-items: center; flex-wrap: wrap; }
h1 { font-size: 17px; margin: 0; }
.legend span { margin-right: 12px; white-space: nowrap; }
.legend i { display: inline-block; width: 10px; height: 10px; border-radius: 5px; margin-right: 4px; }
#map { display: block; width: 100vw; height: calc(100vh - 90px); cursor: grab; background: #fff; }
#tip { position: fixed; pointer-events: none; background: #222; color: #fff; padding: 6px 9px;
       border-radius: 4px; font-size: 13px; display: none; max-width: 320px; }
footer { padding: 4px 14px; color: #666; font-size: 12px; }
#frames { display: none; gap: 8px; align-items: center; }
</style></head>
<body>
<header><h1>__TITLE__</h1><div class="legend" id="legend"></div>
<div id="frames"><button id="play">play</button><input id="slider" type="range" min="0" value="0">
<span id="fname"></span></div></header>
<canvas id="map"></canvas><div id="tip"></div>
<footer>hover: word and nearest neighbours &middot; scroll: zoom &middot; drag: pan &middot;
double-click: reset</footer>
<script id="data" type="application/json">__DATA__</script>
<script>
"use strict";
const D = JSON.parse(document.getElementById("data").textContent);
const canvas = document.getElementById("map"), ctx = canvas.getContext("2d");
const tip = document.getElementById("tip");
let frame = D.frames.length - 1, xy = D.frames[frame].xy.map(p => p.slice());
let zoom = 1, panX = 0, panY = 0, dragging = null, hover = -1;
// data -> screen: fit the union of all frames into the canvas, then apply zoom and pan
const all = D.frames.flatMap(f => f.xy);
const lo = [Math.min(...all.map(p => p[0])), Math.min(...all.map(p => p[1]))];
const hi = [Math.max(...all.map(p => p[0])), Math.max(...all.map(p => p[1]))];
function base() {
  const w = canvas.clientWidth, h = canvas.clientHeight, m = 50;
  const s = Math.min((w - 2 * m) / ((hi[0] - lo[0]) || 1), (h - 2 * m) / ((hi[1] - lo[1]) || 1));
  return [s, w / 2 - s * (lo[0] + hi[0]) / 2, h / 2 + s * (lo[1] + hi[1]) / 2];
}
function screen(p) {
  const [s, ox, oy] = base();
  return [(ox + s * p[0]) * zoom + panX, (oy - s * p[1]) * zoom + panY];  // y grows upwards
}
function draw() {
  const r = window.devicePixelRatio || 1;
  canvas.width = canvas.clientWidth * r; canvas.height = canvas.clientHeight * r;
  ctx.setTransform(r, 0, 0, r, 0, 0);
  ctx.clearRect(0, 0, canvas.clientWidth, canvas.clientHeight);
  ctx.font = "12px system-ui, sans-serif";
  D.words.forEach((w, i) => {
    const [x, y] = screen(xy[i]), c = D.groups[D.group[i]].color;
    ctx.fillStyle = c; ctx.beginPath(); ctx.arc(x, y, i === hover ? 6 : 4, 0, 2 * Math.PI); ctx.fill();
    ctx.fillStyle = i === hover ? "#000" : "#333"; ctx.fillText(w, x + 6, y - 5);
  });
}
function nearest(mx, my) {
  let best = -1, bd = 100;  // within 10 px
  xy.forEach((p, i) => { const [x, y] = screen(p), d = (x - mx) ** 2 + (y - my) ** 2;
    if (d < bd) { bd = d; best = i; } });
  return best;
}
canvas.addEventListener("mousemove", e => {
  const b = canvas.getBoundingClientRect(), mx = e.clientX - b.left, my = e.clientY - b.top;
  if (dragging) { panX += mx - dragging[0]; panY += my - dragging[1]; dragging = [mx, my]; draw(); return; }
  hover = nearest(mx, my); draw();
  if (hover < 0) { tip.style.display = "none"; return; }
  const nb = D.frames[frame].neighbours[hover];
  tip.innerHTML = "<b></b> <small></small><br>nearest: <span></span>";
  tip.children[0].textContent = D.words[hover];
  tip.children[1].textContent = "(" + D.groups[D.group[hover]].name + ")";
  tip.children[3].textContent = nb.length ? nb.join(", ") : "-";
  tip.style.left = (e.clientX + 14) + "px"; tip.style.top = (e.clientY + 14) + "px";
  tip.style.display = "block";
});
canvas.addEventListener("mousedown", e => { const b = canvas.getBoundingClientRect();
  dragging = [e.clientX - b.left, e.clientY - b.top]; canvas.style.cursor = "grabbing"; });
window.addEventListener("mouseup", () => { dragging = null; canvas.style.cursor = "grab"; });
canvas.addEventListener("mouseleave", () => { hover = -1; tip.style.display = "none"; draw(); });
canvas.addEventListener("wheel", e => {
  e.preventDefault();
  const b = canvas.getBoundingClientRect(), mx = e.clientX - b.left, my = e.clientY - b.top;
  const f = Math.exp(-e.deltaY * 0.0015);  // zoom around the pointer: it stays on the same point
  panX = mx - (mx - panX) * f; panY = my - (my - panY) * f; zoom *= f; draw();
}, { passive: false });
canvas.addEventListener("dblclick", () => { zoom = 1; panX = panY = 0; draw(); });
window.addEventListener("resize", draw);
document.getElementById("legend").innerHTML = D.groups.map(g =>
  '<span><i style="background:' + g.color + '"></i></span>').join("");
document.querySelectorAll("#legend span").forEach((s, i) => s.append(D.groups[i].name));
if (D.frames.length > 1) {  // frames: a slider, a play button, points gliding between frames
  const slider = document.getElementById("slider"), play = document.getElementById("play");
  document.getElementById("frames").style.display = "flex";
  slider.max = D.frames.length - 1; slider.value = frame;
  let timer = null;
  function show(k, glide) {
    const from = xy.map(p => p.slice()), to = D.frames[k].xy, t0 = performance.now();
    frame = k; slider.value = k; document.getElementById("fname").textContent = D.frames[k].name;
    function step(now) {
      const t = glide ? Math.min(1, (now - t0) / 350) : 1;
      xy = from.map((p, i) => [p[0] + (to[i][0] - p[0]) * t, p[1] + (to[i][1] - p[1]) * t]);
      draw(); if (t < 1) requestAnimationFrame(step);
    }
    requestAnimationFrame(step);
  }
  slider.addEventListener("input", () => show(+slider.value, true));
  play.addEventListener("click", () => {
    if (timer) { clearInterval(timer); timer = null; play.textContent = "play"; return; }
    play.textContent = "pause"; if (frame === D.frames.length - 1) show(0, false);
    timer = setInterval(() => { if (frame >= D.frames.length - 1) { play.click(); return; }
      show(frame + 1, true); }, 600);
  });
  document.getElementById("fname").textContent = D.frames[frame].name;
}
draw();
</script></body></html>
"""


def render_page(title: str, data: dict[str, Any]) -> str:
    """The HTML page for ``data`` (layout in the module docstring)."""
    # subtle: "</" inside the JSON would end the <script> element early; "<\\/" is the same JSON string
    payload = json.dumps(data, ensure_ascii=False, separators=(",", ":")).replace("</", "<\\/")
    return PAGE.replace("__TITLE__", html.escape(title)).replace("__DATA__", payload)
