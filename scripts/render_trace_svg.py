#!/usr/bin/env python3
"""Draws a Chrome trace-event JSON (ember.profiler's export_chrome_trace) as
an SVG timeline: one lane per thread, nested spans stacked below their
parents, coloured by category. It made docs/images/profile-trace.svg:

    PYTHONPATH=build/python /usr/bin/python3 scripts/render_trace_svg.py \
        trace.json docs/images/profile-trace.svg [--from-us A --to-us B]

Perfetto (ui.perfetto.dev) and chrome://tracing open the JSON itself; this
is for a picture in the docs.
"""

import argparse
import html
import json

COLOURS = {
    "user": "#9aa0a6", "trace": "#fbbc04", "cache": "#34a853", "compile": "#4285f4",
    "pass": "#8ab4f8", "run": "#ea4335", "kernel": "#f28b82", "device": "#a142f4",
    "copy": "#24c1e0", "memory": "#5f6368",
}


def layout(events):
    """Per thread: (event, depth) with depth the nesting level."""
    lanes = {}
    for tid in sorted({e["tid"] for e in events}):
        stack, placed = [], []
        for e in sorted((e for e in events if e["tid"] == tid),
                        key=lambda e: (e["ts"], -e["dur"])):
            while stack and stack[-1]["ts"] + stack[-1]["dur"] <= e["ts"]:
                stack.pop()
            placed.append((e, len(stack)))
            stack.append(e)
        lanes[tid] = placed
    return lanes


def render(trace, start=None, end=None, width=1100):
    events = [e for e in trace["traceEvents"] if e.get("ph") == "X"]
    if start is not None:
        events = [e for e in events if e["ts"] + e["dur"] >= start]
    if end is not None:
        events = [e for e in events if e["ts"] <= end]
    t0 = start if start is not None else min(e["ts"] for e in events)
    t1 = end if end is not None else max(e["ts"] + e["dur"] for e in events)
    scale = (width - 130) / max(t1 - t0, 1e-9)
    lanes = layout(events)
    names = {e["tid"]: e["args"]["name"] for e in trace["traceEvents"]
             if e.get("ph") == "M" and e.get("name") == "thread_name"}
    row, out, y = 18, [], 40
    for tid, placed in lanes.items():
        depth = max(d for _, d in placed) + 1
        out.append(f'<text x="6" y="{y + 13}" font-size="12" font-weight="bold">'
                   f'{html.escape(names.get(tid, f"thread {tid}"))}</text>')
        for e, d in placed:
            x = 120 + (max(e["ts"], t0) - t0) * scale
            w = max(min(e["ts"] + e["dur"], t1) - max(e["ts"], t0), 0) * scale
            yy = y + d * row
            colour = COLOURS.get(e.get("cat"), "#cccccc")
            out.append(f'<rect x="{x:.1f}" y="{yy}" width="{max(w, 0.8):.1f}" '
                       f'height="{row - 2}" fill="{colour}" stroke="#ffffff" '
                       f'stroke-width="0.5"><title>{html.escape(e["name"])} '
                       f'({e["dur"]:.1f} us)</title></rect>')
            label = e["name"]
            if w > 7 * len(label) * 0.62:
                out.append(f'<text x="{x + 3:.1f}" y="{yy + 12}" font-size="10">'
                           f'{html.escape(label)}</text>')
            elif w > 30:
                out.append(f'<text x="{x + 3:.1f}" y="{yy + 12}" font-size="10">'
                           f'{html.escape(label[:int(w / 6.2) - 1])}…</text>')
        y += depth * row + 16
    # Time axis and legend.
    ticks = []
    for i in range(6):
        t = t0 + (t1 - t0) * i / 5
        x = 120 + (t - t0) * scale
        ticks.append(f'<line x1="{x:.1f}" y1="28" x2="{x:.1f}" y2="{y}" stroke="#eeeeee"/>'
                     f'<text x="{x:.1f}" y="22" font-size="10" text-anchor="middle">'
                     f'{(t - t0) / 1000:.2f} ms</text>')
    legend, lx = [], 120
    for cat, colour in COLOURS.items():
        legend.append(f'<rect x="{lx}" y="{y + 4}" width="12" height="12" fill="{colour}"/>'
                      f'<text x="{lx + 16}" y="{y + 14}" font-size="11">{cat}</text>')
        lx += 30 + 7 * len(cat)
    height = y + 30
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
            f'font-family="Helvetica, Arial, sans-serif">'
            f'<rect width="100%" height="100%" fill="white"/>' + "".join(ticks) +
            "".join(out) + "".join(legend) + "</svg>\n")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("trace")
    parser.add_argument("svg")
    parser.add_argument("--from-us", type=float)
    parser.add_argument("--to-us", type=float)
    args = parser.parse_args()
    with open(args.trace) as f:
        trace = json.load(f)
    with open(args.svg, "w") as f:
        f.write(render(trace, args.from_us, args.to_us))


if __name__ == "__main__":
    main()
