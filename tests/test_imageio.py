"""maskaway_cli.imageio: modes, orientation, limits, bad files, metadata, atomic writes.

Every image is built here with Pillow/numpy, small, in tmp_path.
"""

from __future__ import annotations

import io
import os
import struct
import warnings
import zlib

import numpy as np
import pytest
from PIL import Image, ImageCms, ImageFile, ImageOps

from maskaway_cli import imageio
from maskaway_cli.errors import ImageError, MaskAwayError, UsageError


@pytest.fixture(autouse=True)
def _home(tmp_path, monkeypatch):
    monkeypatch.setenv("MASKAWAY_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("MASKAWAY_MAX_PIXELS", raising=False)


def _save(im: Image.Image, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    im.save(buf, fmt, **kw)
    return buf.getvalue()


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def _png(width: int, height: int, depth: int, colour: int, raw: bytes | None) -> bytes:
    """A hand-made PNG (Pillow cannot write 16-bit RGB); raw=None leaves the IDAT out entirely."""
    ihdr = struct.pack(">IIBBBBB", width, height, depth, colour, 0, 0, 0)
    idat = _chunk(b"IDAT", zlib.compress(raw)) if raw is not None else b""
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + idat + _chunk(b"IEND", b"")


def _exif(orientation: int | None, make: str = "TestCam") -> Image.Exif:
    exif = Image.Exif()
    exif[0x010F] = make
    if orientation is not None:
        exif[0x0112] = orientation
    return exif


def _marked(h: int = 2, w: int = 3) -> np.ndarray:
    a = np.zeros((h, w, 3), np.uint8)  # (H,W,3) black with a red top-left corner
    a[0, 0] = (255, 0, 0)
    return a


# ------------------------------------------------------------------------------------------ modes


def test_sixteen_bit_grey_is_scaled_not_clipped():
    values = np.array([[0, 257, 32768, 65535]], np.uint16)  # (1,4)
    data = _save(Image.fromarray(values), "PNG")
    loaded = imageio.load_image(data)
    assert loaded.mode.startswith("I")
    assert loaded.rgb.dtype == np.uint8 and loaded.rgb.shape == (1, 4, 3)
    assert loaded.rgb[0, :, 0].tolist() == [0, 1, 128, 255]
    assert (loaded.rgb[..., 0] == loaded.rgb[..., 2]).all()


def test_sixteen_bit_rgb_png():
    row = struct.pack(">HHH", 65535, 32768, 0)
    loaded = imageio.load_image(_png(1, 1, 16, 2, b"\x00" + row))
    assert loaded.rgb[0, 0].tolist() == [255, 128, 0]


def test_32bit_int_tiff_scales_by_its_range():
    eight = Image.fromarray(np.array([[0, 128, 255]], np.int32), mode="I")
    wide = Image.fromarray(np.array([[0, 32768, 65535]], np.int32), mode="I")
    assert imageio.load_rgb(_save(eight, "TIFF"))[0, :, 1].tolist() == [0, 128, 255]
    assert imageio.load_rgb(_save(wide, "TIFF"))[0, :, 1].tolist() == [0, 128, 255]


def test_float_tiff_in_unit_range():
    im = Image.fromarray(np.array([[0.0, 0.5, 1.0]], np.float32), mode="F")
    assert imageio.load_rgb(_save(im, "TIFF"))[0, :, 0].tolist() == [0, 128, 255]


def test_cmyk_tiff_exact_colours():
    cmyk = np.array([[[0, 255, 255, 0], [255, 0, 0, 0], [0, 0, 0, 255], [0, 0, 0, 0]]], np.uint8)
    loaded = imageio.load_image(_save(Image.fromarray(cmyk, mode="CMYK"), "TIFF"))
    assert loaded.mode == "CMYK" and loaded.alpha is None
    assert loaded.rgb[0].tolist() == [[255, 0, 0], [0, 255, 255], [0, 0, 0], [255, 255, 255]]


def test_cmyk_jpeg_with_adobe_inverted_marker():
    cmyk = np.zeros((16, 16, 4), np.uint8)
    cmyk[..., 1:3] = 255  # magenta + yellow = red
    data = _save(Image.fromarray(cmyk, mode="CMYK"), "JPEG", quality=95)
    with Image.open(io.BytesIO(data)) as im:
        assert "adobe" in im.info  # libjpeg writes inverted CMYK with an Adobe APP14 marker
    rgb = imageio.load_rgb(data).astype(int)
    assert np.abs(rgb - [255, 0, 0]).max() <= 3


def test_palette_and_palette_transparency_kept_aside():
    im = Image.fromarray(np.array([[0, 1, 2]], np.uint8), mode="P")
    im.putpalette([10, 20, 30, 200, 100, 50, 0, 255, 0] + [0] * 759)
    opaque = imageio.load_image(_save(im, "PNG"))
    assert opaque.mode == "P" and opaque.alpha is None
    assert opaque.rgb[0].tolist() == [[10, 20, 30], [200, 100, 50], [0, 255, 0]]
    clear = imageio.load_image(_save(im, "PNG", transparency=1))
    assert clear.alpha[0].tolist() == [255, 0, 255]
    assert clear.rgb[0, 1].tolist() == [200, 100, 50]  # not composited onto any background


def test_rgba_and_la_alpha_kept_aside():
    rgba = np.array([[[1, 2, 3, 0], [40, 50, 60, 128]]], np.uint8)
    loaded = imageio.load_image(_save(Image.fromarray(rgba, "RGBA"), "PNG"))
    assert loaded.rgb.tolist() == [[[1, 2, 3], [40, 50, 60]]]
    assert loaded.alpha.tolist() == [[0, 128]] and loaded.alpha.dtype == np.uint8
    la = Image.fromarray(np.array([[[100, 50]]], np.uint8), "LA")
    loaded = imageio.load_image(_save(la, "PNG"))
    assert loaded.mode == "LA" and loaded.rgb[0, 0].tolist() == [100] * 3
    assert loaded.alpha.tolist() == [[50]]


def test_rgb_colour_key_transparency():
    rgb = Image.fromarray(np.array([[[1, 2, 3], [9, 9, 9]]], np.uint8))
    loaded = imageio.load_image(_save(rgb, "PNG", transparency=(9, 9, 9)))
    assert loaded.alpha.tolist() == [[255, 0]]
    assert loaded.rgb[0, 1].tolist() == [9, 9, 9]


def test_greyscale_and_bilevel():
    grey = imageio.load_image(_save(Image.fromarray(np.array([[0, 77, 255]], np.uint8)), "PNG"))
    assert grey.mode == "L" and grey.rgb[0].tolist() == [[0] * 3, [77] * 3, [255] * 3]
    bits = Image.fromarray(np.array([[False, True]]))
    assert imageio.load_rgb(_save(bits, "PNG"))[0].tolist() == [[0] * 3, [255] * 3]


def test_arrays_are_writable_and_contiguous():
    data = _save(Image.fromarray(_marked(), "RGB"), "PNG", exif=_exif(6))
    loaded = imageio.load_image(data)
    for arr in (loaded.rgb,):
        assert arr.flags.writeable and arr.flags.c_contiguous


def test_animated_gif_gives_first_frame():
    frames = []
    for index in range(3):
        frame = Image.new("P", (4, 4), index)
        frame.putpalette([255, 0, 0, 0, 255, 0, 0, 0, 255] + [0] * 759)
        frames.append(frame)
    data = _save(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=40)
    loaded = imageio.load_image(data)
    assert loaded.n_frames == 3 and loaded.animated and loaded.format == "GIF"
    assert (loaded.rgb == [255, 0, 0]).all()
    still = imageio.load_image(_save(frames[1], "GIF"))
    assert still.n_frames == 1 and not still.animated


# ------------------------------------------------------------------------------------ orientation


@pytest.mark.parametrize(
    ("orientation", "shape", "where"),
    [(1, (2, 3), (0, 0)), (3, (2, 3), (1, 2)), (6, (3, 2), (0, 1)), (8, (3, 2), (2, 0))],
)
def test_exif_orientation_moves_the_marked_pixel(orientation, shape, where):
    data = _save(Image.fromarray(_marked()), "PNG", exif=_exif(orientation))
    loaded = imageio.load_image(data)
    assert loaded.rgb.shape[:2] == shape and loaded.orientation == orientation
    red = np.argwhere((loaded.rgb == [255, 0, 0]).all(axis=2))
    assert [tuple(p) for p in red] == [where]


@pytest.mark.parametrize("orientation", range(1, 9))
def test_orientation_matches_pillow_and_moves_alpha_too(orientation):
    rgba = np.random.default_rng(orientation).integers(0, 256, (3, 5, 4), dtype=np.uint8)
    im = Image.fromarray(rgba, "RGBA")
    data = _save(im, "PNG", exif=_exif(orientation))
    expected = np.array(ImageOps.exif_transpose(Image.open(io.BytesIO(data))))  # (H',W',4)
    loaded = imageio.load_image(data)
    assert np.array_equal(loaded.rgb, expected[..., :3])
    assert np.array_equal(loaded.alpha, expected[..., 3])


def test_jpeg_exif_returned_with_orientation_reset():
    block = np.zeros((16, 24, 3), np.uint8)
    block[:8, :8] = 255  # white top-left 8x8 block survives JPEG
    data = _save(Image.fromarray(block), "JPEG", quality=95, exif=_exif(6, "CamCo"))
    loaded = imageio.load_image(data)
    assert loaded.rgb.shape == (24, 16, 3) and loaded.rgb[2, 12].min() > 200  # now top-right
    assert loaded.exif.startswith(b"Exif\x00\x00")
    exif = Image.Exif()
    exif.load(loaded.exif)
    assert exif[0x0112] == 1 and exif[0x010F] == "CamCo"
    assert len(loaded.exif) == len(Image.open(io.BytesIO(data)).info["exif"])  # patched, not rebuilt


def test_no_exif_gives_none_and_exif_without_orientation_is_kept():
    plain = imageio.load_image(_save(Image.fromarray(_marked()), "PNG"))
    assert plain.exif is None and plain.orientation == 1
    tagged = imageio.load_image(_save(Image.fromarray(_marked()), "PNG", exif=_exif(None, "X")))
    exif = Image.Exif()
    exif.load(tagged.exif)
    assert exif[0x010F] == "X" and 0x0112 not in exif


# ---------------------------------------------------------------------------------------- limits


def test_bomb_header_rejected_before_decoding():
    bomb = _png(30000, 30000, 8, 2, raw=None)  # 100 bytes claiming 900 Mpx, no pixel data at all
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # Pillow's DecompressionBombWarning must not leak
        with pytest.raises(ImageError, match=r"^bomb\.png: too large: 30000x30000 pixels exceeds"):
            imageio.load_image(bomb, name="bomb.png")
    assert Image.MAX_IMAGE_PIXELS is None  # our check replaces Pillow's


def test_pixel_limit_argument_and_env(monkeypatch):
    data = _save(Image.new("RGB", (10, 10)), "PNG")
    with pytest.raises(ImageError, match="10x10 pixels exceeds the limit of 99"):
        imageio.load_image(data, max_pixels=99)
    assert imageio.load_rgb(data, max_pixels=100).shape == (10, 10, 3)
    monkeypatch.setenv("MASKAWAY_MAX_PIXELS", "50")
    with pytest.raises(ImageError, match="too large"):
        imageio.load_image(data)
    monkeypatch.setenv("MASKAWAY_MAX_PIXELS", "lots")
    with pytest.raises(UsageError, match="MASKAWAY_MAX_PIXELS"):
        imageio.load_image(data)


def test_file_byte_limit(tmp_path, monkeypatch):
    path = tmp_path / "big.png"
    path.write_bytes(_noisy("PNG"))
    monkeypatch.setattr(imageio, "MAX_FILE_BYTES", 1000)
    with pytest.raises(ImageError, match="big.png: too large"):
        imageio.load_image(path)
    with pytest.raises(ImageError, match="too large"):
        imageio.load_image(path.read_bytes())


# -------------------------------------------------------------------------------------- bad files


def _noisy(fmt: str) -> bytes:
    noise = np.random.default_rng(0).integers(0, 256, (48, 48, 3), dtype=np.uint8)
    return _save(Image.fromarray(noise), fmt)


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP"])
@pytest.mark.parametrize("keep", [0.5, -2, -14])
def test_truncated_files_rejected(tmp_path, fmt, keep):
    data = _noisy(fmt)
    cut = data[: int(len(data) * keep)] if keep > 0 else data[:keep]
    path = tmp_path / f"cut.{fmt.lower()}"
    path.write_bytes(cut)
    with pytest.raises(ImageError, match=rf"^{path}: truncated file$"):
        imageio.load_image(path)
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False


def test_png_with_bad_crc_rejected():
    data = bytearray(_noisy("PNG"))
    data[60] ^= 0xFF  # inside the IDAT data
    with pytest.raises(ImageError, match=r"^x\.png: "):
        imageio.load_image(bytes(data), name="x.png")


def test_empty_text_missing_and_directory(tmp_path):
    empty, text = tmp_path / "empty.jpg", tmp_path / "notes.jpg"
    empty.write_bytes(b"")
    text.write_text("this is not a picture\n")
    with pytest.raises(ImageError, match=rf"^{empty}: empty file$"):
        imageio.load_image(empty)
    with pytest.raises(ImageError, match=rf"^{text}: not an image"):
        imageio.load_image(text)
    with pytest.raises(ImageError, match=r"no such file"):
        imageio.load_image(tmp_path / "absent.png")
    with pytest.raises(ImageError, match=r"directory"):
        imageio.load_image(tmp_path)
    with pytest.raises(ImageError, match=r"^<bytes>: empty file$"):
        imageio.load_image(b"")
    if hasattr(os, "mkfifo"):
        os.mkfifo(tmp_path / "pipe.png")
        with pytest.raises(ImageError, match=r"pipe\.png: not a regular file$"):
            imageio.load_image(tmp_path / "pipe.png")  # must not block waiting for a writer


def test_error_message_is_one_line_and_an_image_error():
    with pytest.raises(ImageError) as info:
        imageio.load_image(b"GIF89a\x01\x00", name="odd.gif")
    assert "\n" not in str(info.value) and str(info.value).startswith("odd.gif: ")


# ------------------------------------------------------------------------------ metadata / quality


@pytest.mark.parametrize("quality", [10, 50, 75, 90, 95])
def test_jpeg_quality_estimate(quality):
    data = _save(Image.fromarray(_marked(16, 16)), "JPEG", quality=quality)
    assert imageio.load_image(data).jpeg_quality == quality
    assert imageio.load_image(_save(Image.fromarray(_marked()), "PNG")).jpeg_quality is None


@pytest.mark.parametrize("code", [0, 1, 2])
def test_jpeg_subsampling_read_and_kept(code):
    from PIL import JpegImagePlugin

    loaded = imageio.load_image(_save(Image.fromarray(_marked(16, 16)), "JPEG", quality=95, subsampling=code))
    assert loaded.jpeg_subsampling == code
    again = imageio.encode_image(loaded.rgb, "JPEG", quality=95, subsampling=loaded.jpeg_subsampling)
    assert JpegImagePlugin.get_sampling(Image.open(io.BytesIO(again))) == code
    # Without an original to follow: 4:4:4 at high quality, 4:2:0 below 90.
    for quality, expected in ((95, 0), (80, 2)):
        fresh = imageio.encode_image(loaded.rgb, "JPEG", quality=quality)
        assert JpegImagePlugin.get_sampling(Image.open(io.BytesIO(fresh))) == expected
    assert imageio.load_image(_save(Image.fromarray(_marked()), "PNG")).jpeg_subsampling is None


def test_icc_kept_only_when_it_describes_rgb():
    def fake_icc(space: bytes) -> bytes:
        return bytes(16) + space + bytes(108)

    im = Image.fromarray(_marked())
    assert imageio.load_image(_save(im, "PNG", icc_profile=fake_icc(b"RGB "))).icc_profile == fake_icc(b"RGB ")
    assert imageio.load_image(_save(im, "PNG", icc_profile=fake_icc(b"GRAY"))).icc_profile is None


def test_save_image_keeps_icc_exif_quality(tmp_path):
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    exif = _exif(1, "Keep").tobytes()
    path = tmp_path / "out.JPG"
    image = np.kron(_marked(2, 2), np.ones((8, 8, 1), np.uint8))  # (16,16,3) blocks
    imageio.save_image(path, image, quality=82, icc_profile=icc, exif=exif)
    loaded = imageio.load_image(path)
    assert loaded.format == "JPEG" and loaded.jpeg_quality == 82
    assert loaded.icc_profile == icc
    parsed = Image.Exif()
    parsed.load(loaded.exif)
    assert parsed[0x010F] == "Keep"
    assert os.listdir(tmp_path) == ["out.JPG"]


def test_save_image_png_text_and_explicit_format(tmp_path):
    path = tmp_path / "result.bin"
    imageio.save_image(path, _marked(), format="PNG", text={"Software": "maskaway", "note": "café ☕"})
    loaded = imageio.load_image(path)
    assert loaded.format == "PNG" and loaded.text == {"Software": "maskaway", "note": "café ☕"}
    assert np.array_equal(loaded.rgb, _marked())


def test_save_image_rejects_bad_requests_and_writes_nothing(tmp_path):
    with pytest.raises(ImageError, match="cannot tell the image format"):
        imageio.save_image(tmp_path / "out.xyz", _marked())
    with pytest.raises(ImageError, match="alpha"):
        imageio.save_image(tmp_path / "out.jpg", np.zeros((2, 2, 4), np.uint8))
    with pytest.raises(ImageError, match="uint8"):
        imageio.save_image(tmp_path / "out.png", np.zeros((2, 2, 3), np.float32))
    with pytest.raises(ImageError, match="shape"):
        imageio.save_image(tmp_path / "out.png", np.zeros((2, 2, 2), np.uint8))
    assert os.listdir(tmp_path) == []


def test_encode_png_deterministic_and_round_trips():
    rng = np.random.default_rng(1)
    for shape in [(5, 7), (5, 7, 3), (5, 7, 4)]:
        array = rng.integers(0, 256, shape, dtype=np.uint8)
        first = imageio.encode_png(array, text={"a": "1"})
        assert first == imageio.encode_png(array.copy(), text={"a": "1"})
        with Image.open(io.BytesIO(first)) as im:
            assert im.mode == {(5, 7): "L", (5, 7, 3): "RGB", (5, 7, 4): "RGBA"}[shape]
            assert np.array_equal(np.array(im), array) and im.text == {"a": "1"}
    mask = np.zeros((3, 3), bool)
    mask[1, 1] = True
    assert imageio.load_rgb(imageio.encode_png(mask))[1, 1, 0] == 255
    assert imageio.encode_png(array, compress_level=0) != imageio.encode_png(array, compress_level=9)


# ---------------------------------------------------------------------------------- atomic writes


def test_atomic_write_replaces_whole_file(tmp_path):
    path = tmp_path / "f.txt"
    imageio.atomic_write_text(path, "old")
    imageio.atomic_write_bytes(path, b"new content")
    assert path.read_bytes() == b"new content" and os.listdir(tmp_path) == ["f.txt"]


@pytest.mark.parametrize("failure", [OSError(28, "No space left on device"), KeyboardInterrupt()])
def test_atomic_write_failure_leaves_old_file_and_no_temp(tmp_path, monkeypatch, failure):
    path = tmp_path / "f.png"
    path.write_bytes(b"old")
    seen = []

    def broken_fsync(fd):
        seen.append(sorted(os.listdir(tmp_path)))  # the temp exists and holds the data mid-write
        raise failure

    monkeypatch.setattr(imageio.os, "fsync", broken_fsync)
    expected = MaskAwayError if isinstance(failure, OSError) else KeyboardInterrupt
    with pytest.raises(expected):
        imageio.atomic_write_bytes(path, b"new data")
    assert len(seen[0]) == 2 and str(os.getpid()) in [n for n in seen[0] if n != "f.png"][0]
    assert path.read_bytes() == b"old" and os.listdir(tmp_path) == ["f.png"]


def test_atomic_write_failing_replace_removes_temp(tmp_path, monkeypatch):
    def broken_replace(src, dst):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(imageio.os, "replace", broken_replace)
    with pytest.raises(MaskAwayError, match="cannot write"):
        imageio.save_image(tmp_path / "a.png", _marked())
    assert os.listdir(tmp_path) == []


def test_atomic_write_missing_parent(tmp_path):
    with pytest.raises(MaskAwayError, match=r"nope/f\.txt: cannot write"):
        imageio.atomic_write_text(tmp_path / "nope" / "f.txt", "x")
    assert not (tmp_path / "nope").exists()


def _raw_exif(orientation_type: int, orientation: int) -> bytes:
    """Little-endian EXIF with one IFD0 entry: Orientation of the given TIFF type (3 SHORT, 4 LONG)."""
    entry = struct.pack("<HHI", 0x0112, orientation_type, 1) + struct.pack("<I", orientation)
    return b"Exif\x00\x00" + b"II*\x00" + struct.pack("<I", 8) + struct.pack("<H", 1) + entry + bytes(4)


def test_exif_that_cannot_be_patched_in_place_is_rebuilt():
    data = _save(Image.fromarray(_marked()), "PNG", exif=_raw_exif(4, 8))  # LONG, not SHORT
    loaded = imageio.load_image(data)
    assert loaded.orientation == 8 and loaded.rgb.shape == (3, 2, 3)
    exif = Image.Exif()
    exif.load(loaded.exif)
    assert exif[0x0112] == 1


def test_garbage_exif_does_not_make_the_image_unreadable():
    data = _save(Image.fromarray(_marked()), "PNG", exif=b"Exif\x00\x00not a tiff header at all")
    loaded = imageio.load_image(data)
    assert loaded.orientation == 1 and np.array_equal(loaded.rgb, _marked())


def test_concurrent_loads_from_threads():
    from concurrent.futures import ThreadPoolExecutor

    good = _save(Image.fromarray(_marked()), "PNG", exif=_exif(6))
    bomb = _png(30000, 30000, 8, 2, raw=None)

    def one(i: int) -> str:
        try:
            return str(imageio.load_rgb(good if i % 2 else bomb).shape)
        except ImageError:
            return "error"

    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(one, range(40)))
    assert results == ["error", "(3, 2, 3)"] * 20
