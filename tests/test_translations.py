"""The English catalog covers every interface string.

Message ids are Simplified Chinese; English comes from translations/en. The catalog is extracted
afresh from the source (same command as `make messages`, babel.cfg decides what is scanned), so a
new `_()`/`_l()` string without an English translation fails the suite, and a translation whose
placeholders differ from its id (a KeyError or a garbled message at run time) fails too.
"""
from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.frontend import CommandLineInterface
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parent.parent
ENGLISH_PO = ROOT / "translations" / "en" / "LC_MESSAGES" / "messages.po"

# %(name)s style (with an optional conversion spec) and str.format {name} style.
PERCENT_PLACEHOLDER = re.compile(r"%\((\w+)\)[-#0 +]*\d*(?:\.\d+)?([diouxXeEfFgGcrsa])")
BRACE_PLACEHOLDER = re.compile(r"(?<!\{)\{(\w*)(?:[:!][^{}]*)?\}(?!\})")


@pytest.fixture(scope="module")
def extracted(tmp_path_factory) -> dict:
    """Message id -> source locations, extracted from the current source tree."""
    pot = tmp_path_factory.mktemp("catalog") / "messages.pot"
    CommandLineInterface().run(
        ["pybabel", "--quiet", "extract", "-F", str(ROOT / "babel.cfg"), "-k", "_l", "-o", str(pot), str(ROOT)]
    )
    with pot.open("rb") as handle:
        catalog = read_po(handle)
    messages = {message.id: message.locations for message in catalog if message.id}
    assert messages, "extraction found no messages: check babel.cfg"
    return messages


@pytest.fixture(scope="module")
def english() -> dict:
    with ENGLISH_PO.open("rb") as handle:
        catalog = read_po(handle, locale="en")
    return {message.id: message for message in catalog if message.id}


def _strings(value) -> tuple[str, ...]:
    return tuple(value) if isinstance(value, (tuple, list)) else (value,)


def _placeholders(text: str) -> tuple[set, set]:
    return set(PERCENT_PLACEHOLDER.findall(text)), set(BRACE_PLACEHOLDER.findall(text))


def _relative(path: str) -> str:
    candidate = Path(path)
    return candidate.relative_to(ROOT).as_posix() if candidate.is_absolute() else candidate.as_posix()


def _where(locations) -> str:
    return ", ".join(f"{_relative(path)}:{line}" for path, line in locations[:3])


def test_extraction_does_not_scan_the_virtualenv(extracted):
    scanned = {_relative(path) for locations in extracted.values() for path, _ in locations}
    assert not [path for path in scanned if path.startswith((".venv/", "venv/", "tests/"))]


def test_every_extracted_message_has_an_english_translation(extracted, english):
    missing = []
    for msgid, locations in extracted.items():
        message = english.get(msgid)
        if message is None:
            missing.append(f"not in catalog: {msgid!r} ({_where(locations)})")
        elif message.fuzzy:
            missing.append(f"fuzzy: {msgid!r} ({_where(locations)})")
        elif not all(s.strip() for s in _strings(message.string)):
            missing.append(f"untranslated: {msgid!r} ({_where(locations)})")
    assert not missing, (
        f"{len(missing)} interface strings lack English (run `make messages` and fill "
        "translations/en/LC_MESSAGES/messages.po):\n" + "\n".join(missing)
    )


def test_translations_keep_the_placeholders_of_their_message_id(english):
    mismatched = []
    for msgid, message in english.items():
        if not message.string or message.fuzzy:
            continue
        expected = _placeholders(_strings(msgid)[-1])
        for translated in _strings(message.string):
            if translated and _placeholders(translated) != expected:
                mismatched.append(f"{msgid!r} -> {translated!r}")
    assert not mismatched, "placeholders differ between id and translation:\n" + "\n".join(mismatched)
