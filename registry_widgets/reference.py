"""Image references: ``registry/namespace/repository:tag@digest`` as a frozen value.

The bottom layer: pure, no network; imports only ``registry_widgets.errors`` and the
standard library. Strings become a :class:`Reference` here, once, at the first public
boundary; nothing else in the package splits or joins reference strings.

Grammar and normalisation are those of Docker's ``github.com/distribution/reference``
(``ParseNormalizedNamed``, with ``ParseAnyReference``'s view of bare digests), so a string
``docker pull`` accepts is accepted here and names the same image, and a string it rejects
is rejected here. Only the error messages are ours: each names the bad part (positions
count from 1) and shows the expected form.
"""

from __future__ import annotations

import ipaddress
import re
import string
from dataclasses import dataclass

from .errors import BadReference

__all__ = [
    "DEFAULT_REGISTRY", "DEFAULT_TAG", "NAME_MAX_LENGTH", "EXPECTED_FORM", "Reference",
    "parse_reference", "validate_tag", "validate_digest", "validate_repository", "is_digest",
    "validate_registry", "REGISTRY_FORM", "registry_identity",
]

DEFAULT_REGISTRY = "docker.io"
DEFAULT_TAG = "latest"
NAME_MAX_LENGTH = 255  # of registry + "/" + repository, after normalisation
EXPECTED_FORM = "registry/namespace/repository:tag, e.g. us.icr.io/my_namespace/my_repo:1.0"

_LEGACY_REGISTRY = "index.docker.io"  # "the Docker Index": an alias of docker.io
_OFFICIAL_PREFIX = "library/"  # Docker Hub's namespace for official images

# The grammar, piece by piece as in distribution's regexp.go.
_ALNUM = r"[a-z0-9]+"
# One '.', one or two '_', or any run of '-' (so hostnames can be used as path components).
_SEPARATOR = r"(?:[._]|__|[-]+)"
_PATH_COMPONENT = rf"{_ALNUM}(?:{_SEPARATOR}{_ALNUM})*"
_PATH = rf"{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*"
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
# Only bracketed IPv6; zone ids (%eth0) and IPv4-mapped forms are excluded on purpose.
_HOST = rf"(?:{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*|\[[a-fA-F0-9:]+\])"
_DOMAIN = rf"{_HOST}(?::[0-9]+)?"
_TAG = r"\w[\w.-]{0,127}"
_ALGORITHM = r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*"
_DIGEST = _ALGORITHM + r":[0-9a-fA-F]{32,}"


def _compile(pattern: str) -> re.Pattern[str]:
    # ASCII: Go's \w is [0-9A-Za-z_], Python's would take 'é' too. Callers use fullmatch(),
    # never '$', which would let a trailing newline through.
    return re.compile(pattern, re.ASCII)


_REFERENCE_RE = _compile(rf"((?:{_DOMAIN}/)?{_PATH})(?::({_TAG}))?(?:@({_DIGEST}))?")
_NAME_RE = _compile(rf"(?:({_DOMAIN})/)?({_PATH})")
_DOMAIN_RE, _PATH_COMPONENT_RE, _PATH_RE, _TAG_RE, _ALGORITHM_RE = map(
    _compile, (_DOMAIN, _PATH_COMPONENT, _PATH, _TAG, _ALGORITHM))
_IDENTIFIER_RE = _compile(r"[a-f0-9]{64}")  # an image ID: sha256 hex without "sha256:"

# What go-digest accepts once the grammar has matched: these algorithms only, each with
# exactly this many lowercase hex characters.
_DIGEST_HEX_LENGTHS = {"sha256": 64, "sha384": 96, "sha512": 128}

_TAG_RULE = "a tag is 1 to 128 letters, digits, '_', '.' or '-', not starting with '.' or '-'"
_DIGEST_RULE = "a digest is algorithm:hex, e.g. sha256: and 64 lowercase hex characters"
_PATH_RULE = ("each path component starts and ends with a lowercase letter or digit, "
              "joined only by '.', '_', '__' or dashes")

_LOWER_DIGITS = string.ascii_lowercase + string.digits
_LETTERS_DIGITS = string.ascii_letters + string.digits


def _first_outside(text: str, allowed: str) -> int | None:
    return next((i for i, char in enumerate(text) if char not in allowed), None)


# The _*_problem functions explain why a part does not match, or return None if it does.
# ``offset`` is where the part starts in the text the message quotes.

def _tag_problem(tag: str, offset: int = 0) -> str | None:
    if _TAG_RE.fullmatch(tag):
        return None
    if not tag:
        return "bad tag: it is empty"
    if len(tag) > 128:
        return f"bad tag: too long ({len(tag)} characters, at most 128 are allowed)"
    if tag[0] in ".-":
        return f"bad tag {tag!r}: it starts with {tag[0]!r} ({_TAG_RULE})"
    i = _first_outside(tag, _LETTERS_DIGITS + "_.-")
    where = "" if i is None else f" bad character {tag[i]!r} at position {offset + i + 1}"
    return f"bad tag {tag!r}:{where} ({_TAG_RULE})"


def _digest_problem(digest: str, offset: int = 0) -> str | None:
    algorithm, colon, hex_ = digest.partition(":")
    if not digest:
        return "bad digest: it is empty"
    if not colon or not _ALGORITHM_RE.fullmatch(algorithm):
        return f"bad digest {digest!r}: {_DIGEST_RULE}"
    length = _DIGEST_HEX_LENGTHS.get(algorithm)
    if length is None:
        return (f"bad digest {digest!r}: unsupported algorithm {algorithm!r}, "
                "use sha256, sha384 or sha512")
    i = _first_outside(hex_, string.digits + "abcdef")
    if i is not None:
        where = f"bad character {hex_[i]!r} at position {offset + len(algorithm) + i + 2}"
        lowercase = " (hex must be lowercase)" if hex_[i] in "ABCDEF" else ""
        return f"bad digest {digest!r}: {where}{lowercase}"
    if len(hex_) != length:
        return f"bad digest {digest!r}: {algorithm} needs {length} hex characters, got {len(hex_)}"
    return None


def _registry_problem(registry: str, offset: int = 0) -> str | None:
    if _DOMAIN_RE.fullmatch(registry):
        return None
    if not registry:
        return "the registry is empty"
    bad = f"bad registry {registry!r}:"
    if registry.startswith("["):
        end = registry.find("]")
        if end < 0:
            return f"{bad} the '[' of the IPv6 address is never closed"
        if end == 1:
            return f"{bad} the IPv6 address between '[' and ']' is empty"
        i = _first_outside(registry[1:end], string.hexdigits + ":")
        if i is not None:
            return f"{bad} bad character {registry[i + 1]!r} at position {offset + i + 2}"
        host, port, port_start = registry[:end + 1], registry[end + 2:], end + 2
        if len(registry) > end + 1 and registry[end + 1] != ":":
            return f"{bad} bad character {registry[end + 1]!r} at position {offset + end + 2}"
    else:
        host, _, port = registry.partition(":")
        port_start = len(host) + 1
        if ":" in port:
            return f"{bad} an IPv6 address goes in brackets, e.g. [::1]:5000"
        i = _first_outside(host, _LETTERS_DIGITS + ".-")
        if i is not None:
            return f"{bad} bad character {host[i]!r} at position {offset + i + 1}"
        if any(not label or label[0] == "-" or label[-1] == "-" for label in host.split(".")):
            return (f"{bad} each dot-separated part of the host must be non-empty "
                    "and start and end with a letter or digit")
    if ":" in registry[len(host):]:
        if not port:
            return f"{bad} the port after ':' is empty"
        i = _first_outside(port, string.digits)
        if i is not None:
            return f"{bad} bad character {port[i]!r} at position {offset + port_start + i + 1}"
    return f"{bad} not a host name, IPv4 address or [IPv6] address with an optional :port"


def _path_problem(path: str, offset: int = 0) -> str | None:
    if _PATH_RE.fullmatch(path):
        return None
    if path != path.lower():
        return f"uppercase in {path!r}: repository names must be lowercase"
    start = offset
    for component in path.split("/"):
        if not component:
            return (f"empty path component at position {start + 1} "
                    "(a '/' at the start or end, or two in a row)")
        i = _first_outside(component, _LOWER_DIGITS + "._-")
        if i is not None:
            return f"bad character {component[i]!r} at position {start + i + 1}"
        if not _PATH_COMPONENT_RE.fullmatch(component):
            return f"bad path component {component!r} at position {start + 1}: {_PATH_RULE}"
        start += len(component) + 1
    return f"bad repository path {path!r}: {_PATH_RULE}"  # not reached: components cover it


def _looks_like_registry(component: str) -> bool:
    """distribution's splitDockerDomain test: is this first component a registry?"""
    return (component == "localhost" or any(c in component for c in ".:")
            or component.lower() != component)


def _split_registry(text: str) -> tuple[str, str]:
    """Registry and the rest, normalised as distribution's splitDockerDomain does."""
    first, slash, rest = text.partition("/")
    if not slash:
        # A single component ("redis:7") is always a Docker Hub official image, even
        # "localhost" or "example.com": distribution says so, and docker follows it.
        return DEFAULT_REGISTRY, _OFFICIAL_PREFIX + text
    if first == _LEGACY_REGISTRY:
        registry = DEFAULT_REGISTRY
    elif _looks_like_registry(first):
        registry = first
    else:
        registry, rest = DEFAULT_REGISTRY, text
    if registry == DEFAULT_REGISTRY and "/" not in rest:
        rest = _OFFICIAL_PREFIX + rest
    return registry, rest


def _uppercase(text: str, start: int) -> str:
    i = next(i for i in range(start, len(text)) if text[i] != text[i].lower())
    return f"uppercase {text[i]!r} at position {i + 1}: repository names must be lowercase"


def _quote(text: str) -> str:
    return repr(text) if len(text) <= 300 else f"{text[:300]!r}... ({len(text)} characters)"


CREDENTIALS_HINT = ("credentials do not go in a reference; use docker login or "
                    "configure(registry, credentials=(user, getpass()))")
_DIGEST_ALGORITHMS = ("sha256", "sha384", "sha512")


def _without_userinfo(text: str) -> str | None:
    """``text`` with a ``user:password@`` part masked, or None when it has none.

    In a reference an '@' may only introduce the digest at the end; one followed by a host
    or path (``alice:pw@host/app``), or one in front of something that is no digest in a name
    without a '/' (``alice:pw@host:5000``, ``alice@host.io``), is a URL's userinfo. The mask keeps what follows
    the last '@' and the scheme, never what came before: that is the secret.
    """
    before, at, after = text.rpartition("@")
    if not at:
        return None
    if not _DOMAIN_RE.fullmatch(after.partition("/")[0]):
        return None  # "ns@/app", "x:@": no host follows the '@'
    algorithm, _, hex_ = after.partition(":")
    digest_like = algorithm.lower() in _DIGEST_ALGORITHMS or len(hex_) >= 32
    if "/" not in after and ("/" in before.split("://")[-1] or digest_like):
        return None
    if "/" not in after and ":" not in before and not any(c in after for c in ".:") \
            and after != "localhost":
        return None  # "redis@latest": a tag mistyped, not a host
    scheme = before.split("://")[0] + "://" if "://" in before else ""
    return f"{scheme}***@{after}"


def _userinfo_error(text: str, masked: str, what: str = "image reference") -> BadReference:
    return BadReference(f"Invalid {what} {_quote(masked)} (user and password masked): "
                        f"{CREDENTIALS_HINT}. Expected the form {EXPECTED_FORM}",
                        reference=masked)


def _bad(text: str, problem: str) -> BadReference:
    return BadReference(f"Invalid image reference {_quote(text)}: {problem}. "
                        f"Expected the form {EXPECTED_FORM}", reference=text)


def _diagnose(text: str) -> str:
    """Name what is wrong with ``text``, which the reference grammar has rejected."""
    if "://" in text:
        return f"leave out the URL scheme {text.split('://')[0] + '://'!r}"
    name, digest = text, None
    if "@" in text:
        name, _, digest = text.rpartition("@")
        if "/" in digest:  # not a digest: an '@' inside the name
            return f"bad character '@' at position {len(name) + 1}"
        if problem := _digest_problem(digest, len(name) + 1):
            return problem
    if "/" not in name and name.startswith("["):
        return "a registry alone is not an image: add the repository, e.g. [::1]:5000/my_repo"
    colon = name.rfind(":")
    if colon > name.rfind("/"):
        if problem := _tag_problem(name[colon + 1:], colon + 1):
            return problem
        name = name[:colon]
    if not name:
        return "the repository name is missing"
    first, slash, rest = name.partition("/")
    if slash and _looks_like_registry(first):
        problem = _registry_problem(first) or _path_problem(rest, len(first) + 1)
    else:
        problem = _path_problem(name)
    return problem or "it does not follow the reference grammar"


def parse_reference(text: str | Reference) -> Reference:
    """Parse ``[registry/]repository[:tag][@digest]`` into a :class:`Reference`.

    Similar to how ``docker pull`` reads its argument: without a registry the image is on
    Docker Hub (``docker.io``), ``index.docker.io`` is read as ``docker.io``, and a
    one-component Docker Hub name gets the ``library/`` namespace (``redis`` is
    ``docker.io/library/redis``). When neither tag nor digest is given the tag is
    ``"latest"``, as docker does; with a digest and no tag, the tag stays None.
    ``name:tag@digest`` keeps both. A :class:`Reference` is returned unchanged, so callers
    may pass either.

    Raises BadReference (a ValueError) saying what is wrong, e.g. for an empty string,
    uppercase in the repository, a bad tag or digest, a name over 255 characters, a bare
    64-character hex image ID, or a bare digest with no repository.
    """
    if isinstance(text, Reference):
        return text
    if not isinstance(text, str):
        raise TypeError(f"an image reference is a string, not {type(text).__name__}")
    if not text:
        raise _bad(text, "it is empty")
    masked = _without_userinfo(text)
    if masked is not None:
        raise _userinfo_error(text, masked)
    # ParseAnyReference would take these two as an image ID or digest with no name; a
    # Reference always names a repository, so they are errors here.
    if _IDENTIFIER_RE.fullmatch(text):
        raise _bad(text, "cannot specify 64-byte hexadecimal strings: this looks like an "
                         "image ID, give a repository name (repository@sha256:<hex>)")
    if is_digest(text):
        raise _bad(text, "a digest alone names no repository: write repository@digest")
    registry, remainder = _split_registry(text)
    path = remainder.partition(":")[0].partition("@")[0]
    if path != path.lower():
        first, slash, _ = text.partition("/")
        typed_path_start = len(first) + 1 if slash and _looks_like_registry(first) else 0
        raise _bad(text, _uppercase(text, typed_path_start))
    # distribution parses the normalised string, so the 255 limit counts "docker.io/library/".
    normalised = f"{registry}/{remainder}"
    match = _REFERENCE_RE.fullmatch(normalised)
    if match is None:
        lowered = normalised.lower()
        if lowered != normalised and _REFERENCE_RE.fullmatch(lowered):
            # The uppercase is in a first component that is not a valid host, so a path.
            raise _bad(text, _uppercase(text, 0))
        raise _bad(text, _diagnose(text))
    name, tag, digest = match.groups()
    if len(name) > NAME_MAX_LENGTH:
        raise _bad(text, f"too long: the name {name[:40]!r}... has {len(name)} characters, "
                         f"at most {NAME_MAX_LENGTH} are allowed")
    registry, path = _NAME_RE.fullmatch(name).groups()
    if registry is None:
        # distribution would accept e.g. "my_host.com/app" with an empty domain; a Reference
        # needs a registry, and "my_host.com" is not a valid host name.
        raise _bad(text, _registry_problem(text.partition("/")[0]) or "bad registry")
    if digest is not None and (problem := _digest_problem(digest, text.rfind("@") + 1)):
        raise _bad(text, problem)
    return Reference(registry, path, tag, digest)


@dataclass(frozen=True, slots=True)
class Reference:
    """An image in a registry: ``registry/repository:tag@digest``, validated and canonical.

    Build one with :func:`parse_reference` (or ``Reference.parse``). The constructor
    validates too, and normalises Docker Hub names as parsing does, so that
    ``parse_reference(str(ref)) == ref`` always holds.
    """

    registry: str  # host with optional port: "docker.io", "127.0.0.1:5000", "[::1]:5000"
    repository: str  # the path: "library/redis", "my_namespace/my_repo"
    tag: str | None = None  # "latest" when neither tag nor digest is given
    digest: str | None = None  # "sha256:<64 hex>"

    def __post_init__(self) -> None:
        registry = DEFAULT_REGISTRY if self.registry == _LEGACY_REGISTRY else self.registry
        repository = self.repository
        if registry == DEFAULT_REGISTRY and "/" not in repository:
            repository = _OFFICIAL_PREFIX + repository
        tag = DEFAULT_TAG if self.tag is None and self.digest is None else self.tag
        not_a_registry = (f"registry {registry!r} would be read as a Docker Hub namespace: "
                          "a registry has a '.' or a ':port', or is 'localhost'")
        name = f"{registry}/{repository}"
        problem = (
            _registry_problem(registry)
            or (None if _looks_like_registry(registry) else not_a_registry)
            or _path_problem(repository)
            or (f"too long: the name has {len(name)} characters, at most {NAME_MAX_LENGTH} "
                "are allowed" if len(name) > NAME_MAX_LENGTH else None)
            or (None if tag is None else _tag_problem(tag))
            or (None if self.digest is None else _digest_problem(self.digest))
        )
        if problem:
            fields = f"registry={self.registry!r}, repository={self.repository!r}"
            raise BadReference(f"Invalid image reference ({fields}, tag={self.tag!r}, "
                               f"digest={self.digest!r}): {problem}. Expected the form "
                               f"{EXPECTED_FORM}", reference=name)
        # Frozen: normalise through object.__setattr__, once, before anyone sees the value.
        object.__setattr__(self, "registry", registry)
        object.__setattr__(self, "repository", repository)
        object.__setattr__(self, "tag", tag)

    @staticmethod
    def parse(text: str | Reference) -> Reference:
        """Same as :func:`parse_reference`."""
        return parse_reference(text)

    @property
    def namespace(self) -> str:
        """The first path segment when the path has two or more, else "".

        That is the namespace in IBM Cloud Container Registry terms
        (``us.icr.io/<namespace>/<repository>``); on Docker Hub, the user or organisation
        (``library`` for official images).
        """
        first, slash, _ = self.repository.partition("/")
        return first if slash else ""

    @property
    def name(self) -> str:
        """``registry/repository``, without tag or digest."""
        return f"{self.registry}/{self.repository}"

    @property
    def reference(self) -> str:
        """The digest if there is one, else the tag: what goes into
        ``/v2/<repository>/manifests/<reference>``. A digest wins: it pins the exact content."""
        return self.digest or self.tag  # type: ignore[return-value]  # one of them is set

    def with_tag(self, tag: str) -> Reference:
        """The same repository at ``tag``. The digest is dropped: it pinned the old tag's
        content, and keeping it would make the new reference still mean the old image."""
        return Reference(self.registry, self.repository, validate_tag(tag), None)

    def with_digest(self, digest: str) -> Reference:
        """The same repository pinned to ``digest``, keeping the tag (``name:tag@digest``)."""
        return Reference(self.registry, self.repository, self.tag, validate_digest(digest))

    def __str__(self) -> str:
        """The full canonical form: ``docker.io/library/redis:latest``,
        ``r:5000/ns/app:1@sha256:...``."""
        tag = f":{self.tag}" if self.tag is not None else ""
        digest = f"@{self.digest}" if self.digest is not None else ""
        return f"{self.name}{tag}{digest}"


def _raise_if(problem: str | None, value: str) -> str:
    if problem:
        raise BadReference(problem[0].upper() + problem[1:] + ".", reference=value)
    return value


def validate_tag(tag: str) -> str:
    """Return ``tag`` if it is a valid tag (``[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}``), else raise
    BadReference."""
    return _raise_if(_tag_problem(tag), tag)


def validate_digest(digest: str) -> str:
    """Return ``digest`` if it is a valid ``sha256:``/``sha384:``/``sha512:`` digest in
    lowercase hex of the right length, else raise BadReference."""
    return _raise_if(_digest_problem(digest), digest)


def validate_repository(path: str) -> str:
    """Return the repository path (``namespace/repository``, no registry) if valid, else raise
    BadReference. The 255-character limit applies to the path alone here; with a registry
    in front, :class:`Reference` checks the whole name."""
    too_long = (f"too long: the repository has {len(path)} characters, at most "
                f"{NAME_MAX_LENGTH} are allowed" if len(path) > NAME_MAX_LENGTH else None)
    return _raise_if(_path_problem(path) or too_long, path)


REGISTRY_FORM = ("host[:port], e.g. us.icr.io or localhost:5000 (https:// or http:// in front "
                 "is allowed)")


def _registry_name_problem(registry: str) -> str | None:
    scheme, sep, host = registry.partition("://")
    if sep and scheme not in ("http", "https"):
        return f"unsupported URL scheme {scheme + '://'!r}: use https://, http:// or none"
    host = host if sep else registry
    host = host[:-1] if host.endswith("/") else host
    if "/" in host:
        return ("a registry has no path: give host[:port] alone and the namespace or "
                "repository separately, e.g. images('us.icr.io', 'my_namespace')")
    problem = _registry_problem(host)
    if problem:
        return problem.removeprefix(f"bad registry {host!r}: ")
    if host.startswith("["):  # the grammar takes any hex and colons; a URL needs an address
        address = host[1:host.index("]")]
        try:
            ipaddress.IPv6Address(address)
        except ValueError:
            return f"[{address}] is not an IPv6 address"
    port = host.rpartition("]")[2].partition(":")[2] if host.startswith("[") else \
        host.partition(":")[2]
    if port and not 1 <= int(port) <= 65535:
        return f"port {port} is out of range (1 to 65535)"
    return None


def validate_registry(registry: str) -> str:
    """Return ``registry`` (``host[:port]``, or ``http(s)://host[:port]``) without a trailing
    '/', if it can name a registry, else raise BadReference saying why. Nothing is resolved
    or contacted: this runs before any request."""
    if not isinstance(registry, str):
        problem: str | None = f"a registry is a string, not {type(registry).__name__}"
    elif not registry:
        problem = "it is empty"
    elif "@" in registry:  # no registry name has one: it is user[:password]@host
        scheme, sep, rest = registry.rpartition("://")
        raise _userinfo_error(registry, f"{scheme}{sep}***@{rest.rpartition('@')[2]}",
                              "registry")
    else:
        problem = _registry_name_problem(registry)
    if problem:
        shown = _quote(registry) if isinstance(registry, str) else f"{registry!r:.80}"
        raise BadReference(f"Invalid registry {shown}: {problem}. A registry is {REGISTRY_FORM}: "
                           f"the first part of {EXPECTED_FORM}",
                           reference=registry if isinstance(registry, str) else None)
    return registry[:-1] if registry.endswith("/") else registry


# The names one registry goes by. Docker Hub answers as registry-1.docker.io and is written
# docker.io or index.docker.io (moby's reference and registry packages); loopback is one
# machine however it is written, and 127.0.0.1 is how this project's examples write it.
HUB_IDENTITY = "docker.io"
_HUB_NAMES = frozenset({"docker.io", "index.docker.io", "registry-1.docker.io"})
LOOPBACK_IDENTITY = "127.0.0.1"
_LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})
_HTTPS_PORT = 443


def registry_identity(registry: str) -> str:
    """The one name of ``registry``, however it was spelled: what saved state (protected
    tags, policies, the journal's lookups) and guards are keyed by.

    ``host[:port]``, lower-case, any ``http(s)://`` and trailing ``/`` dropped, ``:443``
    dropped, the port without leading zeros; ``localhost``, ``127.0.0.1`` and ``[::1]`` are
    all ``127.0.0.1``; ``index.docker.io`` and ``registry-1.docker.io`` are ``docker.io``.
    So ``registry_identity("LOCALHOST:5000") == registry_identity("127.0.0.1:5000")``.

    A key, never an address: requests still go to the host the user named. Pure; raises
    BadReference (from :func:`validate_registry`) when ``registry`` names no registry.
    """
    if isinstance(registry, str) and registry.count(":") > 1 and \
            not any(mark in registry for mark in ("[", "://", "@")):
        registry = f"[{registry}]"  # a bare IPv6 address, as in a URL's hostname: "::1"
    host = validate_registry(registry).rpartition("://")[2].rstrip("/").lower()
    if host.startswith("["):
        address, _, port = host[1:].partition("]")
        name = ipaddress.IPv6Address(address).compressed  # validate_registry checked it
        port = port[1:]
    else:
        name, _, port = host.partition(":")
    number = int(port) if port else None
    if name in _LOOPBACK_NAMES:
        name = LOOPBACK_IDENTITY
    elif name in _HUB_NAMES:
        name = HUB_IDENTITY
    elif ":" in name:
        name = f"[{name}]"
    return name if number in (None, _HTTPS_PORT) else f"{name}:{number}"


def is_digest(text: object) -> bool:
    """True if ``text`` is a valid digest such as ``sha256:<64 lowercase hex>``; never raises."""
    return isinstance(text, str) and _digest_problem(text) is None


# Signatures, attestations and SBOMs stored by tag when a registry has no referrers API
# (cosign's tag schema, and the OCI 1.1 fallback tag `sha256-<hex>`): REGISTRY-NOTES.md.
_ACCESSORY_TAG_RE = re.compile(r"(sha256)-([0-9a-f]{64})(?:\.(sig|att|sbom))?")
ACCESSORY_KINDS = {"sig": "signature", "att": "attestation", "sbom": "sbom", None: "referrers"}


def accessory_of(tag: str) -> tuple[str, str] | None:
    """``(subject digest, kind)`` when ``tag`` names an accessory of another manifest, else None.

    ``kind`` is "signature" (``.sig``), "attestation" (``.att``), "sbom" (``.sbom``) or
    "referrers" (the bare OCI 1.1 fallback tag, an index of referrers).
    """
    match = _ACCESSORY_TAG_RE.fullmatch(tag)
    if match is None:
        return None
    return f"{match[1]}:{match[2]}", ACCESSORY_KINDS[match[3]]


def accessory_tags(digest: str) -> dict[str, str]:
    """The tag-schema accessory tags that may exist for ``digest``: ``{tag: kind}``."""
    algorithm, _, hex_ = digest.partition(":")
    stem = f"{algorithm}-{hex_}"
    return {stem + (f".{suffix}" if suffix else ""): kind for suffix, kind in ACCESSORY_KINDS.items()}


def namespace_of(repository: str) -> str:
    """The first path segment of a two-or-more-segment repository, else ``""`` (as
    ``Reference.namespace``)."""
    first, slash, _ = repository.partition("/")
    return first if slash else ""


def validate_namespace(namespace: str) -> str:
    """Return ``namespace`` if it is one path component of the reference grammar
    (``my_namespace``, ``team-a``), else raise BadReference saying why."""
    rule = ("a namespace is a single path component (lowercase letters and digits, joined by "
            "'.', '_', '__' or dashes), e.g. my_namespace in registry/namespace/repository:tag")
    if not isinstance(namespace, str) or not namespace or "/" in namespace:
        raise BadReference(f"Invalid namespace {namespace!r}: {rule}", reference=str(namespace))
    try:
        return validate_repository(namespace)
    except BadReference as e:
        raise BadReference(f"Invalid namespace {namespace!r}: {e} Use a valid name: {rule}",
                           reference=namespace) from None
