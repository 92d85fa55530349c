"""Build hook: a wheel of Liveroom carries what the app serves.

The repository keeps ``templates/``, ``static/`` and ``gunicorn.conf.py`` at its top
level and takes the front-end libraries from ``node_modules/`` (``npm ci``, pinned in
package.json). A built package has no repository around it, so building copies them
into the package as ``liveroom/_bundled/`` (``templates/``, ``static/``, ``vendor/``
with each library under the name the app serves it by), where ``liveroom.assets``
finds them. An editable install (``pip install -e .``) copies nothing: it runs from
the repository itself. Everything else about the package is in pyproject.toml.
"""

from __future__ import annotations

import runpy
import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
# liveroom/assets.py says where things go (it imports nothing from the package).
ASSETS = runpy.run_path(str(ROOT / "liveroom" / "assets.py"))
VENDOR_FILES: dict[str, str] = ASSETS["VENDOR_FILES"]


def compile_catalogues(folder: Path) -> None:
    """Each language's messages.po beside it as the messages.mo the app reads."""
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    for po in sorted(folder.glob("*/LC_MESSAGES/messages.po")):
        with po.open("rb") as source:
            catalogue = read_po(source, locale=po.parent.parent.name)
        with po.with_suffix(".mo").open("wb") as target:
            write_mo(target, catalogue)


class BuildWithAssets(build_py):
    """build_py, then the templates, static files and vendor files into the package."""

    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False):
            return
        modules = ROOT / "node_modules"
        missing = [path for path in VENDOR_FILES.values() if not (modules / path).is_file()]
        if missing:
            raise SystemExit(
                f"node_modules lacks {', '.join(missing)}: run `npm ci` before building Liveroom"
            )
        compile_catalogues(Path(self.build_lib) / "liveroom" / "translations")
        bundle = Path(self.build_lib) / "liveroom" / ASSETS["BUNDLE_DIR"]
        shutil.rmtree(bundle, ignore_errors=True)
        for folder in ("templates", "static"):
            shutil.copytree(ROOT / folder, bundle / folder)
        (bundle / "vendor").mkdir()
        for name, path in VENDOR_FILES.items():
            shutil.copyfile(modules / path, bundle / "vendor" / name)


setup(cmdclass={"build_py": BuildWithAssets})
