"""The ledger's signing key and its signed notes (C2SP signed-note, tlog-checkpoint)."""

from __future__ import annotations

import os
import stat
import threading
from pathlib import Path

import pytest

from tests.support.rfc6962 import open_checkpoint
from xinyong.ledger.signing import (
    KeyFileError,
    LedgerKey,
    NoteVerifier,
    checkpoint_text,
    load_or_create_key,
    parse_checkpoint,
)

ROOT = bytes(range(32))


def test_a_key_is_created_once_private_and_read_back(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "ledger.key"
    made: list[LedgerKey] = []

    def make() -> None:
        made.append(load_or_create_key(path, "example.org/ledger"))

    threads = [threading.Thread(target=make) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len({key.verifier_key for key in made}) == 1  # racing processes share one key
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in path.parent.iterdir()] == ["ledger.key"]  # no temporary file left
    again = load_or_create_key(path, "another/name")  # the file's name wins
    assert again.verifier_key == made[0].verifier_key
    assert path.read_text().startswith("PRIVATE+KEY+example.org/ledger+")


def test_a_key_file_that_cannot_be_trusted_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "ledger.key"
    load_or_create_key(path, "example.org/ledger")
    os.chmod(path, 0o644)
    with pytest.raises(KeyFileError, match="chmod 600"):
        load_or_create_key(path, "x")
    os.chmod(path, 0o600)
    text = path.read_text()
    path.write_text(text.replace("PRIVATE+KEY+example.org/ledger+", "PRIVATE+KEY+other+"))
    with pytest.raises(KeyFileError, match="key ID does not match"):
        load_or_create_key(path, "x")
    with pytest.raises(KeyFileError, match="no spaces"):
        load_or_create_key(tmp_path / "new.key", "a name+with plus")


def test_a_checkpoint_note_verifies_with_the_verifier_key_alone(tmp_path: Path) -> None:
    key = load_or_create_key(tmp_path / "k", "example.org/ledger")
    note = key.sign(checkpoint_text(key.name, 7, ROOT))
    # checked by the independent verifier (tests/support/rfc6962.py) and by xinyong's own
    assert open_checkpoint(note, key.verifier_key) == ("example.org/ledger", 7, ROOT)
    verifier = NoteVerifier.from_text(key.verifier_key)
    text = verifier.open(note)
    assert parse_checkpoint(text).size == 7
    # the same head always gets the same note (Ed25519 is deterministic)
    assert key.sign(checkpoint_text(key.name, 7, ROOT)) == note
    # a changed size, a forged signature, another key: refused
    with pytest.raises(ValueError, match="does not verify"):
        verifier.open(note.replace("\n7\n", "\n8\n"))
    other = load_or_create_key(tmp_path / "o", "example.org/ledger")
    with pytest.raises(ValueError, match="no signature by"):
        verifier.open(other.sign(checkpoint_text(key.name, 7, ROOT)))
    # a witness's cosignature beside the log's is ignored, not an error
    cosigned = (
        note + other.sign("x\n").splitlines()[-1].replace(other.name, "witness.example") + "\n"
    )
    assert verifier.open(cosigned) == text


def test_a_key_behind_a_symbolic_link_is_never_read_or_written(tmp_path: Path) -> None:
    real = tmp_path / "real.key"
    load_or_create_key(real, "example.org/ledger")
    linked = tmp_path / "linked.key"
    linked.symlink_to(real)
    with pytest.raises(KeyFileError, match="symbolic link"):
        load_or_create_key(linked, "x")
    dangling = tmp_path / "dangling.key"
    dangling.symlink_to(tmp_path / "nowhere")
    with pytest.raises(KeyFileError, match="symbolic link"):
        load_or_create_key(dangling, "x")
    assert not (tmp_path / "nowhere").exists()
    unwritable = tmp_path / "locked"
    unwritable.mkdir(mode=0o500)
    if os.geteuid() != 0:  # root writes anywhere
        with pytest.raises(KeyFileError, match="cannot create"):
            load_or_create_key(unwritable / "k", "x")
