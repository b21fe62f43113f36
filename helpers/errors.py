"""Exception types shared by every stage.

Each message names the offending value and what was expected, so a student or an
instructor can act on it without reading the traceback.
"""

from __future__ import annotations

import contextlib
import errno
import re
from collections.abc import Iterator


class SongrecError(Exception):
    """Base class for errors the CLI reports as one line and exit code 2."""


class DataFormatError(SongrecError, ValueError):
    """A data file exists but its content is not what the format requires."""


class ChecksumError(SongrecError):
    """A file's sha256 differs from the published value."""


class OfflineError(SongrecError):
    """The dataset could not be downloaded (no network or server unreachable)."""


class ResourceLimitError(SongrecError, ValueError):
    """A setting would need more memory, bytes or time than the stated limit (exit 2;
    helpers.limits)."""


class UnsafeOutputError(SongrecError, ValueError):
    """An output path songrec must not write to or replace (exit 2; helpers.outdir)."""


class TamperedReferenceError(ChecksumError, RuntimeError):
    """A published reference run (or its manifest) differs from what the release baked in."""


class UnsafeArchiveError(ChecksumError):
    """The archive holds a member that could write outside the target folder (helpers.fetch)."""


class NotAnArchiveError(ChecksumError):
    """The server sent something other than a gzip-compressed tar archive."""


class ArchiveTooLargeError(ChecksumError):
    """The download or its unpacked content is larger than the dataset can be."""


class UntrustedPickleError(SongrecError):
    """Refused to unpickle a file the user has not vouched for."""


class UnknownSongError(SongrecError, KeyError):
    """A song name or ID is not in the vocabulary; carries close matches."""

    def __init__(self, query, suggestions=()):
        self.query = query
        self.suggestions = list(suggestions)
        hint = ""
        if self.suggestions:
            hint = " Did you mean: " + "; ".join(repr(s) for s in self.suggestions) + "?"
        super().__init__(f"song {query!r} is not in the vocabulary.{hint}")

    def __str__(self):  # KeyError would otherwise wrap the message in quotes
        return self.args[0]


class AmbiguousSongError(SongrecError, KeyError):
    """A plain "Title by Artist" name matches several song IDs."""

    def __init__(self, query, candidates):
        self.query = query
        self.candidates = list(candidates)
        opts = "; ".join(repr(c) for c in self.candidates)
        super().__init__(
            f"song name {query!r} belongs to {len(self.candidates)} different song IDs; "
            f"pick one of: {opts}"
        )

    def __str__(self):
        return self.args[0]


class RunMismatchError(SongrecError, ValueError):
    """A saved run does not match the vocabulary or files it is used with."""


class DiskFullError(OSError):
    """A file could not be written because its disk (or quota) is full (exit 1)."""


@contextlib.contextmanager
def naming_full_disk(path) -> Iterator[None]:
    """Turn a full disk met while writing ``path`` into one :class:`DiskFullError` naming
    the file. NumPy reports a full disk as a short write ("12864 requested and 10208
    written", no errno), the rest of Python as ENOSPC or EDQUOT."""
    try:
        yield
    except DiskFullError:
        raise
    except OSError as exc:
        short = re.fullmatch(r"(\d+) requested and (\d+) written", str(exc))
        if exc.errno not in (errno.ENOSPC, errno.EDQUOT) and not short:
            raise
        got = f" ({int(short[2]):,} of {int(short[1]):,} bytes written)" if short else f" ({exc.strerror})"
        full = DiskFullError(f"the disk is full: could not write {path}{got}; free some space or write "
                             f"elsewhere (nothing was changed)")
        full.errno = errno.ENOSPC
        raise full from exc
