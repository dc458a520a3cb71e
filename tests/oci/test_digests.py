import hashlib

import pytest

from main.errors import DigestMismatchError
from main.oci.digests import ContentVerifier, compute_digest

DATA = b"layer bytes " * 100
DIGEST = "sha256:" + hashlib.sha256(DATA).hexdigest()
URL = "http://127.0.0.1:1/v2/x/blobs/" + DIGEST


def test_compute_digest_sha512() -> None:
    assert compute_digest(DATA, "sha512") == (
        "sha512:" + hashlib.sha512(DATA).hexdigest()
    )


def test_verifier_accepts_matching_chunks() -> None:
    verifier = ContentVerifier(DIGEST, len(DATA), url=URL)

    verifier.update(DATA[:7])
    verifier.update(DATA[7:])
    verifier.verify()

    assert verifier.received == len(DATA)


def test_verifier_rejects_changed_byte() -> None:
    verifier = ContentVerifier(DIGEST, len(DATA), url=URL)
    verifier.update(b"X" + DATA[1:])

    with pytest.raises(DigestMismatchError) as caught:
        verifier.verify()

    message = str(caught.value)
    assert f"expected digest {DIGEST}" in message
    assert "got sha256:" in message
    assert caught.value.url == URL


def test_verifier_rejects_short_content() -> None:
    verifier = ContentVerifier(DIGEST, len(DATA), url=URL)
    verifier.update(DATA[:-1])

    with pytest.raises(DigestMismatchError, match=f"expected {len(DATA)} bytes"):
        verifier.verify()


def test_verifier_stops_at_excess_bytes() -> None:
    verifier = ContentVerifier(DIGEST, len(DATA), url=URL)
    verifier.update(DATA)

    with pytest.raises(DigestMismatchError, match=f"more than {len(DATA)} bytes"):
        verifier.update(b"x")
