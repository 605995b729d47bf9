from __future__ import annotations

import os
from pathlib import Path

import pytest

from afterbeep.store.blobs import FileBlobStore
from afterbeep.store.errors import InvalidValue, NotFound


@pytest.fixture
def blobs(tmp_path: Path) -> FileBlobStore:
    return FileBlobStore(tmp_path / "audio")


def test_write_read_exists_delete(blobs: FileBlobStore) -> None:
    key = "messages/1/0b0e8d9c-9f35-4a43-8d6c-6a4a2b3c7f10.wav"
    assert not blobs.exists(key)
    blobs.write(key, b"RIFF....")
    assert blobs.exists(key)
    assert blobs.read(key) == b"RIFF...."
    assert (
        blobs.path(key)
        == blobs.root / "messages" / "1" / "0b0e8d9c-9f35-4a43-8d6c-6a4a2b3c7f10.wav"
    )
    blobs.write(key, b"second")
    assert blobs.read(key) == b"second"
    blobs.delete(key)
    assert not blobs.exists(key)
    blobs.delete(key)  # deleting twice is fine
    with pytest.raises(NotFound):
        blobs.read(key)


def test_write_leaves_no_temporary_file(blobs: FileBlobStore) -> None:
    blobs.write("greetings/1/busy-x.wav", b"data")
    assert os.listdir(blobs.root / "greetings" / "1") == ["busy-x.wav"]


@pytest.mark.parametrize(
    "key",
    [
        "../escape.wav",
        "messages/../../escape.wav",
        "messages/1/../../../etc/passwd",
        "/etc/passwd",
        "",
        "messages//x.wav",
        "messages/./x.wav",
        "messages\\..\\x.wav",
        "x\0.wav",
    ],
)
def test_keys_that_could_escape_the_root_are_refused(blobs: FileBlobStore, key: str) -> None:
    for operation in (blobs.path, blobs.read, blobs.exists, blobs.delete):
        with pytest.raises(InvalidValue):
            operation(key)
    with pytest.raises(InvalidValue):
        blobs.write(key, b"x")


def test_a_symlink_out_of_the_root_is_refused(blobs: FileBlobStore, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    blobs.root.mkdir(parents=True)
    (blobs.root / "link").symlink_to(outside)
    with pytest.raises(InvalidValue):
        blobs.write("link/x.wav", b"x")
    assert not (outside / "x.wav").exists()
