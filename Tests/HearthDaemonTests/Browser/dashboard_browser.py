#!/usr/bin/env python3
"""Drives the Hearth dashboard in a real headless Chromium (selenium + chromedriver).

Called by BrowserTests.swift with a JSON plan on stdin; prints one JSON object with every
check's outcome, the console errors seen, and the screenshots kept. It never decides pass or
fail itself: the Swift test does, from what this prints.
"""
import json
import os
import sys
import time

from selenium import webdriver
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By

plan = json.load(sys.stdin)
base = plan["base"]
artifacts = plan["artifacts"]
os.makedirs(artifacts, exist_ok=True)
checks = []
console = []
shots = []


def check(name, ok, detail=""):
    checks.append({"name": name, "ok": bool(ok), "detail": str(detail)[:500]})


def wait_for(predicate, seconds, step=0.2):
    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            value = predicate()
            if value:
                return value
        except WebDriverException:
            pass
        time.sleep(step)
    return None


def drain_console(page):
    for entry in driver.get_log("browser"):
        if entry.get("level") == "SEVERE":
            console.append({"page": page, "message": entry.get("message", "")[:300]})


options = webdriver.ChromeOptions()
options.binary_location = plan.get("chromium", "/usr/bin/chromium")
for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--no-first-run",
                 "--disable-extensions", "--window-size=1280,900"):
    options.add_argument(argument)
options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
driver = webdriver.Chrome(service=Service(plan.get("chromedriver", "/usr/bin/chromedriver")), options=options)
driver.set_page_load_timeout(30)

try:
    # Log in with the one-time link: it lands on the Brief.
    driver.get(plan["login"])
    check("login lands on the brief", driver.find_element(By.TAG_NAME, "h1").text == "Brief", driver.title)
    cookie = driver.get_cookie("hearth_session") or {}
    check("the session cookie is HttpOnly and SameSite=Strict",
          cookie.get("httpOnly") is True and cookie.get("sameSite") == "Strict", cookie)
    check("the page's script cannot read the session cookie",
          "hearth_session" not in driver.execute_script("return document.cookie"))

    # An interruption arrives while the page is open: it appears without a reload, as text.
    driver.execute_script("window.hearthMarker = 1")
    mail = plan["mail"]
    with open(mail["path"] + ".tmp", "w") as handle:
        handle.write(mail["text"])
    os.rename(mail["path"] + ".tmp", mail["path"])
    subject = mail["subject"]
    row = wait_for(lambda: [li for li in driver.find_elements(By.CSS_SELECTOR, "#inbox li") if subject in li.text], 45)
    check("the interruption appears in the inbox without a reload",
          row and driver.execute_script("return window.hearthMarker") == 1, row and row[0].text)
    check("the hostile mail subject is shown as text and does not run",
          driver.execute_script("return window.hearthHacked") is None
          and not driver.find_elements(By.CSS_SELECTOR, "#inbox script, #inbox img"))
    drain_console("/ (live inbox)")

    # Approve one waiting action and watch its run go on to done.
    approve = plan["approve"]
    driver.get(base + "/approvals")
    driver.find_element(By.CSS_SELECTOR, f'[data-approval-id="{approve["approval"]}"] button[name="approve"]').click()
    check("approving shows that it was answered",
          wait_for(lambda: "answered" in driver.find_element(By.CSS_SELECTOR, "p.flash").text, 10))
    done = wait_for(lambda: driver.get(base + f'/goals/{approve["run"]}')
                    or driver.find_elements(By.CSS_SELECTOR, "p .state-succeeded"), 60, step=0.5)
    check("the approved run continues to done", done, driver.find_element(By.CSS_SELECTOR, "main").text[:300])

    # Deny another with a reason.
    deny = plan["deny"]
    driver.get(base + "/approvals")
    card = driver.find_element(By.CSS_SELECTOR, f'[data-approval-id="{deny["approval"]}"]')
    card.find_element(By.CSS_SELECTOR, 'input[name="reason"]').send_keys(deny["reason"])
    card.find_element(By.CSS_SELECTOR, 'button[name="deny"]').click()
    check("denying shows that it was answered",
          wait_for(lambda: "answered" in driver.find_element(By.CSS_SELECTOR, "p.flash").text, 10))
    finished = wait_for(lambda: driver.get(base + f'/goals/{deny["run"]}')
                        or driver.find_elements(By.CSS_SELECTOR, "p .state-succeeded, p .state-failed, p .state-needsReview"),
                        60, step=0.5)
    check("the denied run goes on without the action", finished, driver.find_element(By.CSS_SELECTOR, "main").text[:300])

    # A hostile goal title and report do not execute; the report's bad link stays text.
    hostile = plan["hostile"]
    driver.get(base + f"/goals/{hostile}")
    check("a hostile goal and report do not run",
          driver.execute_script("return window.hearthHacked") is None
          and not driver.find_elements(By.CSS_SELECTOR, "main script, .report img, .report a[href^='javascript']"),
          driver.find_element(By.CSS_SELECTOR, "main").text[:300])
    check("the report's workspace link opens the file",
          driver.find_elements(By.CSS_SELECTOR, '.report a[href="/files/Notes/a.md"]'))
    drain_console(f"/goals/{hostile}")

    # Chat: the answer streams into the conversation.
    driver.get(base + "/chat")
    driver.find_element(By.ID, "message").send_keys("My dog is called Biscuit")
    driver.find_element(By.CSS_SELECTOR, '#chat-form button[name="send"]').click()
    answered = wait_for(lambda: [t for t in driver.find_elements(By.CSS_SELECTOR, "#turns .turn-agent p")
                                 if t.text and t.text != "…"], 45)
    check("a chat answer streams into the conversation", answered, answered and answered[0].text)
    check("the conversation gets its own address", "/chat/" in driver.current_url, driver.current_url)
    drain_console("/chat (streamed)")

    # Every page at both widths: renders, no sideways scrolling, no console errors; a screenshot each.
    for width, height in ((1280, 900), (390, 844)):
        driver.set_window_size(width, height)
        for path in plan["pages"]:
            driver.get(base + path)
            heading = driver.find_elements(By.TAG_NAME, "h1")
            check(f"{path} renders at {width} px", heading and heading[0].text not in ("Sign in", "Not found"),
                  heading and heading[0].text)
            overflow = driver.execute_script(
                "return document.documentElement.scrollWidth - document.documentElement.clientWidth")
            check(f"{path} fits {width} px without sideways scrolling", overflow <= 1, f"{overflow} px too wide")
            name = "home" if path == "/" else path.strip("/").replace("/", "-")
            file = os.path.join(artifacts, f"{name}-{width}.png")
            driver.save_screenshot(file)
            shots.append(file)
            drain_console(f"{path} at {width} px")
finally:
    try:
        drain_console("end")
    except WebDriverException:
        pass
    driver.quit()

print(json.dumps({"checks": checks, "console": console, "screenshots": shots}))
