"""Draws Lakepass's tray and app icons. Regenerate with: python3 icons/draw.py (needs Pillow).

Tray: four states (fresh, expiring, failed, signed_out) x two panel themes (light, dark).
The glyph is a lake (a circle with two waves); the state is a badge at the bottom right whose
shape differs per state (check, clock, bang, dash) so it reads without colour too.
"""
from pathlib import Path
from PIL import Image, ImageDraw

HERE = Path(__file__).parent
SS = 8  # supersampling factor

GLYPH = {"light": (31, 41, 55, 255), "dark": (243, 244, 246, 255)}  # glyph on a light / dark panel
BADGE = {
    "fresh": (22, 163, 74, 255),
    "expiring": (217, 119, 6, 255),
    "failed": (220, 38, 38, 255),
    "signed_out": (107, 114, 128, 255),
}


def waves(d, box, width, colour):
    x0, y0, x1, y1 = box
    w = x1 - x0
    for i, fy in enumerate((0.45, 0.65)):
        y = y0 + (y1 - y0) * fy
        pts = []
        steps = 40
        for s in range(steps + 1):
            x = x0 + w * 0.22 + w * 0.56 * s / steps
            import math
            pts.append((x, y + math.sin(s / steps * 2 * math.pi) * w * 0.05))
        d.line(pts, fill=colour, width=width, joint="curve")


def tray(state, theme, size=64):
    n = size * SS
    img = Image.new("RGBA", (n, n), (0, 0, 0, 0))
    d = ImageDraw.Draw(img)
    glyph = GLYPH[theme]
    if state == "signed_out":
        glyph = glyph[:3] + (150,)
    ring = int(n * 0.085)
    box = (n * 0.06, n * 0.06, n * 0.80, n * 0.80)
    d.ellipse(box, outline=glyph, width=ring)
    waves(d, box, int(n * 0.07), glyph)
    # badge with a cut-out ring in the panel colour (transparent)
    b0, b1 = n * 0.50, n * 0.98
    cut = n * 0.05
    d.ellipse((b0 - cut, b0 - cut, b1 + cut, b1 + cut), fill=(0, 0, 0, 0))
    d.ellipse((b0, b0, b1, b1), fill=BADGE[state])
    c = (b0 + b1) / 2
    r = (b1 - b0) / 2
    white = (255, 255, 255, 255)
    lw = int(n * 0.06)
    if state == "fresh":
        d.line([(c - r * 0.45, c + r * 0.02), (c - r * 0.1, c + r * 0.38), (c + r * 0.5, c - r * 0.35)], fill=white, width=lw, joint="curve")
    elif state == "expiring":
        d.line([(c, c - r * 0.55), (c, c), (c + r * 0.4, c + r * 0.25)], fill=white, width=lw, joint="curve")
    elif state == "failed":
        d.line([(c, c - r * 0.55), (c, c + r * 0.12)], fill=white, width=lw)
        d.ellipse((c - lw * 0.6, c + r * 0.38, c + lw * 0.6, c + r * 0.38 + lw * 1.2), fill=white)
    else:
        d.line([(c - r * 0.5, c), (c + r * 0.5, c)], fill=white, width=lw)
    return img.resize((size, size), Image.LANCZOS)


def app_icon(size):
    n = size * SS
    img = Image.new("RGBA", (n, n), (0, 0, 0, 0))
    d = ImageDraw.Draw(img)
    d.rounded_rectangle((n * 0.04, n * 0.04, n * 0.96, n * 0.96), radius=n * 0.22, fill=(14, 76, 146, 255))
    box = (n * 0.2, n * 0.2, n * 0.8, n * 0.8)
    d.ellipse(box, outline=(255, 255, 255, 255), width=int(n * 0.06))
    waves(d, box, int(n * 0.05), (125, 211, 252, 255))
    return img.resize((size, size), Image.LANCZOS)


def write_icns(path, entries):
    """An .icns holding PNG entries only (ic07 = 128, ic08 = 256, ic09 = 512 px): small, and what
    macOS reads today. Pillow's writer adds every size up to 1024 px."""
    import io
    import struct

    chunks = []
    for kind, img in entries.items():
        buf = io.BytesIO()
        img.save(buf, "PNG", optimize=True)
        data = buf.getvalue()
        chunks.append(kind.encode() + struct.pack(">I", len(data) + 8) + data)
    body = b"".join(chunks)
    path.write_bytes(b"icns" + struct.pack(">I", len(body) + 8) + body)


def main():
    out = HERE / "tray"
    out.mkdir(exist_ok=True)
    for state in BADGE:
        for theme in GLYPH:
            tray(state, theme).save(out / f"{state}-{theme}.png", optimize=True)
    app = HERE / "app"
    app.mkdir(exist_ok=True)
    # Every size the Linux icon theme (hicolor) has a folder for; the .deb installs them all.
    for s in (16, 24, 32, 48, 64, 128, 256, 512):
        app_icon(s).save(app / f"{s}x{s}.png", optimize=True)
    app_icon(256).save(app / "128x128@2x.png", optimize=True)
    big = app_icon(512)
    big.save(app / "icon.png", optimize=True)
    big.save(app / "icon.ico", sizes=[(16, 16), (24, 24), (32, 32), (48, 48), (64, 64), (256, 256)])
    write_icns(app / "icon.icns", {"ic07": app_icon(128), "ic08": app_icon(256), "ic09": big})


if __name__ == "__main__":
    main()
