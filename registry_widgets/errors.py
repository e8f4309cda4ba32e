"""Every exception registry_widgets raises, in one place.

Each message says what failed, on which registry and reference, and what to do next.
Messages never contain credentials: build them from names, never from request objects
or headers. This module imports nothing from the package (bottom layer).
"""

from __future__ import annotations

__all__ = [
    "RegistryWidgetsError",
    "BadReference",
    "RegistryError",
    "NotFound",
    "Unauthorized",
    "Denied",
    "DeleteDisabled",
    "Unreachable",
    "InsecureRegistry",
    "ProtocolError",
    "DigestMismatch",
    "UnreadableLayer",
    "RateLimited",
    "EngineError",
    "EngineUnavailable",
    "ConfirmationRequired",
    "JournalError",
    "ParameterError",
    "Protected",
    "BadBackup",
    "SyncIncomplete",
    "FeedError",
    "ScanFailed",
    "Cancelled",
    "ConfigurationError",
    "InvalidArgument",
]


LOGIN_HINT = (
    "Log in first: run `docker login {registry}` (the guide's answer to "
    "'unauthorized: authentication required'), or pass credentials explicitly."
)


class RegistryWidgetsError(Exception):
    """Base class of every error this package raises on purpose."""

    def __init__(self, message: str, *, registry: str | None = None, reference: str | None = None):
        super().__init__(message)
        self.registry = registry
        self.reference = reference


class BadReference(RegistryWidgetsError, ValueError):
    """A string that is not a valid image reference (also a ValueError).

    The message says what is wrong and shows the expected form
    ``registry/namespace/repository:tag``.
    """


class RegistryError(RegistryWidgetsError):
    """A registry answered with an error, or could not be reached."""

    status: int | None = None

    def __init__(self, message: str, *, registry: str | None = None, reference: str | None = None,
                 status: int | None = None, code: str | None = None):
        super().__init__(message, registry=registry, reference=reference)
        self.status = status
        self.code = code


class NotFound(RegistryError):
    """The repository, tag, manifest or blob does not exist (404)."""


class Unauthorized(RegistryError):
    """The registry wants credentials, or refused the ones given (401)."""


class Denied(RegistryError):
    """Credentials were accepted but lack the permission for this action (403)."""


class DeleteDisabled(RegistryError):
    """The registry refuses deletes (405): distribution's default `delete: enabled: false`."""


class Unreachable(RegistryError):
    """No answer: unknown host, refused connection, timeout, or a TLS failure."""


class InsecureRegistry(RegistryError):
    """Plain HTTP was needed for a host that is neither loopback nor listed as insecure."""


class ProtocolError(RegistryError):
    """The registry answered something that is not the distribution API (HTML, bad JSON,
    unknown media type, wrong digest)."""


class DigestMismatch(ProtocolError):
    """Downloaded or uploaded content does not match its digest; nothing was kept."""


class UnreadableLayer(ProtocolError):
    """A layer that cannot be read as a tar, or whose tar is malformed or hostile (a header
    that breaks the format, a path climbing out of the image, more members or bytes than a
    layer of that size can hold). ``layer`` is its digest, ``index`` its position (0 for the
    first). Nothing of it was extracted; the SBOM or scan stopped there."""

    def __init__(self, message: str, *, registry: str | None = None,
                 reference: str | None = None, layer: str = "", index: int = -1):
        super().__init__(message, registry=registry, reference=reference)
        self.layer = layer
        self.index = index


class RateLimited(RegistryError):
    """429 Too Many Requests, still failing after the retries."""


class EngineError(RegistryWidgetsError):
    """The Docker engine failed, or reported an error inside its progress stream."""


class EngineUnavailable(EngineError):
    """No Docker engine answers, or its socket refuses this user."""


class ConfirmationRequired(RegistryWidgetsError):
    """A destructive action was asked for without its explicit confirmation."""


class JournalError(RegistryWidgetsError, OSError):
    """The journal (the backups that make deletes undoable) cannot be written or read back;
    a delete that needed a backup was not done."""


class ParameterError(RegistryWidgetsError, ValueError):
    """A headless run was told something the notebook cannot take (an unknown or repeated
    name, a value of the wrong type, no explicit target for a delete, an unwritable output).
    Raised before any kernel starts: nothing was run."""


class Protected(RegistryWidgetsError):
    """A delete would break something else (a multi-arch index still references it)."""


class BadBackup(RegistryWidgetsError, ValueError):
    """A journal record that ``restore`` cannot use: not a backup, or damaged (also a
    ValueError). Nothing is sent to the registry."""


class SyncIncomplete(RegistryWidgetsError):
    """A sync finished with some images failed; the others were copied (rerun to finish)."""


class FeedError(RegistryWidgetsError):
    """An advisory feed that cannot be read: missing, not OSV JSON, or an unusable artifact."""


class ScanFailed(RegistryWidgetsError):
    """A scan found issues at or above the ``fail_on`` severity (the report is ``.report``)."""

    def __init__(self, message: str, *, report: object = None, registry: str | None = None,
                 reference: str | None = None):
        super().__init__(message, registry=registry, reference=reference)
        self.report = report


class Cancelled(RegistryWidgetsError):
    """The caller cancelled a long operation (its ``cancel`` event was set). The message says
    what was left unchanged and that running the same call again completes the work."""


class ConfigurationError(RegistryWidgetsError, ValueError, TypeError):
    """An option or credentials given to ``configure()`` or a client are not usable: an
    unknown option name, a value of the wrong type, a CA file that is missing or not PEM.
    Raised at once, before any request (also a ValueError and a TypeError)."""
class InvalidArgument(RegistryWidgetsError, ValueError):
    """An option of a verb is malformed (a duration, a regular expression, a version range, a
    count): raised before any request, naming the option and what to write instead."""
