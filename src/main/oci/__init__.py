"""Async OCI registry client: token auth, manifests, platforms and verified blobs.

`RegistryClient.pull` is the entry point. The modules split by concern:
`media` (media types), `manifest` (parsing), `platform` (platform ranking),
`auth` (the token challenge), `http_errors` (the one place that maps httpx
errors and statuses to `main.errors`), `digests`, `sinks` and `client`.
"""

from main.oci.auth import RegistryTokenAuth
from main.oci.client import (
    ClientOptions,
    FetchedManifest,
    PullResult,
    RegistryClient,
    new_http_client,
)
from main.oci.manifest import Descriptor, ImageIndex, ImageManifest
from main.oci.platform import DEFAULT_PLATFORM, Platform, parse_platform
from main.oci.sinks import BlobSink, DirectorySink, DiscardSink

__all__ = [
    "DEFAULT_PLATFORM",
    "BlobSink",
    "ClientOptions",
    "Descriptor",
    "DirectorySink",
    "DiscardSink",
    "FetchedManifest",
    "ImageIndex",
    "ImageManifest",
    "Platform",
    "PullResult",
    "RegistryClient",
    "RegistryTokenAuth",
    "new_http_client",
    "parse_platform",
]
