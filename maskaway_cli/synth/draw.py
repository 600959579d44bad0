"""Procedural drawing of the built-in mask templates (numpy + OpenCV, no image files).

Each ``draw_*`` function paints one frontal mask on a transparent canvas and returns
``(rgba, anchors)``: ``rgba`` (H,W,4) uint8 RGB with straight alpha, ``anchors`` (6,2) float32 a..f in
canvas pixels. ``turn`` then makes the '' / 'left' / 'right' variants by rolling the frontal drawing
round a vertical cylinder, which squeezes the far side the way a turned head does and moves the anchors
with it. Layers are painted premultiplied in float32 so anti-aliased edges stay clean.
"""

from __future__ import annotations

import numpy as np

SHIFT = 4  # fixed-point bits for cv2 polygon coordinates: sub-pixel, anti-aliased outlines
TURN_ANGLE = 0.45  # radians the drawing is rolled for the turned variants


class Canvas:
    """Premultiplied float32 RGB (H,W,3) in [0,1] plus alpha (H,W) in [0,1], painted with 'over'."""

    def __init__(self, height: int, width: int) -> None:
        self.rgb = np.zeros((height, width, 3), np.float32)
        self.alpha = np.zeros((height, width), np.float32)

    def coverage(self, points: np.ndarray) -> np.ndarray:
        """(H,W) float32 in [0,1]: anti-aliased coverage of the filled polygon ``points`` (N,2)."""
        import cv2

        cover = np.zeros(self.alpha.shape, np.uint8)
        fixed = np.round(np.asarray(points) * (1 << SHIFT)).astype(np.int32)
        cv2.fillPoly(cover, [fixed], 255, lineType=cv2.LINE_AA, shift=SHIFT)
        return cover.astype(np.float32) / 255

    def stroke(self, points: np.ndarray, thickness: float, *, closed: bool = False) -> np.ndarray:
        """(H,W) float32 coverage of an anti-aliased polyline."""
        import cv2

        cover = np.zeros(self.alpha.shape, np.uint8)
        fixed = np.round(np.asarray(points) * (1 << SHIFT)).astype(np.int32)
        cv2.polylines(cover, [fixed], closed, 255, max(1, round(thickness)), cv2.LINE_AA, SHIFT)
        return cover.astype(np.float32) / 255

    def paint(self, cover: np.ndarray, color, opacity: float = 1.0) -> None:
        """Paint ``color`` (RGB 0-255 triple, or (H,W,3) straight colours) over the canvas where ``cover``."""
        a = (cover * opacity)[..., None]  # (H,W,1)
        col = np.asarray(color, np.float32) / 255
        self.rgb = self.rgb * (1 - a) + col * a
        self.alpha = self.alpha * (1 - a[..., 0]) + a[..., 0]

    def shade(self, factor: np.ndarray, where: np.ndarray | None = None) -> None:
        """Multiply colours by ``factor`` (H,W), optionally only inside coverage ``where``."""
        f = factor if where is None else 1 + (factor - 1) * where
        self.rgb *= f[..., None]

    def rgba(self) -> np.ndarray:
        """(H,W,4) uint8 straight-alpha RGBA."""
        alpha = np.clip(self.alpha, 0, 1)
        straight = np.where(alpha[..., None] > 1e-4, self.rgb / np.maximum(alpha, 1e-4)[..., None], 0)
        out = np.concatenate([np.clip(straight, 0, 1), alpha[..., None]], axis=2)
        return np.round(out * 255).astype(np.uint8)


def bezier(p0, p1, p2, n: int = 48) -> np.ndarray:
    """(n,2) points on the quadratic Bezier curve p0 -> p2 pulled towards p1."""
    t = np.linspace(0, 1, n)[:, None]
    p0, p1, p2 = (np.asarray(p, np.float64) for p in (p0, p1, p2))
    return (1 - t) ** 2 * p0 + 2 * (1 - t) * t * p1 + t**2 * p2


def _edge_distance(cover: np.ndarray) -> np.ndarray:
    """(H,W) float32 distance in pixels from each inside pixel to the outline of ``cover``."""
    import cv2

    inside = (cover > 0.5).astype(np.uint8)
    return cv2.distanceTransform(inside, cv2.DIST_L2, 5)


def _mirror(half: np.ndarray, width: int) -> np.ndarray:
    """Close a left-half outline (N,2), drawn top to bottom, with its mirror image about the canvas centre."""
    mirrored = np.stack([width - half[::-1, 0], half[::-1, 1]], axis=1)
    return np.concatenate([half, mirrored])


def _grid(canvas: Canvas) -> tuple[np.ndarray, np.ndarray]:
    h, w = canvas.alpha.shape
    return np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))


def _ear_loops(canvas: Canvas, pairs, color, thickness: float) -> None:
    """Elastic loops leaving the mask at each (top, bottom, bulge) triple towards the ears."""
    for top, bottom, bulge in pairs:
        canvas.paint(canvas.stroke(bezier(top, bulge, bottom), thickness), color)


def _stitches(canvas: Canvas, dist: np.ndarray, body: np.ndarray, at: float, period: float, color) -> None:
    """A dotted stitch line ``at`` pixels inside the outline of ``body``."""
    xx, yy = _grid(canvas)
    ring = np.clip(1.5 - np.abs(dist - at), 0, 1)
    dots = (np.sin((xx + yy) * (2 * np.pi / period)) > 0.2).astype(np.float32)
    canvas.paint(ring * dots * body, color, 0.55)


def draw_surgical(color=(236, 240, 242)) -> tuple[np.ndarray, np.ndarray]:
    """Pleated three-ply surgical mask with bound edges, nose wire and ear loops; canvas 512x384."""
    c = Canvas(384, 512)
    x0, x1, top_y, bot_y = 60.0, 452.0, 104.0, 290.0
    top = bezier((x0, top_y), (256, -24), (x1, top_y))
    bottom = bezier((x1, bot_y), (256, 410), (x0, bot_y))
    outline = np.concatenate([top, bottom])
    _ear_loops(c, [((x0 + 4, 112), (x0 + 4, 280), (-10, 196)), ((x1 - 4, 112), (x1 - 4, 280), (522, 196))],
               (225, 228, 230), 7)
    body = c.coverage(outline)
    c.paint(body, color)
    xx, yy = _grid(c)
    u = np.clip((xx - x0) / (x1 - x0), 0, 1)
    top_at = (1 - u) ** 2 * top_y + 2 * (1 - u) * u * -24 + u**2 * top_y  # top curve height per column
    bot_at = (1 - u) ** 2 * bot_y + 2 * (1 - u) * u * 410 + u**2 * bot_y
    v = (yy - top_at) / np.maximum(bot_at - top_at, 1)  # 0 at the top edge, 1 at the bottom edge
    # Three pleats: each fold is a shadow line under a lit ridge, fading in over the pleat's width.
    shade = np.ones_like(v)
    for fold in (0.34, 0.52, 0.70):
        d = v - fold
        shade -= 0.22 * np.exp(-((d / 0.018) ** 2)) - 0.08 * np.clip(1 - np.abs(d + 0.06) / 0.06, 0, 1)
    shade -= 0.10 * np.abs(u - 0.5) ** 2
    c.shade(shade, body)
    dist = _edge_distance(body)
    band = np.clip((22 - dist) / 2, 0, 1) * body  # bound edge: a flat, slightly brighter strip
    c.shade(1.05 - 0.07 * np.clip(np.abs(dist - 22) < 1.5, 0, 1), band)
    _stitches(c, dist, body, 8, 9, (150, 155, 160))
    _stitches(c, dist, body, 16, 9, (150, 155, 160))
    wire = c.stroke(bezier((190, 50), (256, 18), (322, 50)), 5)
    c.shade(1 - 0.12 * wire, body)
    anchors = [(x0, top_y), (256, 41), (x1, top_y), (x0, bot_y), (256, 350), (x1, bot_y)]
    return c.rgba(), np.array(anchors, np.float32)


def draw_n95(color=(238, 236, 230)) -> tuple[np.ndarray, np.ndarray]:
    """Moulded N95 cup: domed shading, rolled rim, nose clip, moulded band and yellow straps; 512x400."""
    c = Canvas(400, 512)
    cx, cy, ax, ay = 256.0, 206.0, 200.0, 182.0
    ang = np.linspace(0, 2 * np.pi, 180, endpoint=False)
    outline = np.stack([cx + ax * np.cos(ang), cy + ay * np.sin(ang) * (1 - 0.08 * np.sin(ang))], axis=1)
    for side in (-1, 1):
        for y in (cy - 70, cy + 80):
            strap = np.array([(cx + side * (ax - 20), y), (cx + side * 258, y - side * 4)])
            c.paint(c.stroke(strap, 10), (232, 200, 40))
    body = c.coverage(outline)
    c.paint(body, color)
    xx, yy = _grid(c)
    r = np.hypot((xx - cx) / ax, (yy - cy) / ay)
    light = 1.04 - 0.28 * np.clip(r, 0, 1) ** 3 - 0.06 * (yy - cy) / ay  # lit from above
    c.shade(light, body)
    dist = _edge_distance(body)
    c.shade(1 - 0.25 * np.clip(1 - np.abs(dist - 14) / 6, 0, 1), body)  # the rolled rim's groove
    seam = np.clip(1.6 - np.abs(yy - (cy + 20 + 10 * ((xx - cx) / ax) ** 2)), 0, 1)
    c.shade(1 - 0.18 * seam, body)
    clip = c.coverage(np.concatenate([bezier((180, 52), (256, 8), (332, 52)),
                                      bezier((326, 66), (256, 24), (186, 66))]))
    c.paint(clip * body, (160, 162, 168), 0.85)
    for side in (-1, 1):
        for y in (cy - 70, cy + 80):
            tab = np.array([[cx + side * (ax - 48), y - 12], [cx + side * (ax - 8), y - 12],
                            [cx + side * (ax - 8), y + 12], [cx + side * (ax - 48), y + 12]])
            c.paint(c.coverage(tab), (238, 206, 48))
    anchors = [(cx - ax * 0.95, cy - ay * 0.33), (cx, cy - ay * 0.88 - 14), (cx + ax * 0.95, cy - ay * 0.33),
               (cx - ax * 0.93, cy + ay * 0.36), (cx, cy + ay * 0.92),
               (cx + ax * 0.93, cy + ay * 0.36)]
    return c.rgba(), np.array(anchors, np.float32)


def draw_kn95(color=(244, 244, 244)) -> tuple[np.ndarray, np.ndarray]:
    """Fold-flat KN95: two panels on a centre seam, welded edge with dot pattern, ear loops; 512x400."""
    c = Canvas(400, 512)
    left = [(256, 28), (150, 48), (62, 108), (58, 200), (96, 292), (256, 372)]
    outline = np.concatenate([bezier(left[0], (170, 28), left[2], 24), bezier(left[2], (46, 160), left[3], 16),
                              bezier(left[3], (66, 260), left[4], 16), bezier(left[4], (190, 360), left[5], 24)])
    outline = _mirror(outline, 512)
    _ear_loops(c, [((70, 120), (92, 280), (-4, 200)), ((442, 120), (420, 280), (516, 200))], (236, 236, 236), 6)
    body = c.coverage(outline)
    c.paint(body, color)
    xx, yy = _grid(c)
    c.shade(np.where(xx < 256, 0.90 + 0.08 * (xx / 256), 1.0 - 0.08 * ((xx - 256) / 256)), body)
    seam = np.clip(1 - np.abs(xx - 256) / 3, 0, 1)
    c.shade(1 - 0.25 * seam + 0.08 * np.clip(1 - np.abs(xx - 262) / 4, 0, 1), body)
    dist = _edge_distance(body)
    weld = np.clip((14 - dist) / 2, 0, 1) * body
    c.shade(0.94 + 0.06 * (np.sin(xx * 0.9) * np.sin(yy * 0.9) > 0), weld)
    _stitches(c, dist, body, 15, 7, (190, 190, 190))
    anchors = [(62, 108), (256, 46), (450, 108), (96, 292), (256, 366), (416, 292)]
    return c.rgba(), np.array(anchors, np.float32)


def draw_cloth(color=(58, 66, 92)) -> tuple[np.ndarray, np.ndarray]:
    """Contoured two-piece fabric mask: centre seam, woven texture, hemmed edge, fabric loops; 512x400."""
    c = Canvas(400, 512)
    half = np.concatenate([bezier((256, 26), (120, 20), (58, 104), 24), bezier((58, 104), (40, 210), (86, 300), 20),
                           bezier((86, 300), (170, 372), (256, 376), 24)])
    outline = _mirror(half, 512)
    loop = tuple(int(v * 0.85) for v in color)
    _ear_loops(c, [((64, 112), (84, 290), (-6, 200)), ((448, 112), (428, 290), (518, 200))], loop, 10)
    body = c.coverage(outline)
    c.paint(body, color)
    xx, yy = _grid(c)
    weave = 1 + 0.05 * np.sin(xx * 1.7) * np.sin(yy * 1.7) + 0.03 * np.sin((xx + yy) * 0.35)
    bulge = 1.06 - 0.22 * ((xx - 256) / 220) ** 2 - 0.08 * ((yy - 200) / 180) ** 2
    c.shade(weave * bulge, body)
    c.shade(1 - 0.30 * np.clip(1 - np.abs(xx - 256) / 3, 0, 1), body)
    dist = _edge_distance(body)
    c.shade(1 - 0.20 * np.clip(1 - np.abs(dist - 10) / 2, 0, 1), body)  # hem line
    anchors = [(58, 104), (256, 48), (454, 104), (86, 300), (256, 370), (426, 300)]
    return c.rgba(), np.array(anchors, np.float32)


def draw_gas(color=(62, 88, 104)) -> tuple[np.ndarray, np.ndarray]:
    """Half-face respirator: rubber face piece, exhalation valve, two filter cartridges, straps; 512x400."""
    c = Canvas(400, 512)
    xx, yy = _grid(c)
    for side in (-1, 1):  # head straps behind everything
        c.paint(c.stroke(np.array([(256 + side * 110, 150), (256 + side * 250, 120)]), 16), (120, 120, 124))
        c.paint(c.stroke(np.array([(256 + side * 100, 300), (256 + side * 250, 330)]), 16), (120, 120, 124))
    piece = np.concatenate([
        bezier((256, 30), (200, 30), (140, 150), 24), bezier((140, 150), (120, 300), (180, 350), 20),
        bezier((180, 350), (256, 392), (332, 350), 24), bezier((332, 350), (392, 300), (372, 150), 20),
        bezier((372, 150), (312, 30), (256, 30), 24),
    ])
    body = c.coverage(piece)
    c.paint(body, color)
    c.shade(1.10 - 0.35 * ((xx - 256) / 130) ** 2 - 0.10 * (yy - 200) / 200, body)
    dist = _edge_distance(body)
    c.shade(1 - 0.25 * np.clip(1 - np.abs(dist - 6) / 3, 0, 1), body)
    for side in (-1, 1):  # filter cartridges: round pucks with a rim and a label band
        cx, cy = 256 + side * 150, 250
        ring = np.linspace(0, 2 * np.pi, 90, endpoint=False)
        puck = c.coverage(np.stack([cx + 78 * np.cos(ring), cy + 92 * np.sin(ring)], axis=1))
        c.paint(puck, (214, 212, 206))
        r = np.hypot((xx - cx) / 78, (yy - cy) / 92)
        c.shade(1.05 - 0.30 * np.clip(r, 0, 1) ** 4 - 0.12 * np.clip(1 - np.abs(r - 0.8) / 0.05, 0, 1), puck)
        label = np.clip(1 - np.abs(yy - cy) / 14, 0, 1) ** 0.3 * (np.abs(yy - cy) < 14) * puck
        c.paint(label, (200, 110, 40), 0.9)
    valve = np.hypot(xx - 256, yy - 250) < 44
    c.paint(valve.astype(np.float32) * body, (44, 62, 74))
    slats = valve * (np.sin(yy * 0.6) > 0.3) * body
    c.shade(1 - 0.45 * slats)
    anchors = [(150, 150), (256, 48), (362, 150), (170, 330), (256, 384), (342, 330)]
    return c.rgba(), np.array(anchors, np.float32)


def turn(rgba: np.ndarray, anchors: np.ndarray, angle: float) -> tuple[np.ndarray, np.ndarray]:
    """Roll a frontal drawing round a vertical cylinder by ``angle`` radians (< 0: nose to image-left).

    Returns the new (H,W',4) uint8 RGBA and (6,2) float32 anchors. The far side is squeezed and shaded a
    little darker; ``angle = 0`` applies the same gentle shading and keeps the geometry.
    """
    import cv2

    h, w = rgba.shape[:2]
    cx, radius = (w - 1) / 2, (w / 2) * 1.12
    theta_max = np.arcsin(min(1.0, (w / 2) / radius))
    x_lo = radius * np.sin(max(-np.pi / 2, -theta_max + angle))
    x_hi = radius * np.sin(min(np.pi / 2, theta_max + angle))
    width = int(np.ceil(x_hi - x_lo)) + 2
    out_x = np.arange(width, dtype=np.float64) + x_lo - 1  # output column -> position on the screen
    seen = np.arcsin(np.clip(out_x / radius, -1, 1))  # angle of the surface seen at that column
    src_x = cx + radius * np.sin(seen - angle)
    map_x = np.repeat(src_x[None, :], h, axis=0).astype(np.float32)
    map_y = np.repeat(np.arange(h, dtype=np.float32)[:, None], width, axis=1)
    premul = rgba.astype(np.float32)
    premul[..., :3] *= premul[..., 3:] / 255
    warped = cv2.remap(premul, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    light = (0.80 + 0.20 * np.cos(seen)).astype(np.float32)  # (W',) facing the camera = brightest
    alpha = warped[..., 3:]
    straight = np.where(alpha > 0.5, warped[..., :3] / np.maximum(alpha, 1e-3) * 255, 0) * light[None, :, None]
    out = np.concatenate([np.clip(straight, 0, 255), alpha], axis=2)
    pts = anchors.astype(np.float64).copy()
    pts[:, 0] = radius * np.sin(np.arcsin(np.clip((pts[:, 0] - cx) / radius, -1, 1)) + angle) - x_lo + 1
    return np.round(out).astype(np.uint8), pts.astype(np.float32)
