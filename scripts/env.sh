# Sourced by the scripts in this folder: finds uv and keeps it from downloading Pythons.
export PATH="$HOME/.local/bin:$PATH"
export UV_PYTHON_DOWNLOADS=never
cd "$(dirname "${BASH_SOURCE[0]}")/.."
