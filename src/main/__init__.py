"""Pull-through registry mirrors that make a self-hosted Dagger engine fast.

Renders, deploys and benchmarks one CNCF distribution pull-through cache per
upstream registry (Docker Hub, ghcr.io, quay.io, ...) next to a self-hosted
Dagger engine on Kubernetes, and runs this project's own lint and tests
through that engine.
"""
