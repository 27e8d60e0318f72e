"""Photos for the door: synthetic demo portraits and the side-by-side comparison.

`synthetic_portrait(seed)` draws a deterministic cartoon head-and-shoulders
JPEG, stamped "SYNTHETIC", so the demo and the tests never carry a real face.

`side_by_side(left, right, out, ...)` decodes the scanned document's photo and
the alert's photo, scales both to one height, labels each underneath and
writes one PNG readable by its owner only (mode 0600: it is personal data).
Decoding is done here, once: any undecodable, oversized or hostile image
becomes a `PhotoError` naming which photo is bad, never a Pillow exception.
"""

from __future__ import annotations

import io
import os
import random
import tempfile
import warnings
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont, UnidentifiedImageError

__all__ = [
    "MAX_PHOTO_BYTES",
    "MAX_PHOTO_SIDE",
    "PhotoError",
    "side_by_side",
    "synthetic_portrait",
]

# An ID photo or a door camera still is a few hundred pixels a side; the API
# caps a photo at 512 KiB. Anything beyond these limits is refused, not decoded.
MAX_PHOTO_SIDE = 4096
MAX_PHOTO_BYTES = 2 * 1024 * 1024

PORTRAIT_SIZE = (240, 320)
_PANEL_HEIGHT = 320
_PANEL_MAX_WIDTH = 400
_MARGIN = 16
_LABEL_HEIGHT = 40
_ACCEPTED_FORMATS = ("JPEG", "PNG")

_SKIN = [(255, 224, 189), (234, 192, 134), (198, 134, 66), (141, 85, 36), (94, 58, 24)]
_HAIR = [
    (20, 20, 20),
    (90, 56, 37),
    (181, 134, 72),
    (230, 206, 128),
    (160, 60, 30),
    (150, 150, 150),
]
_SHIRT = [(200, 40, 40), (40, 90, 200), (40, 150, 70), (230, 180, 30), (110, 60, 160)]
_BACKGROUND = [(210, 220, 230), (225, 225, 210), (200, 215, 200), (230, 210, 215)]


class PhotoError(Exception):
    """A photo could not be used; the message names which photo and why (never its content)."""


def synthetic_portrait(seed: int) -> bytes:
    """A deterministic, clearly synthetic 240x320 JPEG portrait for demos and tests."""
    rng = random.Random(seed)  # noqa: S311 - a drawing, not a secret
    width = PORTRAIT_SIZE[0]
    skin = rng.choice(_SKIN)
    hair = rng.choice(_HAIR)
    image = Image.new("RGB", PORTRAIT_SIZE, rng.choice(_BACKGROUND))
    draw = ImageDraw.Draw(image)

    centre = width // 2 + rng.randint(-8, 8)
    head_w = rng.randint(118, 138)
    head_h = rng.randint(150, 168)
    head_top = rng.randint(46, 58)
    head = (centre - head_w // 2, head_top, centre + head_w // 2, head_top + head_h)

    draw.pieslice((10, 250, width - 10, 420), 180, 360, fill=rng.choice(_SHIRT))
    draw.rectangle((centre - 18, head[3] - 12, centre + 18, 262), fill=skin)
    # Hair: a cap over the top of the head, longer or shorter by seed.
    hair_drop = rng.randint(30, 70)
    draw.ellipse((head[0] - 6, head[1] - 14, head[2] + 6, head[1] + hair_drop * 2), fill=hair)
    draw.ellipse((head[0], head[1] + hair_drop // 2, head[2], head[3]), fill=skin)
    eye_y = head[1] + head_h * 2 // 5 + hair_drop // 4
    for dx in (-head_w // 5, head_w // 5):
        draw.ellipse((centre + dx - 6, eye_y - 4, centre + dx + 6, eye_y + 4), fill="white")
        draw.ellipse((centre + dx - 3, eye_y - 3, centre + dx + 3, eye_y + 3), fill=(40, 40, 60))
    nose_y = eye_y + 24
    draw.line((centre, eye_y + 8, centre - 4, nose_y, centre + 2, nose_y), fill=(0, 0, 0), width=2)
    mouth_w = rng.randint(14, 24)
    draw.arc(
        (centre - mouth_w, nose_y + 4, centre + mouth_w, nose_y + 22),
        20,
        160,
        fill=(120, 30, 30),
        width=3,
    )

    draw.rectangle((0, 0, width, 22), fill=(0, 0, 0))
    draw.text((8, 5), f"SYNTHETIC #{seed % 100000}", fill=(255, 255, 0), font=_font(13))
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=85)
    return out.getvalue()


def side_by_side(
    left: bytes | None,
    right: bytes | None,
    out: Path,
    left_label: str,
    right_label: str,
) -> Path:
    """Write `left` and `right` side by side, labelled, as a PNG at `out` (mode 0600).

    A photo given as None (a document or alert without one) becomes a grey
    panel saying so, so the operator always sees two panels.
    """
    panels = [
        _panel(left, "left", left_label),
        _panel(right, "right", right_label),
    ]
    width = sum(p.width for p in panels) + _MARGIN * (len(panels) + 1)
    height = _PANEL_HEIGHT + _LABEL_HEIGHT + _MARGIN * 2
    sheet = Image.new("RGB", (width, height), (255, 255, 255))
    draw = ImageDraw.Draw(sheet)
    font = _font(16)
    x = _MARGIN
    for panel, label in zip(panels, (left_label, right_label), strict=True):
        sheet.paste(panel, (x, _MARGIN))
        label = _fit(draw, label, font, panel.width)
        text_w = draw.textlength(label, font=font)
        text_x = x + max(0, (panel.width - int(text_w)) // 2)
        draw.text((text_x, _MARGIN + _PANEL_HEIGHT + 10), label, fill=(0, 0, 0), font=font)
        x += panel.width + _MARGIN
    buffer = io.BytesIO()
    sheet.save(buffer, format="PNG")
    _write_private(out, buffer.getvalue())
    return out


def _panel(data: bytes | None, side: str, label: str) -> Image.Image:
    if data is None:
        return _missing_panel()
    image = _decode(data, f"the {side} photo ({label})")
    scale = _PANEL_HEIGHT / image.height
    size = (max(1, min(_PANEL_MAX_WIDTH, round(image.width * scale))), _PANEL_HEIGHT)
    return image.resize(size, Image.Resampling.LANCZOS)


def _decode(data: bytes, which: str) -> Image.Image:
    if not isinstance(data, bytes | bytearray):
        raise PhotoError(f"{which} must be bytes of a JPEG or PNG image")
    if len(data) > MAX_PHOTO_BYTES:
        raise PhotoError(f"{which} is larger than {MAX_PHOTO_BYTES // 1024} KiB")
    image = _open(data, which)
    if max(image.size) > MAX_PHOTO_SIDE or min(image.size) < 1:
        raise PhotoError(
            f"{which} is {image.width}x{image.height} pixels; "
            f"each side must be between 1 and {MAX_PHOTO_SIDE}"
        )
    try:
        image.load()
        return image.convert("RGB")
    except (OSError, ValueError, SyntaxError, EOFError):
        # Truncated or corrupt data surfaces from the decoder as one of these.
        raise PhotoError(f"{which} is a damaged image that cannot be decoded") from None


def _open(data: bytes, which: str) -> Image.Image:
    """Read only the header (no pixels yet), refusing decompression bombs."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            return Image.open(io.BytesIO(data), formats=_ACCEPTED_FORMATS)
    except (UnidentifiedImageError, Image.DecompressionBombWarning, Image.DecompressionBombError):
        raise PhotoError(f"{which} is not a JPEG or PNG image of a usable size") from None
    except (OSError, ValueError, SyntaxError, EOFError):
        raise PhotoError(f"{which} is a damaged image that cannot be decoded") from None


def _fit(
    draw: ImageDraw.ImageDraw,
    label: str,
    font: ImageFont.FreeTypeFont | ImageFont.ImageFont,
    width: int,
) -> str:
    """Shorten a label with an ellipsis until it fits under its panel."""
    if draw.textlength(label, font=font) <= width:
        return label
    while label and draw.textlength(label + "…", font=font) > width:
        label = label[:-1]
    return label + "…"


def _missing_panel() -> Image.Image:
    width = _PANEL_HEIGHT * PORTRAIT_SIZE[0] // PORTRAIT_SIZE[1]
    panel = Image.new("RGB", (width, _PANEL_HEIGHT), (200, 200, 200))
    draw = ImageDraw.Draw(panel)
    draw.text((20, _PANEL_HEIGHT // 2 - 10), "no photo", fill=(60, 60, 60), font=_font(20))
    return panel


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    return ImageFont.load_default(size=size)


def _write_private(out: Path, data: bytes) -> None:
    """Write `data` to `out` without ever exposing it to other users (temp file + rename)."""
    directory = out.parent
    try:
        fd, temp = tempfile.mkstemp(prefix=".doorwatch-photo-", suffix=".png", dir=directory)
    except OSError as exc:
        raise PhotoError(
            f"cannot write the comparison image in {directory}: {exc.strerror}"
        ) from None
    try:
        with os.fdopen(fd, "wb") as handle:
            os.fchmod(handle.fileno(), 0o600)
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, out)
    except OSError as exc:
        Path(temp).unlink(missing_ok=True)
        raise PhotoError(f"cannot write the comparison image {out}: {exc.strerror}") from None
