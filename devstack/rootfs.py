"""A minimal, runnable root filesystem built from Debian's static busybox (no network needed).

Used twice: ``engine.ensure_base_image`` imports it into a Docker engine, and
``images.busybox_layer`` pushes it to a registry as a real layer, so demo images actually run.
The tar is deterministic (fixed mtimes, sorted entries): the same busybox gives the same digest.
"""

from __future__ import annotations

import gzip
import io
import shutil
import subprocess
import tarfile
from pathlib import Path

BUSYBOX_CANDIDATES = ("/bin/busybox", "/usr/bin/busybox")
# Applets tests and notebooks are likely to want; intersected with what this busybox has.
APPLETS = ("sh", "ash", "echo", "cat", "ls", "env", "sleep", "true", "false", "mkdir", "wget",
           "rm", "cp", "mv", "touch", "head", "tail", "grep", "sed", "awk", "id", "hostname",
           "date", "uname", "ps", "printf", "test", "[", "sha256sum", "wc", "du", "df", "tar",
           "gzip", "gunzip", "find", "which", "xargs", "sort", "uniq", "cut", "tr", "tee",
           "chmod", "chown", "ln", "pwd", "whoami", "stat", "dd", "seq", "vi", "nc", "base64")
_MTIME = 946684800  # 2000-01-01: fixed so rebuilding yields the same layer digest
_FILES = {
    "etc/passwd": b"root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n",
    "etc/group": b"root:x:0:\nnogroup:x:65534:\n",
    "etc/hostname": b"busybox\n",
}


def find_busybox() -> Path:
    for candidate in BUSYBOX_CANDIDATES:
        path = Path(candidate)
        if path.exists() and b"statically linked" in _file_kind(path):
            return path
    raise RuntimeError("No static busybox found (apt-get install busybox-static); it is the only "
                       "source of a runnable image on a machine without Docker Hub.")


def _file_kind(path: Path) -> bytes:
    # `file` may be absent; a static binary has no PT_INTERP, which ldd reports plainly.
    if shutil.which("file"):
        return subprocess.run(["file", "-L", str(path)], capture_output=True).stdout
    out = subprocess.run(["ldd", str(path)], capture_output=True)
    return b"statically linked" if out.returncode != 0 or b"not a dynamic" in out.stdout + out.stderr else b""


def _applets(busybox: Path) -> list[str]:
    listed = subprocess.run([str(busybox), "--list"], capture_output=True, text=True).stdout.split()
    return [a for a in APPLETS if a in listed] if listed else list(APPLETS)


def rootfs_tar(busybox: Path | None = None) -> bytes:
    """An uncompressed rootfs tar: /bin/busybox, applet symlinks, /etc basics, /tmp, /root."""
    busybox = busybox or find_busybox()
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        def add(name: str, kind: bytes, *, mode: int, data: bytes = b"", link: str = "") -> None:
            info = tarfile.TarInfo(name)
            info.type, info.mode, info.mtime, info.linkname = kind, mode, _MTIME, link
            info.uname = info.gname = "root"
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data) if data else None)

        for d in ("bin", "etc", "root", "tmp", "usr", "usr/bin", "var", "proc", "sys", "dev"):
            add(d, tarfile.DIRTYPE, mode=0o1777 if d == "tmp" else 0o755)
        add("bin/busybox", tarfile.REGTYPE, mode=0o755, data=busybox.read_bytes())
        for applet in _applets(busybox):
            add(f"bin/{applet}", tarfile.SYMTYPE, mode=0o777, link="busybox")
        add("usr/bin/env", tarfile.SYMTYPE, mode=0o777, link="/bin/busybox")  # #!/usr/bin/env
        for name, data in sorted(_FILES.items()):
            add(name, tarfile.REGTYPE, mode=0o644, data=data)
    return buf.getvalue()


def gzip_deterministic(data: bytes) -> bytes:
    """gzip with mtime 0 and no file name, so equal input gives an equal blob digest."""
    return gzip.compress(data, compresslevel=6, mtime=0)


def files_tar(files: dict[str, bytes], *, mode: int = 0o644) -> bytes:
    """An uncompressed tar of regular files (parents implied), e.g. an extra layer for a demo."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, data in sorted(files.items()):
            info = tarfile.TarInfo(name.lstrip("/"))
            info.mode, info.mtime, info.size = mode, _MTIME, len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()
