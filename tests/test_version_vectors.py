"""Each ecosystem's version order against its own project's test vectors.

The vectors are data files under tests/scan_data, copied from the projects themselves (each
file's header names the repository, path, commit and license): apk-tools'
``test/unit/version.data``, dpkg's ``scripts/t/Dpkg_Version.t`` and packaging's
``tests/test_version.py``. A scan's verdict ("affected or fixed?") is only as good as these
orders, so every line of each file is a test case.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from registry_widgets.operations.security.versions import (affected_by, compare,
                                                           dpkg_version_key, parse_version)

DATA = Path(__file__).resolve().parent / "scan_data"


def lines(name: str) -> list[str]:
    text = (DATA / name).read_text(encoding="utf-8")
    return [line for line in text.splitlines() if line.strip() and not line.startswith("#")]


APK = [tuple(line.split()) for line in lines("apk-version-vectors")]
DPKG = [line for line in lines("dpkg-version-vectors")]
DPKG_PAIRS = [tuple(line.split()) for line in DPKG
              if not line.startswith(("!", "sorted "))]
DPKG_INVALID = [line[1:] for line in DPKG if line.startswith("!")]
[DPKG_SORTED] = [line.split()[1:] for line in DPKG if line.startswith("sorted ")]
PEP440 = [line for line in lines("pep440-version-vectors") if not line.startswith("!")]
PEP440_INVALID = [line[1:] for line in lines("pep440-version-vectors") if line.startswith("!")]
SIGN = {"<": -1, "=": 0, ">": 1}


def test_the_vector_files_are_all_there():
    # a truncated copy would pass every remaining case: count them
    assert (len(APK), len(DPKG_PAIRS), len(DPKG_INVALID), len(PEP440),
            len(PEP440_INVALID)) == (738, 43, 8, 92, 21)


@pytest.mark.parametrize("a, op, b", APK, ids=[" ".join(case) for case in APK])
def test_apk_tools_version_data(a, op, b):
    assert compare("Alpine:v3.19", a, b) == SIGN[op]
    assert compare("Alpine:v3.19", b, a) == -SIGN[op]


@pytest.mark.parametrize("a, b, result", DPKG_PAIRS, ids=[" ".join(c) for c in DPKG_PAIRS])
def test_dpkg_version_data(a, b, result):
    assert compare("Debian:12", a, b) == int(result)
    assert compare("Debian:12", b, a) == -int(result)


def test_dpkg_sorts_as_dpkg_does():
    assert sorted(reversed(DPKG_SORTED), key=dpkg_version_key) == DPKG_SORTED


@pytest.mark.parametrize("version", DPKG_INVALID)
def test_dpkg_refuses_what_dpkg_refuses(version):
    with pytest.raises(ValueError):
        dpkg_version_key(version)


@pytest.mark.parametrize("lower, higher", list(zip(PEP440, PEP440[1:])))
def test_pep440_order_of_packagings_list(lower, higher):
    assert compare("PyPI", lower, higher) == -1
    assert compare("PyPI", higher, lower) == 1


@pytest.mark.parametrize("version", PEP440_INVALID)
def test_pep440_refuses_what_packaging_refuses(version):
    with pytest.raises(ValueError):
        parse_version("PyPI", version)


@pytest.mark.parametrize("installed, fixed, affected", [
    ("1.05-r0", "1.1-r0", True),  # a leading zero compares as a string: 1.05 < 1.1
    ("0.06-r2", "0.1-r0", True),
    ("1.1-r0", "1.1-r0", False),
    ("1.10-r0", "1.1-r0", False),
    ("0.1-r0", "0.1-r0", False),
])
def test_apk_leading_zero_components_in_an_advisory_range(installed, fixed, affected):
    ranges = [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": fixed}]}]
    assert affected_by("Alpine:v3.19", installed, ranges)[0] is affected
