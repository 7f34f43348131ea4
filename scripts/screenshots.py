"""Screenshots of the workspace with each analysis's form open, for docs/img/tools/ (run by hand).

    python scripts/screenshots.py [STORE]   # default: a fresh sample city in a temporary folder

Starts the service on the store (a real uvicorn), opens /viewer?tool=<id> in headless chromium for every
process of /processes and saves the workspace panel as docs/img/tools/<id>.en.png.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.common import Server  # noqa: E402


def main(argv: list[str]) -> None:
    from playwright.sync_api import sync_playwright

    from sample_city import build_sample_city

    tmp = Path(tempfile.mkdtemp(prefix="cim-shots-"))
    store = Path(argv[0]) if argv else tmp / "sample.sqlite"
    if not argv:
        build_sample_city(store, las_path=tmp / "sample.las")
    out = ROOT / "docs" / "img" / "tools"
    out.mkdir(parents=True, exist_ok=True)
    srv = Server(store, log=tmp / "server.log")
    srv.start()
    try:
        ids = [p["id"] for p in httpx.get(f"{srv.url}/processes", timeout=60).json()["processes"]]
        with sync_playwright() as p:
            browser = p.chromium.launch(
                executable_path="/usr/bin/chromium", headless=True, args=["--enable-unsafe-swiftshader", "--no-sandbox"]
            )
            page = browser.new_page(viewport={"width": 1280, "height": 1000})
            for pid in ids:
                for lang in ("en",):
                    page.goto(f"{srv.url}/viewer?tool={pid}&lang={lang}")
                    page.wait_for_function("document.body.dataset.workspace === 'ready'", timeout=120_000)
                    page.locator("#workspace").screenshot(path=str(out / f"{pid}.{lang}.png"))
                    print(pid, lang)
            browser.close()
    finally:
        srv.stop()


if __name__ == "__main__":
    main(sys.argv[1:])
