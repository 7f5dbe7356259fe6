"""Make Great Expectations' Data Docs render with no network.

GX's page templates load Bootstrap, jQuery, bootstrap-table, Font Awesome and Vega from CDNs, so on a machine
without internet the index is blank. The same files (fetched once from the npm registry at the versions the
templates name, licences beside them) ship in `doraflow/quality/docs_assets/`; after each build they are
copied into the site's `static/vendor/` and every page's CDN address is rewritten to the local copy.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

ASSETS_DIR = Path(__file__).with_name("docs_assets")
VENDOR = "static/vendor"

# CDN address in GX's templates -> the file in docs_assets/
LOCAL_FILES = {
    "https://maxcdn.bootstrapcdn.com/bootstrap/4.3.1/css/bootstrap.min.css": "bootstrap.min.css",
    "https://stackpath.bootstrapcdn.com/bootstrap/4.3.1/js/bootstrap.min.js": "bootstrap.min.js",
    "https://code.jquery.com/jquery-3.7.1.min.js": "jquery.min.js",
    "https://cdnjs.cloudflare.com/ajax/libs/popper.js/1.12.9/umd/popper.min.js": "popper.min.js",
    "https://unpkg.com/bootstrap-table@1.19.1/dist/bootstrap-table.min.css": "bootstrap-table.min.css",
    "https://unpkg.com/bootstrap-table@1.19.1/dist/bootstrap-table.min.js": "bootstrap-table.min.js",
    "https://unpkg.com/bootstrap-table@1.19.1/dist/extensions/filter-control/bootstrap-table-filter-control.min.js": (
        "bootstrap-table-filter-control.min.js"
    ),
    "https://unpkg.com/bootstrap-table@1.19.0/dist/extensions/filter-control/bootstrap-table-filter-control.min.css": (
        "bootstrap-table-filter-control.min.css"
    ),
    "https://unpkg.com/bootstrap-table@1.19.0/dist/extensions/filter-control/bootstrap-table-filter-control.css": (
        "bootstrap-table-filter-control.min.css"
    ),
    "https://cdnjs.cloudflare.com/ajax/libs/bootstrap-datepicker/1.9.0/css/bootstrap-datepicker.min.css": (
        "bootstrap-datepicker.min.css"
    ),
    "https://cdnjs.cloudflare.com/ajax/libs/bootstrap-datepicker/1.9.0/js/bootstrap-datepicker.min.js": (
        "bootstrap-datepicker.min.js"
    ),
    "https://cdnjs.cloudflare.com/ajax/libs/font-awesome/6.6.0/css/all.min.css": "fontawesome/css/all.min.css",
    "https://cdn.jsdelivr.net/npm/@forevolve/bootstrap-dark@1.1.0/dist/css/bootstrap-prefers-dark.css": (
        "bootstrap-prefers-dark.css"
    ),
    "https://cdn.jsdelivr.net/npm/vega@5": "vega.min.js",
    "https://cdn.jsdelivr.net/npm/vega-lite@5": "vega-lite.min.js",
    "https://cdn.jsdelivr.net/npm/vega-embed@6": "vega-embed.min.js",
}
_ADDRESS = re.compile(r"https?://[^\"'\s)]+")
_STATIC = re.compile(r"(?:\.\./)+static/")
_SRI = re.compile(r'\s+(integrity|crossorigin)="[^"]*"')


def make_offline(site_dir: Path, since: float = 0.0) -> None:
    """Copy the assets into the site and point every page written at or after `since` (a time.time()) at them;
    unknown remote addresses are left alone."""
    target = site_dir / VENDOR
    if not target.is_dir() or _stale(target):
        shutil.copytree(ASSETS_DIR, target, dirs_exist_ok=True)
    for page in site_dir.rglob("*.html"):
        if page.stat().st_mtime < since:
            continue  # made offline by an earlier run
        text = page.read_text(encoding="utf-8")
        depth = len(page.relative_to(site_dir).parts) - 1
        prefix = "../" * depth + VENDOR + "/"

        rewritten = _ADDRESS.sub(lambda match, prefix=prefix: _local(match, prefix), text)
        # GX counts the levels to `static/` from the suite name's dots, one short for validation pages of
        # suites with one dot (a broken favicon): point every relative `static/` address at the real depth
        rewritten = _STATIC.sub("../" * depth + "static/", rewritten)
        if rewritten != text:
            # Subresource-integrity hashes name the CDN's bytes; the local copies are the same versions.
            page.write_text(_SRI.sub("", rewritten), encoding="utf-8")


# GX's images (its logo in the page style, and a logo whose address carries the build time and the data
# context id, a beacon): a local text logo instead, so opening the docs fetches nothing and reports nothing
GX_IMAGES = "https://great-expectations-web-assets.s3.us-east-2.amazonaws.com/"


def _local(match: re.Match, prefix: str) -> str:
    address = match.group(0)
    name = LOCAL_FILES.get(address) or ("data_docs_logo.svg" if address.startswith(GX_IMAGES) else None)
    return prefix + name if name else address


def _stale(target: Path) -> bool:
    return any(not (target / name).is_file() for name in set(LOCAL_FILES.values()))
