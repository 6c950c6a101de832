"""The leaderboard page in headless Chromium (Debian ``chromium`` + ``chromium-driver``, driven by selenium):
it loads from file:// without console errors, its images decode, clicking a column header sorts the table,
and a screenshot is taken."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.analysis import leaderboard
from harness.cli.leaderboard import write
from tests.analysis.test_leaderboard import XNLI, Tree, results_tree

pytestmark = pytest.mark.slow

CHROMIUM = ("chromium", "chromium-browser", "google-chrome")


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory, tiny_model: Path, data_dir: Path) -> tuple[Tree, Path]:
    tree = results_tree(tmp_path_factory, tiny_model, data_dir)
    out = tmp_path_factory.mktemp("leaderboard-page")
    write(leaderboard.build(tree.root), out)
    return tree, out / "leaderboard.html"


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    binary = next(filter(None, map(shutil.which, CHROMIUM)), None)
    driver = shutil.which("chromedriver")
    if binary is None or driver is None:
        pytest.fail("headless Chromium not found: `make install` installs Debian's chromium and chromium-driver")
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    # --no-sandbox: CI and containers run as root, where Chromium's sandbox refuses to start.
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1400,1000"):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    # An explicit chromedriver: selenium's own driver manager would try to download one.
    chrome = webdriver.Chrome(service=Service(driver), options=options)
    yield chrome
    chrome.quit()


def _models(browser) -> list[str]:
    return [cell.text for cell in browser.find_elements("css selector", '#leaderboard tbody td[data-key="model"]')]


def _values(browser, key: str) -> list[str]:
    cells = browser.find_elements("css selector", f'#leaderboard tbody td[data-key="{key}"]')
    return [cell.get_attribute("data-value") for cell in cells]


def test_page_loads_sorts_and_renders(page: tuple[Tree, Path], browser, tmp_path: Path) -> None:
    tree, html = page
    board = leaderboard.build(tree.root)
    browser.get(html.as_uri())
    assert browser.execute_script("return document.readyState") == "complete"
    errors = [entry for entry in browser.get_log("browser") if entry["level"] in ("SEVERE", "WARNING")]
    assert errors == []
    images = browser.execute_script(
        "return Array.from(document.images).map(i => [i.complete, i.naturalWidth, i.naturalHeight]);"
    )
    assert len(images) == len(board.columns) + 1  # a heatmap per column and the transfer-gap chart
    assert all(complete and width > 100 and height > 50 for complete, width, height in images), images
    assert _models(browser) == [row.display for row in board.rows]  # first column, best first

    m = tree.models
    browser.find_element("css selector", 'th[data-key="model"]').click()
    assert _models(browser) == [m["c"], m["b"], m["a"], m["lmeval"]]  # A to Z

    index = next(i for i, c in enumerate(board.columns) if c.label == f"{XNLI} · data #1")
    header = browser.find_element("css selector", f'th[data-key="c{index}-mean"]')
    header.click()  # numbers: high to low first, models without the column last
    column = board.columns[index]
    means = {
        board_row.display: column.summaries[board_row.model].mean
        for board_row in board.rows
        if board_row.model in column.summaries
    }
    assert len(set(means.values())) == len(means) == 2  # a and b differ: the order below is not a tie
    best_first = sorted(means, key=lambda name: -(means[name] or 0.0))
    assert _models(browser) == [*best_first, m["c"], m["lmeval"]]
    assert header.get_attribute("aria-sort") == "descending"
    shown = [float(v) for v in _values(browser, f"c{index}-mean") if v]
    assert shown == sorted(shown, reverse=True) and len(shown) == 2

    header.click()
    assert _models(browser) == [*reversed(best_first), m["c"], m["lmeval"]]
    assert header.get_attribute("aria-sort") == "ascending"

    browser.set_window_size(1400, browser.execute_script("return document.body.scrollHeight") + 100)
    screenshot = tmp_path / "leaderboard.png"
    assert browser.save_screenshot(str(screenshot))
    data = screenshot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 50_000
    from matplotlib.image import imread

    pixels = imread(screenshot)
    assert pixels.shape[0] > 1000 and pixels.shape[1] >= 1400
    assert len({tuple(p) for p in pixels[::7, ::7].reshape(-1, pixels.shape[2]).tolist()}) > 50  # not blank
