"""The door's photo helpers: synthetic portraits and the side-by-side comparison image."""

from __future__ import annotations

import io
import stat
import struct
import zlib
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from doorwatch.cli._photos import (
    MAX_PHOTO_SIDE,
    PhotoError,
    side_by_side,
    synthetic_portrait,
)


def _open(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def _png_header_only(width: int, height: int) -> bytes:
    """A PNG whose header claims `width` x `height` (no pixel data worth decoding)."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body) & 0xFFFFFFFF
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IEND", b"")


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(min_value=0, max_value=2**63))
def test_synthetic_portrait_is_a_small_deterministic_jpeg(seed: int) -> None:
    data = synthetic_portrait(seed)
    assert data == synthetic_portrait(seed)
    assert len(data) < 200 * 1024
    image = _open(data)
    assert image.format == "JPEG"
    assert image.size == (240, 320)


def test_synthetic_portraits_differ_between_seeds() -> None:
    portraits = {synthetic_portrait(seed) for seed in range(8)}
    assert len(portraits) == 8


def test_side_by_side_writes_a_private_png_with_both_photos(tmp_path: Path) -> None:
    left, right = synthetic_portrait(1), synthetic_portrait(2)
    out = tmp_path / "compare.png"
    result = side_by_side(left, right, out, "Scanned document", "Alert photo (The Crown)")
    assert result == out
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    sheet = _open(out.read_bytes())
    assert sheet.format == "PNG"
    # Two 240x320 portraits at their own height, plus margins and a label band.
    assert sheet.width >= 2 * 240
    assert sheet.height > 320
    # The left half shows the left photo and the right half the right one:
    # sample each portrait's background just below its banner.
    left_bg = _open(left).convert("RGB").getpixel((5, 40))
    right_bg = _open(right).convert("RGB").getpixel((5, 40))
    sheet_rgb = sheet.convert("RGB")
    half = sheet.width // 2
    assert _close(sheet_rgb.getpixel((16 + 5, 16 + 40)), left_bg)
    assert _close(sheet_rgb.getpixel((half + 8 + 5 + 8, 16 + 40)), right_bg)
    assert list(tmp_path.iterdir()) == [out]  # no temporary file left behind


def _close(a: object, b: object) -> bool:
    assert isinstance(a, tuple)
    assert isinstance(b, tuple)
    return all(abs(x - y) <= 12 for x, y in zip(a, b, strict=True))


def test_side_by_side_replaces_an_existing_file_and_keeps_it_private(tmp_path: Path) -> None:
    out = tmp_path / "compare.png"
    out.write_bytes(b"old")
    out.chmod(0o644)
    side_by_side(synthetic_portrait(1), synthetic_portrait(2), out, "a", "b")
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert _open(out.read_bytes()).format == "PNG"


def test_a_missing_photo_becomes_a_labelled_placeholder(tmp_path: Path) -> None:
    out = side_by_side(None, synthetic_portrait(3), tmp_path / "c.png", "Document", "Alert")
    assert _open(out.read_bytes()).width >= 2 * 240


def test_png_photos_are_accepted(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    Image.new("RGB", (100, 150), (10, 200, 10)).save(buffer, format="PNG")
    out = side_by_side(buffer.getvalue(), synthetic_portrait(4), tmp_path / "c.png", "a", "b")
    assert out.exists()


@pytest.mark.parametrize(
    ("left", "right", "named", "rule"),
    [
        (b"not an image", None, "left photo (Doc)", "not a JPEG or PNG"),
        (None, b"GIF89a" + b"\x00" * 20, "right photo (Alert)", "not a JPEG or PNG"),
        (None, synthetic_portrait(5)[:400], "right photo (Alert)", "damaged"),
        (
            _png_header_only(MAX_PHOTO_SIDE + 1, 10),
            None,
            "left photo (Doc)",
            f"between 1 and {MAX_PHOTO_SIDE}",
        ),
        (None, _png_header_only(60000, 60000), "right photo (Alert)", "not a JPEG or PNG"),
        (b"\xff" * (3 * 1024 * 1024), None, "left photo (Doc)", "larger than"),
    ],
    ids=["garbage", "gif", "truncated", "too-wide", "decompression-bomb", "too-many-bytes"],
)
def test_bad_photos_raise_photo_error_naming_the_photo(
    tmp_path: Path, left: bytes | None, right: bytes | None, named: str, rule: str
) -> None:
    out = tmp_path / "c.png"
    with pytest.raises(PhotoError) as caught:
        side_by_side(left, right, out, "Doc", "Alert")
    assert named in str(caught.value)
    assert rule in str(caught.value)
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []


def test_an_unwritable_destination_is_a_photo_error(tmp_path: Path) -> None:
    with pytest.raises(PhotoError, match="cannot write the comparison image"):
        side_by_side(
            synthetic_portrait(1), synthetic_portrait(2), tmp_path / "missing" / "c.png", "a", "b"
        )
