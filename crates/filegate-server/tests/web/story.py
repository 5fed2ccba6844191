"""A person uses the web app in a real (headless) Chromium, driven through chromedriver.

Run by tests/web/main.rs against a server it started; everything comes from the
environment (see `main.rs`). Every wait is a condition with a deadline, never a sleep.
Writes a JSON result (the share link, the QR code's screenshot) for the Rust side to check.
"""

import json
import os
import sys
import tempfile
import urllib.request
import zipfile

from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException, WebDriverException
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import Select, WebDriverWait

ENV = os.environ
BASE = ENV["WEB_BASE_URL"]
TOKEN = ENV["WEB_TOKEN"]
READER_TOKEN = ENV["WEB_READER_TOKEN"]
UPLOADS = [ENV["WEB_UPLOAD_A"], ENV["WEB_UPLOAD_B"]]
DOWNLOADS = ENV["WEB_DOWNLOADS"]
SHOTS = ENV["WEB_SCREENSHOTS"]
RESULT = ENV["WEB_RESULT"]
DEADLINE = 60
with open(ENV["FILEGATE_TEST_AXE"]) as f:
    AXE = f.read()
AUDITED = []


def step(text):
    print(f"step: {text}", flush=True)


def browser():
    options = Options()
    options.binary_location = ENV["FILEGATE_TEST_CHROMIUM"]
    profile = tempfile.mkdtemp(prefix="filegate-chromium-")
    for flag in [
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        f"--user-data-dir={profile}",
        "--window-size=1280,900",
    ]:
        options.add_argument(flag)
    options.add_experimental_option(
        "prefs", {"download.default_directory": DOWNLOADS, "download.prompt_for_download": False}
    )
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    service = Service(executable_path=ENV["FILEGATE_TEST_CHROMEDRIVER"])
    driver = webdriver.Chrome(service=service, options=options)
    driver.execute_cdp_cmd("Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": DOWNLOADS})
    return driver


def wait(driver, condition, what, timeout=DEADLINE):
    """Waits until `condition(driver)` is truthy (exceptions count as not yet)."""

    def check(d):
        try:
            return condition(d)
        except (StaleElementReferenceException, WebDriverException):
            return False

    try:
        return WebDriverWait(driver, timeout, poll_frequency=0.1).until(check)
    except Exception as e:
        shot(driver, "failure")
        raise AssertionError(f"waited {timeout}s for {what}; url {driver.current_url}") from e


def find(driver, css, what=None):
    return wait(driver, lambda d: visible(d, css), what or css)


def click(driver, css, what=None):
    """Clicks the element once it is there and clickable (a view re-rendering under the
    pointer is retried, not failed)."""
    wait(driver, lambda d: (el := visible(d, css)) is not None and (el.click() or True), what or f"click {css}")


def visible(driver, css):
    for el in driver.find_elements(By.CSS_SELECTOR, css):
        if el.is_displayed():
            return el
    return None


def text_of(driver, css):
    el = visible(driver, css)
    return el.text if el else ""


def shot(driver, name):
    path = os.path.join(SHOTS, f"{name}.png")
    driver.save_screenshot(path)
    return path


def audit(driver, screen):
    """axe-core in the page (run through the driver, outside the page's CSP): no serious or
    critical violation of WCAG 2.1 A and AA (contrast included) on this screen."""
    driver.execute_script(AXE)
    violations = driver.execute_async_script(
        """
        const done = arguments[arguments.length - 1];
        axe.run(document, {runOnly: {type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]}})
          .then((r) => done(r.violations.map((v) => ({id: v.id, impact: v.impact, help: v.help,
                nodes: v.nodes.slice(0, 4).map((n) => n.target.join(" "))}))))
          .catch((e) => done([{id: "axe-failed", impact: "critical", help: String(e), nodes: []}]));
        """
    )
    bad = [v for v in violations if v["impact"] in ("serious", "critical")]
    for v in violations:
        print(f"axe, {screen}: {v['impact']} {v['id']}: {v['help']} {v['nodes']}", flush=True)
    if bad:
        shot(driver, f"a11y-{screen}")
        raise AssertionError(f"accessibility, {screen}: " + json.dumps(bad, indent=1))
    AUDITED.append(screen)


def row(driver, name):
    return visible(driver, f'tr[data-name="{name}"]')


def sign_in(driver, token):
    field = find(driver, "#credential")
    field.clear()
    field.send_keys(token)
    field.send_keys(Keys.ENTER)


def main():
    os.makedirs(SHOTS, exist_ok=True)
    driver = browser()
    result = {}
    try:
        story(driver, result)
    finally:
        problems = [
            entry["message"]
            for entry in driver.get_log("browser")
            if "Content Security Policy" in entry["message"] or "Uncaught" in entry["message"]
        ]
        driver.quit()
    if problems:
        raise AssertionError("the page broke its policy or threw:\n" + "\n".join(problems))
    result["audited"] = AUDITED
    with open(RESULT, "w") as f:
        json.dump(result, f)
    print("story: every step passed", flush=True)


def story(driver, result):
    name_a, name_b = (os.path.basename(p) for p in UPLOADS)

    step("a wrong token is refused in a sentence, with the request id")
    driver.get(BASE + "/app/")
    sign_in(driver, "not-a-token")
    notice = find(driver, ".signin .notice.error", "the refusal")
    assert "was not accepted" in notice.text, notice.text
    assert "Request id:" in notice.text, notice.text
    shot(driver, "sign-in-refused")
    audit(driver, "sign-in")

    step("the right token opens the buckets")
    sign_in(driver, TOKEN)
    click(driver, 'nav.side a[href="/app/b/default/"]', "the bucket list")
    wait(driver, lambda d: d.current_url.endswith("/app/b/default/"), "the bucket's URL")

    step("into a folder, and back up by the breadcrumbs")
    click(driver, 'tr.folder[data-folder="reports/"] a')
    click(driver, 'tr.folder[data-folder="reports/2026/"] a')
    find(driver, 'tr[data-name="seed.txt"]', "the file already in the folder")
    crumbs = [a.text for a in driver.find_elements(By.CSS_SELECTOR, "nav.crumbs a")]
    assert crumbs == ["default", "reports", "2026"], crumbs
    driver.find_element(By.CSS_SELECTOR, 'nav.crumbs a[href="/app/b/default/reports/"]').click()
    find(driver, 'tr[data-name="summary.txt"]', "the parent folder's file")
    click(driver, 'tr.folder[data-folder="reports/2026/"] a')
    find(driver, 'tr[data-name="seed.txt"]')
    assert driver.current_url.endswith("/app/b/default/reports/2026/"), driver.current_url

    step("two files uploaded through the file input reach ready")
    upload = driver.find_element(By.ID, "upload-input")
    upload.send_keys("\n".join(UPLOADS))
    find(driver, ".tray", "the upload tray")
    for name in (name_a, name_b):
        wait(driver, lambda d, n=name: (r := row(d, n)) and r.get_attribute("data-status") == "ready", f"{name} ready")
    assert "Ready" in row(driver, name_a).text
    wait(driver, lambda d: text_of(d, ".tray .total .hint").startswith("2 of 2 ready"), "the tray's total")
    shot(driver, "folder-light")
    audit(driver, "folder")

    step("a file dropped on the page is uploaded into the folder shown")
    driver.execute_script(
        """
        const data = new DataTransfer();
        data.items.add(new File(["dropped on the page\\n"], "dropped.txt", {type: "text/plain"}));
        for (const type of ["dragover", "drop"]) {
          document.querySelector("main").dispatchEvent(new DragEvent(type, {dataTransfer: data, bubbles: true, cancelable: true}));
        }
        """
    )
    wait(driver, lambda d: (r := row(d, "dropped.txt")) and r.get_attribute("data-status") == "ready", "dropped.txt ready")

    step("two files selected come as one zip with their bytes")
    for name in (name_a, name_b):
        click(driver, f'input[aria-label="Select {name}"]')
    click(driver, "#zip-selected")
    wait(driver, lambda d: "is downloading" in text_of(d, ".notice.ok"), "the zip")

    def the_zip(_):
        done = [f for f in os.listdir(DOWNLOADS) if f.endswith(".zip")]
        return done and not any(f.endswith(".crdownload") for f in os.listdir(DOWNLOADS)) and done[0]

    bundle = wait(driver, the_zip, "the zip's download")
    with zipfile.ZipFile(os.path.join(DOWNLOADS, bundle)) as z:
        for path in UPLOADS:
            with open(path, "rb") as f:
                assert z.read("reports/2026/" + os.path.basename(path)) == f.read(), f"{path} differs in the zip"
    for name in (name_a, name_b):
        click(driver, f'input[aria-label="Select {name}"]')

    step("the keyboard reaches the search box")
    driver.find_element(By.TAG_NAME, "body").send_keys("/")
    assert driver.switch_to.active_element.get_attribute("id") == "search"
    driver.switch_to.active_element.send_keys(Keys.ESCAPE)

    step("download one: the bytes are the ones uploaded")
    row(driver, name_a).find_element(By.CSS_SELECTOR, "td.name a").click()
    click(driver, "#download")
    target = os.path.join(DOWNLOADS, name_a)
    wait(driver, lambda d: os.path.exists(target) and not os.path.exists(target + ".crdownload"), "the download")
    with open(UPLOADS[0], "rb") as a, open(target, "rb") as b:
        assert a.read() == b.read(), "downloaded bytes differ"
    shot(driver, "file-panel")
    audit(driver, "file panel")

    step("rename")
    renamed = "renamed-" + name_a
    click(driver, "#rename")
    field = find(driver, "dialog #new-path")
    field.clear()
    field.send_keys("reports/2026/" + renamed)
    field.send_keys(Keys.ENTER)
    wait(driver, lambda d: text_of(d, "h1.title") == renamed, "the new name")

    step("share: the link and its QR code; the link gives the bytes to anyone")
    click(driver, "#share")
    Select(find(driver, "#share-permission")).select_by_value("download")
    click(driver, "dialog button.primary")
    link = find(driver, "#share-link").get_attribute("value")
    qr = find(driver, "#share-qr")
    wait(driver, lambda d: d.execute_script("return arguments[0].complete && arguments[0].naturalWidth > 0", qr), "the QR code")
    result["share_url"] = link
    result["qr_png"] = os.path.join(SHOTS, "share-qr.png")
    qr.screenshot(result["qr_png"])
    shot(driver, "share-dialog")
    audit(driver, "share dialog")
    with urllib.request.urlopen(link + "/download") as response, open(UPLOADS[0], "rb") as a:
        assert response.read() == a.read(), "the shared link gave other bytes"
    click(driver, "dialog button.primary")

    step("delete with confirmation, then restore from Deleted")
    click(driver, "#delete")
    find(driver, "dialog #confirm")
    assert "restored" in text_of(driver, "dialog p"), text_of(driver, "dialog p")
    click(driver, "dialog #confirm")
    wait(driver, lambda d: d.current_url.endswith("/app/b/default/reports/2026/"), "back in the folder")
    find(driver, ".notice.ok", "the deletion's message")
    find(driver, f'tr[data-name="{name_b}"]')
    assert row(driver, renamed) is None, "the deleted file is still listed"
    click(driver, 'nav.side a[href="/app/deleted"]')
    find(driver, f'tr[data-name="{renamed}"]', "the file among the deleted")
    shot(driver, "deleted")
    audit(driver, "deleted")
    click(driver, f'button[aria-label="Restore {renamed}"]')
    wait(driver, lambda d: "was restored" in text_of(d, ".notice.ok"), "the restore's message")
    driver.get(BASE + "/app/b/default/reports/2026/")
    find(driver, f'tr[data-name="{renamed}"]', "the restored file in its folder")

    step("search: suggestions, then the hit with its words highlighted")
    word = os.path.splitext(name_b)[0].split("-")[-1]
    box = find(driver, "#search")
    box.send_keys(word)
    find(driver, "#suggestions li", "a suggestion")
    box.send_keys(Keys.ENTER)
    wait(driver, lambda d: "/app/search?q=" + word in d.current_url, "the search URL")
    mark = find(driver, "ol.hits li mark", "a highlighted hit")
    assert mark.text.lower() == word.lower(), mark.text
    assert driver.find_elements(By.CSS_SELECTOR, "ol.hits li a")[0].text.endswith(name_b)
    facet = find(driver, ".facets input[type=checkbox]", "a facet")
    facet.click()
    wait(driver, lambda d: "type=" in d.current_url or "bucket=" in d.current_url, "the facet in the URL")
    find(driver, "ol.hits li mark")
    shot(driver, "search")
    audit(driver, "search")

    step("dark, and a phone's width")
    driver.get(BASE + "/app/b/default/reports/2026/")
    find(driver, f'tr[data-name="{name_b}"]')
    driver.execute_cdp_cmd(
        "Emulation.setEmulatedMedia", {"features": [{"name": "prefers-color-scheme", "value": "dark"}]}
    )
    shot(driver, "folder-dark")
    audit(driver, "folder, dark")
    driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {"features": []})
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride", {"width": 360, "height": 780, "deviceScaleFactor": 1, "mobile": True}
    )
    find(driver, f'tr[data-name="{name_b}"]')
    overflow = driver.execute_script("return document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"the page is {overflow}px wider than a phone"
    shot(driver, "folder-phone")
    audit(driver, "folder, phone width")
    driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})

    step("a reader, signed in with an API key, sees no upload or delete")
    click(driver, "#sign-out")
    sign_in(driver, READER_TOKEN)
    find(driver, f'tr[data-name="{name_b}"]', "the folder, as a reader")
    assert visible(driver, "#upload") is None, "a reader is offered Upload"
    click(driver, f'input[aria-label="Select {name_b}"]')
    find(driver, "#zip-selected", "a reader may download a selection")
    assert visible(driver, "#delete-selected") is None, "a reader is offered Delete for a selection"
    row(driver, name_b).find_element(By.CSS_SELECTOR, "td.name a").click()
    find(driver, "#download")
    for control in ("#delete", "#rename", "#share"):
        assert visible(driver, control) is None, f"a reader is offered {control}"
    shot(driver, "file-panel-reader")


if __name__ == "__main__":
    try:
        main()
    except Exception as e:  # the Rust side shows this output
        print(f"story failed: {e!r}", file=sys.stderr, flush=True)
        raise
