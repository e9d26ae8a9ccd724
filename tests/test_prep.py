"""LibriSpeech preparation: conversion, problem reporting, idempotence, resumable download, crash safety."""
import hashlib
import http.server
import json
import os
import shutil
import signal
import subprocess
import sys
import tarfile
import threading
import time

import numpy as np
import pytest
import soundfile as sf

from mindaudio.prep import librispeech as ls

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPT = ["-m", "mindaudio.cli.prepare"]


# ----------------------------------------------------------------------------------------------- fixtures

def _tone(seconds, sr, channels=1, seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(int(round(seconds * sr))) / sr
    x = 0.3 * np.sin(2 * np.pi * (200 + 20 * seed) * t) + 0.02 * rng.standard_normal(len(t))
    return np.stack([x, 0.5 * x], axis=1) if channels == 2 else x


def _chapter(root, subset, spk, chap, utts, trans_lines):
    """utts: {utt_no: (seconds, sr, channels)}; trans_lines: raw lines of the chapter's trans.txt."""
    d = os.path.join(root, "LibriSpeech", subset, str(spk), str(chap))
    os.makedirs(d, exist_ok=True)
    for no, (seconds, sr, ch) in utts.items():
        sf.write(os.path.join(d, f"{spk}-{chap}-{no:04d}.flac"), _tone(seconds, sr, ch, seed=no), sr,
                 format="FLAC", subtype="PCM_16")
    with open(os.path.join(d, f"{spk}-{chap}.trans.txt"), "w") as f:
        f.write("".join(line + "\n" for line in trans_lines))
    return d


def build_tree(root):
    """dev-clean: 5 good utterances (one with apostrophes); train-clean-100: every kind of problem."""
    _chapter(root, "dev-clean", 84, 121123, {i: (0.5 + 0.1 * i, 16000, 1) for i in range(5)},
             ["84-121123-0000 HELLO WORLD", "84-121123-0001 GOOD   MORNING  ", "84-121123-0002 A B C",
              "84-121123-0003 SPEECH", "84-121123-0004 IT'S A DOG'S LIFE"])
    d = _chapter(root, "train-clean-100", 19, 198,
                 {0: (0.6, 16000, 1), 1: (0.7, 16000, 1), 2: (0.8, 16000, 1), 3: (0.9, 16000, 1),
                  5: (1.3, 44100, 2), 6: (0.5, 16000, 1), 8: (0.5, 16000, 1)},
                 ["19-198-0000 NORTHANGER ABBEY", "19-198-0001 CHAPTER ONE", "19-198-0002 NO ONE WHO HAD EVER",
                  "19-198-0003 SEEN CATHERINE MORLAND", "19-198-0004 CORRUPT AUDIO HERE",
                  "19-198-0005 STEREO AND FAST", "19-198-0006", "19-198-0007 THIS LINE HAS NO AUDIO"])
    with open(os.path.join(d, "19-198-0004.flac"), "wb") as f:  # not a FLAC at all
        f.write(np.random.default_rng(7).bytes(5000))
    _chapter(root, "train-clean-100", 19, 227, {0: (0.5, 16000, 1), 1: (1.0, 16000, 1)},
             ["19-227-0000 THE END", "19-227-0001 WE'LL SEE"])


VAL_IDS = [f"84-121123-{i:04d}" for i in range(5)]
TRAIN_IDS = ["19-198-0000", "19-198-0001", "19-198-0002", "19-198-0003", "19-198-0005", "19-227-0000", "19-227-0001"]
TRAIN_SKIPPED = {"19-198-0004": "corrupt_audio", "19-198-0006": "empty_transcript",
                 "19-198-0007": "missing_audio", "19-198-0008": "missing_transcript"}


def make_tarball(root, subset, dest):
    with tarfile.open(dest, "w:gz") as tar:
        tar.add(os.path.join(root, "LibriSpeech", subset), arcname=f"LibriSpeech/{subset}")
    return hashlib.sha256(open(dest, "rb").read()).hexdigest()


def read_lines(path):
    with open(path) as f:
        return [json.loads(line) for line in f]


def skipped_rows(path):
    with open(path) as f:
        header, *rows = [line.rstrip("\n").split("\t") for line in f]
    assert header == ["id", "source", "reason", "detail"]
    return {r[0]: r for r in rows}


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    root = str(tmp_path_factory.mktemp("prep"))
    build_tree(root)
    summaries = ls.prepare(root, data_ready=True, num_workers=2, progress=False)
    return root, summaries


# ----------------------------------------------------------------------------------------------- 1. conversion

def test_prepare_extracted_tree(prepared):
    root, summaries = prepared
    assert sorted(summaries) == ["train", "val"]
    for split, ids in (("val", VAL_IDS), ("train", TRAIN_IDS)):
        entries = read_lines(os.path.join(root, split, f"libri_{split}_manifest.json"))
        assert [e["id"] for e in entries] == ids
        for e in entries:
            assert e["audio_filepath"] == os.path.join(root, split, "wav", e["id"] + ".wav")
            info = sf.info(e["audio_filepath"])
            assert (info.samplerate, info.channels, info.subtype, info.format) == (16000, 1, "PCM_16", "WAV")
            assert isinstance(e["duration"], float) and e["duration"] == info.frames / 16000
            spk, chap, _ = e["id"].split("-")
            src = sf.info(os.path.join(root, "LibriSpeech", "dev-clean" if split == "val" else "train-clean-100",
                                       spk, chap, e["id"] + ".flac"))
            assert abs(e["duration"] - src.frames / src.samplerate) <= 1 / 16000
            with open(os.path.join(root, split, "txt", e["id"] + ".txt")) as f:
                assert f.read() == e["text"] + "\n"
    val = {e["id"]: e["text"] for e in read_lines(os.path.join(root, "val", "libri_val_manifest.json"))}
    assert val["84-121123-0004"] == "IT'S A DOG'S LIFE"
    assert val["84-121123-0001"] == "GOOD MORNING"  # whitespace collapsed
    train = {e["id"]: e for e in read_lines(os.path.join(root, "train", "libri_train_manifest.json"))}
    assert train["19-227-0001"]["text"] == "WE'LL SEE"
    assert abs(train["19-198-0005"]["duration"] - 1.3) <= 1 / 16000  # 44.1 kHz stereo source

    rows = skipped_rows(os.path.join(root, "train", "skipped.tsv"))
    assert {k: r[2] for k, r in rows.items()} == TRAIN_SKIPPED
    assert rows["19-198-0007"][1].endswith("19-198-0007.*")          # the audio the transcript names
    assert skipped_rows(os.path.join(root, "val", "skipped.tsv")) == {}
    # nothing lost: every id seen in the source tree is either in the manifest or in skipped.tsv
    assert sorted(TRAIN_IDS + list(TRAIN_SKIPPED)) == [f"19-198-{i:04d}" for i in range(9)] + ["19-227-0000",
                                                                                                "19-227-0001"]
    s = summaries["train"]
    assert s["utterances"] == 7 and s["skipped"] == {r: 1 for r in TRAIN_SKIPPED.values()}
    assert s["notes"] == {"resampled": 1, "downmixed": 1}
    assert abs(s["hours"] * 3600 - (0.6 + 0.7 + 0.8 + 0.9 + 1.3 + 0.5 + 1.0)) < 1
    with open(os.path.join(root, "train", "summary.json")) as f:
        assert json.load(f) == s
    assert summaries["val"]["utterances"] == 5 and summaries["val"]["skipped"] == {}


def test_parallel_equals_serial(prepared, tmp_path):
    root, _ = prepared
    other = str(tmp_path)
    build_tree(other)
    ls.prepare(other, data_ready=True, subsets=["train-clean-100"], num_workers=1, progress=False)
    for name in ("libri_train_manifest.json", "skipped.tsv", "summary.json"):
        a = open(os.path.join(root, "train", name)).read()
        b = open(os.path.join(other, "train", name)).read()
        assert a.replace(root, "ROOT") == b.replace(other, "ROOT")
    for uid in TRAIN_IDS:
        wav = os.path.join("train", "wav", uid + ".wav")
        assert open(os.path.join(root, wav), "rb").read() == open(os.path.join(other, wav), "rb").read()


# ----------------------------------------------------------------------------------------------- 2. rerun

def test_rerun_is_noop(prepared):
    root, summaries = prepared
    files = {}
    for split in ("train", "val"):
        for dirpath, _, names in os.walk(os.path.join(root, split)):
            for n in names:
                p = os.path.join(dirpath, n)
                files[p] = (os.stat(p).st_mtime_ns, open(p, "rb").read())
    stale = [os.path.join(root, "train", "wav", ".tmp-k1-19-198-0000.wav"), os.path.join(root, "val", "txt",
                                                                                       ".tmp-k2-x.txt"),
             os.path.join(root, "train", ".tmp-k3-libri_train_manifest.json")]
    for p in stale:
        with open(p, "w") as f:
            f.write("half")
    again = ls.prepare(root, data_ready=True, num_workers=2, progress=False)
    assert again == summaries
    assert not any(os.path.exists(p) for p in stale)
    for p, (mtime, data) in files.items():
        assert open(p, "rb").read() == data, p
        if p.endswith((".wav", ".txt")):
            assert os.stat(p).st_mtime_ns == mtime, p


# ----------------------------------------------------------------------------------------------- 3. download

class _Handler(http.server.BaseHTTPRequestHandler):
    files = {}          # url path -> bytes
    log = []            # (path, Range header or None)
    cut_after = None    # cut the next response after this many body bytes
    ranges = True       # False: ignore Range headers (answer 200)

    def log_message(self, *args):
        pass

    def do_GET(self):
        rng = self.headers.get("Range")
        type(self).log.append((self.path, rng))
        data = self.files.get(self.path)
        if data is None:
            self.send_error(404)
            return
        start = int(rng[len("bytes="):].split("-")[0]) if rng and self.ranges else 0
        if start >= len(data) and rng:
            self.send_response(416)
            self.send_header("Content-Range", f"bytes */{len(data)}")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.send_response(206 if start else 200)
        if start:
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        self.send_header("Content-Length", str(len(data) - start))
        self.end_headers()
        body = data[start:]
        if type(self).cut_after is not None:
            body, type(self).cut_after = body[:type(self).cut_after], None
            self.close_connection = True
        self.wfile.write(body)


@pytest.fixture
def server():
    _Handler.files, _Handler.log, _Handler.cut_after, _Handler.ranges = {}, [], None, True
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", _Handler
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(scope="module")
def dev_tarball(tmp_path_factory):
    src = str(tmp_path_factory.mktemp("src"))
    build_tree(src)
    path = os.path.join(src, "dev-clean.tar.gz")
    sha = make_tarball(src, "dev-clean", path)
    return open(path, "rb").read(), sha


def test_download_resumes_and_prepares(server, dev_tarball, tmp_path):
    url, handler = server
    data, sha = dev_tarball
    handler.files["/dev-clean.tar.gz"] = data
    handler.cut_after = len(data) // 3
    summaries = ls.prepare(str(tmp_path), subsets=["dev-clean"], num_workers=1, mirror=url,
                           checksums={"dev-clean": sha}, progress=False)
    assert handler.log == [("/dev-clean.tar.gz", None), ("/dev-clean.tar.gz", f"bytes={len(data) // 3}-")]
    assert open(tmp_path / "dev-clean.tar.gz", "rb").read() == data
    assert not os.path.exists(tmp_path / "dev-clean.tar.gz.part")
    assert os.path.isdir(tmp_path / "LibriSpeech" / "dev-clean" / "84")
    assert summaries["val"]["utterances"] == 5
    assert [e["id"] for e in read_lines(tmp_path / "val" / "libri_val_manifest.json")] == VAL_IDS


def test_download_resumes_across_runs_and_odd_servers(server, dev_tarball, tmp_path):
    url, handler = server
    data, sha = dev_tarball
    handler.files["/a.tar.gz"] = data
    dest = str(tmp_path / "a.tar.gz")
    handler.cut_after = 1000
    with pytest.raises(ls.PrepError, match="rerun to resume"):
        ls.download(url + "/a.tar.gz", dest, sha, retries=0, progress=False)
    assert os.path.getsize(dest + ".part") == 1000 and not os.path.exists(dest)
    ls.download(url + "/a.tar.gz", dest, sha, progress=False)  # a new run resumes the part file
    assert handler.log[-1] == ("/a.tar.gz", "bytes=1000-") and open(dest, "rb").read() == data

    os.replace(dest, dest + ".part")  # complete part file: the server answers 416
    ls.download(url + "/a.tar.gz", dest, sha, progress=False)
    assert handler.log[-1] == ("/a.tar.gz", f"bytes={len(data)}-") and open(dest, "rb").read() == data

    os.remove(dest)
    with open(dest + ".part", "wb") as f:  # server without Range support answers 200: start over
        f.write(b"garbage")
    handler.ranges = False
    ls.download(url + "/a.tar.gz", dest, sha, progress=False)
    assert open(dest, "rb").read() == data


def test_checksum_mismatch_refused(server, dev_tarball, tmp_path):
    url, handler = server
    data, sha = dev_tarball
    handler.files["/dev-clean.tar.gz"] = data
    dest = str(tmp_path / "dev-clean.tar.gz")
    with pytest.raises(ls.ChecksumError, match=f"checksum mismatch for .*dev-clean.tar.gz: expected SHA-256 "
                                               f"{'0' * 64}, got {sha}"):
        ls.download(url + "/dev-clean.tar.gz", dest, "0" * 64, progress=False)
    assert not os.path.exists(dest) and not os.path.exists(dest + ".part") and os.path.exists(dest + ".bad")

    cli_root = tmp_path / "cli"
    sums = tmp_path / "sums.json"
    sums.write_text(json.dumps({"dev-clean": "f" * 64}))
    proc = subprocess.run([sys.executable, *SCRIPT, "--root-path", str(cli_root), "--subsets", "dev-clean",
                           "--mirror", url, "--checksums", str(sums), "--no-progress"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode != 0
    assert "checksum mismatch" in proc.stderr and "f" * 64 in proc.stderr
    assert not (cli_root / "dev-clean.tar.gz").exists() and (cli_root / "dev-clean.tar.gz.bad").exists()


def test_unsafe_archive_refused(tmp_path):
    evil = tmp_path / "evil.txt"
    evil.write_text("x")
    with tarfile.open(tmp_path / "dev-clean.tar.gz", "w:gz") as tar:
        tar.add(evil, arcname="../evil.txt")
    root = tmp_path / "root"
    root.mkdir()
    shutil.move(tmp_path / "dev-clean.tar.gz", root / "dev-clean.tar.gz")
    with pytest.raises(ls.PrepError, match="unsafe member"):
        ls.prepare(str(root), data_ready=True, checksums={"dev-clean": None}, progress=False)
    assert not (tmp_path / "root" / "LibriSpeech").exists()
    assert [p for p in os.listdir(root) if p.startswith(".extract")] == []


# ----------------------------------------------------------------------------------------------- 4. SIGKILL

def _many(root, n):
    utts = {i: (0.3 + 0.01 * (i % 7), 22050 if i % 2 else 16000, 1 + i % 2) for i in range(n)}
    _chapter(root, "test-clean", 61, 70968, utts, [f"61-70968-{i:04d} UTTERANCE NUMBER {i}" for i in range(n)])


def _cli(root, **kw):
    return subprocess.Popen([sys.executable, *SCRIPT, "--root-path", root, "--data-ready",
                             "--num-workers", "1", "--no-progress"], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, **kw)


def test_sigkill_then_rerun_matches_clean_run(tmp_path):
    n = 80
    for attempt in range(4):
        killed, clean = str(tmp_path / f"killed{attempt}"), str(tmp_path / f"clean{attempt}")
        _many(killed, n)
        shutil.copytree(os.path.join(killed, "LibriSpeech"), os.path.join(clean, "LibriSpeech"))
        wav_dir = os.path.join(killed, "test_clean", "wav")
        proc = _cli(killed)
        deadline = time.monotonic() + 60
        while proc.poll() is None and time.monotonic() < deadline:
            if os.path.isdir(wav_dir) and sum(f.endswith(".wav") for f in os.listdir(wav_dir)) >= 3:
                proc.send_signal(signal.SIGKILL)
                break
            time.sleep(0.002)
        proc.wait()
        manifest = os.path.join(killed, "test_clean", "libri_test_clean_manifest.json")
        if proc.returncode == -signal.SIGKILL and not os.path.exists(manifest):
            break
        n *= 3  # finished before the kill: try again with more files
    else:
        pytest.skip("conversion always finished before it could be killed")
    assert _cli(clean).wait(timeout=120) == 0
    wavs_at_kill = [f for f in os.listdir(wav_dir) if f.endswith(".wav") and not f.startswith(".tmp-")]  # final names
    assert 3 <= len(wavs_at_kill) < n
    for f in wavs_at_kill:  # whatever the killed run left under a final name is complete
        assert open(os.path.join(wav_dir, f), "rb").read() == \
            open(os.path.join(clean, "test_clean", "wav", f), "rb").read()

    assert _cli(killed).wait(timeout=120) == 0
    for name in ("libri_test_clean_manifest.json", "skipped.tsv", "summary.json"):
        a = open(os.path.join(killed, "test_clean", name)).read().replace(killed, "ROOT")
        b = open(os.path.join(clean, "test_clean", name)).read().replace(clean, "ROOT")
        assert a == b
    assert len(read_lines(manifest)) == n
    for sub in ("wav", "txt"):
        names = sorted(os.listdir(os.path.join(killed, "test_clean", sub)))
        assert names == sorted(os.listdir(os.path.join(clean, "test_clean", sub))) and len(names) == n
        for f in names:
            assert open(os.path.join(killed, "test_clean", sub, f), "rb").read() == \
                open(os.path.join(clean, "test_clean", sub, f), "rb").read()


# ----------------------------------------------------------------------------------------------- 5. archives

def test_data_ready_from_archives(tmp_path):
    src, root = str(tmp_path / "src"), tmp_path / "root"
    build_tree(src)
    root.mkdir()
    sums = {s: make_tarball(src, s, str(root / f"{s}.tar.gz")) for s in ("dev-clean", "train-clean-100")}
    summaries = ls.prepare(str(root), data_ready=True, num_workers=2, checksums=sums, progress=False)
    assert sorted(summaries) == ["train", "val"]
    assert [e["id"] for e in read_lines(root / "train" / "libri_train_manifest.json")] == TRAIN_IDS
    assert [e["id"] for e in read_lines(root / "val" / "libri_val_manifest.json")] == VAL_IDS
    assert (root / "LibriSpeech" / "train-clean-100" / "19" / "227").is_dir()
    assert not [p for p in os.listdir(root) if p.startswith(".extract")]


def test_data_ready_errors(tmp_path):
    with pytest.raises(ls.PrepError, match="no LibriSpeech archive"):
        ls.prepare(str(tmp_path), data_ready=True, progress=False)
    proc = subprocess.run([sys.executable, "-m", "mindaudio.data.librispeech", "--root_path", str(tmp_path),
                           "--data_ready", "True"], capture_output=True, text=True, cwd=REPO, timeout=60)
    assert proc.returncode == 1 and proc.stderr.strip().startswith("error: no LibriSpeech archive")
    (tmp_path / "dev-clean.tar.gz").write_bytes(b"not the real archive")
    # an archive the user brought is checked against the published hash, reported if different, never moved away
    with pytest.raises(ls.PrepError):
        ls.prepare(str(tmp_path), data_ready=True, progress=False)
    assert (tmp_path / "dev-clean.tar.gz").exists() and not (tmp_path / "dev-clean.tar.gz.bad").exists()
    with pytest.raises(ls.PrepError, match="unknown subset"):
        ls.prepare(str(tmp_path), data_ready=True, subsets=["dev-cleen"], progress=False)


def test_train_split_collects_subsets_prepared_in_separate_runs(tmp_path):
    _chapter(tmp_path, "train-clean-100", 11, 100, {0: (0.5, 16000, 1)}, ["11-100-0000 FIRST RUN"])
    ls.prepare(str(tmp_path), data_ready=True, subsets=["train-clean-100"], num_workers=1, progress=False)
    _chapter(tmp_path, "train-clean-360", 22, 200, {0: (0.5, 16000, 1)}, ["22-200-0000 SECOND RUN"])
    ls.prepare(str(tmp_path), data_ready=True, subsets=["train-clean-360"], num_workers=1, progress=False)
    with open(tmp_path / "train" / "libri_train_manifest.json") as f:
        assert [json.loads(line)["id"] for line in f] == ["11-100-0000", "22-200-0000"]


def test_lower_case_and_unusual_characters(tmp_path):
    _chapter(tmp_path, "dev-clean", 7, 70, {0: (0.5, 16000, 1), 1: (0.5, 16000, 1)},
             ["7-70-0000 it's lower case", "7-70-0001 CAFÉ AU LAIT"])
    summary = ls.prepare(str(tmp_path), data_ready=True, num_workers=1, progress=False)["val"]
    with open(tmp_path / "val" / "libri_val_manifest.json") as f:
        assert [json.loads(line)["text"] for line in f] == ["IT'S LOWER CASE", "CAFÉ AU LAIT"]
    assert summary["unusual_characters"] == {"É": 1}
