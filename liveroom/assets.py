"""Where the app finds what it serves: its templates, static files and front-end libraries.

From a checkout (``make run``, the tests, the editable install) they are the
repository's ``templates/``, ``static/`` and ``node_modules/``. A built package (a
wheel, ``pip install .``) has no repository around it: building copies them into the
package as ``liveroom/_bundled/`` (setup.py), and those copies are used when present.

This module imports nothing from Liveroom: setup.py reads it before the package exists.
"""

from __future__ import annotations

from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
PROJECT_ROOT = PACKAGE_DIR.parent
BUNDLE_DIR = "_bundled"
BUNDLE = PACKAGE_DIR / BUNDLE_DIR

# Front-end libraries installed by npm at pinned versions (package.json), served by
# the app itself under /vendor/<name>: no CDN, no copy in the repository. A built
# package carries each one as _bundled/vendor/<name>.
VENDOR_FILES = {
    "htmx.min.js": "htmx.org/dist/htmx.min.js",
    "sse.js": "htmx-ext-sse/dist/sse.min.js",
    # The Janus media server's client (static/js/media/sfu.js) and the WebRTC shim it uses.
    "adapter.js": "webrtc-adapter/out/adapter.js",
    "janus.js": "janus-gateway/npm/src/janus.js",
}


def bundled() -> bool:
    """True when running from a built package that carries its own copies."""
    return (BUNDLE / "templates").is_dir()


def asset_folder(name: str) -> Path:
    """``templates`` or ``static``: the package's copy, else the repository's."""
    return BUNDLE / name if bundled() else PROJECT_ROOT / name


def vendor_files() -> dict[str, Path]:
    """Each library's served name and the file behind it."""
    if bundled():
        return {name: BUNDLE / "vendor" / name for name in VENDOR_FILES}
    return {name: PROJECT_ROOT / "node_modules" / path for name, path in VENDOR_FILES.items()}


def default_instance_path() -> str | None:
    """The repository's ``instance/`` from a checkout; for a built package, None lets
    Flask choose (``<venv>/var/liveroom-instance``); servers set LIVEROOM_INSTANCE_PATH."""
    return None if bundled() else str(PROJECT_ROOT / "instance")
