"""A person uses the web app in a real (headless) Chromium, driven through chromedriver.

Run by tests/web/main.rs against a server it started; everything comes from the
environment (see `main.rs`). Every wait is a condition with a deadline, never a sleep.
Writes a JSON result (the share link, the QR code's screenshot) for the Rust side to check.
"""

import io
import json
import os
import sys
import tempfile
import urllib.error
import urllib.request
import zipfile

from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException, WebDriverException
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import Select, WebDriverWait

FOLDER = "/app/b/default/reports/2026/"

ENV = os.environ
STORY = ENV.get("WEB_STORY", "main")
BASE = ENV["WEB_BASE_URL"]
TOKEN = ENV.get("WEB_TOKEN")
READER_TOKEN = ENV.get("WEB_READER_TOKEN")
ADMIN_TOKEN = ENV.get("WEB_ADMIN_TOKEN")
UPLOADS = [ENV.get("WEB_UPLOAD_A"), ENV.get("WEB_UPLOAD_B")]
BIG = ENV.get("WEB_UPLOAD_BIG")
DROP_DIR = ENV.get("WEB_DROP_DIR")
DOWNLOADS = ENV.get("WEB_DOWNLOADS", tempfile.gettempdir())
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


def names(driver, css):
    """The data-name of every element `css` matches, in page order."""
    return [el.get_attribute("data-name") for el in driver.find_elements(By.CSS_SELECTOR, css)]


def choose(driver, css, value, in_url):
    """Picks `value` in the select `css` and waits until `in_url(url)` says the URL followed."""
    wait(driver, lambda d: Select(visible(d, css)).select_by_value(value) or True, f"choose {value} in {css}")
    wait(driver, lambda d: in_url(d.current_url), f"the URL after choosing {value} in {css}")


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
        {"main": story, "oidc": oidc_story, "perf": perf_story}[STORY](driver, result)
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

    step("a folder dropped on the page is uploaded whole, its paths kept")
    for kind in ("dragEnter", "dragOver", "drop"):
        driver.execute_cdp_cmd(
            "Input.dispatchDragEvent",
            {"type": kind, "x": 640, "y": 500, "data": {"items": [], "files": [DROP_DIR], "dragOperationsMask": 1}},
        )
    # Read whether or not the tray has folded down (it does once every upload has ended).
    deepest = '.tray li[data-path="reports/2026/scans/sub/b.txt"] .state'
    wait(driver, lambda d: d.execute_script("const e = document.querySelector(arguments[0]); return e && e.textContent", deepest) == "Ready", "the dropped folder's deepest file ready")
    click(driver, 'tr.folder[data-folder="reports/2026/scans/"] a', "the dropped folder, listed")
    find(driver, 'tr[data-name="a.txt"]', "a.txt in the dropped folder")
    click(driver, 'tr.folder[data-folder="reports/2026/scans/sub/"] a')
    find(driver, 'tr[data-name="b.txt"]', "b.txt one level down")
    driver.get(BASE + FOLDER)

    step("a failed file says why; status and type filters; sorting")
    bomb = find(driver, 'tr[data-name="bomb.png"]', "the refused picture")
    assert bomb.get_attribute("data-status") == "failed"
    reason = bomb.find_element(By.CSS_SELECTOR, ".reason").text
    assert reason.startswith("image-too-large"), reason
    choose(driver, "#filter-status", "failed", lambda url: "status=failed" in url)
    wait(driver, lambda d: names(d, "tr[data-id]") == ["bomb.png"], "only the failed file")
    choose(driver, "#filter-status", "", lambda url: "status=" not in url)
    choose(driver, "#filter-type", "image/*", lambda url: "type=image" in url)
    wait(driver, lambda d: sorted(names(d, "tr[data-id]")) == ["bomb.png", "camera.jpg"], "only the pictures")
    driver.get(BASE + FOLDER)
    click(driver, "th.col-size button", "sort by size")
    wait(driver, lambda d: "sort=size" in d.current_url and names(d, "tr[data-id]")[:1] == ["seed.txt"], "smallest first")
    click(driver, "th.col-size button", "sort by size, descending")
    wait(driver, lambda d: "sort=-size" in d.current_url and names(d, "tr[data-id]")[:1] == [name_a], "largest first")

    step("the grid: thumbnails load as their tiles come into view")
    click(driver, "#as-grid")
    wait(driver, lambda d: "view=grid" in d.current_url, "the grid in the URL")
    thumb = 'ul.grid li[data-name="camera.jpg"] img.thumb'
    wait(driver, lambda d: d.execute_script(
        "const i = document.querySelector(arguments[0]); return i && i.src.startsWith('blob:') && i.complete && i.naturalWidth > 0", thumb), "camera.jpg's thumbnail")
    failed_tile = visible(driver, 'ul.grid li[data-name="bomb.png"]')
    assert "image-too-large" in failed_tile.text, failed_tile.text
    choose(driver, "#sort-by", "size", lambda url: "sort=size" in url)
    wait(driver, lambda d: names(d, "ul.grid li[data-id]")[:1] == ["seed.txt"], "the grid, smallest first")
    shot(driver, "folder-grid")
    audit(driver, "folder, grid")
    driver.get(BASE + FOLDER)

    step("a large upload interrupted by a reload resumes where it stopped")
    big = os.path.basename(BIG)
    # Parts 3 to 5 are held by the browser (never sent) until the page reloads.
    driver.execute_cdp_cmd("Fetch.enable", {"patterns": [{"urlPattern": f"*&part={n}&*"} for n in (3, 4, 5)]})
    wait(driver, lambda d: d.find_element(By.ID, "upload-input"), "the folder view").send_keys(BIG)
    journal = "const j = JSON.parse(sessionStorage.getItem('filegate.uploads') || '[]'); return j.length ? Object.keys(j[0].parts).length : 0"
    wait(driver, lambda d: d.execute_script(journal) == 2, "two parts stored")
    driver.refresh()
    driver.execute_cdp_cmd("Fetch.disable", {})
    offer = find(driver, f'.tray li[data-path="reports/2026/{big}"][data-state="interrupted"]', "the offer to resume")
    assert "2 of 5 parts stored" in offer.text, offer.text
    shot(driver, "upload-resume")
    wait(driver, lambda d: d.find_element(By.CSS_SELECTOR, "input[data-resume]"), "the resume input").send_keys(BIG)
    wait(driver, lambda d: (r := row(d, big)) and r.get_attribute("data-status") == "ready", f"{big} ready")
    sent = driver.execute_script(
        "return performance.getEntriesByType('resource').map((e) => e.name).filter((n) => n.includes('&part='))"
    )
    numbers = sorted(int(n.split("&part=")[1].split("&")[0]) for n in sent)
    assert numbers == [3, 4, 5], f"after the reload only parts 3 to 5 are sent, not {numbers}"

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

    step("a picture's panel: its preview, size, EXIF and detected type")
    driver.get(BASE + FOLDER)
    row(driver, "camera.jpg") or find(driver, 'tr[data-name="camera.jpg"]')
    row(driver, "camera.jpg").find_element(By.CSS_SELECTOR, "td.name a").click()
    find(driver, ".preview img", "the preview")
    facts = text_of(driver, "main")
    for expected in ("640 × 480 px", "Filegate", "Bedside Camera", "image/jpeg"):
        assert expected in facts, f"{expected!r} not in the panel"
    driver.back()
    row(driver, name_a) or find(driver, f'tr[data-name="{name_a}"]')
    row(driver, name_a).find_element(By.CSS_SELECTOR, "td.name a").click()
    find(driver, "#download")

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

    step("search: date and size facets, then the whole search as one zip")
    driver.get(BASE + "/app/search?q=ward")
    find(driver, "#facet-created-past_day", "the date facet")
    click(driver, "#facet-size-under_100kib", "the size facet")
    wait(driver, lambda d: "size=under_100kib" in d.current_url, "the size facet in the URL")
    wait(driver, lambda d: [a.text.strip() for a in d.find_elements(By.CSS_SELECTOR, "ol.hits li > a")] == [name_b], "only the small hit")
    click(driver, "#facet-created-past_day")
    wait(driver, lambda d: "created=past_day" in d.current_url and visible(d, "ol.hits li mark") is not None, "uploaded today")
    click(driver, "#zip-search", "Download all as zip")
    link = find(driver, "#bundle-link", "the bundle's link").get_attribute("href")
    with urllib.request.urlopen(link) as response:
        bundle_bytes = response.read()
    with zipfile.ZipFile(io.BytesIO(bundle_bytes)) as z, open(UPLOADS[1], "rb") as f:
        assert z.namelist() == ["reports/2026/" + name_b], z.namelist()
        assert z.read("reports/2026/" + name_b) == f.read(), "the search's zip holds other bytes"

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

    admin(driver, renamed)


def fact(driver, label):
    """The value of the file panel's fact `label`."""
    return driver.execute_script(
        "const dt = [...document.querySelectorAll('dl.facts dt')].find((d) => d.textContent === arguments[0]);"
        "return dt ? dt.nextElementSibling.textContent : null",
        label,
    )


def api_status(token, path):
    request = urllib.request.Request(BASE + path, headers={"Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(request) as response:
            return response.status
    except urllib.error.HTTPError as e:
        return e.code


def admin(driver, renamed):
    step("an admin sees a file's audit trail and its download count")
    click(driver, "#sign-out")
    sign_in(driver, ADMIN_TOKEN)
    # Signed in (the credential kept) before the page is loaded anew.
    find(driver, "#sign-out", "the admin signed in")
    driver.get(BASE + FOLDER)
    find(driver, f'tr[data-name="{renamed}"]').find_element(By.CSS_SELECTOR, "td.name a").click()
    for action in ("file.download_url_issued", "file.updated", "share.created", "file.deleted", "file.restored"):
        find(driver, f'#audit tr[data-action="{action}"]', f"{action} in the file's audit trail")
    # Counted in memory, written within a second: the panel shows it once written.
    def counted(d):
        shown = fact(d, "Downloads")
        if shown is not None and int(shown) == 0:
            d.refresh()  # the panel was drawn before the count was written: ask again
        return shown is not None and int(shown) >= 1

    wait(driver, counted, "the download count")
    shot(driver, "file-panel-admin")
    audit(driver, "file panel, admin")

    step("admin: a bucket is created and listed")
    click(driver, 'nav.side a[href="/app/admin/buckets"]', "Administration")
    find(driver, "table.admin tr[data-key=default]", "the default bucket")
    find(driver, "#bucket-name").send_keys("scans-2026")
    find(driver, "#bucket-types").send_keys("application/pdf, image/png")
    click(driver, "#new-bucket button[type=submit]")
    row_ = find(driver, "table.admin tr[data-key=scans-2026]", "the new bucket")
    assert "application/pdf, image/png" in row_.text, row_.text
    find(driver, 'nav.side a[href="/app/b/scans-2026/"]', "the new bucket in the side navigation")
    shot(driver, "admin-buckets")
    audit(driver, "admin, buckets")

    step("admin: an API key is shown once, works, and is revoked")
    click(driver, 'nav.tabs a[href="/app/admin/keys"]')
    find(driver, "#key-name").send_keys("ward scanner")
    Select(find(driver, "#key-role")).select_by_value("writer")
    click(driver, "#new-key button[type=submit]")
    key = find(driver, "#new-key-secret", "the new key").get_attribute("value")
    assert key.startswith("fgk_"), key
    assert api_status(key, "/v1/me") == 200, "the new key is refused"
    shot(driver, "admin-keys")
    audit(driver, "admin, API keys")
    click(driver, 'button[aria-label="Revoke ward scanner"]')
    click(driver, "dialog #confirm")
    wait(driver, lambda d: "Revoked" in text_of(d, 'table.admin tr[data-key="ward scanner"]'), "the key revoked")
    assert api_status(key, "/v1/me") == 401, "a revoked key still works"

    step("admin: a webhook is created (its secret shown once) and deleted")
    click(driver, 'nav.tabs a[href="/app/admin/webhooks"]')
    find(driver, "#webhook-url").send_keys("https://hooks.example.org/filegate")
    click(driver, "#new-webhook button[type=submit]")
    secret = find(driver, "#new-webhook-secret", "the signing secret").get_attribute("value")
    assert secret.startswith("whsec_"), secret
    click(driver, 'button[aria-label="Delete the webhook to https://hooks.example.org/filegate"]')
    click(driver, "dialog #confirm")
    wait(driver, lambda d: "No webhooks yet." in text_of(d, "main"), "no webhooks left")

    step("admin: usage, and the audit trail filtered")
    click(driver, 'nav.tabs a[href="/app/admin/usage"]')
    usage = find(driver, "#usage", "the usage")
    assert "no quota" in usage.text, usage.text
    find(driver, 'table.admin tr[data-key="default"]', "the default bucket's usage")
    click(driver, 'nav.tabs a[href="/app/admin/audit"]')
    find(driver, "#audit-action").send_keys("api_key.*")
    click(driver, "#audit-filters button[type=submit]")
    wait(driver, lambda d: "action=api_key" in d.current_url, "the filter in the URL")
    find(driver, '.audit-trail tr[data-action="api_key.revoked"]', "the key's revocation")
    actions = {el.get_attribute("data-action") for el in driver.find_elements(By.CSS_SELECTOR, ".audit-trail tr[data-action]")}
    assert actions == {"api_key.created", "api_key.revoked"}, actions
    shot(driver, "admin-audit")
    audit(driver, "admin, audit")


def oidc_story(driver, result):
    step("sign in with the identity provider: there and back, signed in")
    driver.get(BASE + "/app/b/default/")
    button = find(driver, "#sign-in-provider", "the provider's button")
    assert button.text == "Sign in with Hospital Login", button.text
    shot(driver, "sign-in-provider")
    audit(driver, "sign-in, provider")
    button.click()
    wait(driver, lambda d: d.current_url == BASE + "/app/b/default/", "back where the sign-in started")
    who = find(driver, ".who span", "who is signed in").text
    result["signed_in_as"] = who
    find(driver, 'nav.side a[href="/app/b/default/"]', "the buckets")
    # The code is gone from the address bar and the tab keeps no verifier.
    assert "code=" not in driver.current_url, driver.current_url
    assert driver.execute_script("return sessionStorage.getItem('filegate.oidc')") is None

    step("a provider's answer this tab did not ask for is refused")
    click(driver, "#sign-out")
    driver.get(BASE + "/app/auth/callback?code=forged&state=forged")
    notice = find(driver, ".signin .notice.error", "the refusal")
    assert "not started in this tab" in notice.text, notice.text


# Injected before the page's own scripts (through the driver, so outside the page's CSP):
# when the first file row appears, and the largest contentful paint.
FIRST_ROWS = """
window.__firstRows = null;
window.__lcp = null;
new PerformanceObserver((list) => { for (const e of list.getEntries()) window.__lcp = e.startTime; })
  .observe({type: "largest-contentful-paint", buffered: true});
new MutationObserver((_, observer) => {
  if (document.querySelector("tr[data-id]")) { window.__firstRows = performance.now(); observer.disconnect(); }
}).observe(document, {childList: true, subtree: true});
"""


def perf_story(driver, result):
    """Measures, does not judge: the bytes the page loads and when a folder of 10,000 files
    shows its first rows, cold (empty cache) and warm (the assets cached, as on every visit
    after the first), five times each."""
    folder = BASE + "/app/b/default/ward/"
    driver.get(BASE + "/app/")
    driver.execute_script("sessionStorage.setItem('filegate.credential', arguments[0])", TOKEN)
    driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": FIRST_ROWS})
    driver.execute_cdp_cmd("Network.enable", {})
    runs = {"cold": [], "warm": []}
    for kind in ("cold", "warm"):
        for _ in range(5):
            if kind == "cold":
                driver.execute_cdp_cmd("Network.clearBrowserCache", {})
            driver.get(folder)
            wait(driver, lambda d: d.execute_script("return window.__firstRows !== null && window.__lcp !== null"), "the first rows")
            wait(driver, lambda d: len(d.find_elements(By.CSS_SELECTOR, "tr[data-id]")) >= 100, "the first page")
            numbers = driver.execute_script(
                """
                const nav = performance.getEntriesByType("navigation")[0];
                const res = performance.getEntriesByType("resource");
                const own = res.filter((r) => r.name.includes("/assets/"));
                const api = res.filter((r) => r.name.includes("/v1/"));
                return {
                  first_rows_ms: window.__firstRows, lcp_ms: window.__lcp,
                  dom_content_loaded_ms: nav.domContentLoadedEventEnd,
                  shell_bytes: nav.encodedBodySize,
                  asset_bytes: own.reduce((s, r) => s + r.encodedBodySize, 0),
                  asset_transfer_bytes: own.reduce((s, r) => s + r.transferSize, 0),
                  assets: own.length, api_calls: api.length,
                  rows: document.querySelectorAll("tr[data-id]").length,
                };
                """
            )
            runs[kind].append(numbers)
    for kind, samples in runs.items():
        for key in ("first_rows_ms", "lcp_ms", "dom_content_loaded_ms"):
            values = sorted(s[key] for s in samples)
            result[f"{kind}_{key}"] = {"median": values[len(values) // 2], "min": values[0], "max": values[-1]}
        result[f"{kind}_sample"] = samples[0]
    shot(driver, "folder-10000")


if __name__ == "__main__":
    try:
        main()
    except Exception as e:  # the Rust side shows this output
        print(f"story failed: {e!r}", file=sys.stderr, flush=True)
        raise
