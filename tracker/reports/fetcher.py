"""The only URL fetcher WeasyPrint is given: deny by default (WeasyPrint docs, Security: use a custom fetcher that
refuses local files and the network, https://doc.courtbouillon.org/weasyprint/stable/first_steps.html#security;
CVE-2025-68616, a redirect bypass fixed in 68.0; GHSA-jf6q-chmf-3h3v, a fetcher bypass fixed in 70.0).

WeasyPrint's own fetcher follows http(s), ftp, ``file://`` and redirects, so HTML that reached a report template
unescaped could make the renderer call into the clinic's network or embed a local file in the PDF. This one serves
only the bundled print assets, from memory, under the ``app:`` scheme; every other URL (``http:``, ``file:``,
``data:``, an unknown ``app:`` path) is refused and logged. Nothing here touches the network or the disk after
import.
"""

from __future__ import annotations

import logging
from pathlib import Path

from weasyprint.urls import URLFetcher, URLFetcherResponse

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parent.parent.parent
SCHEME = "app"
BASE_URL = f"{SCHEME}://reports/"

#: The print stylesheet, linked by absolute URL (``urljoin`` does not resolve relative URLs under an unknown scheme).
PRINT_CSS = f"{BASE_URL}print.css"

#: URL -> (body, content type): every asset a report may load. Read once, when the module is imported.
BUNDLED_ASSETS: dict[str, tuple[bytes, str]] = {
    PRINT_CSS: ((ROOT / "templates" / "reports" / "print.css").read_bytes(), "text/css"),
}


class RefusedURL(ValueError):
    """A report asked for something outside the bundled assets (WeasyPrint logs it and leaves it out)."""


class AssetOnlyFetcher(URLFetcher):
    """Serves ``BUNDLED_ASSETS`` and refuses everything else, without ever opening a connection or a file."""

    def __init__(self) -> None:
        super().__init__(allowed_protocols={SCHEME}, allow_redirects=False, timeout=1)

    def fetch(self, url: str, headers: object = None) -> URLFetcherResponse:
        asset = BUNDLED_ASSETS.get(url)
        if asset is None:
            log.warning("PDF renderer refused to fetch %r", url[:200])
            raise RefusedURL(f"refused: {url[:200]!r}")
        body, content_type = asset
        return URLFetcherResponse(url, body, {"Content-Type": content_type})
