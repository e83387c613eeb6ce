"""The service's web page in a real headless Chromium (Debian's chromium and
chromium-driver, driven by Selenium): type a question, wait for the answer, check its
proof chain and the reasoning picture, verify a wrong path, save a screenshot.

Skipped with the reason when no Chromium is installed; ``scripts/test.sh`` installs it
where it can (CI does)."""
import os
import shutil
import socket
import threading
import time
from pathlib import Path

import pytest

pytest.importorskip("fastapi")
selenium = pytest.importorskip("selenium")

CHROMIUM = next((p for p in (shutil.which("chromium"), shutil.which("chromium-browser"),
                             shutil.which("google-chrome")) if p), None)
DRIVER = shutil.which("chromedriver")
pytestmark = pytest.mark.skipif(not (CHROMIUM and DRIVER),
                                reason="no Chromium and ChromeDriver here (apt-get install chromium chromium-driver)")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(world_run):
    import uvicorn

    from kgdistill.reasoner import Reasoner
    from kgdistill.service import create_app

    app = create_app(Reasoner.from_run(world_run))
    port = _free_port()
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    for _ in range(400):  # bounded wait for startup
        if srv.started:
            break
        time.sleep(0.05)
    assert srv.started
    yield f"http://127.0.0.1:{port}"
    srv.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="module")
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                "--window-size=1100,1300"):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(DRIVER), options=options)
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()


def test_ask_in_the_browser_shows_answer_proof_and_picture(server, browser, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as EC
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get(server + "/")
    box = browser.find_element(By.ID, "question")
    box.send_keys("In which country was the founder of Apple born?")
    browser.find_element(By.ID, "ask-button").click()
    wait = WebDriverWait(browser, 120)
    first = wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, ".answer[data-rank='1']")))
    assert first.find_element(By.CLASS_NAME, "entity").text == "United States"
    assert "Apple \u2192 founded_by \u2192 Steve" in first.text and "born_in" in first.text
    assert "verified in the graph" in first.text
    assert browser.find_element(By.ID, "linked-entity").text == "Apple"
    img = wait.until(EC.presence_of_element_located((By.ID, "picture-img")))
    wait.until(lambda d: d.execute_script("return arguments[0].complete && arguments[0].naturalWidth > 0", img))
    assert "founded_by" in img.get_attribute("alt")

    shot = Path(os.environ.get("KGDISTILL_SCREENSHOT", tmp_path / "answer.png"))
    shot.parent.mkdir(parents=True, exist_ok=True)
    assert browser.save_screenshot(str(shot)) and shot.stat().st_size > 10_000


def test_verify_box_shows_the_failing_hop(server, browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as EC
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get(server + "/")
    browser.find_element(By.ID, "vpath").send_keys("Ada Lovelace -> born_in -> London -> city_of -> France")
    browser.find_element(By.ID, "verify-button").click()
    verdict = WebDriverWait(browser, 60).until(EC.presence_of_element_located((By.ID, "verdict-text")))
    assert "INVALID at hop 2" in verdict.text
    bad = verdict.find_element(By.CLASS_NAME, "hop-bad")
    assert "London" in verdict.text and "\u2717" in verdict.text and bad.text.startswith("INVALID")
    hops = verdict.find_elements(By.CSS_SELECTOR, ".chain > div")
    assert "\u2713" in hops[0].text and "\u2717" in hops[1].text


def test_an_alternative_entity_can_be_picked(server, browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as EC
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get(server + "/")
    browser.find_element(By.ID, "question").send_keys("Where was Marie Curie born, and Warsaw?")
    browser.find_element(By.ID, "ask-button").click()
    wait = WebDriverWait(browser, 120)
    wait.until(EC.presence_of_element_located((By.ID, "linked-entity")))
    assert browser.find_element(By.ID, "linked-entity").text == "Marie Curie"
    first = browser.find_element(By.CSS_SELECTOR, ".answer[data-rank='1'] .chain")
    assert first.text.startswith("Marie Curie")
    alternative = next(b for b in browser.find_elements(By.CSS_SELECTOR, "button.alt") if b.text == "Warsaw")
    alternative.click()
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, ".answer[data-rank='1'] .chain")
               and d.find_element(By.CSS_SELECTOR, ".answer[data-rank='1'] .chain").text.startswith("Warsaw"))
