#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
# The web UI in a real browser (headless Chromium through chromedriver), driven for
# tests/integration/t33_webui.sh: a requester and an approver, each in their own browser.
# Prints TAP-like "ok - ..." / "not ok - ..." lines; the shell test counts them.
import glob
import hashlib
import json
import os
import subprocess
import sys
import time

from selenium import webdriver
from selenium.common.exceptions import (NoAlertPresentException, StaleElementReferenceException,
                                        TimeoutException)
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import Select, WebDriverWait

E = os.environ
BASE = E["BASE"]
SHOTS = E["SHOTS"]
FAILS = 0


def ok(cond, what):
    global FAILS
    if cond:
        print(f"ok - {what}", flush=True)
    else:
        FAILS += 1
        print(f"not ok - {what}", flush=True)
    return cond


def browser(name, download_dir=None):
    o = webdriver.ChromeOptions()
    o.binary_location = E.get("CHROMIUM", "/usr/bin/chromium")
    for a in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
              "--window-size=1280,800", "--no-first-run", "--password-store=basic",
              f"--user-data-dir={E['TMP']}/profile-{name}"):
        o.add_argument(a)
    if download_dir:
        o.add_experimental_option("prefs", {
            "download.default_directory": download_dir,
            "download.prompt_for_download": False,
            "safebrowsing.enabled": False,
        })
    d = webdriver.Chrome(service=Service(E.get("CHROMEDRIVER", "/usr/bin/chromedriver")), options=o)
    if download_dir:
        d.execute_cdp_cmd("Browser.setDownloadBehavior",
                          {"behavior": "allow", "downloadPath": download_dir})
    d.set_script_timeout(20)
    return d


def wait(d, cond, secs=20):
    """Wait for cond; an element the page replaced while cond read it (a list re-rendered from a
    fresh answer) is read again at the next poll, not a failure."""
    return WebDriverWait(d, secs, poll_frequency=0.1,
                         ignored_exceptions=(StaleElementReferenceException,)).until(cond)


def dc_options(d):
    """The values #new-dc offers, read in one script: the page replaces its options whenever a
    list of configurations arrives, so elements found one call earlier may be gone."""
    return d.execute_script("return [...document.getElementById('new-dc').options].map((o) => o.value)")


def read_all(d, css, get=lambda e: e.text):
    """GET of each element CSS names, read again (up to 10 times) when the page replaced one
    meanwhile: lists re-render as events arrive."""
    for _ in range(9):
        try:
            return [get(e) for e in d.find_elements(By.CSS_SELECTOR, css)]
        except StaleElementReferenceException:
            time.sleep(0.1)
    return [get(e) for e in d.find_elements(By.CSS_SELECTOR, css)]


def choose_dc(d, dc):
    """Choose dc in #new-dc as a user does; chosen again if a fresh list replaced the options
    between finding and clicking one."""
    def chosen(d):
        Select(d.find_element(By.ID, "new-dc")).select_by_value(dc)
        return d.execute_script("return document.getElementById('new-dc').value") == dc
    wait(d, chosen)


def shot(d, name):
    d.save_screenshot(os.path.join(SHOTS, f"{name}.png"))


def sign_in(d, token, who):
    d.get(BASE + "/")
    ok(d.current_url == BASE + "/ui/", f"{who}: / leads to /ui/ ({d.current_url})")
    wait(d, EC.visibility_of_element_located((By.ID, "signin-token")))
    d.find_element(By.ID, "signin-token").send_keys(token)
    d.find_element(By.CSS_SELECTOR, "#signin-form button[type=submit]").click()
    wait(d, EC.visibility_of_element_located((By.ID, "app")))
    ok(who in d.find_element(By.ID, "who").text, f"{who}: signed in, the header names the user")


def token_hidden(d, token, who):
    seen = d.execute_script(
        "return [document.cookie, JSON.stringify(Object.assign({}, localStorage)),"
        " JSON.stringify(Object.assign({}, sessionStorage))];")
    ok(all(token not in s for s in seen),
       f"{who}: the API token is in neither document.cookie, localStorage nor sessionStorage")
    ok("signet_session" not in seen[0], f"{who}: the session cookie is not readable by scripts")
    c = [c for c in d.get_cookies() if c["name"] == "signet_session"]
    ok(len(c) == 1 and c[0].get("httpOnly") and c[0].get("sameSite") == "Strict",
       f"{who}: the session cookie is HttpOnly and SameSite=Strict ({c})")
    return c[0]["value"] if c else ""


def click(d, css):
    """Click what CSS names, scrolled to the middle of the window first: the notices stack up
    in the bottom corner, over what is at the bottom of the window."""
    e = d.find_element(By.CSS_SELECTOR, css)
    d.execute_script("arguments[0].scrollIntoView({block: 'center'})", e)
    e.click()


def dismiss_notices(d):
    """Close the notices a user has read (each with its own button)."""
    for b in d.find_elements(By.CSS_SELECTOR, "#notices .notice button"):
        try:
            if b.is_displayed():
                b.click()
        except StaleElementReferenceException:
            pass  # the notice went by itself meanwhile


def tab(d, name):
    d.find_element(By.ID, f"tab-{name}").click()


def create(d, kind, name, path, dc=None, secs=60):
    tab(d, "new")
    d.find_element(By.CSS_SELECTOR, f"input[name=kind][value={kind}]").click()
    dc = dc or E["DC"]
    try:
        wait(d, lambda d: dc in dc_options(d))
    except TimeoutException:
        shot(d, "99-no-devconf")
        raise TimeoutException(
            f"no option {dc} in #new-dc: {dc_options(d)}"
            f" url {d.current_url} app hidden {d.find_element(By.ID, 'app').get_attribute('hidden')}"
            f" signin error {d.find_element(By.ID, 'signin-error').text!r}"
            f" notices {d.find_element(By.ID, 'notices').text!r}"
            f" console {[l.get('message', '')[:200] for l in d.get_log('browser')][-5:]}")
    choose_dc(d, dc)
    d.find_element(By.ID, "new-name").send_keys(name)
    d.find_element(By.ID, "new-file").send_keys(path)
    return submit(d, name, secs)


def submit(d, name, secs=60):
    """Submit the new-task form; the new task's id and the page's status line once it is made."""
    before = d.find_element(By.ID, "new-status").text
    d.find_element(By.ID, "new-submit").click()
    # The status of the previous task stays until this one's answer replaces it.
    try:
        wait(d, lambda d: (lambda t: t.startswith("Task ") and " is " in t and t != before)(
            d.find_element(By.ID, "new-status").text), secs)
    except TimeoutException:
        shot(d, "99-no-new-task")
        why = d.execute_script(
            "return [...document.querySelectorAll('#new-form :invalid')].map((e) => e.id + ':' +"
            " e.validationMessage).join(', ') + ' disabled=' + document.getElementById('new-submit').disabled")
        raise TimeoutException(f"no new task for {name}: the page says "
                               f"{d.find_element(By.ID, 'new-status').text!r}; invalid: {why}")
    text = d.find_element(By.ID, "new-status").text
    return text.split()[1], text


LAST_STEP = -1


def totp(secret):
    """A code of a TOTP step newer than the last one used: the same step's code again would be
    refused as a replay (otp_replayed), so this waits, at most one step, for the next one."""
    global LAST_STEP
    end = time.time() + 35
    while int(time.time()) // 30 <= LAST_STEP and time.time() < end:
        time.sleep(0.2)
    first = int(time.time()) // 30
    code = subprocess.run(["oathtool", "--totp", "-b", secret], capture_output=True, text=True,
                          check=True).stdout.strip()
    LAST_STEP = max(first, int(time.time()) // 30)
    return code


def api(path):
    st, body = curl("-H", f"Authorization: Bearer {E['REQ_TOKEN']}", BASE + path)
    return json.loads(body) if st == "200" else {}


def new_download(dl, before, secs=120):
    """The first file of DL not in BEFORE once its download is complete, or None."""
    end = time.time() + secs
    while time.time() < end:
        files = [f for f in glob.glob(os.path.join(dl, "*"))
                 if f not in before and not f.endswith(".crdownload")]
        if files and not glob.glob(os.path.join(dl, "*.crdownload")):
            return files[0]
        time.sleep(0.2)
    return None


def open_task(d, tid):
    tab(d, "tasks")
    row = f'#task-rows tr[data-id="{tid}"]'
    wait(d, EC.presence_of_element_located((By.CSS_SELECTOR, row)))
    d.find_element(By.CSS_SELECTOR, row + " button").click()
    wait(d, lambda d: tid in d.find_element(By.ID, "details").text)


def expiry(req, dl):
    """An encryption result shows its time left, then, when signetd's task.expired event comes,
    that it is gone: no download button, the hash still there, and no reload of the page."""
    before = set(glob.glob(os.path.join(dl, "*")))
    tid, status = create(req, "encryptionTask", "small.bin", E["SMALL"], E["DC_ENC"])
    ok(any(w in status for w in ("CREATED", "IN_PROGRESS", "DONE")), f"a small encryption task was made ({status})")
    new_download(dl, before, 30)  # its automatic download, out of the way
    open_task(req, tid)
    wait(req, lambda d: "DONE" in d.find_element(By.ID, "details").text)
    rec = api(f"/api/v1/encryptionTask/{tid}")
    sha = (rec.get("result") or {}).get("sha256", "?")
    req.execute_script("window.__signetSamePage = 'yes';")
    try:
        wait(req, EC.visibility_of_element_located((By.ID, "details-ttl")), 30)
        left = req.find_element(By.ID, "details-ttl").text
    except TimeoutException:
        left = ""
    ttl = int(E["RESULT_TTL"])
    secs = [int(w) for w in left.split() if w.isdigit()]
    ok(left.endswith(" s left") and secs and 0 < secs[-1] <= ttl,
       f"the result shows its time left ({left!r}, result_ttl {ttl} s)")
    buttons = read_all(req, "#details-actions button")
    ok("Download result" in buttons, f"... and a download button while it is there ({buttons})")
    time.sleep(1.5)
    later = req.find_element(By.ID, "details-ttl").text
    ok(later != left, f"... the time left counts down ({left!r}, then {later!r})")
    shot(req, "07-result-time-left")
    try:
        wait(req, EC.visibility_of_element_located((By.ID, "details-expired")), ttl + 30)
        gone = req.find_element(By.ID, "details-expired").text
    except TimeoutException:
        gone = ""
    ok("no longer available" in gone, f"after result_ttl the details say the file is gone ({gone!r})")
    buttons = read_all(req, "#details-actions button")
    ok("Download result" not in buttons, f"... the download button is gone ({buttons})")
    ok(len(sha) == 64 and sha in req.find_element(By.ID, "details").text,
       f"... the result's sha256 stays visible ({sha})")
    ok(req.execute_script("return window.__signetSamePage || ''") == "yes",
       "... without a reload of the page (the task.expired event)")
    ok("has expired" in req.find_element(By.ID, "notices").text,
       "... and a notice says the result expired")
    rec = api(f"/api/v1/encryptionTask/{tid}")
    ok((rec.get("result") or {}).get("available") is False,
       f"... as the API says (available {(rec.get('result') or {}).get('available')})")
    shot(req, "08-result-expired")


def big_encryption(req, dl):
    """A large file encrypted through the page: the progress bar moves through the upload, and
    the automatic download decrypts, with openssl enc and the imported key, to the original."""
    big = E["BIG"]
    size = os.path.getsize(big)
    before = set(glob.glob(os.path.join(dl, "*")))
    tab(req, "new")
    # Every value the bar takes, as it takes it (value reflects the attribute).
    req.execute_script(
        "window.__signetProgress = [];"
        "const b = document.getElementById('new-progress');"
        "new MutationObserver(() => window.__signetProgress.push(Number(b.value)))"
        ".observe(b, {attributes: true, attributeFilter: ['value']});")
    t0 = time.time()
    tid, status = create(req, "encryptionTask", "big.bin", big, E["DC_ENC"], 300)
    took = time.time() - t0
    ok(any(w in status for w in ("CREATED", "IN_PROGRESS", "DONE")),
       f"a {size >> 20} MiB encryption task was made through the page in {took:.1f} s ({status})")
    seen = req.execute_script("return window.__signetProgress")
    ok(any(0 < v < 100 for v in seen) and seen[-1] == 100,
       f"... the progress bar moved through the upload to 100 ({len(seen)} values, "
       f"{sorted(set(seen))[:6]}...)")
    got = new_download(dl, before, 300)
    want = 16 * (size // 16 + 1) + 16  # AES256_CBC_PKCS7_PAD, IV appended (doc/formats.md)
    ok(got is not None and os.path.getsize(got) == want,
       f"... its result downloaded by itself ({got}, {os.path.getsize(got) if got else 0} bytes, "
       f"{want} expected) in {time.time() - t0:.1f} s")
    if not got:
        return
    with open(got, "rb") as f:
        f.seek(-16, os.SEEK_END)
        iv = f.read(16).hex()
    ct = got + ".ct"
    subprocess.run(["head", "-c", str(os.path.getsize(got) - 16), got], stdout=open(ct, "wb"),
                   check=True)
    out = got + ".dec"
    d = subprocess.run(["openssl", "enc", "-d", "-aes-256-cbc", "-K", E["AES_KEY"], "-iv", iv,
                        "-in", ct, "-out", out], capture_output=True, text=True)
    c = subprocess.run(["cmp", big, out], capture_output=True, text=True)
    ok(d.returncode == 0 and c.returncode == 0,
       f"... openssl enc -d with the imported key and the appended IV gives the original back "
       f"({d.stderr.strip()[:200]} {c.stdout.strip()[:200]})")
    for f in (ct, out):
        os.unlink(f)


def sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def segment_names(d):
    return read_all(d, "#pkg-files li", lambda e: e.get_attribute("data-name"))


def packaging(req, apr, dl):
    """A package of two firmware files and metadata, made through the page for the four-eyes
    configuration with a packaging key: the segments chosen (one dropped, removed, one moved up),
    the approver's inbox shows each segment's name and sha256, the cipher, the metadata and the
    header's sha256, approves with a TOTP code, and the requester's page downloads the package by
    itself, which signet-verify accepts with the packaging key's public key and decrypts."""
    a, b, meta = E["PKG_A"], E["PKG_B"], E["PKG_META"]
    name = "release-2.0"
    before = set(glob.glob(os.path.join(dl, "*")))
    tab(req, "new")
    req.find_element(By.CSS_SELECTOR, "input[name=kind][value=packagingTask]").click()
    wait(req, lambda d: d.find_element(By.ID, "pkg-fields").is_displayed())
    # The list of every configuration (the tab's) is replaced by the packaging one when it arrives.
    try:
        wait(req, lambda d: dc_options(d) == [E["DC_PKG"]])
    except TimeoutException:
        pass
    ok(dc_options(req) == [E["DC_PKG"]],
       f"the packaging form offers only the configurations with a packaging key ({dc_options(req)})")
    choose_dc(req, E["DC_PKG"])
    req.find_element(By.ID, "new-name").send_keys(name)
    # A file dropped on the form becomes a segment, as a chosen one does.
    req.execute_script(
        "const t = new DataTransfer(); t.items.add(new File(['dropped'], 'dropped.bin'));"
        "const z = document.getElementById('new-drop');"
        "for (const k of ['dragover', 'drop'])"
        "  z.dispatchEvent(new DragEvent(k, {dataTransfer: t, bubbles: true, cancelable: true}));")
    wait(req, lambda d: segment_names(d) == ["dropped.bin"])
    ok(True, "a file dropped on the form is listed as a segment")
    for path in (b, a):
        req.find_element(By.ID, "new-file").send_keys(path)
    an, bn = os.path.basename(a), os.path.basename(b)
    wait(req, lambda d: len(segment_names(d)) == 3)
    ok(segment_names(req) == ["dropped.bin", bn, an],
       f"... chosen files are added after it, in the order chosen ({segment_names(req)})")
    req.find_element(By.CSS_SELECTOR, '#pkg-files li[data-name="dropped.bin"] button[aria-label^=Remove]').click()
    req.find_element(By.CSS_SELECTOR, f'#pkg-files li[data-name="{an}"] button[aria-label^="Move"]').click()
    ok(segment_names(req) == [an, bn],
       f"... the dropped one removed and {an} moved up: the package's order ({segment_names(req)})")
    req.find_element(By.ID, "new-metadata").send_keys(meta)
    dismiss_notices(req)
    req.execute_script("document.getElementById('new-drop').scrollIntoView({block: 'start'})")
    shot(req, "13-requester-package-form")
    tid, status = submit(req, name)
    ok("WAITING" in status, f"the packaging task was made and waits for approval ({status})")
    ok(req.find_element(By.ID, "new-progress").get_attribute("value") == "100",
       "... its upload's progress bar reached 100")
    rec = api(f"/api/v1/packagingTask/{tid}")
    pk = rec.get("packaging") or {}
    ins = [[i.get("name"), i.get("role"), i.get("sha256")] for i in rec.get("inputs", [])]
    want = [[an, "firmware", sha256(a)], [bn, "firmware", sha256(b)], ["metadata", "metadata", sha256(meta)]]
    ok(ins == want, f"... the API has the two files in that order and the metadata ({ins})")
    open_task(req, tid)
    det = req.find_element(By.ID, "details").text
    ok("Segments (2)" in det and sha256(a) in det and sha256(b) in det,
       "the requester's details show the package's two segments with their sha256")

    tab(apr, "inbox")
    item = f'#inbox article[data-id="{tid}"]'
    try:
        wait(apr, EC.visibility_of_element_located((By.CSS_SELECTOR, item)), 30)
    except TimeoutException:
        ok(False, "the approver's inbox holds the packaging task")
        shot(apr, "99-approver-no-package")
        return
    rows = read_all(apr, item + " tr.segment")
    segs = pk.get("segmentSha256") or ["?", "?"]
    ok(len(rows) == 2 and rows[0].startswith(f"0 {an}") and sha256(a) in rows[0] and segs[0] in rows[0]
       and rows[1].startswith(f"1 {bn}") and sha256(b) in rows[1] and segs[1] in rows[1],
       f"the approver's inbox shows both segments: name, the file's sha256, the stored segment's ({rows})")
    text = apr.find_element(By.CSS_SELECTOR, item).text
    cipher = (rec.get("encryption") or {}).get("cipher", "?")
    header = (pk.get("header") or {}).get("sha256", "?")
    with open(meta) as f:
        meta_text = f.read().strip()
    ok(f"Cipher\n{cipher}" in text and f"sha256 {header}" in text and meta_text in text
       and sha256(meta) in text,
       f"... the cipher ({cipher}), the header's sha256 ({header[:12]}...) and the metadata's text")
    dismiss_notices(apr)
    apr.execute_script("document.querySelector(arguments[0]).scrollIntoView({block: 'start'})", item)
    shot(apr, "14-approver-package")
    apr.find_element(By.CSS_SELECTOR, item + " input[autocomplete=one-time-code]").send_keys(totp(E["APR_SECRET"]))
    click(apr, item + " button.approve")
    try:
        wait(apr, lambda d: f"Approved “{name}”" in d.find_element(By.ID, "notices").text)
        ok(True, "the approver's approval of the package was taken")
    except TimeoutException:
        ok(False, "the approver's approval of the package was taken: "
           + apr.find_element(By.CSS_SELECTOR, item + " p.error").text)
        return

    try:
        wait(req, lambda d: f"“{name}” (PACKAGING) is now DONE" in d.find_element(By.ID, "notices").text, 60)
        ok(True, "the requester's page shows the package's DONE notification")
    except TimeoutException:
        ok(False, "the requester's page shows the package's DONE notification: "
           + req.find_element(By.ID, "notices").text)
    got = new_download(dl, before, 60)
    done = api(f"/api/v1/packagingTask/{tid}")
    ok(got is not None and os.path.basename(got) == f"{name}.pkg"
       and sha256(got) == (done.get("result") or {}).get("sha256"),
       f"the package downloaded by itself as {name}.pkg, the result's sha256 ({got})")
    if not got:
        return
    out = os.path.join(E["TMP"], "pkg.verified")
    v = subprocess.run([E["SIGNET_VERIFY"], "--pubkey", E["PKG_PUB"], "--key", E["AES_RAW"], "-o", out, got],
                       capture_output=True, text=True)
    same = all(os.path.exists(os.path.join(out, n)) and sha256(os.path.join(out, n)) == sha256(f)
               for n, f in (("segment-000", a), ("segment-001", b), ("metadata", meta)))
    ok(v.returncode == 0 and v.stdout.strip().endswith("OK") and same,
       f"signet-verify accepts the package with the packaging key's public key, and decrypts the two "
       f"files and the metadata ({v.returncode} {v.stderr.strip()[:200]})")
    v = subprocess.run([E["SIGNET_VERIFY"], "-q", "--pubkey", E["PUBKEY"], got], capture_output=True, text=True)
    ok(v.returncode != 0, f"... and refuses it under another public key, the signing key's ({v.returncode})")
    tab(req, "tasks")


def officer_views(off, req, dl):
    """The officer's read-only views: configurations with keys, approvers and policy; keys with
    the public key's download; the audit log in pages, and its verification."""
    sign_in(off, E["ADM_TOKEN"], E["ADM_USER"])
    tab(off, "configs")
    row = f'#dc-list tr[data-id="{E["DC"]}"] button'
    wait(off, EC.element_to_be_clickable((By.CSS_SELECTOR, row)))
    ok(E["DC_ENC"] in off.find_element(By.ID, "dc-list").text,
       "configurations: both device configurations are listed")
    off.find_element(By.CSS_SELECTOR, row).click()
    wait(off, lambda d: E["DC"] in d.find_element(By.ID, "dc-details").text)
    text = off.find_element(By.ID, "dc-details").text
    ok(E["DC_NAME"] in text and "fw" in text.split("Signing keys", 1)[-1].split("\n")[1]
       and f"Approvers\nUSER:{E['APR_USER']}" in text and f"Users\nUSER:{E['REQ_USER']}" in text
       and "TOTP" in text and "yes, quorum" in text,
       f"... its details show the signing key, users, approvers and the policy ({text[:400]!r})")
    ok(not off.find_elements(By.CSS_SELECTOR, "#dc-details input, #dc-details form"),
       "... read-only: nothing to edit")
    shot(off, "09-officer-configs")

    tab(off, "keys")
    wait(off, EC.presence_of_element_located((By.CSS_SELECTOR, '#key-list tr[data-label="fw"]')))
    ok(not off.find_elements(By.CSS_SELECTOR, '#key-list tr[data-label="enc"] button.pubkey'),
       "keys: the AES key has no public key to download")
    before = set(glob.glob(os.path.join(dl, "*")))
    off.find_element(By.CSS_SELECTOR, '#key-list tr[data-label="fw"] button.pubkey').click()
    got = new_download(dl, before, 30)
    same = False
    if got:
        with open(got) as a, open(E["PUBKEY"]) as b:
            same = a.read().strip() == b.read().strip()
    ok(got is not None and got.endswith("fw.pub.pem") and same,
       f"... the signing key's public key downloads, the same PEM as signetctl's ({got})")
    shot(off, "10-officer-keys")

    tab(off, "audit")
    wait(off, EC.visibility_of_element_located((By.CSS_SELECTOR, "#audit-rows tr")))
    first = read_all(off, "#audit-rows tr", lambda e: e.get_attribute("data-seq"))
    # A page of 25 holds 25 entries, checkpoints among them or not (the chain is longer).
    ok(len(first) == 25 and first == [str(i) for i in range(1, 26)]
       and off.find_element(By.ID, "audit-next").is_enabled()
       and not off.find_element(By.ID, "audit-prev").is_enabled(),
       f"audit log: a first page of 25 entries, seq 1 to 25, Next on, Previous off ({first[:3]}... {len(first)})")
    off.find_element(By.ID, "audit-next").click()
    wait(off, lambda d: d.find_element(By.ID, "audit-page").text == "Page 2")
    wait(off, lambda d: d.find_elements(By.CSS_SELECTOR, "#audit-rows tr")
         and d.find_element(By.CSS_SELECTOR, "#audit-rows tr").get_attribute("data-seq") not in first)
    second = read_all(off, "#audit-rows tr", lambda e: e.get_attribute("data-seq"))
    ok(second and not set(second) & set(first) and off.find_element(By.ID, "audit-prev").is_enabled(),
       f"... Next shows the next entries ({first[:1]}..{first[-1:]} then {second[:1]}..{second[-1:]})")
    off.find_element(By.ID, "audit-prev").click()
    wait(off, lambda d: d.find_element(By.ID, "audit-page").text == "Page 1")
    wait(off, lambda d: d.find_element(By.CSS_SELECTOR, "#audit-rows tr").get_attribute("data-seq") == first[0])
    ok(True, "... and Previous the first page again")
    off.find_element(By.ID, "audit-verify").click()
    wait(off, lambda d: d.find_element(By.ID, "audit-verify-result").text not in ("", "Verifying…"), 60)
    v = off.find_element(By.ID, "audit-verify-result").text
    ok(v.startswith("Verified: chain ") and " entries" in v,
       f"... Verify the chain (audit.verify through POST /api/v1/auditlog/verify) says so ({v})")
    shot(off, "11-officer-audit")

    # What the ACL refuses is said: the requester's own rights, as the API answers them.
    st, _ = curl("-H", f"Authorization: Bearer {E['REQ_TOKEN']}", BASE + "/api/v1/auditlog?size=1")
    tab(req, "audit")
    if st == "403":
        wait(req, lambda d: "do not let you see" in d.find_element(By.ID, "audit-denied").text)
        ok(not req.find_element(By.ID, "audit-table").is_displayed(),
           "the requester, without the right, is told so in the audit view (no entries)")
    else:
        wait(req, EC.visibility_of_element_located((By.CSS_SELECTOR, "#audit-rows tr")))
        ok(True, f"the requester may read the audit log ({st}) and sees it")
    tab(req, "tasks")


def otp_enrollment(req):
    """The requester enrolls an authenticator: the front's SVG QR code of the otpauth URI."""
    tab(req, "settings")
    req.find_element(By.ID, "otp-enroll").click()
    try:
        wait(req, EC.visibility_of_element_located((By.ID, "otp-qr")), 30)
    except TimeoutException:
        ok(False, f"otp: the QR code is shown ({req.find_element(By.ID, 'otp-error').text})")
        return
    secret = req.find_element(By.ID, "otp-secret").text
    n = int(req.find_element(By.ID, "otp-qr").get_attribute("data-modules") or 0)
    d = req.execute_script("return document.querySelector('#otp-qr path').getAttribute('d')")
    dark = set()
    for cmd in d.split("M")[1:]:
        x, rest = cmd.split(" ", 1)
        dark.add((int(x) - 4, int(rest.split("h", 1)[0]) - 4))
    finder = all(((x, y) in dark) == (x in (0, 6) or y in (0, 6) or (2 <= x <= 4 and 2 <= y <= 4))
                 for x in range(7) for y in range(7))
    ok(req.execute_script("return document.getElementById('otp-qr') instanceof SVGSVGElement")
       and n >= 21 and (n - 21) % 4 == 0 and finder and len(dark) > n * n // 4,
       f"otp: the enrollment shows the front's SVG QR code ({n}x{n} modules, finder pattern {finder})")
    ok(len(secret) == 32 and all(c in "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567" for c in secret),
       "... and the base32 secret")
    code = subprocess.run(["oathtool", "--totp", "-b", secret], capture_output=True, text=True)
    ok(code.returncode == 0 and len(code.stdout.strip()) == 6, "... which oathtool takes")
    with open(os.path.join(E["TMP"], "otp.secret"), "w") as f:
        f.write(secret)
    shot(req, "12-otp-enrolled")
    req.find_element(By.ID, "otp-enroll").click()
    wait(req, lambda d: d.find_element(By.ID, "otp-error").text != "")
    ok("enrolled already" in req.find_element(By.ID, "otp-error").text
       and not req.find_elements(By.ID, "otp-qr"),
       f"... a second enrollment is refused in words ({req.find_element(By.ID, 'otp-error').text})")
    tab(req, "tasks")


def curl(*args):
    r = subprocess.run(["curl", "-sS", "-o", "/dev/stderr", "-w", "%{http_code}", *args],
                       capture_output=True, text=True)
    return r.stdout.strip(), r.stderr


def main():
    fw = E["FIRMWARE"]
    dl = E["DOWNLOADS"]
    req = browser("requester", dl)
    apr = browser("approver")
    try:
        run(req, apr, fw, dl)
    finally:
        req.quit()
        apr.quit()


def run(req, apr, fw, dl):
    # The requester signs in and uploads a firmware for the four-eyes configuration.
    sign_in(req, E["REQ_TOKEN"], E["REQ_USER"])
    cookie = token_hidden(req, E["REQ_TOKEN"], "requester")
    tid, status = create(req, "signingTask", "fw-1.0.bin", fw)
    ok("WAITING" in status, f"the signing task was made and waits for approval ({status})")
    ok(req.find_element(By.ID, "new-progress").get_attribute("value") == "100",
       "the upload's progress bar reached 100")
    tab(req, "tasks")
    row = f'#task-rows tr[data-id="{tid}"]'
    wait(req, EC.presence_of_element_located((By.CSS_SELECTOR, row)))
    ok("WAITING" in req.find_element(By.CSS_SELECTOR, row).text, "the task list shows it WAITING")
    req.find_element(By.CSS_SELECTOR, row + " button").click()
    wait(req, EC.visibility_of_element_located((By.ID, "details")))
    wait(req, lambda d: E["FW_SHA256"] in d.find_element(By.ID, "details").text)
    ok(True, "the details show the input's sha256")
    shot(req, "01-requester-waiting")

    # The approver, in a browser of their own, sees it in the inbox and approves with a code.
    sign_in(apr, E["APR_TOKEN"], E["APR_USER"])
    token_hidden(apr, E["APR_TOKEN"], "approver")
    tab(apr, "inbox")
    item = f'#inbox article[data-id="{tid}"]'
    try:
        wait(apr, EC.visibility_of_element_located((By.CSS_SELECTOR, item)))
        found = True
    except TimeoutException:
        found = False
    ok(found, "the approver's inbox holds the task")
    if not found:
        shot(apr, "02-approver-inbox-missing")
        return
    text = apr.find_element(By.CSS_SELECTOR, item).text
    ok(E["FW_SHA256"] in text, "the inbox shows the input's sha256")
    ok(f"USER:{E['REQ_USER']}" in text and "fw-1.0.bin" in text and E["DC_NAME"] in text,
       "... the requester, the name and the device configuration")
    otp = apr.find_element(By.CSS_SELECTOR, item + " input[autocomplete=one-time-code]")
    otp.send_keys("000000")
    apr.find_element(By.CSS_SELECTOR, item + " button.approve").click()
    wait(apr, lambda d: d.find_element(By.CSS_SELECTOR, item + " p.error").text != "")
    msg = apr.find_element(By.CSS_SELECTOR, item + " p.error").text
    ok("code is wrong" in msg, f"a wrong code is refused in words ({msg})")
    shot(apr, "02-approver-refused")
    otp.clear()
    # The wrong code above is no replay; totp() waits for a step of which no code was used.
    otp.send_keys(totp(E["APR_SECRET"]))
    apr.find_element(By.CSS_SELECTOR, item + " button.approve").click()
    wait(apr, lambda d: "Approved" in d.find_element(By.ID, "notices").text)
    ok(True, "the approver's approval was taken")
    shot(apr, "03-approver-approved")

    # The requester's page is told, and the signature downloads by itself.
    try:
        wait(req, lambda d: "is now DONE" in d.find_element(By.ID, "notices").text, 60)
        ok(True, "the requester's page shows the DONE notification")
    except TimeoutException:
        ok(False, "the requester's page shows the DONE notification: "
           + req.find_element(By.ID, "notices").text)
    sig = None
    for _ in range(300):
        files = [f for f in glob.glob(os.path.join(dl, "*")) if not f.endswith(".crdownload")]
        if files:
            sig = files[0]
            break
        time.sleep(0.1)
    ok(sig is not None and sig.endswith(".sig"), f"the signature downloaded by itself ({sig})")
    shot(req, "04-requester-done")
    if sig:
        v = subprocess.run(["openssl", "dgst", "-sha256", "-verify", E["PUBKEY"], "-signature",
                            sig, fw], capture_output=True, text=True)
        ok(v.returncode == 0 and "Verified OK" in v.stdout,
           f"openssl verifies the downloaded signature ({v.stdout.strip()} {v.stderr.strip()})")

    # A hostile task name is shown as text.
    evil = "<img src=x onerror=alert(1)>"
    eid, _ = create(req, "signingTask", evil, fw)
    tab(req, "tasks")
    erow = f'#task-rows tr[data-id="{eid}"]'
    wait(req, EC.presence_of_element_located((By.CSS_SELECTOR, erow)))
    ok(req.find_element(By.CSS_SELECTOR, erow + " button").text == evil,
       "the name <img src=x onerror=alert(1)> is shown as text")
    ok(req.execute_script("return document.querySelectorAll('img').length") == 0,
       "... and no img element was made of it")
    tab(apr, "inbox")
    apr.find_element(By.ID, "refresh").click() if apr.find_element(By.ID, "refresh").is_displayed() else None
    wait(apr, EC.presence_of_element_located((By.CSS_SELECTOR, f'#inbox article[data-id="{eid}"] h3')), 30)
    ok(apr.find_element(By.CSS_SELECTOR, f'#inbox article[data-id="{eid}"] h3').text == evil
       and apr.execute_script("return document.querySelectorAll('img').length") == 0,
       "... in the approver's inbox too")
    alert = True
    try:
        req.switch_to.alert
    except NoAlertPresentException:
        alert = False
    ok(not alert, "no script of the name ran (no alert)")
    shot(apr, "05-approver-hostile-name")

    # A cross-site style POST: the cookie without the CSRF header is refused.
    st, body = curl("-X", "POST", "-H", f"Cookie: signet_session={cookie}",
                    f"{BASE}/api/v1/signingTask/{eid}/cancel")
    ok(st == "403" and json.loads(body or "{}").get("code") == "denied",
       f"a POST with the cookie but without X-CSRF-Token is refused 403 ({st} {body})")
    st, body = curl("-X", "POST", "-H", f"Cookie: signet_session={cookie}", "-H",
                    "X-CSRF-Token: " + "A" * 43, f"{BASE}/api/v1/signingTask/{eid}/cancel")
    ok(st == "403", f"... and with a wrong one ({st})")
    st, body = curl("-H", f"Cookie: signet_session={cookie}", f"{BASE}/api/v1/signingTask/{eid}")
    ok(st == "200" and json.loads(body).get("status") == "WAITING",
       f"... the task was left alone; a GET with the cookie reads it ({st})")

    packaging(req, apr, dl)
    big_encryption(req, dl)
    expiry(req, dl)
    off = browser("officer", dl)
    try:
        officer_views(off, req, dl)
    finally:
        off.quit()

    otp_enrollment(req)

    # Narrow window.
    req.set_window_size(420, 800)
    tab(req, "tasks")
    shot(req, "06-requester-narrow")
    ok(req.execute_script("return document.documentElement.scrollWidth <= window.innerWidth + 1"),
       "a narrow window (420 px) needs no horizontal scrolling of the page")
    req.set_window_size(1280, 800)

    # Sign-out ends the session: the cookie is worth nothing afterwards.
    req.find_element(By.ID, "signout").click()
    wait(req, EC.visibility_of_element_located((By.ID, "signin-token")))
    st, body = curl("-H", f"Cookie: signet_session={cookie}", f"{BASE}/api/v1/whoami")
    ok(st == "401", f"after sign-out the old cookie is refused ({st})")
    logs = [l for l in req.get_log("browser") if "Content Security Policy" in l.get("message", "")]
    ok(not logs, f"no CSP violation was reported in the console ({logs[:2]})")


if __name__ == "__main__":
    try:
        main()
    except Exception as e:  # a step that could not be made
        import traceback
        FAILS += 1
        where = " < ".join(f"{f.name}:{f.lineno}" for f in reversed(traceback.extract_tb(e.__traceback__)))
        print(f"not ok - the browser run stopped: {type(e).__name__}: {str(e)[:400]} at {where}", flush=True)
    sys.exit(1 if FAILS else 0)
