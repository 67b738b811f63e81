"""Drives pmulab's PDC page in a real Chromium (headless, through
chromedriver) and prints what the page showed, as JSON, for the Rust test
to judge.

    browser_pdc.py MAIN_URL SLOW_URL SCREENSHOT

MAIN_URL: a ws-pmu with n = 15; SLOW_URL: one with n = 3 and two
sessions (for the busy case and CMD_short:1's spacing). Only loopback.
"""
import http.server
import json
import shutil
import socket
import sys
import tempfile
import threading
import time

import websocket
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

main_url, slow_url, screenshot = sys.argv[1], sys.argv[2], sys.argv[3]


SCRATCH = []


def browser():
    profile = tempfile.mkdtemp(prefix="pmulab-chromium-")
    SCRATCH.append(profile)
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for arg in [
        "--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
        "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--window-size=1000,860",
        "--user-data-dir=" + profile,
    ]:
        options.add_argument(arg)
    return webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)


def run(driver, button=None, command=None, limit=30):
    """Clicks a preset (or submits a typed command) and waits for the end."""
    if command is not None:
        field = driver.find_element(By.ID, "command")
        field.clear()
        field.send_keys(command)
        driver.find_element(By.ID, "send-typed").click()
    else:
        driver.find_element(By.ID, button).click()
    WebDriverWait(driver, limit).until(
        lambda d: d.find_element(By.ID, "state").get_attribute("data-state") in ("done", "error"))
    return driver.execute_script("""
        const lines = [...document.querySelectorAll('#log li')].map(li => ({
            time: parseFloat(li.querySelector('.time').textContent.slice(1)),
            text: li.childNodes[1].textContent,
            cls: li.className,
            size: li.dataset.size ? parseInt(li.dataset.size) : null,
        }));
        return {
            state: document.getElementById('state').textContent,
            kind: document.getElementById('state').dataset.state,
            messages: document.getElementById('messages').textContent,
            bytes: document.getElementById('bytes').textContent,
            close: document.getElementById('close').textContent,
            lines: lines,
        };""")


result = {}
driver = browser()
try:
    driver.get(main_url)
    result["title"] = driver.title
    result["short0"] = run(driver, "short0")
    driver.save_screenshot(screenshot)
    result["floodme"] = run(driver, "floodme")
    result["refused"] = run(driver, command="CMD_bogus")

    # Busy: every session of the slow PMU is taken (the browser may hold one
    # itself, with a connection it opened ahead of need): silent
    # connections are opened until the PMU answers one with 503.
    driver.get(slow_url)
    host, port = slow_url.split("//")[1].rstrip("/").split(":")
    held = []
    for attempt in range(20):
        conn = socket.create_connection((host, int(port)))
        conn.settimeout(0.3)
        try:
            answer = conn.recv(64)
        except socket.timeout:
            held.append(conn)
            continue
        conn.close()
        if answer.startswith(b"HTTP/1.1 503"):
            break
    result["busy"] = run(driver, "short0")
    for conn in held:
        conn.close()
    time.sleep(0.5)
    result["short1"] = run(driver, "short1")

    # A page of another origin tries to drive the PMU.
    pmu_host = main_url.split("//")[1].rstrip("/")
    folder = tempfile.mkdtemp(prefix="pmulab-cross-")
    SCRATCH.append(folder)
    with open(folder + "/index.html", "w") as f:
        f.write("""<!doctype html><title>waiting</title><script>
const ws = new WebSocket("ws://%s/");
ws.onopen = () => { document.title = "opened"; ws.send("CMD_short:0"); };
ws.onclose = (e) => { if (document.title !== "opened") document.title = "closed " + e.code; };
</script>""" % pmu_host)
    handler = lambda *a, **k: http.server.SimpleHTTPRequestHandler(*a, directory=folder, **k)
    other = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=other.serve_forever, daemon=True).start()
    driver.get("http://127.0.0.1:%d/" % other.server_address[1])
    WebDriverWait(driver, 15).until(lambda d: d.title != "waiting")
    result["cross_origin"] = {"title": driver.title, "origin": "http://127.0.0.1:%d" % other.server_address[1]}
    other.shutdown()
finally:
    driver.quit()
    for path in SCRATCH:
        shutil.rmtree(path, ignore_errors=True)

print(json.dumps(result))
