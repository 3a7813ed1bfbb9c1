"""Typed errors: each carries a sentence a user can read."""


class PhotoclustError(Exception):
    """Base class; str(err) is shown to the user as is."""


class UnreadableImage(PhotoclustError):
    """A file could not be decoded as a photo; the message is the skip reason."""


class ModelUnavailable(PhotoclustError):
    """Model weights could not be had (no network, missing file, bad checksum)."""


class LibraryError(PhotoclustError):
    """The library file is missing, corrupt or of a newer schema."""


class LibraryDamaged(LibraryError):
    """The library file cannot be read as a library; it can be moved aside and rebuilt."""


class LibraryLocked(LibraryError):
    """Another photoclust process is writing this library."""


class ExportConflict(PhotoclustError):
    """An export would overwrite, lose or escape something; nothing was changed."""


class Cancelled(PhotoclustError):
    """The user cancelled; work done so far is kept."""
