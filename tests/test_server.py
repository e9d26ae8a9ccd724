"""The transcription server: the HTTP API in-process (FastAPI's test client), hostile uploads, the bearer token,
one forward pass at a time, and the web page in a real browser (Debian's Chromium driven by Selenium) against a
live server started with mindaudio-serve."""
import io
import os
import shutil
import socket
import struct
import subprocess
import sys
import threading
import time

import numpy as np
import pytest
import soundfile

from mindaudio.data.manifest import read_manifest
from tests.helpers import REPO
CHROMIUM, CHROMEDRIVER = shutil.which("chromium"), shutil.which("chromedriver")


@pytest.fixture(scope="module")
def recognizer(chatty_checkpoint):
    from mindaudio import Recognizer
    return Recognizer.from_checkpoint(chatty_checkpoint)


@pytest.fixture(scope="module")
def sample(tiny_run, batch_results):
    """A test_clean file with a non-empty greedy hypothesis (eval.py's) and its bytes."""
    hyps = {r["id"]: r["hyp"] for r in batch_results[32]}
    entry = max(read_manifest(tiny_run["test_clean"])[:12], key=lambda e: len(hyps[e["id"]]))
    with open(entry["audio_filepath"], "rb") as f:
        return {"path": entry["audio_filepath"], "hyp": hyps[entry["id"]], "bytes": f.read()}


def client_for(recognizer, **kwargs):
    from fastapi.testclient import TestClient
    from mindaudio.serving.app import Limits, create_app
    limits = Limits(kwargs.pop("max_upload_mb", 2.0), kwargs.pop("max_seconds", 60.0))
    return TestClient(create_app(recognizer, limits=limits, **kwargs), base_url="http://127.0.0.1")


def post(client, data, name="a.wav", **kw):
    return client.post("/transcribe", files={"audio": (name, data, "application/octet-stream")}, **kw)


def test_transcribe_endpoint(recognizer, sample):
    client = client_for(recognizer)
    health = client.get("/health").json()
    assert health["status"] == "ok" and health["decoders"] == ["greedy"]
    r = post(client, sample["bytes"])
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["text"] == sample["hyp"] and body["decoder"] == "greedy"
    assert set(body) == {"text", "words", "duration", "decoder"}
    assert [w["word"] for w in body["words"]] == body["text"].split()
    assert all(set(w) == {"word", "start", "end", "confidence"} for w in body["words"])
    audio, sr = soundfile.read(io.BytesIO(sample["bytes"]), dtype="float32")
    import librosa
    stereo44 = io.BytesIO()                                        # another rate, two channels, another format
    soundfile.write(stereo44, np.stack([librosa.resample(audio, orig_sr=sr, target_sr=44100)] * 2, axis=1), 44100,
                    format="FLAC")
    r = post(client, stereo44.getvalue(), "b.flac")
    assert r.status_code == 200 and r.json()["duration"] == pytest.approx(len(audio) / sr, abs=0.01)
    assert post(client, sample["bytes"], params={"decoder": "beam"}).status_code == 400   # not offered here
    assert client.get("/").status_code == 200 and "<title>DeepSpeech2 transcription</title>" in client.get("/").text


def _wav_header(frames, rate=16000):
    return b"RIFF" + struct.pack("<I", 36 + 2 * frames) + b"WAVEfmt " + struct.pack("<IHHIIHH", 16, 1, 1, rate,
                                                                                    2 * rate, 2, 16) \
        + b"data" + struct.pack("<I", 2 * frames)


def test_hostile_uploads_get_4xx_and_the_server_keeps_working(recognizer, sample):
    client = client_for(recognizer, max_upload_mb=1.0, max_seconds=30.0)
    flac = io.BytesIO()
    soundfile.write(flac, np.zeros(16000 * 3600, np.float32), 16000, format="FLAC")   # an hour of silence, ~180 kB
    truncated_flac = io.BytesIO()
    soundfile.write(truncated_flac, np.random.default_rng(0).normal(0, 0.1, 16000).astype(np.float32), 16000,
                    format="FLAC")
    cases = {
        "not audio": (b"<html>this is not audio</html>" * 20, 415),
        "empty": (b"", 400),
        "truncated wav": (sample["bytes"][:len(sample["bytes"]) // 2], 415),
        "truncated flac": (truncated_flac.getvalue()[:len(truncated_flac.getvalue()) // 2], 415),
        "header claims 2 GB": (_wav_header(2 ** 30) + b"\0" * 1000, 415),
        "an hour of compressed silence": (flac.getvalue(), 413),
        "upload over the size limit": (b"\0" * (1024 * 1024 + 10), 413),
    }
    for name, (data, status) in cases.items():
        start = time.time()
        r = post(client, data)
        assert r.status_code == status, (name, r.status_code, r.text)
        assert r.json()["detail"] and time.time() - start < 10, name
    assert client.get("/health").status_code == 200
    assert post(client, sample["bytes"]).json()["text"] == sample["hyp"]   # still serving


def test_token_guards_everything_but_health(recognizer, sample):
    client = client_for(recognizer, token="s3cret")
    assert client.get("/health").status_code == 200
    assert post(client, sample["bytes"]).status_code == 401
    assert post(client, sample["bytes"], headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert post(client, sample["bytes"], headers={"Authorization": "Bearer s3cret"}).status_code == 200
    assert client.get("/").status_code == 401
    r = client.get("/?token=s3cret", follow_redirects=False)                  # the page: once by URL, then a cookie
    assert r.status_code == 303 and "httponly" in r.headers["set-cookie"].lower()
    assert "samesite=strict" in r.headers["set-cookie"].lower()
    assert client.get("/").status_code == 200 and post(client, sample["bytes"]).status_code == 200


def test_without_a_token_only_its_own_host_and_pages(recognizer, sample):
    """No token: a request that names another host (DNS rebinding: a page elsewhere resolving its own name to
    127.0.0.1) or comes from another site's page is refused, websockets included; the server's own page works."""
    from fastapi.testclient import TestClient
    from mindaudio.serving.app import create_app
    from starlette.websockets import WebSocketDisconnect
    app = create_app(recognizer)
    rebound = TestClient(app, base_url="http://attacker.example:8000")
    assert rebound.get("/").status_code == 403 and rebound.get("/health").status_code == 403
    assert post(rebound, sample["bytes"]).status_code == 403
    own = TestClient(app, base_url="http://127.0.0.1:8000")
    assert own.get("/").status_code == 200 and own.get("/health").json()["kind"] == "bidirectional"
    cross = {"Origin": "http://attacker.example"}
    assert post(own, sample["bytes"], headers=cross).status_code == 403
    assert post(own, sample["bytes"], headers={"Origin": "http://127.0.0.1:8000"}).status_code == 200
    with pytest.raises(WebSocketDisconnect):                  # (the test client's websockets name host testserver)
        with own.websocket_connect("/stream", headers={"Host": "127.0.0.1:8000", **cross}):
            pass
    with own.websocket_connect("/stream", headers={"Host": "127.0.0.1:8000", "Origin": "http://127.0.0.1:8000"}) as ws:
        assert "bidirectional" in ws.receive_json()["error"]     # its own page gets in (and learns it cannot stream)
    for host in ("localhost:8000", "[::1]:8000"):
        assert own.get("/health", headers={"Host": host}).status_code == 200
    with_token = TestClient(create_app(recognizer, token="s3cret"), base_url="http://asr.example.org")
    assert post(with_token, sample["bytes"], headers={"Authorization": "Bearer s3cret"}).status_code == 200


def test_one_forward_pass_at_a_time(recognizer, sample):
    """Concurrent requests queue for the single inference thread."""
    spans, lock = [], threading.Lock()
    real = recognizer.transcribe_audio

    class Slow:
        sample_rate, source = recognizer.sample_rate, recognizer.source

        def transcribe_audio(self, audio, decoder=None):
            start = time.time()
            result = real(audio, decoder)
            time.sleep(0.2)
            with lock:
                spans.append((start, time.time()))
            return result
    client = client_for(Slow())
    results = []
    threads = [threading.Thread(target=lambda: results.append(post(client, sample["bytes"]))) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [r.status_code for r in results] == [200] * 4 and len(spans) == 4
    spans.sort()
    assert all(a[1] <= b[0] for a, b in zip(spans, spans[1:]))   # never two at once


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def live_server(chatty_checkpoint):
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "mindaudio.cli.serve", "--checkpoint", chatty_checkpoint, "--port",
                             str(port)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=REPO)
    import httpx
    deadline = time.time() + 120
    while time.time() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                break
        except httpx.TransportError:
            time.sleep(0.3)
        assert proc.poll() is None, proc.stdout.read()
    yield f"http://127.0.0.1:{port}"
    proc.terminate()
    proc.wait(timeout=30)


@pytest.mark.slow
@pytest.mark.skipif(not (CHROMIUM and CHROMEDRIVER), reason="needs Debian's chromium and chromium-driver")
def test_web_page_in_a_real_browser(live_server, sample):
    """Chromium opens the page, a demo wav is chosen in its file input, and the transcript shown is eval.py's."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    try:
        driver.get(live_server + "/")
        assert driver.title == "DeepSpeech2 transcription"
        WebDriverWait(driver, 20).until(lambda d: "bidirectional" in d.find_element(By.ID, "model").text)
        assert "best.ckpt" in driver.find_element(By.ID, "model").text               # which model is served
        assert not driver.find_element(By.ID, "live-choice").is_displayed()           # no live mode for it
        driver.find_element(By.ID, "file").send_keys(sample["path"])
        WebDriverWait(driver, 60).until(
            lambda d: d.find_element(By.ID, "transcript").get_attribute("data-text") is not None
            or "Error" in d.find_element(By.ID, "status").text)
        assert "Error" not in driver.find_element(By.ID, "status").text, driver.find_element(By.ID, "status").text
        assert driver.find_element(By.ID, "transcript").get_attribute("data-text") == sample["hyp"]
        words = driver.find_elements(By.CSS_SELECTOR, "#transcript span")
        assert [w.text for w in words] == sample["hyp"].split()
        assert all(float(w.get_attribute("data-end")) > float(w.get_attribute("data-start")) for w in words)
    finally:
        driver.quit()
