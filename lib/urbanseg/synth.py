"""Procedural street scenes in the Cityscapes format: the embedded default data set.

The real Cityscapes (Cordts et al. 2016, arXiv 1604.01685) needs a login to download, so the
project trains and tests on this stand-in. A frame is a list of labelled polygons, drawn in order
(later over earlier), of a street seen by a pinhole camera: sky, facades with windows, walls,
fences, road with lane marks, sidewalks, vegetation, terrain, poles, traffic lights and signs,
vehicles, persons and riders, and some void labels. The files are those Cityscapes ships, and
cityscapesScripts' ``json2labelImg``/``json2instanceImg`` rasterise each ``_gtFine_polygons.json``
to exactly the ``_labelIds``/``_instanceIds`` PNGs written here: both come from the same
``ImageDraw.polygon`` calls. The RGB image is painted from the same polygons (plus decorations
inside them: windows, wheels, lights), then given texture, shadows, lighting and noise, so that
a pixel's colour alone does not tell its class.

Why one long module: it is one generator. The scene layout, the object shapes and the painter
share the camera, the palettes and the drawing order, and only ``generate`` (with
``ensure_default_dataset``) is public; split in files, the parts would import each other's
privates. Read it top down: camera and shapes, objects, scene layout, rendering, the tree.
"""

from __future__ import annotations

import itertools
import json
import logging
import os
import shutil
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from .atomic import file_lock
from .data import (
    COLOR_SUFFIX,
    IMAGE_SUFFIX,
    INSTANCE_SUFFIX,
    LABEL_SUFFIX,
    POLYGON_SUFFIX,
    SPLITS,
)
from .errors import InputError
from .labels import NAME_TO_LABEL, colorize_label_ids
from .progress import progress_bar

log = logging.getLogger(__name__)

SYNTH_VERSION = 2  # bumped when the default tree changes (v2: 128 train frames)
MARKER = "urbanseg-synthetic.json"  # written at the root of every generated tree
MIN_SIZE = (32, 64)  # height, width
DEFAULT_SIZE = (256, 512)  # of the embedded default data set
MAX_SIZE = (4096, 8192)  # four times Cityscapes' side; a frame then takes about 3 GB to render
CITIES = {  # real Cityscapes cities, disjoint between splits as in the official split
    "train": (
        "aachen",
        "bochum",
        "bremen",
        "cologne",
        "darmstadt",
        "dusseldorf",
        "erfurt",
        "hamburg",
        "hanover",
        "jena",
        "krefeld",
        "monchengladbach",
        "strasbourg",
        "stuttgart",
        "tubingen",
        "ulm",
        "weimar",
        "zurich",
    ),
    "val": ("frankfurt", "lindau", "munster"),
    "test": ("berlin", "bielefeld", "bonn", "leverkusen", "mainz", "munich"),
}
TEST_LABELS = ("ego vehicle", "rectification border", "out of roi")  # all that test labels hold
# Frame i features FEATURED_VEHICLES[i % 5] and FEATURED_STRUCTURES[i % 3], so that any
# 15 consecutive frames hold every class, whatever the random draws.
FEATURED_VEHICLES = ("train", "bus", "truck", "motorcycle", "bicycle")
FEATURED_STRUCTURES = ("wall", "fence", "terrain")
NEAREST, FARTHEST = 1.0, 150.0  # metres: depth range of the street
_GROUND_IDS = [NAME_TO_LABEL[n].id for n in ("ground", "road", "sidewalk", "parking", "terrain")]

# fmt: off
# texture: (pixel grain in grey levels, low-frequency blotch amplitude, vertical gradient)
_TEXTURES = {"plain": (3, 0.05, 0), "asphalt": (9, 0.12, 0), "paving": (7, 0.14, 0), "facade": (5, 0.14, 0),
             "leaves": (20, 0.35, 0), "grass": (13, 0.28, 0), "sky": (2, 0.06, 0.7), "metal": (3, 0.06, 0),
             "glass": (4, 0.25, 0), "cloth": (6, 0.1, 0)}
_SKIES = ((110, 155, 210), (150, 180, 215), (190, 198, 208), (215, 220, 228), (170, 175, 185))
_FACADES = ((150, 150, 150), (190, 180, 160), (170, 120, 95), (215, 205, 185), (120, 115, 110),
            (200, 190, 150), (160, 170, 175), (140, 100, 80), (180, 170, 170))
_FENCES = ((110, 115, 110), (150, 150, 150), (120, 90, 60), (70, 90, 70), (185, 185, 180))
_GREENS = ((60, 90, 40), (80, 110, 50), (50, 75, 45), (100, 120, 60), (70, 95, 60))
_TERRAINS = ((110, 130, 70), (135, 140, 90), (120, 110, 80), (95, 120, 60))
_GROUNDS = ((120, 105, 90), (140, 130, 115))
_CARS = ((35, 35, 40), (205, 205, 210), (140, 140, 148), (125, 25, 30), (30, 55, 115), (235, 235, 235),
         (70, 80, 70), (95, 95, 100), (170, 150, 120))
_TRUCKS = ((225, 225, 225), (200, 60, 40), (40, 80, 150), (230, 200, 50), (90, 110, 90))
_BUSES = ((230, 225, 210), (240, 190, 40), (200, 40, 40), (240, 240, 240), (60, 120, 180))
_TRAMS = ((220, 30, 30), (240, 240, 235), (250, 200, 0), (30, 90, 160), (40, 140, 90))
_CLOTHES = ((30, 30, 35), (60, 60, 90), (150, 40, 40), (200, 200, 200), (90, 70, 50), (40, 90, 140),
            (180, 150, 110), (70, 100, 60), (220, 120, 40))
_SKINS = ((230, 190, 160), (200, 150, 110), (140, 95, 65), (90, 60, 40))
_GLASS, _TYRE, _REAR_LIGHT, _HEAD_LIGHT = (45, 55, 65), (28, 28, 30), (190, 30, 30), (235, 235, 215)
_LAMPS = ((220, 40, 30), (240, 180, 20), (40, 200, 90))
# fmt: on


def _sym(half):
    """A left-right symmetric outline (metres, v up) from its right half listed top to bottom."""
    return list(half) + [(-u, v) for u, v in reversed(half)]


def _rect(u0, v0, u1, v1):
    return [(u0, v0), (u1, v0), (u1, v1), (u0, v1)]


def _disc(cu, cv, radius, n=10, radius_v=None):
    angles = np.linspace(0, 2 * np.pi, n, endpoint=False)
    return list(zip(cu + radius * np.cos(angles), cv + (radius_v or radius) * np.sin(angles)))


def _pair(shape, key):
    """A decoration and its mirror image about u = 0."""
    return [(shape, key), ([(-u, v) for u, v in shape], key)]


def _wheels(axles, v, radius, hub=0.0):
    return [
        (_disc(u, v, r, 10), key) for u in axles for r, key in ((radius, "tyre"), (hub, "rim")) if r
    ]


# Vehicles as data: (label, view) -> (outline, decorations). Outlines are in metres, u to the right of
# the bottom centre, v up; "back" also serves, mirrored lights aside, as the view from the front.
# A decoration is (shape, colour key) with keys body, trim (a second body colour), glass, tyre, rim,
# light (red behind, white in front) and plate (also annotated as a "license plate" object).
# fmt: off
_TRAM_HALF = 12.5
_VEHICLES = {
    ("car", "back"): (
        _sym([(0.58, 1.42), (0.72, 0.95), (0.9, 0.85), (0.9, 0.12), (0.8, 0.12), (0.8, 0), (0.55, 0),
              (0.55, 0.12)]),
        [(_sym([(0.52, 1.36), (0.64, 1.0)]), "glass"), *_pair(_rect(0.55, 0, 0.8, 0.2), "tyre"),
         *_pair(_rect(0.6, 0.68, 0.86, 0.8), "light"), (_rect(-0.25, 0.38, 0.25, 0.5), "plate")]),
    ("car", "side"): (
        [(-2.25, 0.3), (-2.2, 0.85), (-1.6, 0.95), (-1.05, 1.42), (0.75, 1.42), (1.3, 0.95), (2.2, 0.82),
         (2.25, 0.3), (1.75, 0.25), (1.55, 0.02), (1.15, 0.02), (0.95, 0.25), (-0.95, 0.25), (-1.15, 0.02),
         (-1.55, 0.02), (-1.75, 0.25)],
        [([(-1.5, 0.97), (-1.0, 1.36), (0.7, 1.36), (1.15, 0.97)], "glass"),
         *_wheels((-1.35, 1.35), 0.32, 0.32, 0.15)]),
    ("truck", "back"): (
        _sym([(1.25, 3.6), (1.25, 0.4), (1.1, 0.4), (1.1, 0), (0.7, 0), (0.7, 0.4)]),
        [(_rect(-0.03, 0.5, 0.03, 3.5), "tyre"), (_rect(-1.25, 0.4, 1.25, 0.58), "tyre"),
         *_pair(_rect(0.7, 0, 1.1, 0.4), "tyre"), *_pair(_rect(0.85, 0.62, 1.2, 0.75), "light")]),
    ("truck", "side"): (
        [(-4.25, 0.5), (-4.25, 3.6), (2.0, 3.6), (2.0, 3.0), (3.9, 3.0), (4.25, 2.2), (4.25, 0.5), (3.7, 0.45),
         (3.5, 0.02), (2.8, 0.02), (2.6, 0.45), (-1.9, 0.45), (-2.1, 0.02), (-3.5, 0.02), (-3.7, 0.45)],
        [(_rect(2.2, 1.9, 3.85, 2.8), "glass"), (_rect(-4.25, 0.9, 1.95, 3.6), "trim"),
         *_wheels((-2.8, 3.15), 0.5, 0.48, 0.2)]),
    ("bus", "back"): (
        _sym([(1.27, 3.1), (1.27, 0.35), (1.0, 0.35), (1.0, 0), (0.65, 0), (0.65, 0.35)]),
        [(_rect(-1.1, 1.9, 1.1, 2.85), "glass"), (_rect(-0.7, 2.9, 0.7, 3.05), "trim"),
         *_pair(_rect(0.65, 0, 1.0, 0.35), "tyre"), *_pair(_rect(0.95, 0.5, 1.2, 0.9), "light")]),
    ("bus", "side"): (
        [(-6, 0.35), (-6, 3.0), (-5.8, 3.1), (5.8, 3.1), (6, 2.9), (6, 0.35), (4.9, 0.3), (4.7, 0.02), (4.1, 0.02),
         (3.9, 0.3), (-3.1, 0.3), (-3.3, 0.02), (-3.9, 0.02), (-4.1, 0.3)],
        [(_rect(-5.8, 1.5, 5.8, 2.8), "glass"),
         *[(_rect(u, 1.5, u + 0.15, 2.8), "body") for u in np.arange(-4.6, 5.8, 1.6)],
         *[(_rect(u, 0.35, u + 1.1, 2.8), "glass") for u in (-1.5, 4.2)], *_wheels((-3.6, 4.4), 0.5, 0.48, 0.2)]),
    ("train", "back"): (  # a tram, pantograph on the roof
        _sym([(0.8, 4.35), (0.8, 4.25), (0.12, 3.5), (1.1, 3.5), (1.32, 3.2), (1.32, 0.25), (1.2, 0.1)]),
        [(_rect(-1.15, 1.9, 1.15, 3.2), "glass"), (_rect(-0.8, 3.25, 0.8, 3.42), "trim"),
         *_pair(_rect(0.8, 0.6, 1.1, 0.8), "light")]),
    ("train", "side"): (
        [(-_TRAM_HALF, 0.25), (-_TRAM_HALF + 0.2, 3.2), (-_TRAM_HALF + 0.7, 3.5), (-1.0, 3.5), (-0.8, 4.35),
         (0.8, 4.35), (0.1, 3.5), (_TRAM_HALF - 0.7, 3.5), (_TRAM_HALF - 0.2, 3.2), (_TRAM_HALF, 0.25)],
        [(_rect(-_TRAM_HALF + 0.5, 1.5, _TRAM_HALF - 0.5, 2.9), "glass"),
         (_rect(-_TRAM_HALF, 0.8, _TRAM_HALF, 1.1), "trim"),
         *[(_rect(u, 1.5, u + 0.2, 2.9), "body") for u in np.arange(-_TRAM_HALF + 2, _TRAM_HALF - 1, 2.2)],
         *[(_rect(u, 0.3, u + 1.3, 2.9), "glass") for u in (-_TRAM_HALF / 2, _TRAM_HALF / 2)]]),
    ("motorcycle", "back"): (
        _sym([(0.4, 1.1), (0.4, 1.0), (0.2, 0.95), (0.2, 0.5), (0.08, 0.45), (0.08, 0)]),
        [(_rect(-0.07, 0, 0.07, 0.6), "tyre"), (_rect(-0.1, 0.75, 0.1, 0.85), "light")]),
    ("motorcycle", "side"): (
        [(-1.04, 0.32), (-0.95, 0.1), (-0.72, 0), (-0.49, 0.1), (-0.3, 0.3), (0.3, 0.3), (0.49, 0.1),
         (0.72, 0), (0.95, 0.1), (1.04, 0.32), (0.95, 0.55), (0.72, 0.64), (0.6, 0.9), (0.55, 1.15),
         (0.45, 1.15), (0.4, 0.95), (0.1, 0.95), (-0.2, 0.85), (-0.8, 0.85), (-0.95, 0.6)],
        [*_wheels((-0.72, 0.72), 0.32, 0.32, 0.24), (_rect(-0.3, 0.3, 0.3, 0.7), "rim")]),
    ("bicycle", "back"): (
        _sym([(0.3, 1.02), (0.3, 0.95), (0.05, 0.9), (0.05, 0)]),
        [(_rect(-0.05, 0, 0.05, 0.6), "tyre"), (_rect(-0.05, 0.75, 0.05, 0.85), "light")]),
    ("bicycle", "side"): (
        [(-0.86, 0.34), (-0.76, 0.1), (-0.52, 0), (-0.28, 0.1), (-0.1, 0.25), (0.1, 0.25), (0.28, 0.1),
         (0.52, 0), (0.76, 0.1), (0.86, 0.34), (0.76, 0.58), (0.55, 0.7), (0.48, 1.0), (0.36, 1.06),
         (0.34, 0.98), (0.4, 0.95), (0.38, 0.8), (-0.2, 0.8), (-0.18, 0.9), (-0.35, 0.95), (-0.3, 0.85),
         (-0.3, 0.68), (-0.52, 0.68), (-0.76, 0.58)],
        _wheels((-0.52, 0.52), 0.34, 0.34, 0.26)),
    ("cargroup", "back"): (_sym([(1.5, 1.4), (1.8, 0.9), (1.8, 0)]), []),  # far cars, not told apart
}
_BODIES = {"car": _CARS, "cargroup": _CARS, "truck": _TRUCKS, "bus": _BUSES, "train": _TRAMS,
           "motorcycle": _CARS, "bicycle": _CLOTHES}
# fmt: on


def _person(spread: float, width: float, seated: bool = False):
    """Outline, torso and head of a person 1.76 m tall (seated on a saddle for riders)."""
    half = [
        (0.07, 1.76),
        (0.11, 1.63),
        (0.07, 1.52),
        (0.23, 1.46),
        (0.27, 0.88),
        (0.2, 0.88),
        (0.17, 1.2),
        (0.15, 0.86),
        (0.19 + spread, 0),
        (0.05 + spread, 0),
        (0.0, 0.78),
    ]
    shapes = (
        _sym(half),
        _rect(-0.25, 0.85, 0.25, 1.5),
        _disc(0, 1.64, 0.1 / width, 8, 0.12),
    )  # head: 0.2 m
    return [[(u * width, 0.45 + 0.8 * v if seated else v) for u, v in shape] for shape in shapes]


@dataclass(frozen=True)
class _Camera:
    """A level pinhole camera looking down the street."""

    focal: float  # pixels
    horizon: float  # image row of the horizon
    centre: float  # image column of the vanishing point
    elevation: float  # metres above the ground

    def project(self, x, height, depth):
        return (
            self.centre + self.focal * x / depth,
            self.horizon + self.focal * (self.elevation - height) / depth,
        )

    def ground(self, x0, x1, z0, z1):
        """A rectangle on the ground, ``x`` across the street, ``z`` along it."""
        return [self.project(x, 0, z) for x, z in ((x0, z0), (x1, z0), (x1, z1), (x0, z1))]

    def facade(self, x, z0, z1, v0, v1):
        """A vertical rectangle along the street at lateral offset ``x``."""
        return [self.project(x, v, z) for v, z in ((v0, z0), (v1, z0), (v1, z1), (v0, z1))]

    def entry_depth(self, x, width):
        """The depth at which a line along the street at lateral offset ``x`` enters the image."""
        return self.focal * abs(x) / ((width - self.centre) if x > 0 else self.centre)

    def place(self, outline, x, z, mirror=False):
        """An upright outline facing the camera, its bottom centre on the ground at (x, z)."""
        return [self.project(x + (-u if mirror else u), v, z) for u, v in outline]


def _clip(points, width, height):
    """The polygon clipped to the image (Sutherland-Hodgman), in integer pixels; [] if outside."""
    for axis, limit, sign in ((0, 0, 1), (0, width - 1, -1), (1, 0, 1), (1, height - 1, -1)):
        clipped = []
        for a, b in zip(points, points[1:] + points[:1]):
            a_in, b_in = sign * (a[axis] - limit) >= 0, sign * (b[axis] - limit) >= 0
            if a_in:
                clipped.append(a)
            if a_in != b_in:
                t = (limit - a[axis]) / (b[axis] - a[axis])
                clipped.append((a[0] + t * (b[0] - a[0]), a[1] + t * (b[1] - a[1])))
        points = clipped
    rounded = [(round(x), round(y)) for x, y in points]
    return rounded if len(set(rounded)) >= 3 else []


@dataclass
class _Scene:
    """One frame: annotated polygons in drawing order, and how the RGB image paints them."""

    height: int
    width: int
    objects: list = field(default_factory=list)  # (label, [[x, y], ...]) as in the JSON
    paints: list = field(default_factory=list)  # (points, owner: 1 + object index, colour, texture)
    shadows: list = field(default_factory=list)  # (points, brightness factor) on the ground
    _hidden: bool = False  # the last object fell outside the image: skip its decorations

    def add(self, label, points, colour, texture="plain"):
        points = _clip(points, self.width, self.height)
        self._hidden = not points
        if points:
            self.objects.append((label, points))
            self.paints.append((points, len(self.objects), colour, texture))

    def annotate(self, label, points):
        """An object of the JSON that the image does not paint (a license plate)."""
        if not self._hidden and (points := _clip(points, self.width, self.height)):
            self.objects.append((label, points))

    def decorate(self, points, colour, texture="plain"):
        """Paint inside the last object only (windows, wheels); not in the labels."""
        if not self._hidden and (points := _clip(points, self.width, self.height)):
            self.paints.append((points, len(self.objects), colour, texture))

    def shade(self, points, factor):
        if points := _clip(points, self.width, self.height):
            self.shadows.append((points, factor))


def _colour(rng, palette, jitter=18.0):
    base = np.asarray(palette[rng.integers(len(palette))], np.float32)
    return tuple(np.clip(base + rng.uniform(-jitter, jitter, 3), 0, 255))


def _grey(rng, low, high):
    return tuple(np.clip(rng.uniform(low, high) + rng.uniform(-6, 6, 3), 0, 255))


def _place(scene, cam, label, outline, decor, x, z, colour, texture="metal", mirror=False):
    scene.add(label, cam.place(outline, x, z, mirror), colour, texture)
    for shape, shape_colour, shape_texture in decor:
        scene.decorate(cam.place(shape, x, z, mirror), shape_colour, shape_texture)


def _draw_vehicle(scene, cam, rng, x, z, label, view, ridden=False):
    """A vehicle of _VEHICLES seen from behind ("back"), in front ("front") or from the side
    ("side_left", "side_right"); on two wheels, with a rider on it when ``ridden``."""
    side = view.startswith("side")
    outline, decorations = _VEHICLES[label, "side" if side else "back"]
    colours = {
        "body": _colour(rng, _BODIES[label]),
        "trim": _colour(rng, _BODIES[label]),
        "glass": _GLASS,
        "tyre": _TYRE,
        "rim": (130, 130, 135),
        "plate": (225, 225, 220),
        "light": _HEAD_LIGHT if view == "front" else _REAR_LIGHT,
    }
    decor = [
        (shape, colours[key], "glass" if key == "glass" else "plain") for shape, key in decorations
    ]
    _place(
        scene,
        cam,
        label,
        outline,
        decor,
        x,
        z,
        colours["body"],
        "metal",
        mirror=view == "side_left",
    )
    for shape, key in decorations:
        if key == "plate":  # annotated as Cityscapes does; json2labelImg skips its id -1
            scene.annotate("license plate", cam.place(shape, x, z))
    width = max(abs(u) for u, _ in outline)
    scene.shade(cam.ground(x - width, x + width, z - 0.2, z + (1.8 if side else 1.2)), 0.45)
    if ridden:
        saddle = {"side_left": 0.1, "side_right": -0.1}.get(view, 0.0)
        _draw_person(
            scene,
            cam,
            rng,
            x + saddle,
            z - 0.05,
            "rider",
            0.12 if side else 0.0,
            view == "side_left",
        )


def _draw_person(scene, cam, rng, x, z, label="person", lean=None, mirror=False):
    """A pedestrian, or with ``lean`` (metres per metre of height) a rider seated on a saddle."""
    scale = rng.uniform(0.85, 1.1) if lean is None else 1.0
    body, torso, head = (
        [(u * scale + (lean or 0) * v, v * scale) for u, v in shape]
        for shape in _person(rng.uniform(0, 0.14), rng.uniform(0.75, 1.05), lean is not None)
    )
    decor = [(torso, _colour(rng, _CLOTHES), "cloth"), (head, _colour(rng, _SKINS, 8), "plain")]
    _place(scene, cam, label, body, decor, x, z, _colour(rng, _CLOTHES), "cloth", mirror)
    scene.shade(cam.ground(x - 0.35, x + 0.35, z - 0.1, z + 0.5), 0.6)


def _draw_tree(scene, cam, rng, x, z):
    trunk, radius = rng.uniform(2.0, 3.5), rng.uniform(1.6, 3.0)
    bark = _colour(rng, ((90, 70, 50),))
    scene.add(
        "vegetation", cam.place(_rect(-0.15, 0, 0.15, trunk + 0.5), x, z), bark, "facade"
    )  # trunk
    angles = np.linspace(0, 2 * np.pi, 14, endpoint=False)
    radii = radius * rng.uniform(0.75, 1.15, angles.size)
    crown = list(zip(radii * np.cos(angles), trunk + radius * 0.8 + 0.9 * radii * np.sin(angles)))
    scene.add("vegetation", cam.place(crown, x, z), _colour(rng, _GREENS), "leaves")


def _draw_street_lamp(scene, cam, rng, x, z):
    height, arm = rng.uniform(6, 9), rng.uniform(1.0, 2.0)
    outline = [
        (-0.12, 0),
        (0.12, 0),
        (0.12, height),
        (-arm, height),
        (-arm, height - 0.25),
        (-arm + 0.6, height - 0.25),
        (-arm + 0.6, height - 0.12),
        (-0.12, height - 0.12),
    ]
    _place(
        scene, cam, "pole", outline, [], x, z, _grey(rng, 70, 150), "metal", mirror=x < 0
    )  # arm over the road


def _draw_traffic_light(scene, cam, rng, x, z):
    height = rng.uniform(2.6, 3.4)
    scene.add("pole", cam.place(_rect(-0.08, 0, 0.08, height), x, z), _grey(rng, 60, 140), "metal")
    box = _rect(-0.2, height, 0.2, height + 0.95)
    scene.add("traffic light", cam.place(box, x, z), _grey(rng, 20, 60), "metal")
    if rng.random() < 0.75:  # facing us: three lamps, one lit
        lit = rng.integers(3)
        for k, v in enumerate((0.78, 0.48, 0.18)):
            lamp = tuple(np.asarray(_LAMPS[k]) * (1.0 if k == lit else 0.3))
            scene.decorate(cam.place(_disc(0, height + v, 0.11, 8), x, z), lamp)


def _draw_traffic_sign(scene, cam, rng, x, z):
    h = rng.uniform(2.0, 2.8)
    scene.add("pole", cam.place(_rect(-0.05, 0, 0.05, h), x, z), _grey(rng, 80, 160), "metal")
    red, white, blue, yellow = (200, 30, 30), (235, 235, 235), (30, 70, 160), (240, 200, 20)
    outer, inner, colours = [  # prohibition, warning, information, priority road
        (_disc(0, h + 0.32, 0.32, 12), _disc(0, h + 0.32, 0.24, 12), (red, white)),
        (
            [(-0.36, h + 0.62), (0.36, h + 0.62), (0, h)],
            [(-0.24, h + 0.55), (0.24, h + 0.55), (0, h + 0.14)],
            (red, white),
        ),
        (_rect(-0.35, h, 0.35, h + 0.5), _rect(-0.25, h + 0.1, 0.25, h + 0.4), (blue, white)),
        (_disc(0, h + 0.3, 0.3, 4), _disc(0, h + 0.3, 0.15, 4), (white, yellow)),
    ][rng.integers(4)]
    scene.add("traffic sign", cam.place(outer, x, z), colours[0], "metal")
    scene.decorate(cam.place(inner, x, z), colours[1])


def _draw_plain(scene, cam, rng, x, z, label, outline, palette):
    """A plain shape: a static object (bin, bench) or a pole group."""
    _place(scene, cam, label, outline, [], x, z, _colour(rng, palette), "metal")


def _street_end(scene, cam, rng, x0, x1):
    """Buildings and trees across the far end of the street, closing it below the horizon."""
    edges = np.sort(np.concatenate([[x0 - 5, x1 + 5], rng.uniform(x0, x1, rng.integers(1, 4))]))
    for a, b in itertools.pairwise(edges):
        label = "building" if rng.random() < 0.75 else "vegetation"
        palette, texture = (_FACADES, "facade") if label == "building" else (_GREENS, "leaves")
        front = cam.place(_rect(a, 0, b, rng.uniform(6, 30)), 0, FARTHEST)
        scene.add(label, front, _colour(rng, palette), texture)


def _buildings(scene, cam, rng, x):
    """Facades along the street at lateral offset ``x`` (its sign: the side), with windows."""
    z = NEAREST
    while z < FARTHEST:
        end, height = min(z + rng.uniform(8, 26), FARTHEST), rng.uniform(6, 24)
        scene.add("building", cam.facade(x, z, end, 0, height), _colour(rng, _FACADES), "facade")
        glass = _colour(rng, (_GLASS, (70, 85, 100), (150, 160, 170)), 10)
        for centre in np.arange(z + 1.6, min(end - 1.0, 70), rng.uniform(2.3, 3.2)):
            if cam.focal * abs(x) * 1.2 / centre**2 < 1.5:  # windows narrower than 1.5 pixels
                break
            for floor in np.arange(3.2, height - 1.6, 3.0):
                scene.decorate(
                    cam.facade(x, centre - 0.6, centre + 0.6, floor, floor + 1.5), glass, "glass"
                )
            if rng.random() < 0.5:  # shop window or door on the ground floor
                scene.decorate(cam.facade(x, centre - 0.8, centre + 0.8, 0.2, 2.6), glass, "glass")
        z = end


def _park(scene, cam, rng, x):
    """Trees along the street instead of buildings, as one polygon with a jagged top."""
    depths = np.geomspace(NEAREST, FARTHEST, 40)
    tops = [cam.project(x, top, d) for d, top in zip(depths, rng.uniform(5, 12, depths.size))]
    scene.add(
        "vegetation",
        [cam.project(x, 0, NEAREST), *tops, cam.project(x, 0, FARTHEST)],
        _colour(rng, _GREENS),
        "leaves",
    )


def _barrier(scene, cam, rng, label, x, z0, z1):
    """A wall, fence or guard rail along the street."""
    if label == "wall":
        height = rng.uniform(1.0, 2.6)
        scene.add("wall", cam.facade(x, z0, z1, 0, height), _colour(rng, _FACADES), "facade")
        scene.decorate(cam.facade(x, z0, z1, height - 0.2, height), _grey(rng, 150, 200))  # coping
    elif label == "fence":
        height, colour = rng.uniform(1.0, 2.0), _colour(rng, _FENCES)
        scene.add("fence", cam.facade(x, z0, z1, 0, height), colour, "metal")
        dark = tuple(np.asarray(colour) * 0.5)
        for z in np.arange(z0, min(z1, 60), 2.0):  # posts
            scene.decorate(cam.facade(x, z, z + 0.12, 0, height), dark)
        for v in (0.25, height - 0.25):  # rails
            scene.decorate(cam.facade(x, z0, z1, v - 0.06, v + 0.06), dark)
    else:
        scene.add("guard rail", cam.facade(x, z0, z1, 0.35, 0.8), _grey(rng, 150, 200), "metal")


@dataclass(frozen=True)
class _Layout:
    """Lateral offsets (metres) of a street; the camera drives in the right lane, at x = 0."""

    lane: float  # lane width
    kerbs: dict  # side (1 right, -1 left) -> distance from x = 0 to the kerb
    walks: dict  # side -> sidewalk width
    verges: dict  # side -> (label of the strip between sidewalk and facade, its width)

    def face(self, side):
        return side * (self.kerbs[side] + self.walks[side] + self.verges[side][1])


def _ground_and_facades(scene, cam, rng, street: _Layout, structure: str):
    """Sky, road with lane marks, sidewalks, verges, facades, walls and fences; the crossing depth."""
    horizon = cam.project(0, 0, FARTHEST)[1] + 1
    scene.add("sky", _rect(0, 0, scene.width, horizon), _colour(rng, _SKIES, 10), "sky")
    _street_end(scene, cam, rng, street.face(-1), street.face(1))
    kerbs, lane = street.kerbs, street.lane
    scene.add(
        "road", cam.ground(-kerbs[-1], kerbs[1], NEAREST, FARTHEST), _grey(rng, 80, 135), "asphalt"
    )
    marks = _grey(rng, 190, 235)
    for z in np.arange(rng.uniform(NEAREST, 6), 80, 9.0):
        scene.decorate(cam.ground(-lane / 2 - 0.07, -lane / 2 + 0.07, z, z + 3), marks)
    crossing = rng.uniform(12, 35) if rng.random() < 0.35 else None
    for x in np.arange(-kerbs[-1] + 0.3, kerbs[1] - 0.3, 1.0) if crossing else ():  # zebra crossing
        scene.decorate(cam.ground(x, x + 0.5, crossing, crossing + 3.5), marks)
    if rng.random() < 0.25:
        lot = cam.ground(kerbs[1] - 2.2, kerbs[1], NEAREST, FARTHEST)
        scene.add("parking", lot, _grey(rng, 95, 145), "paving")
    if rng.random() < 0.6:  # the shadow of one row of facades
        sun = rng.choice([-1, 1])
        shadow = cam.ground(street.face(sun), -sun * rng.uniform(-4, 6), NEAREST, FARTHEST)
        scene.shade(shadow, rng.uniform(0.5, 0.7))
    walk_grey = rng.uniform(100, 165)  # road and sidewalks: both grey, told apart by context
    for s in (1, -1):
        walk, outer = _grey(rng, walk_grey - 12, walk_grey + 12), s * (kerbs[s] + street.walks[s])
        scene.add("sidewalk", cam.ground(s * kerbs[s], outer, NEAREST, FARTHEST), walk, "paving")
        scene.decorate(
            cam.ground(s * kerbs[s], s * (kerbs[s] + 0.25), NEAREST, FARTHEST), _grey(rng, 150, 200)
        )
        kind = street.verges[s][0]
        palette = {"terrain": _TERRAINS, "ground": _GROUNDS, "sidewalk": (walk,)}[kind]
        texture = "grass" if kind == "terrain" else "paving"
        scene.add(
            kind,
            cam.ground(outer, street.face(s), NEAREST, FARTHEST),
            _colour(rng, palette, 10),
            texture,
        )
        (_park if rng.random() < 0.15 else _buildings)(scene, cam, rng, street.face(s))
    barriers = [structure] if structure != "terrain" else []  # the featured one, maybe another
    barriers += [str(rng.choice(["wall", "fence"]))] if rng.random() < 0.5 else []
    for label, s in zip(barriers, rng.permutation([-1, 1])):  # one per side
        z0 = max(NEAREST, cam.entry_depth(street.face(s), scene.width)) + rng.uniform(
            0, 6
        )  # in sight
        _barrier(scene, cam, rng, label, street.face(s) - s * 0.3, z0, z0 + rng.uniform(15, 45))
    if rng.random() < 0.12:
        s, z0 = rng.choice([-1, 1]), rng.uniform(5, 20)
        _barrier(scene, cam, rng, "guard rail", s * (kerbs[s] + 0.3), z0, z0 + rng.uniform(10, 30))
    return crossing


def _standing(rng, street: _Layout, crossing, featured: str):
    """Everything standing on the ground, as (depth, draw function, x, extra arguments)."""
    kerbs, walks, lane, items = street.kerbs, street.walks, street.lane, []
    side = lambda: rng.choice([-1, 1])  # noqa: E731
    for s in (1, -1):
        items += [
            (z, _draw_street_lamp, s * (kerbs[s] + 0.45), ())
            for z in np.arange(rng.uniform(6, 30), 90, rng.uniform(20, 35))
        ]
        if rng.random() < 0.6:
            items += [
                (z, _draw_tree, s * (kerbs[s] + rng.uniform(0.6, 1.2)), ())
                for z in np.arange(rng.uniform(4, 10), 70, rng.uniform(9, 16))
            ]
        if street.verges[s][0] == "terrain" and rng.random() < 0.4:
            items.append(
                (
                    rng.uniform(8, 30),
                    _draw_tree,
                    s * (kerbs[s] + walks[s] + street.verges[s][1] / 2),
                    (),
                )
            )
        if kerbs[s] > 2.5 and rng.random() < 0.7:  # parked cars
            for z in np.cumsum(rng.uniform(5, 12, rng.integers(1, 5))) + 2:
                view = "back" if s > 0 or rng.random() < 0.5 else "front"
                items.append((z, _draw_vehicle, s * (kerbs[s] - 1.1), ("car", view)))
    for s in (side() for _ in range(rng.integers(1, 3))):
        items.append((rng.uniform(9, 35), _draw_traffic_light, s * (kerbs[s] + 0.6), ()))
    for s in (side() for _ in range(rng.integers(1, 4))):
        items.append(
            (rng.uniform(7, 35), _draw_traffic_sign, s * (kerbs[s] + rng.uniform(0.4, 1.0)), ())
        )
    for s in (side() for _ in range(rng.integers(1, 8))):
        items.append(
            (
                rng.uniform(6, 45),
                _draw_person,
                s * (kerbs[s] + rng.uniform(0.4, walks[s] - 0.3)),
                (),
            )
        )
    for _ in range(rng.integers(0, 4) if crossing else 0):
        items.append(
            (crossing + rng.uniform(0.5, 3), _draw_person, rng.uniform(-kerbs[-1], kerbs[1]), ())
        )
    if rng.random() < 0.5:  # a bin or a bench: void "static"
        s, shape = (
            side(),
            _rect(-0.3, 0, 0.3, 1.1) if rng.random() < 0.5 else _rect(-0.8, 0, 0.8, 0.5),
        )
        x = s * (kerbs[s] + walks[s] - 0.6)
        items.append((rng.uniform(6, 30), _draw_plain, x, ("static", shape, _FENCES)))
    if rng.random() < 0.3:
        shape = _rect(-0.35, 0, 0.35, rng.uniform(2.5, 4))
        items.append(
            (rng.uniform(40, 80), _draw_plain, kerbs[1] + 0.5, ("polegroup", shape, _FENCES))
        )
    if rng.random() < 0.3:
        items.append(
            (
                rng.uniform(70, 110),
                _draw_vehicle,
                -lane + rng.uniform(-0.3, 0.3),
                ("cargroup", "back"),
            )
        )

    def vehicle(label, x, z, view):
        ridden = label == "motorcycle" or (label == "bicycle" and rng.random() < 0.8)
        items.append((z, _draw_vehicle, x, (label, view, ridden)))

    kinds, weights = ("car", "truck", "bus", "motorcycle", "bicycle"), (0.8, 0.06, 0.05, 0.05, 0.04)
    for x, view in ((0.0, "back"), (-lane, "front")):  # traffic ahead and oncoming
        for z in np.cumsum(rng.uniform(8, 25, rng.integers(0, 4))) + 4:
            vehicle(str(rng.choice(kinds, p=weights)), x + rng.uniform(-0.3, 0.3), z, view)
    if rng.random() < 0.5:  # the featured vehicle: ahead of us (a tram: oncoming) ...
        x = {"train": -lane, "motorcycle": kerbs[1] - 0.9, "bicycle": kerbs[1] - 0.9}.get(
            featured, 0.0
        )
        vehicle(featured, x, rng.uniform(10, 22), "front" if featured == "train" else "back")
    else:  # ... or crossing the street
        vehicle(
            featured,
            rng.uniform(-6, 6),
            rng.uniform(12, 24),
            str(rng.choice(["side_left", "side_right"])),
        )
    return items


def _void_borders(scene, rng, always=False):
    """Ego vehicle (bottom), rectification border (corners) and out of roi (frame), as Cityscapes."""
    h, w = scene.height, scene.width
    if always or rng.random() < 0.5:
        e = h * rng.uniform(0.05, 0.13)
        hood = [
            (0, h),
            (0, h - 0.6 * e),
            (0.2 * w, h - 0.9 * e),
            (0.5 * w, h - e),
            (0.8 * w, h - 0.9 * e),
            (w, h - 0.6 * e),
            (w, h),
        ]
        scene.add(
            "ego vehicle",
            hood,
            _colour(rng, ((30, 30, 35), (60, 60, 70), (150, 150, 155)), 10),
            "glass",
        )
    if always or rng.random() < 0.5:
        b = max(2, round(0.04 * h))
        for x0, y0, dx, dy in ((0, 0, 1, 1), (w, 0, -1, 1), (0, h, 1, -1), (w, h, -1, -1)):
            scene.add(
                "rectification border",
                [(x0, y0), (x0 + 2 * b * dx, y0), (x0, y0 + b * dy)],
                (0, 0, 0),
            )
    if always or rng.random() < 0.5:
        t = max(1, round(w / 512))
        for box in ((0, 0, w, t), (0, h - t, w, h), (0, 0, t, h), (w - t, 0, w, h)):
            scene.add("out of roi", _rect(*box), (0, 0, 0))  # painted as what lies under it


def _make_scene(rng, size, index, split) -> _Scene:
    """Compose frame ``index``: ground and facades, then everything standing, far to near."""
    h, w = size
    cam = _Camera(
        focal=w * rng.uniform(0.8, 1.15),
        horizon=h * rng.uniform(0.36, 0.48),
        centre=w * rng.uniform(0.4, 0.6),
        elevation=rng.uniform(1.2, 1.6),
    )
    lane = rng.uniform(2.8, 3.5)
    structure = FEATURED_STRUCTURES[index % len(FEATURED_STRUCTURES)]
    verges = {
        s: (
            str(rng.choice(["sidewalk", "terrain", "ground"], p=[0.45, 0.45, 0.1])),
            rng.uniform(1, 5),
        )
        for s in (1, -1)
    }
    if structure == "terrain":
        verges[1] = ("terrain", verges[1][1])
    street = _Layout(
        lane,
        {1: lane / 2 + rng.uniform(0.3, 2.8), -1: lane * 1.5 + rng.uniform(0, lane)},
        {s: rng.uniform(2.0, 4.5) for s in (1, -1)},
        verges,
    )
    scene = _Scene(h, w)
    crossing = _ground_and_facades(scene, cam, rng, street, structure)
    featured = FEATURED_VEHICLES[index % len(FEATURED_VEHICLES)]
    for z, draw, x, extra in sorted(
        _standing(rng, street, crossing, featured), key=lambda item: -item[0]
    ):
        draw(scene, cam, rng, x, z, *extra)
    _void_borders(scene, rng, always=split == "test")
    return scene


def _resolve(label: str):
    """The official label of a polygon's name, and whether it is a group ("cargroup")."""
    if label not in NAME_TO_LABEL and label.endswith("group"):
        return NAME_TO_LABEL[label[: -len("group")]], True
    return NAME_TO_LABEL[label], False


def _draw_index(polygons, size) -> np.ndarray:
    """An int32 map of 1 + the index of the last polygon drawn on each pixel (0: none)."""
    image = Image.new("I", size, 0)
    draw = ImageDraw.Draw(image)
    for index, points in enumerate(polygons, 1):
        if points is not None:
            draw.polygon(points, fill=index)  # as cityscapesScripts' json2labelImg: no outline
    return np.asarray(image, dtype=np.int32)


def _label_images(objects, size):
    """labelIds (uint8) and instanceIds (uint16) of polygons, as json2labelImg/json2instanceImg."""
    label_ids = np.zeros(len(objects) + 1, np.uint8)
    instance_ids = np.zeros(len(objects) + 1, np.uint16)
    instances: dict[str, int] = {}
    for index, (name, _) in enumerate(objects, 1):
        label, is_group = _resolve(name)
        label_ids[index] = instance_ids[index] = max(label.id, 0)
        if label.has_instances and not is_group:
            instance_ids[index] = label.id * 1000 + instances.get(label.name, 0)
            instances[label.name] = instances.get(label.name, 0) + 1
    owner = _draw_index([p if _resolve(n)[0].id >= 0 else None for n, p in objects], size)
    return label_ids[owner], instance_ids[owner]


def _smooth_noise(rng, height, width) -> np.ndarray:
    """Low-frequency noise, about unit variance: three octaves of upsampled Gaussian grids."""
    noise = np.zeros((height, width), np.float32)
    for rows, weight in ((3, 0.6), (12, 0.5), (48, 0.4)):
        grid = rng.standard_normal((rows, max(1, round(rows * width / height)))).astype(np.float32)
        noise += weight * np.asarray(Image.fromarray(grid).resize((width, height), Image.BICUBIC))
    return noise


def _render(scene: _Scene, rng) -> np.ndarray:
    """The RGB image of a scene: paints, textures, shadows, lighting, blur and sensor noise."""
    h, w = scene.height, scene.width
    visible = [
        p if label != "out of roi" and _resolve(label)[0].id >= 0 else None
        for label, p in scene.objects
    ]
    owner = _draw_index(visible, (w, h))
    paint = _draw_index([p[0] for p in scene.paints], (w, h))
    paint_owner = np.array([0] + [p[1] for p in scene.paints])
    own_paint = np.zeros(len(scene.objects) + 1, np.int64)
    for index in range(len(scene.paints), 0, -1):
        own_paint[scene.paints[index - 1][1]] = index  # an object's first paint is its own
    paint = np.where(
        paint_owner[paint] == owner, paint, own_paint[owner]
    )  # decorations stay inside
    colours = np.array([(0, 0, 0)] + [p[2] for p in scene.paints], np.float32)
    textures = np.array([(0, 0, 0)] + [_TEXTURES[p[3]] for p in scene.paints], np.float32)
    grain, blotch, gradient = np.moveaxis(textures[paint], -1, 0)
    rows = np.linspace(-0.5, 0.5, h, dtype=np.float32)[:, None]
    light = (
        1 + blotch * _smooth_noise(rng, h, w) + gradient * rows
    )  # sky: lighter towards the horizon
    image = (
        colours[paint] * light[..., None]
        + (grain * rng.standard_normal((h, w), dtype=np.float32))[..., None]
    )
    shade = Image.new("L", (w, h), 255)
    for points, factor in scene.shadows:
        ImageDraw.Draw(shade).polygon(points, fill=round(255 * factor))
    ids = np.array([0] + [_resolve(label)[0].id for label, _ in scene.objects])
    shade = np.where(np.isin(ids[owner], _GROUND_IDS), np.asarray(shade, np.float32) / 255, 1)
    columns = np.linspace(-0.5, 0.5, w, dtype=np.float32)[None, :]
    lighting = rng.uniform(0.6, 1.2) * (1 + rng.uniform(-0.25, 0.25) * columns) * shade
    tint = 1 + rng.uniform(-0.08, 0.08) * np.array([1, 0, -1], np.float32)
    image = np.clip(image * lighting[..., None] * tint, 0, 255).astype(np.uint8)
    blur = ImageFilter.GaussianBlur(rng.uniform(0.3, 0.8) * w / 512)
    image = np.asarray(Image.fromarray(image).filter(blur), np.float32)
    image += rng.normal(0, rng.uniform(1.5, 5), image.shape).astype(np.float32)
    return np.clip(image, 0, 255).astype(np.uint8)


def _write_frame(root: Path, split: str, index: int, size: tuple[int, int], seed: int) -> None:
    """Render frame ``index`` of ``split`` and write its five Cityscapes files."""
    cities = CITIES[split]
    city = cities[index % len(cities)]
    stem = f"{city}_{index // len(cities):06d}_000019"
    rng = np.random.default_rng([seed, SPLITS.index(split), index])
    scene = _make_scene(rng, size, index, split)
    image = _render(scene, rng)
    objects = (
        scene.objects if split != "test" else [o for o in scene.objects if o[0] in TEST_LABELS]
    )
    label_ids, instance_ids = _label_images(objects, (size[1], size[0]))
    image_dir, label_dir = root / "leftImg8bit" / split / city, root / "gtFine" / split / city
    image_dir.mkdir(parents=True, exist_ok=True)
    label_dir.mkdir(parents=True, exist_ok=True)
    Image.fromarray(image).save(image_dir / f"{stem}{IMAGE_SUFFIX}")
    Image.fromarray(label_ids).save(label_dir / f"{stem}{LABEL_SUFFIX}")
    Image.fromarray(instance_ids).save(label_dir / f"{stem}{INSTANCE_SUFFIX}")  # 16-bit grey
    colour = np.dstack([colorize_label_ids(label_ids), np.full(label_ids.shape, 255, np.uint8)])
    Image.fromarray(colour).save(label_dir / f"{stem}{COLOR_SUFFIX}")  # RGBA, as json2labelImg
    polygons = {
        "imgHeight": size[0],
        "imgWidth": size[1],
        "objects": [
            {"label": label, "polygon": [list(p) for p in points]} for label, points in objects
        ],
    }
    (label_dir / f"{stem}{POLYGON_SUFFIX}").write_text(json.dumps(polygons), encoding="utf-8")


def _check_arguments(counts: dict[str, int], size, seed) -> tuple[int, int]:
    for name, value in {**counts, "seed": seed}.items():
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
            raise InputError(f"{name}={value!r}: deve ser um inteiro não negativo")
    try:
        height, width = (int(v) for v in size)
    except (TypeError, ValueError):
        raise InputError(f"size={size!r}: esperado (altura, largura)") from None
    if height < MIN_SIZE[0] or width < MIN_SIZE[1]:
        raise InputError(
            f"size={height}x{width}: deve ser pelo menos {MIN_SIZE[0]}x{MIN_SIZE[1]} "
            "(altura x largura)"
        )
    if height > MAX_SIZE[0] or width > MAX_SIZE[1]:
        raise InputError(
            f"size={height}x{width}: deve ser no máximo {MAX_SIZE[0]}x{MAX_SIZE[1]} "
            "(altura x largura; o Cityscapes tem 1024x2048)"
        )
    if not any(counts.values()):
        raise InputError(
            ", ".join(f"{name}=0" for name in counts) + ": nenhum quadro a gerar "
            "(peça ao menos um com --train, --val ou --test)"
        )
    return height, width


def generate(
    out: str | Path,
    *,
    train: int = 128,
    val: int = 24,
    test: int = 8,
    size: tuple[int, int] = DEFAULT_SIZE,
    seed: int = 0,
    progress: bool = True,
) -> dict[str, int]:
    """Write a synthetic Cityscapes tree to ``out``; returns the number of frames per split.

    Args:
        out: folder to create; it must not exist or be empty. The tree is written to a
            temporary sibling and renamed at the end, so ``out`` is never half-written.
        train, val, test: frames per split (the test split ships labels of void ids only).
        size: (height, width) of every frame, at least 32x64.
        seed: same seed, byte-identical files; each frame's randomness depends only on
            (seed, split, index).
        progress: show a tqdm progress bar.
    """
    counts = {"train": train, "val": val, "test": test}
    size = _check_arguments(counts, size, seed)
    out = Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise InputError(f"{out}: já existe e não está vazio")
    target = out.resolve()  # "." has no usable parent or name
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = target.parent / f".{target.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp"
    staging.mkdir()
    try:
        frames = [(split, index) for split in SPLITS for index in range(counts[split])]
        for split, index in progress_bar(
            frames, desc="synth", unit="frame", disable=not progress, leave=False
        ):
            try:
                _write_frame(staging, split, index, size, int(seed))
            except MemoryError:
                raise InputError(
                    f"size={size[0]}x{size[1]}: memória insuficiente para desenhar um quadro "
                    "deste tamanho; use um --size menor"
                ) from None
        marker = {"generator": "urbanseg.synth", "version": SYNTH_VERSION, "seed": int(seed)}
        marker["size"] = list(size)
        (staging / MARKER).write_text(json.dumps(marker) + "\n")
        try:
            if target.is_dir():
                target.rmdir()  # empty, checked above
            staging.rename(target)
        except OSError:
            raise InputError(f"{out}: já existe e não está vazio") from None
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    log.info("gravado: %d quadros sintéticos (%dx%d) em %s", len(frames), size[0], size[1], out)
    return {split: int(n) for split, n in counts.items()}


def is_synthetic(root: str | Path) -> bool:
    """Whether ``root`` is a tree this module generated (its MARKER file, or the default data
    set's folder): the report then checks the procedure and ranks no architecture."""
    root = Path(root).expanduser()
    return (root / MARKER).is_file() or root.resolve() == default_dataset_root().resolve()


def default_dataset_root() -> Path:
    """Where the embedded default data set lives: $URBANSEG_CACHE (default ~/.cache/urbanseg)."""
    return (
        Path(os.environ.get("URBANSEG_CACHE", "~/.cache/urbanseg")).expanduser()
        / f"synthetic-v{SYNTH_VERSION}"
    )


def ensure_default_dataset() -> Path:
    """The default data set's root, generated with the defaults on first use: by one process
    at a time (a lock beside it), so workers that start together (``--jobs 2``, Dask workers
    on one machine) generate it once and the others use it."""
    root = default_dataset_root()

    def finished() -> bool:  # generate() renames a complete tree into place
        return root.is_dir() and any(root.iterdir())

    if finished():
        return root
    with file_lock(root.parent / f".{root.name}.lock"):
        if finished():  # generated by another process while this one waited
            return root
        log.info("gerando o conjunto de dados sintético padrão em %s", root)
        try:
            generate(root)
        except InputError:
            if not finished():  # not another process's tree (a file system without locks)
                raise
    return root
