"""Retake the screenshots of docs/ui.md from a running Dagster UI.

They show the README walkthrough's state: 2013 loaded and a champion, then a stormy January 2014
landed, the retraining it started, and its drift measured.

    export FLIGHTLINE_HOME=/tmp/fl
    make run
    make ui PORT=3100                                     # leave it running
    uv run flightline simulate --months 2014-01 --drift weather=0.5,carrier:EV=0.3
    # wait for the training run, then materialize monitoring/feature_drift for 2014-01-01
    uv run --with playwright python docs/screenshots.py --port 3100

Needs Chromium (Debian: `apt-get install chromium`); Playwright drives it, it downloads no
browser. Pages are shot at 1920 px wide, scaled to 3/4 and reduced to 128 colours (each PNG well
under 300 KB).
"""

from __future__ import annotations

import argparse
import io
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from PIL import Image
from playwright.sync_api import Page, sync_playwright

MONTH = "2014-01-01"  # the walkthrough's simulated month


def open_partition_picker(page: Page) -> None:
    """The materialize dialog, its partition selector filtered on the month and the month ticked."""
    page.get_by_role("button", name="Materialize…").first.click(timeout=10_000)
    time.sleep(2)
    page.get_by_text("Select a partition or create one").click()
    time.sleep(1)
    page.keyboard.type(MONTH[:7])
    time.sleep(1)
    page.locator("label", has_text=MONTH).first.click()
    time.sleep(1)


def open_latest_tick(page: Page) -> None:
    """The latest tick's dialog, which gives the skip reason."""
    page.locator("tr", has_text="View logs").first.get_by_text("requested").last.click()
    time.sleep(2)


def open_training_log(page: Page) -> None:
    """The latest training run, its log filtered on the progress lines."""
    page.locator("a[href^='/runs/']").first.click()
    time.sleep(4)
    page.get_by_placeholder("Filter").first.fill("LightGBM round")
    time.sleep(2)
    # The filter also keeps the materializations (their metadata names LightGBM) at the end, and
    # the log follows its end: scroll back up to the first progress lines.
    page.mouse.move(900, 450)
    page.mouse.wheel(0, -100_000)
    time.sleep(2)


def scroll_to(text: str) -> Callable[[Page], None]:
    """Scroll the page's scrolling panel until the first element with ``text`` is at the top."""

    def action(page: Page) -> None:
        page.get_by_text(text).first.evaluate("e => e.scrollIntoView()")
        time.sleep(2)

    return action


@dataclass(frozen=True)
class Shot:
    name: str
    path: str  # in the UI
    height: int  # of the viewport
    crop: int | None = None  # keep only this many pixels from the top
    action: Callable[[Page], None] | None = None  # what to do on the page before the shot


SHOTS = [
    Shot(
        "asset_graph",
        "/assets/serving/delay_service_bento?view=lineage&lineageScope=upstream&lineageDepth=10",
        1150,
    ),
    Shot("raw_partitions", "/assets/raw/flights?view=partitions&partition=2013-03-01", 1000),
    Shot("partition_picker", "/assets/monitoring/feature_drift", 900, action=open_partition_picker),
    Shot(
        "retraining_skip",
        "/locations/definitions/sensors/retraining_sensor",
        800,
        action=open_latest_tick,
    ),
    Shot("delay_model", "/assets/model/delay_model", 1900),
    Shot("feature_drift", "/assets/monitoring/feature_drift", 1300),
    Shot(
        "feature_drift_charts",
        "/assets/monitoring/feature_drift",
        1900,
        action=scroll_to("drift_1_"),
    ),
    Shot("training_log", "/runs?q%5B0%5D=job%3Atraining", 700, action=open_training_log),
    Shot("check_description", "/assets/marts/fct_flights?view=checks", 1000, 700),
    Shot("raw_columns", "/assets/raw/flights", 1300),
]
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


def shoot(page: Page, url: str, shot: Shot) -> Image.Image:
    page.set_viewport_size({"width": 1920, "height": shot.height})
    page.goto(url, wait_until="networkidle", timeout=120_000)
    time.sleep(3)  # the asset pages fetch their metadata after the first paint
    try:  # the "Join the Dagster community" dialog of a fresh browser profile
        page.get_by_role("button", name="Skip").first.click(timeout=5_000)
        time.sleep(1)
    except Exception:
        pass
    if shot.action:
        shot.action(page)
    return Image.open(io.BytesIO(page.screenshot())).convert("RGB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "img")
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    parser.add_argument("--only", nargs="*", help="names of the shots to retake (default: all)")
    args = parser.parse_args()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=args.chromium, args=CHROMIUM_ARGS)
        page = browser.new_page()
        for shot in SHOTS:
            if args.only and shot.name not in args.only:
                continue
            image = shoot(page, f"http://127.0.0.1:{args.port}{shot.path}", shot)
            if shot.crop:
                image = image.crop((0, 0, image.width, shot.crop))
            image = image.resize((image.width * 3 // 4, image.height * 3 // 4), Image.LANCZOS)
            image.quantize(colors=128).save(args.out / f"{shot.name}.png", optimize=True)
            print(f"{args.out / shot.name}.png")
        browser.close()


if __name__ == "__main__":
    main()
