"""Retake the screenshots of docs/ui.md from a running Dagster UI.

    FLIGHTLINE_HOME=/tmp/fl uv run flightline run --from 2013-01 --to 2013-03
    FLIGHTLINE_HOME=/tmp/fl uv run flightline ui --port 3100        # leave it running
    uv run --with playwright python docs/screenshots.py --port 3100

Needs Chromium (Debian: `apt-get install chromium`); Playwright drives it, it downloads no
browser. Pages are shot at 1920 px wide, scaled to 3/4 and reduced to 128 colours (each PNG well
under 300 KB).
"""

from __future__ import annotations

import argparse
import io
import time
from pathlib import Path

from PIL import Image
from playwright.sync_api import Page, sync_playwright

# name -> (path in the UI, viewport height, crop height or None)
PAGES = {
    "asset_graph": (
        "/assets/serving/delay_service_bento?view=lineage&lineageScope=upstream&lineageDepth=10",
        1150,
        None,
    ),
    "delay_model": ("/assets/model/delay_model", 1900, None),
    "feature_drift": ("/assets/monitoring/feature_drift", 1600, 1100),
    "check_description": ("/assets/marts/fct_flights?view=checks", 1000, 700),
    "raw_columns": ("/assets/raw/flights", 1300, None),
}
# Headless flags for this kind of machine: no background connections, no sandbox as root.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def shoot(page: Page, url: str, height: int) -> Image.Image:
    page.set_viewport_size({"width": 1920, "height": height})
    page.goto(url, wait_until="networkidle", timeout=120_000)
    time.sleep(3)  # the asset pages fetch their metadata after the first paint
    try:  # the "Join the Dagster community" dialog of a fresh browser profile
        page.get_by_role("button", name="Skip").first.click(timeout=5_000)
        time.sleep(1)
    except Exception:
        pass
    return Image.open(io.BytesIO(page.screenshot())).convert("RGB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "img")
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    args = parser.parse_args()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=args.chromium, args=CHROMIUM_ARGS)
        page = browser.new_page()
        for name, (path, height, crop) in PAGES.items():
            image = shoot(page, f"http://127.0.0.1:{args.port}{path}", height)
            if crop:
                image = image.crop((0, 0, image.width, crop))
            image = image.resize((image.width * 3 // 4, image.height * 3 // 4), Image.LANCZOS)
            image.quantize(colors=128).save(args.out / f"{name}.png", optimize=True)
            print(f"{args.out / name}.png")
        browser.close()


if __name__ == "__main__":
    main()
