"""The report as a page people read (issue #19 §3), rendered by a real browser: headless
Chromium loads `/v1/jobs/{id}/report.html` (and `/report` with a browser's Accept header) of a
W8A8 Core ML job with an evaluation, and the test reads the rendered DOM: the charts are
there, and the numbers in their tables are the JSON report's."""

import sys
from pathlib import Path

import numpy as np
import pytest
import requests
from selenium import webdriver
from selenium.webdriver.chrome.service import Service as ChromeService
from selenium.webdriver.common.by import By

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "oracle"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "oracle" / "fixtures"))
import make_executor_twins as twins  # noqa: E402
import mlprograms  # noqa: E402
from test_evaluation import curl_upload  # noqa: E402
from test_w8a8 import A8, W8  # noqa: E402


@pytest.fixture(scope="module")
def job(server, tmp_path_factory):
    directory = tmp_path_factory.mktemp("report_page")
    package, _ = twins.build(str(directory), "mobilenetv2", precision="fp16")
    np.savez(directory / "samples.npz", input=np.random.default_rng(3).standard_normal((6, 3, 32, 32)).astype(np.float32))
    model = curl_upload(server, mlprograms.zip_package(package), "/v1/models")["id"]
    dataset = curl_upload(server, directory / "samples.npz", "/v1/datasets")["id"]
    created = requests.post(f"{server.base}/v1/jobs?wait=300", json={"model_id": model, "config": W8, "activation_config": A8,
                                                                      "calibration": {"dataset_id": dataset}}, timeout=320).json()
    assert created["status"] == "succeeded", created["error"]
    report = requests.get(f"{server.base}{created['links']['report']}", timeout=30).json()
    return {"id": created["id"], "report": report}


@pytest.fixture(scope="module")
def browser():
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=ChromeService(executable_path="/usr/bin/chromedriver"), options=options)
    yield driver
    driver.quit()


def values(driver, selector):
    return [float(e.get_attribute("data-value")) for e in driver.find_elements(By.CSS_SELECTOR, selector) if e.get_attribute("data-value")]


def test_the_rendered_page_shows_the_json_reports_numbers(server, job, browser):
    browser.get(f"{server.base}/v1/jobs/{job['id']}/report.html")
    report = job["report"]
    assert "Compression report" in browser.find_element(By.TAG_NAME, "h1").text
    for chart in ("sqnr-chart", "bytes-chart", "evaluation-chart", "latency-chart", "accuracy-chart"):
        svg = browser.find_element(By.CSS_SELECTOR, f"#{chart} svg")
        assert svg.size["width"] > 100 and svg.size["height"] > 20, chart
        assert browser.find_elements(By.CSS_SELECTOR, f"#{chart} rect.bar"), chart
    assert int(browser.find_element(By.ID, "artifact-bytes").get_attribute("data-value")) == report["totals"]["artifact_bytes"]
    assert values(browser, "#latency-table td.compressed-ms") == pytest.approx([e["compressed_ms"] for e in report["estimates"]["entries"]])
    assert values(browser, "#latency-table td.float16-ms") == pytest.approx([e["float16_ms"] for e in report["estimates"]["entries"]])
    assert values(browser, "#tensor-table td.sqnr") == pytest.approx([t["sqnr_db"] for t in report["tensors"] if t.get("sqnr_db") is not None])
    [output] = report["evaluation"]["outputs"]
    assert values(browser, "#evaluation-outputs td.snr") == pytest.approx([output["snr_db"]])
    measured = report["estimates"]["accuracy"]["measured"]["top1_agreement"]
    assert float(browser.find_element(By.ID, "measured-agreement").get_attribute("data-value")) == pytest.approx(measured)
    assert len(browser.find_elements(By.CSS_SELECTOR, "#activation-table tbody tr")) == len(report["activation_quantization"]["tensors"])
    # Self-contained: the page loaded nothing but itself.
    resources = browser.execute_script("return performance.getEntriesByType('resource').map(r => r.name)")
    assert resources == [], resources


def test_a_browser_asking_for_the_report_gets_the_page_and_curl_gets_json(server, job, browser):
    browser.get(f"{server.base}/v1/jobs/{job['id']}/report")
    assert browser.find_elements(By.CSS_SELECTOR, "#sqnr-chart svg")
    plain = requests.get(f"{server.base}/v1/jobs/{job['id']}/report", timeout=30)
    assert plain.headers["Content-Type"].startswith("application/json")
    html = requests.get(f"{server.base}/v1/jobs/{job['id']}/report", headers={"Accept": "text/html"}, timeout=30)
    assert html.headers["Content-Type"].startswith("text/html") and "<svg" in html.text


def test_the_estimate_comparison_renders_as_a_page(server, job, browser):
    body = {"model_id": job["report"]["model_id"], "configs": ["w8", "palettize-4"], "device": "iPhone 15 Pro"}
    expected = requests.post(f"{server.base}/v1/estimate", json=body, timeout=300).json()
    browser.get(f"{server.base}/healthz")
    html = browser.execute_async_script("""
        const done = arguments[arguments.length - 1];
        fetch("/v1/estimate", {method: "POST", headers: {"Content-Type": "application/json", "Accept": "text/html"},
                               body: JSON.stringify(arguments[0])})
            .then(r => r.text()).then(done).catch(e => done("error: " + e));
    """, body)
    assert html.startswith("<!doctype html>"), html[:200]
    browser.execute_script("document.open(); document.write(arguments[0]); document.close();", html)
    assert browser.find_elements(By.CSS_SELECTOR, "#size-chart svg rect.bar")
    assert browser.find_elements(By.CSS_SELECTOR, "#latency-chart svg rect.bar")
    names = [e.get_attribute("data-name") for e in browser.find_elements(By.CSS_SELECTOR, "#estimate-table tr.config")]
    assert names == [row["name"] for row in expected["rows"]]
    assert values(browser, "#estimate-table td.weight-bytes") == [row["weight_bytes"] for row in expected["rows"]]
    recommended = browser.find_element(By.ID, "recommended").text
    assert recommended == (expected["recommendation"]["name"] or "none")
