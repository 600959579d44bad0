"""The MaskAwayError tree.

Core code raises these and never prints or exits; ``cli/`` turns them into one line on stderr and the
exit code each class carries (DESIGN.md: 1 error, 2 usage).
"""

from __future__ import annotations


class MaskAwayError(Exception):
    """Base of every error MaskAway reports to the user as one line."""

    exit_code = 1


class UsageError(MaskAwayError):
    """The command line asks for something impossible (bad option value, missing input)."""

    exit_code = 2


class NotAvailableError(UsageError):
    """A command registered in the tree whose implementation has not landed yet."""


class ImageError(MaskAwayError):
    """An image could not be read: not an image, truncated, empty, or too large."""


class FaceError(MaskAwayError):
    """Face detection or landmark models could not be loaded or run."""


class TemplateError(MaskAwayError):
    """A mask template or template set (``masks.cfg``) is malformed."""


class DatasetError(MaskAwayError):
    """A dataset folder is missing, malformed, or was made with other settings."""


class AssetError(MaskAwayError):
    """An asset is unknown, not cached, or its registry entry is malformed."""


class DownloadError(AssetError):
    """A download failed (network, HTTP status, wrong content, Drive quota or permission)."""


class ChecksumError(DownloadError):
    """A file's size or sha256 does not match what the registry says."""


class OfflineError(AssetError):
    """``MASKAWAY_OFFLINE=1`` and the asset is not in the cache."""


class ArchiveError(AssetError):
    """An archive is corrupt or holds a member that would escape its target or exceed a limit."""


class WeightsError(MaskAwayError):
    """Model weights are missing, malformed, or do not match the requested architecture."""


class TrainingError(MaskAwayError):
    """Training cannot start or continue (bad resume, non-finite losses)."""
