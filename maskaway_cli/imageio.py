"""Every image read and write of MaskAway: modes, EXIF orientation, size limits, atomic saves.

Reading turns whatever Pillow can open into one shape: an ``(H,W,3)`` uint8 RGB array with the EXIF
orientation applied, plus the alpha channel kept aside and the metadata ``unmask`` needs to write the
result back the way it came (format, JPEG quality, ICC profile, EXIF, PNG text). Every failure is an
:class:`~maskaway_cli.errors.ImageError` whose one-line message names the file.

Writing always goes through :func:`atomic_write_bytes`: a reader never sees a half-written file.

Only Pillow and numpy are used, both imported here because this module *is* the image layer; cli
modules import it lazily inside command bodies.
"""

from __future__ import annotations

import functools
import glob
import io
import os
import re
import secrets
import stat
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, PngImagePlugin

from maskaway_cli.errors import ImageError, MaskAwayError, UsageError

MAX_IMAGE_PIXELS: int = 100_000_000  # default pixel-count limit (env MASKAWAY_MAX_PIXELS overrides)
MAX_FILE_BYTES: int = 256 * 1024 * 1024
ENV_MAX_PIXELS = "MASKAWAY_MAX_PIXELS"
DEFAULT_JPEG_QUALITY = 95

# We do our own size check from the header, against our limit, before anything is decoded. Pillow's
# own check would warn (not fail) between 1x and 2x its limit and raise its own error above; switching
# it off once here, at import, is race-free, unlike toggling it around each call.
Image.MAX_IMAGE_PIXELS = None
# ImageFile.LOAD_TRUNCATED_IMAGES is never set anywhere in MaskAway: with it, Pillow pads missing data
# with grey silently. Left False, a cut file raises during load() and becomes our "truncated file" error.

_ORIENTATION_TAG = 0x0112
_EXIF_PREFIX = b"Exif\x00\x00"
_PNG_IEND = b"\x00\x00\x00\x00IEND\xaeB`\x82"  # length 0, type, CRC: the same in every PNG
_ALPHA_MODES = {"RGBA", "LA", "PA", "RGBa", "La"}
_SIXTEEN_BIT_MODES = {"I;16", "I;16L", "I;16B", "I;16N"}
_SUFFIX_FORMATS = {
    ".jpg": "JPEG", ".jpeg": "JPEG", ".jpe": "JPEG", ".png": "PNG", ".webp": "WEBP",
    ".bmp": "BMP", ".tif": "TIFF", ".tiff": "TIFF", ".gif": "GIF",
}  # fmt: skip
# libjpeg's standard luminance table (natural order), the base that `quality` scales.
_STD_LUMA = np.array([
    16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55, 14, 13, 16, 24, 40, 57, 69, 56,
    14, 17, 22, 29, 51, 87, 80, 62, 18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113, 92,
    49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99,
])  # fmt: skip


@dataclass(frozen=True)
class LoadedImage:
    """A decoded image and the metadata needed to write a result back like the original.

    ``rgb`` is ``(H,W,3)`` uint8 RGB with the EXIF orientation applied; ``alpha`` is ``(H,W)`` uint8
    (255 = opaque) in the same orientation, or None. Transparent pixels keep their own RGB values:
    nothing is composited onto a background.
    """

    rgb: np.ndarray  # (H,W,3) uint8 RGB, EXIF orientation applied
    alpha: np.ndarray | None  # (H,W) uint8 or None
    format: str | None  # PIL format name: 'JPEG', 'PNG', ...
    icc_profile: bytes | None  # kept only when it describes RGB data (a CMYK/grey profile is dropped)
    exif: bytes | None  # 'Exif\0\0'-prefixed, Orientation reset to 1 (None if the file had none)
    jpeg_quality: int | None  # estimated from the quantization tables when JPEG, else None
    n_frames: int  # >1 for animated / multi-page images (only the first frame is returned)
    mode: str  # the original PIL mode, e.g. 'CMYK', 'I;16', 'P'
    orientation: int = 1  # the EXIF orientation that was applied (1 = none)
    text: Mapping[str, str] = field(default_factory=dict)  # PNG tEXt/zTXt/iTXt chunks
    jpeg_subsampling: int | None = None  # PIL's code when JPEG: 0 = 4:4:4, 1 = 4:2:2, 2 = 4:2:0

    @property
    def animated(self) -> bool:
        """True when the file held more than one frame and only the first was decoded."""
        return self.n_frames > 1

    @property
    def size(self) -> tuple[int, int]:
        """``(width, height)`` after orientation, as Pillow reports sizes."""
        return self.rgb.shape[1], self.rgb.shape[0]


# ---------------------------------------------------------------------------------------------- reading


def pixel_limit(max_pixels: int | None = None) -> int:
    """The pixel-count limit in force: the argument, else ``MASKAWAY_MAX_PIXELS``, else the default."""
    if max_pixels is not None:
        return max_pixels
    value = os.environ.get(ENV_MAX_PIXELS, "").strip()
    if not value:
        return MAX_IMAGE_PIXELS
    try:
        limit = int(value.replace("_", ""))
    except ValueError:
        limit = 0
    if limit <= 0:
        raise UsageError(f"{ENV_MAX_PIXELS} must be a positive integer, got {value!r}")
    return limit


def load_image(
    source: str | os.PathLike | bytes, *, max_pixels: int | None = None, name: str | None = None,
    metadata: bool = True,
) -> LoadedImage:
    """Decode an image file (or its bytes) into RGB plus alpha and metadata.

    Raises ImageError ``'<name>: <reason>'`` for a missing, empty, non-image, truncated, corrupt or
    too-large file. Only the first frame of an animated image is decoded (``n_frames`` says so).
    ``metadata=False`` skips what only a writer needs (EXIF, ICC, JPEG quality, text): faster in bulk.
    """
    limit = pixel_limit(max_pixels)
    if isinstance(source, (bytes, bytearray, memoryview)):
        label, data = name or "<bytes>", bytes(source)
        if len(data) > MAX_FILE_BYTES:
            raise ImageError(f"{label}: too large: {len(data):,} bytes exceeds {MAX_FILE_BYTES:,}")
    else:
        label = name or os.fspath(source)
        data = _read_file(Path(source), label)
    if not data:
        raise ImageError(f"{label}: empty file")
    try:
        return _decode(data, label, limit, metadata)
    except ImageError:
        raise
    except Image.DecompressionBombError as exc:  # only if someone re-enabled Pillow's check
        raise ImageError(f"{label}: too large: {exc}") from exc
    except MemoryError as exc:
        raise ImageError(f"{label}: not enough memory to decode") from exc
    except Exception as exc:  # Pillow plugins raise OSError, SyntaxError, ValueError, struct.error...
        raise ImageError(f"{label}: {_describe_decode_error(exc)}") from exc


def load_rgb(
    source: str | os.PathLike | bytes, *, max_pixels: int | None = None, name: str | None = None
) -> np.ndarray:
    """Just the pixels: ``(H,W,3)`` uint8 RGB, EXIF orientation applied, alpha dropped."""
    return load_image(source, max_pixels=max_pixels, name=name, metadata=False).rgb


def _read_file(path: Path, label: str) -> bytes:
    try:
        mode = os.stat(path).st_mode  # before open(): opening a FIFO or device could block
        if stat.S_ISDIR(mode):
            raise IsADirectoryError
        if not stat.S_ISREG(mode):
            raise ImageError(f"{label}: not a regular file")
        with open(path, "rb") as fh:
            data = fh.read(MAX_FILE_BYTES + 1)  # one byte more tells "too large" without a race
    except FileNotFoundError:
        raise ImageError(f"{label}: no such file") from None
    except IsADirectoryError:
        raise ImageError(f"{label}: is a directory, not an image") from None
    except PermissionError:
        raise ImageError(f"{label}: permission denied") from None
    except OSError as exc:
        raise ImageError(f"{label}: cannot read: {exc.strerror or exc}") from exc
    if len(data) > MAX_FILE_BYTES:
        raise ImageError(f"{label}: too large: file exceeds {MAX_FILE_BYTES:,} bytes")
    return data


def _describe_decode_error(exc: Exception) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    if isinstance(exc, Image.UnidentifiedImageError):
        return "not an image (or a format Pillow cannot read)"
    if isinstance(exc, EOFError) or any(w in text.lower() for w in ("truncated", "incomplete")):
        return "truncated file"
    return f"corrupt image data ({text})"


def _decode(data: bytes, label: str, limit: int, metadata: bool = True) -> LoadedImage:
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        _check_riff_length(data)  # before open: Pillow's WebP plugin starts decoding inside open()
    with Image.open(io.BytesIO(data)) as im:  # lazy: only the header has been read
        width, height = im.size
        if width * height > limit:
            raise ImageError(
                f"{label}: too large: {width}x{height} pixels exceeds the limit of {limit:,}"
                f" (set {ENV_MAX_PIXELS} to raise it)"
            )
        if im.format == "PNG":
            _verify_png(data)
        try:
            im.load()  # first frame only; raises on truncated data since LOAD_TRUNCATED_IMAGES is False
        except Exception as exc:
            # A JPEG cut inside its headers fails with a vague "cannot load"; a missing end marker
            # (EOI) says what actually happened.
            if im.format == "JPEG" and not data.endswith(b"\xff\xd9"):
                raise EOFError("image file is truncated (no end-of-image marker)") from exc
            raise
        rgb, alpha = _to_rgb(im)
        orientation = _orientation(im)
        exif_bytes = _exif_with_orientation_reset(im) if metadata else None
        return LoadedImage(
            rgb=_orient(rgb, orientation),
            alpha=None if alpha is None else _orient(alpha, orientation),
            format=im.format,
            icc_profile=_rgb_icc_profile(im.info.get("icc_profile")) if metadata else None,
            exif=exif_bytes,
            jpeg_quality=_estimate_jpeg_quality(im) if metadata and im.format == "JPEG" else None,
            n_frames=int(getattr(im, "n_frames", 1) or 1),
            mode=im.mode,
            orientation=orientation,
            text=_png_text(im) if metadata else {},
            jpeg_subsampling=_jpeg_subsampling(im) if metadata and im.format == "JPEG" else None,
        )


def _verify_png(data: bytes) -> None:
    # Pillow decodes a PNG that lost its last bytes (IEND, the final CRC) without complaint, because the
    # pixels may already be complete; verify() walks every chunk to IEND checking CRCs (but not IEND's
    # own), so we also ask for the whole fixed 12-byte IEND chunk. Bytes after it are allowed.
    if data.rfind(_PNG_IEND) < 0:
        raise EOFError("image file is truncated (no IEND chunk)")
    with Image.open(io.BytesIO(data)) as check:
        check.verify()


def _check_riff_length(data: bytes) -> None:
    # A cut WebP otherwise fails with libwebp's vague "could not create decoder object".
    if len(data) < 8 + int.from_bytes(data[4:8], "little"):
        raise EOFError("image file is truncated (shorter than its RIFF header says)")


# --------------------------------------------------------------------------------------- mode handling


def _to_rgb(im: Image.Image) -> tuple[np.ndarray, np.ndarray | None]:
    """Any Pillow mode -> ``(H,W,3)`` uint8 RGB and ``(H,W)`` uint8 alpha (or None), uncomposited."""
    mode = im.mode
    if mode in _SIXTEEN_BIT_MODES or mode in {"I", "F"}:
        return _wide_to_rgb(im)
    if mode in _ALPHA_MODES or "transparency" in im.info:
        rgba = np.array(im.convert("RGBA"))  # (H,W,4) uint8; palette/colour-key transparency applied
        return np.ascontiguousarray(rgba[..., :3]), np.ascontiguousarray(rgba[..., 3])
    # CMYK: Pillow already un-inverts Adobe CMYK JPEGs on read, then R = (255-C)(255-K)/255 etc.
    return np.array(im.convert("RGB")), None  # (H,W,3) uint8


def _wide_to_rgb(im: Image.Image) -> tuple[np.ndarray, np.ndarray | None]:
    """16-bit, 32-bit integer and float greyscale -> 8-bit, scaled (never clipped) to the source range."""
    values = np.asarray(im)  # (H,W) uint16 / int32 / float32
    alpha = None
    if "transparency" in im.info and isinstance(im.info["transparency"], int):
        alpha = np.where(values == im.info["transparency"], 0, 255).astype(np.uint8)  # (H,W)
    if im.mode == "F":
        scale = 1.0 if float(np.nanmax(values, initial=0.0)) <= 1.0 else 255.0
        grey = np.clip(np.nan_to_num(values.astype(np.float64)) / scale, 0.0, 1.0) * 255.0
        grey = np.rint(grey).astype(np.uint8)
    else:
        wide = values.astype(np.int64)
        # Mode 'I' from PNG is always 16-bit data; from elsewhere it may hold 8-bit values.
        sixteen = im.mode != "I" or im.format == "PNG" or int(wide.max(initial=0)) > 255
        top = 65535 if sixteen else 255
        wide = np.clip(wide, 0, top)
        grey = ((wide * 255 + top // 2) // top).astype(np.uint8)  # 65535 -> 255, 32768 -> 128
    return np.repeat(grey[..., None], 3, axis=2), alpha  # (H,W,3) uint8


def _rgb_icc_profile(icc: bytes | None) -> bytes | None:
    # Bytes 16..20 of an ICC header name the data colour space; a CMYK or grey profile attached to our
    # RGB pixels would make viewers render them wrongly, so only RGB profiles travel on.
    if not icc or len(icc) < 20:
        return None
    return bytes(icc) if icc[16:20] == b"RGB " else None


def _png_text(im: Image.Image) -> dict[str, str]:
    text = getattr(im, "text", None) if im.format == "PNG" else None
    return {str(k): str(v) for k, v in (text or {}).items()}


# ------------------------------------------------------------------------------------ EXIF orientation


def _orientation(im: Image.Image) -> int:
    try:
        value = int(im.getexif().get(_ORIENTATION_TAG, 1))
    except Exception:  # a malformed EXIF block must not make a good image unreadable
        return 1
    return value if 1 <= value <= 8 else 1


def _orient(array: np.ndarray, orientation: int) -> np.ndarray:
    """Apply an EXIF orientation to ``(H,W)`` or ``(H,W,C)``, as ImageOps.exif_transpose does."""
    ops = {
        1: lambda a: a,
        2: lambda a: a[:, ::-1],  # mirror horizontally
        3: lambda a: a[::-1, ::-1],  # rotate 180
        4: lambda a: a[::-1, :],  # mirror vertically
        5: lambda a: a.swapaxes(0, 1),  # transpose
        6: lambda a: a[::-1, :].swapaxes(0, 1),  # rotate 90 clockwise
        7: lambda a: a[::-1, ::-1].swapaxes(0, 1),  # transverse
        8: lambda a: a[:, ::-1].swapaxes(0, 1),  # rotate 90 counter-clockwise
    }
    return np.ascontiguousarray(ops[orientation](array))


def _exif_with_orientation_reset(im: Image.Image) -> bytes | None:
    """The file's EXIF block, ``Exif\\0\\0``-prefixed, with Orientation set to 1.

    The tag is patched in place so maker notes and offsets survive byte for byte; only when the block
    cannot be parsed is it rebuilt through Pillow.
    """
    raw = im.info.get("exif")
    if not raw:
        return None
    raw = bytes(raw)
    if not raw.startswith(_EXIF_PREFIX):
        raw = _EXIF_PREFIX + raw
    patched = _patch_orientation(raw)
    if patched is not None:
        return patched
    try:
        exif = Image.Exif()
        exif.load(raw)
        if _ORIENTATION_TAG in exif:
            exif[_ORIENTATION_TAG] = 1
        return exif.tobytes()
    except Exception:
        return None  # unreadable EXIF is dropped rather than copied with a stale orientation


def _patch_orientation(raw: bytes) -> bytes | None:
    """Set IFD0's Orientation (SHORT) to 1 in a prefixed EXIF block; None when it does not parse."""
    tiff = len(_EXIF_PREFIX)
    order = raw[tiff : tiff + 2]
    if order not in (b"II", b"MM"):
        return None
    endian = "little" if order == b"II" else "big"

    def num(at: int, size: int) -> int:
        if at < 0 or at + size > len(raw):
            raise IndexError(at)
        return int.from_bytes(raw[at : at + size], endian)

    try:
        ifd = tiff + num(tiff + 4, 4)
        for i in range(num(ifd, 2)):
            entry = ifd + 2 + 12 * i
            if num(entry, 2) != _ORIENTATION_TAG:
                continue
            if num(entry + 2, 2) != 3:  # type SHORT, value stored inline in the first 2 bytes
                return None
            out = bytearray(raw)
            out[entry + 8 : entry + 10] = (1).to_bytes(2, endian)
            return bytes(out)
    except IndexError:
        return None
    return raw  # no Orientation tag: nothing to reset


# ------------------------------------------------------------------------------------------ JPEG quality


@functools.lru_cache(maxsize=None)  # 100 tables, reused for every JPEG loaded
def _scaled_std_table(quality: int) -> np.ndarray:
    # libjpeg's jpeg_quality_scaling + jpeg_add_quant_table (baseline: clamp to 1..255).
    scale = 5000 // quality if quality < 50 else 200 - 2 * quality
    return np.clip((_STD_LUMA * scale + 50) // 100, 1, 255)


def _jpeg_subsampling(im: Image.Image) -> int | None:
    """The file's chroma subsampling as PIL's ``subsampling`` code, or None when unusual (e.g. CMYK)."""
    from PIL import JpegImagePlugin

    code = JpegImagePlugin.get_sampling(im)
    return code if code in (0, 1, 2) else None


def _estimate_jpeg_quality(im: Image.Image) -> int | None:
    """The libjpeg quality (1..100) whose luminance table is closest to the file's, or None.

    Tables are compared sorted, so zigzag vs natural order does not matter; encoders with custom tables
    get the nearest standard quality, which is what re-encoding at "the same quality" needs.
    """
    tables = getattr(im, "quantization", None) or {}
    if 0 not in tables or len(tables[0]) != 64:
        return None
    actual = np.sort(np.asarray(tables[0], dtype=np.int64))
    errors = [np.abs(np.sort(_scaled_std_table(q)) - actual).sum() for q in range(1, 101)]
    best = min(errors)
    return max(q for q, err in zip(range(1, 101), errors) if err == best)  # ties: equal tables


# ---------------------------------------------------------------------------------------------- writing


def _to_pil(array: np.ndarray) -> Image.Image:
    """``(H,W)`` -> L, ``(H,W,1)`` -> L, ``(H,W,3)`` -> RGB, ``(H,W,4)`` -> RGBA; uint8 (bool -> 0/255)."""
    array = np.asarray(array)
    if array.dtype == bool:
        array = array.astype(np.uint8) * 255
    if array.dtype != np.uint8:
        raise ImageError(f"cannot write an image from a {array.dtype} array: expected uint8")
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[..., 0]
    modes = {3: "RGB", 4: "RGBA"}  # by channel count
    mode = "L" if array.ndim == 2 else modes.get(array.shape[2]) if array.ndim == 3 else None
    if mode is None or array.shape[0] == 0 or array.shape[1] == 0:
        raise ImageError(f"cannot write an image from an array of shape {array.shape}")
    return Image.fromarray(np.ascontiguousarray(array), mode=mode)


def _png_info(text: Mapping[str, str] | None) -> PngImagePlugin.PngInfo | None:
    if not text:
        return None
    info = PngImagePlugin.PngInfo()
    for key, value in text.items():
        info.add_text(str(key), str(value))  # tEXt when Latin-1, else iTXt
    return info


def encode_png(
    array: np.ndarray, *, compress_level: int = 6, text: dict[str, str] | None = None
) -> bytes:
    """PNG bytes for a uint8 array; the same array (and text) always gives the same bytes.

    ``(H,W)`` -> L, ``(H,W,3)`` -> RGB, ``(H,W,4)`` -> RGBA. Pillow writes no timestamp, so the output is
    deterministic as long as ``optimize`` stays off (it is never used here).
    """
    buf = io.BytesIO()
    _to_pil(array).save(buf, "PNG", compress_level=compress_level, pnginfo=_png_info(text))
    return buf.getvalue()


def format_for_path(path: str | os.PathLike) -> str:
    """The Pillow format name implied by a file suffix ('out.JPG' -> 'JPEG')."""
    suffix = Path(path).suffix.lower()
    if suffix not in _SUFFIX_FORMATS:
        known = ", ".join(sorted(_SUFFIX_FORMATS))
        what = repr(suffix) if suffix else "a name without a suffix"
        raise ImageError(f"{os.fspath(path)}: cannot tell the image format from {what} (use {known})")
    return _SUFFIX_FORMATS[suffix]


def encode_image(
    array: np.ndarray,
    format: str,
    *,
    quality: int | None = None,
    icc_profile: bytes | None = None,
    exif: bytes | None = None,
    text: dict[str, str] | None = None,
    subsampling: int | None = None,
) -> bytes:
    """Encode a uint8 array in ``format`` with optional metadata; see :func:`save_image`.

    JPEG ``subsampling`` (PIL's code) is the original file's when re-saving a photo: keeping it keeps the
    file's character, and re-encoding a 4:2:0 photo as 4:4:4 only costs time and bytes.
    """
    fmt = format.upper().replace("JPG", "JPEG")
    im = _to_pil(array)
    options: dict = {}
    if icc_profile:
        options["icc_profile"] = icc_profile
    if exif:
        options["exif"] = exif
    if fmt == "JPEG":
        if im.mode == "RGBA":
            raise ImageError("JPEG cannot store an alpha channel: drop it or write PNG")
        q = DEFAULT_JPEG_QUALITY if quality is None else int(quality)
        if not 1 <= q <= 100:
            raise ImageError(f"JPEG quality must be within 1..100, got {q}")
        # Without an original to follow, 4:4:4 chroma at high quality: 4:2:0 smears colour edges that a
        # quality of 90+ asks to keep.
        if subsampling is None:
            subsampling = 0 if q >= 90 else 2
        options.update(quality=q, subsampling=subsampling)
    elif fmt == "WEBP":
        options["quality"] = DEFAULT_JPEG_QUALITY if quality is None else int(quality)
    elif fmt == "PNG":
        options["pnginfo"] = _png_info(text)
    buf = io.BytesIO()
    try:
        im.save(buf, fmt, **options)
    except (KeyError, ValueError, OSError) as exc:
        raise ImageError(f"cannot encode as {format}: {exc}") from exc
    return buf.getvalue()


def encode_like(original: LoadedImage, rgb: np.ndarray, format: str, *, note: str | None = None) -> bytes:
    """Encode ``rgb`` ``(H,W,3)`` uint8 (an edited copy of ``original``'s pixels) the way ``original`` was
    stored: its alpha channel back on (unless JPEG), JPEG quality and chroma subsampling, ICC profile and
    EXIF (Orientation 1: the pixels are upright). ``note`` records what MaskAway changed: PNG text
    chunks, else the EXIF ImageDescription."""
    from maskaway_cli import __version__

    fmt = format.upper().replace("JPG", "JPEG")
    pixels = rgb if original.alpha is None or fmt == "JPEG" else np.dstack([rgb, original.alpha])
    exif, text = original.exif, None
    if note and fmt == "PNG":
        text = {"Description": note, "Software": f"MaskAway {__version__}"}
    elif note:
        exif = exif_with_description(exif, note)
    jpeg = fmt == "JPEG"
    return encode_image(pixels, fmt, quality=original.jpeg_quality if jpeg else None,
                        icc_profile=original.icc_profile, exif=exif, text=text,
                        subsampling=original.jpeg_subsampling if jpeg else None)


def save_image(
    path: str | os.PathLike,
    array: np.ndarray,
    *,
    format: str | None = None,
    quality: int | None = None,
    icc_profile: bytes | None = None,
    exif: bytes | None = None,
    text: dict[str, str] | None = None,
) -> None:
    """Write a uint8 ``(H,W)``/``(H,W,3)``/``(H,W,4)`` RGB(A) array to ``path`` atomically.

    ``format`` comes from the suffix when None. JPEG ``quality`` defaults to 95; ``exif`` should carry
    Orientation 1 (LoadedImage.exif does) since the pixels are already upright; ``text`` becomes PNG
    text chunks and is ignored by other formats. The parent folder must exist.
    """
    fmt = format or format_for_path(path)
    data = encode_image(array, fmt, quality=quality, icc_profile=icc_profile, exif=exif, text=text)
    atomic_write_bytes(path, data)


def atomic_write_bytes(path: str | os.PathLike, data: bytes, *, durable: bool = True) -> None:
    """Write ``data`` so ``path`` holds either its old content or all of ``data``, never a part.

    A temp file unique to this process (pid + random) in the same folder is written, fsynced and
    renamed over ``path``; it is removed on any failure, KeyboardInterrupt included. Raises
    MaskAwayError naming the path when the folder is missing or not writable. ``durable=False`` skips
    the fsyncs: still whole-or-nothing when the process is killed, not after a power cut, and ~2 ms
    cheaper per file (bulk outputs that a re-run can redo).
    """
    target = Path(path)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
    except OSError as exc:
        raise MaskAwayError(f"{target}: cannot write: {exc.strerror or exc}") from exc
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            if durable:
                fh.flush()
                os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException as exc:
        tmp.unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise MaskAwayError(f"{target}: cannot write: {exc.strerror or exc}") from exc
        raise
    if durable:
        _fsync_dir(target.parent)


def stray_temp_files(path: str | os.PathLike) -> list[Path]:
    """Temp files that :func:`atomic_write_bytes` calls (in any process) may have left for ``path`` when
    the process writing it was killed outright."""
    target = Path(path)
    if not target.parent.is_dir():
        return []
    pattern = re.compile(re.escape(f".{target.name}.") + r"\d+\.[0-9a-f]{8}\.tmp")  # see atomic_write_bytes
    return sorted(p for p in target.parent.glob(f".{glob.escape(target.name)}.*.tmp") if pattern.fullmatch(p.name))


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    """:func:`atomic_write_bytes` for UTF-8 text (newlines written as given)."""
    atomic_write_bytes(path, text.encode("utf-8"))


def _fsync_dir(folder: Path) -> None:
    # Makes the rename itself durable on POSIX; Windows cannot open folders, which is harmless.
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def exif_with_description(exif: bytes | None, text: str) -> bytes:
    """EXIF bytes (possibly none) with ImageDescription (0x010E) set to ``text``; other tags kept."""
    data = Image.Exif()
    if exif:
        try:
            data.load(exif)
        except Exception:  # unreadable EXIF: start a fresh block rather than fail the save
            data = Image.Exif()
    data[0x010E] = text
    return data.tobytes()
