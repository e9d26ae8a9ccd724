"""Download, verify, extract and convert LibriSpeech into 16 kHz mono WAV files and JSON-lines manifests.

    mindaudio-prepare-librispeech --root-path DIR [--data-ready] [--subsets a,b] [--num-workers N]

Subsets map to splits: train-clean-100/-360 and train-other-500 -> ``train``, dev-clean -> ``val``,
dev-other -> ``val_other``, test-clean -> ``test_clean``, test-other -> ``test_other``.  Each split gets
``DIR/<split>/wav/<id>.wav``, ``txt/<id>.txt``, ``libri_<split>_manifest.json``, ``skipped.tsv`` and ``summary.json``.

Every step can be interrupted and rerun: downloads resume from ``<archive>.part``, an archive becomes
``<subset>.tar.gz`` only after its SHA-256 matched, extraction happens in a temporary directory that is renamed
into place, audio and text files are written under temporary names (unique per process) then renamed, and the
manifest is written last. A rerun skips what is already valid and leaves it untouched. One preparation at a time
per directory (a lock on ``DIR/.prepare.lock``); worker processes die with their parent. A full disk stops the run
with "no space left on DIR", the half-written file removed.
"""
import concurrent.futures
import ctypes
import hashlib
import http.client
import io
import json
import logging
import os
import shutil
import signal
import tarfile
import time
import urllib.error
import urllib.request

import numpy as np
import soundfile as sf
from tqdm import tqdm

from mindaudio.data import audio as audio_io
from mindaudio.data.manifest import write_manifest
from mindaudio.errors import AudioError, ChecksumError, PrepError
from mindaudio.fileio import TMP_PREFIX, atomic_write, hold_lock

logger = logging.getLogger("mindaudio.librispeech")

DEFAULT_MIRROR = "https://www.openslr.org/resources/12"
SAMPLE_RATE = 16000
# LibriSpeech ships FLAC; a corpus in its layout may hold any of these (the demo corpus is Ogg Opus)
AUDIO_EXTENSIONS = (".flac", ".wav", ".opus", ".ogg")
LIBRISPEECH_CHARS = set("ABCDEFGHIJKLMNOPQRSTUVWXYZ' ")
SHA256 = {
    "dev-clean": "76f87d090650617fca0cac8f88b9416e0ebf80350acb97b343a85fa903728ab3",
    "dev-other": "12661c48e8c3fe1de2c1caa4c3e135193bfb1811584f11f569dd12645aa84365",
    "test-clean": "39fde525e59672dc6d1551919b1478f724438a95aa55f874b576be21967e6c23",
    "test-other": "d09c181bba5cf717b3dee7d4d592af11a3ee3a09e08ae025c5506f6ebe961c29",
    "train-clean-100": "d4ddd1d5a6ab303066f14971d768ee43278a5f2a0aa43dc716b0e64ecbbbf6e2",
    "train-clean-360": "146a56496217e96c14334a160df97fffedd6e0a04e66b9c5af0d40be3c792ecf",
    "train-other-500": "ddb22f27f96ec163645d53215559df6aa36515f26e01dd70798188350adcb6d2",
}
SPLIT_OF = {
    "train-clean-100": "train", "train-clean-360": "train", "train-other-500": "train",
    "dev-clean": "val", "dev-other": "val_other", "test-clean": "test_clean", "test-other": "test_other",
}


class _Interrupted(Exception):
    """The server closed the connection before the whole body arrived."""


# ----------------------------------------------------------------------------------------------- download

def sha256sum(path, chunk=1 << 20):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(chunk), b""):
            h.update(block)
    return h.hexdigest()


def verify_sha256(path, expected, name=None):
    """Raise :class:`ChecksumError` (after moving ``path`` to ``<path>.bad``) unless its SHA-256 is ``expected``."""
    if not expected:
        logger.warning("%s: no known SHA-256, not verified", path)
        return
    actual = sha256sum(path)
    if actual != expected.lower():
        bad = (name or path) + ".bad"
        os.replace(path, bad)
        raise ChecksumError(f"checksum mismatch for {name or path}: expected SHA-256 {expected}, got {actual} "
                            f"(file moved to {bad})")


def _fetch(url, part, progress):
    """One attempt: append to ``part`` from its current size (HTTP Range) until the body ends.
    Raises :class:`_Interrupted` when the transfer stops early (the part file is kept for the next attempt)."""
    offset = os.path.getsize(part) if os.path.exists(part) else 0
    req = urllib.request.Request(url, headers={"User-Agent": "mindaudio-librispeech"})
    if offset:
        req.add_header("Range", f"bytes={offset}-")
    try:
        resp = urllib.request.urlopen(req, timeout=60)
    except urllib.error.HTTPError as e:
        if e.code != 416 or not offset:
            raise PrepError(f"download of {url} failed: HTTP {e.code} {e.reason}") from None
        # Range not satisfiable: the part is already complete if the server says so, otherwise start over.
        total = (e.headers.get("Content-Range") or "").rpartition("/")[2]
        if total.isdigit() and int(total) == offset:
            return
        os.remove(part)
        raise _Interrupted(f"server refused to resume at byte {offset}; restarting") from None
    with resp:
        if offset and resp.status != 206:  # server ignored the Range header: the body is the whole file
            offset = 0
        length = resp.headers.get("Content-Length")
        total = offset + int(length) if length is not None else None
        with open(part, "ab" if offset else "wb") as f, tqdm(
                total=total, initial=offset, unit="B", unit_scale=True, unit_divisor=1024,
                desc=os.path.basename(part)[:-len(".part")], disable=not progress) as bar:
            received = offset
            while True:
                try:
                    block = resp.read(1 << 16)
                except (http.client.IncompleteRead, ConnectionError, TimeoutError) as e:
                    raise _Interrupted(f"connection lost after {received} bytes ({e!r})") from None
                if not block:
                    break
                f.write(block)
                received += len(block)
                bar.update(len(block))
            f.flush()
            os.fsync(f.fileno())
    if total is not None and received != total:
        raise _Interrupted(f"connection closed after {received} of {total} bytes")


def download(url, dest, sha256=None, retries=5, retry_delay=1.0, progress=True):
    """Download ``url`` to ``dest`` through ``dest + '.part'`` (resumed after interruptions, also across runs),
    verify its SHA-256, then rename into place.  An existing ``dest`` is only verified."""
    if os.path.exists(dest):
        verify_sha256(dest, sha256)
        return dest
    part = dest + ".part"
    for attempt in range(retries + 1):
        try:
            _fetch(url, part, progress)
            break
        except (_Interrupted, urllib.error.URLError, ConnectionError, TimeoutError) as e:
            if attempt == retries:
                raise PrepError(f"download of {url} failed after {retries + 1} attempts: {e}; "
                                f"rerun to resume from {part}") from None
            logger.warning("%s: %s; retrying (%d/%d)", os.path.basename(dest), e, attempt + 1, retries)
            time.sleep(retry_delay * (attempt + 1))
    verify_sha256(part, sha256, name=dest)
    os.replace(part, dest)
    return dest


# ----------------------------------------------------------------------------------------------- extraction

def extract(archive, root, subset):
    """Extract ``archive`` (holding ``LibriSpeech/<subset>/``) under ``root``: members are unpacked into a
    temporary directory which is renamed to ``root/LibriSpeech/<subset>`` only when complete."""
    final = os.path.join(root, "LibriSpeech", subset)
    tmp = os.path.join(root, f".extract-{subset}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)  # left over by an interrupted run
    os.makedirs(tmp)
    logger.info("extracting %s", archive)
    kwargs = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}
    try:
        with tarfile.open(archive, "r:*") as tar:
            for member in tar:  # one streaming pass, checking each member before it is written
                parts = member.name.replace("\\", "/").split("/")
                if (member.name.startswith("/") or ".." in parts
                        or not (member.isfile() or member.isdir())):
                    raise PrepError(f"unsafe member {member.name!r} in {archive}: refusing to extract")
                tar.extract(member, tmp, **kwargs)
        src = os.path.join(tmp, "LibriSpeech", subset)
        if not os.path.isdir(src):
            raise PrepError(f"{archive} does not contain LibriSpeech/{subset}/")
        os.makedirs(os.path.dirname(final), exist_ok=True)
        for name in sorted(os.listdir(os.path.dirname(src))):  # README.TXT, SPEAKERS.TXT... (not other subsets)
            target = os.path.join(root, "LibriSpeech", name)
            if name != subset and not os.path.exists(target) and name not in SPLIT_OF:
                os.replace(os.path.join(tmp, "LibriSpeech", name), target)
        os.replace(src, final)
    except (tarfile.TarError, EOFError, OSError) as e:
        raise PrepError(f"cannot extract {archive}: {e}") from None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return final


# ----------------------------------------------------------------------------------------------- conversion

def _expected_frames(frames, sr):
    """Length of a ``frames``-sample signal at ``sr`` once resampled to 16 kHz (ceil, as librosa does)."""
    return -(-frames * SAMPLE_RATE // sr)


def _valid_wav(path, frames):
    try:
        info = sf.info(path)
    except (RuntimeError, OSError):  # LibsndfileError subclasses RuntimeError
        return False
    return (info.format == "WAV" and info.subtype == "PCM_16" and info.samplerate == SAMPLE_RATE
            and info.channels == 1 and info.frames == frames)


def _replace_text(path, text):
    """Write ``text`` atomically unless ``path`` already holds it (keeps mtimes on reruns)."""
    try:
        with open(path, encoding="utf-8") as f:
            if f.read() == text:
                return
    except OSError:
        pass
    atomic_write(path, text, durable=False)


def _load_16k_mono(src, frames=None):
    """Decode ``src`` to float32 mono at 16 kHz (the package's audio loader), ``frames`` long if given (the expected
    length after resampling, so that a rerun can check a converted file by its header), clipped to [-1, 1]."""
    audio = audio_io.read(src, SAMPLE_RATE)
    if frames is not None:
        audio = np.pad(audio, (0, max(0, frames - len(audio))))[:frames]
    return np.clip(audio, -1.0, 1.0)


def convert_one(job):
    """Worker: FLAC -> 16 kHz mono PCM_16 WAV plus transcript file, skipping a WAV that is already valid.
    A bad input file is reported in the result, not raised; output errors (disk full...) are raised."""
    uid, src, wav, txt, text = job
    res = {"id": uid, "src": src, "frames": 0, "reason": None, "detail": "", "resampled": False, "downmixed": False}
    audio = None
    try:
        rate, src_frames, channels = audio_io.info(src)
        frames = _expected_frames(src_frames, rate)
        if src_frames <= 0 or not _valid_wav(wav, frames):
            audio = _load_16k_mono(src, frames if src_frames > 0 else None)
            frames = len(audio)
    except AudioError as e:
        res.update(reason="corrupt_audio", detail=str(e))
        return res
    res.update(frames=frames, resampled=rate != SAMPLE_RATE, downmixed=channels > 1)
    if frames == 0:
        res["reason"] = "empty_audio"
        return res
    if audio is not None:
        # Temporary name + rename: a killed run never leaves a truncated <id>.wav behind.  No fsync: this
        # guards against process death; a power cut is caught by the header/length check of the next run.
        buffer = io.BytesIO()          # encoded in memory, written with Python's I/O: a full disk is an OSError
        sf.write(buffer, audio, SAMPLE_RATE, subtype="PCM_16", format="WAV")
        atomic_write(wav, buffer.getvalue(), durable=False)
    _replace_text(txt, text + "\n")
    return res


def _die_with_parent(parent):
    """Worker initializer: SIGKILL this worker when the preparation process dies (PR_SET_PDEATHSIG), so that a killed
    run leaves no converter behind."""
    ctypes.CDLL(None).prctl(1, signal.SIGKILL)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle (it stops the pool)
    if os.getppid() != parent:                   # the parent died before the request took effect
        os._exit(1)


def collect(subset_dirs):
    """Pair audio files with transcript lines over the given extracted subset directories.
    Returns (utterances {id: (audio path, text)}, problems [(id, source, reason, detail)]).

    An utterance id found twice (two audio files, or two transcript lines) is ambiguous: which audio goes with which
    text cannot be known, so the split stops with both places named. A transcript file that is not UTF-8 is named
    and its utterances skipped (``undecodable_transcript``); the rest of the corpus is prepared."""
    audio, texts, problems, undecodable = {}, {}, [], {}
    for subset_dir in subset_dirs:
        for dirpath, dirnames, filenames in os.walk(subset_dir):
            dirnames.sort()
            for name in sorted(filenames):
                path = os.path.join(dirpath, name)
                uid, ext = os.path.splitext(name)
                if ext.lower() in AUDIO_EXTENSIONS:
                    if uid in audio:
                        raise PrepError(f"utterance id {uid} has two audio files, {audio[uid]} and {path}: which "
                                        "transcript belongs to which cannot be told; remove or rename one")
                    audio[uid] = path
                elif name.endswith(".trans.txt"):
                    try:
                        with open(path, encoding="utf-8") as f:
                            lines = f.read().splitlines()
                    except UnicodeDecodeError as e:
                        logger.warning("%s is not UTF-8 text (byte %d): its utterances are skipped", path, e.start)
                        undecodable[dirpath] = path
                        continue
                    for line in lines:
                        fields = line.split(maxsplit=1)
                        if not fields:
                            continue
                        if fields[0] in texts:
                            raise PrepError(f"utterance id {fields[0]} has two transcript lines, in "
                                            f"{texts[fields[0]][2]} and {path}: remove one")
                        # LibriSpeech text, upper case (as it already is), whitespace collapsed
                        text = " ".join(fields[1].upper().split()) if len(fields) > 1 else ""
                        texts[fields[0]] = (text, os.path.join(dirpath, fields[0] + ".*"), path)
    utterances = {}
    for uid in sorted(set(audio) | set(texts)):
        if uid not in texts:
            folder = os.path.dirname(audio[uid])
            if folder in undecodable:
                problems.append((uid, audio[uid], "undecodable_transcript", undecodable[folder]))
            else:
                problems.append((uid, audio[uid], "missing_transcript", ""))
        elif uid not in audio:
            problems.append((uid, texts[uid][1], "missing_audio", ""))
        elif not texts[uid][0]:
            problems.append((uid, audio[uid], "empty_transcript", ""))
        else:
            utterances[uid] = (audio[uid], texts[uid][0])
    return utterances, problems


def prepare_split(root, split, subset_dirs, num_workers=1, progress=True):
    """Convert the given extracted subset directories into ``root/<split>``; returns the split summary."""
    out = os.path.join(root, split)
    wav_dir, txt_dir = os.path.join(out, "wav"), os.path.join(out, "txt")
    for d in (wav_dir, txt_dir):
        os.makedirs(d, exist_ok=True)
    for d in (wav_dir, txt_dir, out):
        for name in os.listdir(d):  # temporaries of a killed run (no other run writes here: we hold the lock)
            if name.startswith(TMP_PREFIX) and os.path.isfile(os.path.join(d, name)):
                os.remove(os.path.join(d, name))

    utterances, problems = collect(subset_dirs)
    jobs = [(uid, src, os.path.join(wav_dir, uid + ".wav"), os.path.join(txt_dir, uid + ".txt"), text)
            for uid, (src, text) in sorted(utterances.items())]
    results = []
    with tqdm(total=len(jobs), unit="utt", desc=split, disable=not progress) as bar:
        if num_workers > 1 and len(jobs) > 1:
            pool = concurrent.futures.ProcessPoolExecutor(num_workers, initializer=_die_with_parent,
                                                          initargs=(os.getpid(),))
            try:
                chunk = max(1, min(64, len(jobs) // (num_workers * 8)))
                for res in pool.map(convert_one, jobs, chunksize=chunk):  # map keeps job order
                    results.append(res)
                    bar.update()
            finally:                               # an interrupt or an error: the queued jobs are dropped
                pool.shutdown(wait=True, cancel_futures=True)
        else:
            for job in jobs:
                results.append(convert_one(job))
                bar.update()

    entries, notes = [], {"resampled": 0, "downmixed": 0}
    for job, res in zip(jobs, results):
        if res["reason"]:
            problems.append((res["id"], res["src"], res["reason"], res["detail"]))
            continue
        notes["resampled"] += res["resampled"]
        notes["downmixed"] += res["downmixed"]
        entries.append({"id": job[0], "audio_filepath": os.path.abspath(job[2]),
                        "duration": res["frames"] / SAMPLE_RATE, "text": job[4]})
    problems.sort()
    skipped = {}
    for uid, src, reason, detail in problems:
        logger.warning("%s: skipped %s (%s%s) %s", split, uid, reason, ": " + detail if detail else "", src)
        skipped[reason] = skipped.get(reason, 0) + 1

    # kept in the manifest as written, but reported: the default label set (apostrophe, A–Z, space) lacks them
    unusual = {}
    for e in entries:
        for ch in e["text"]:
            if ch not in LIBRISPEECH_CHARS:
                unusual[ch] = unusual.get(ch, 0) + 1
    if unusual:
        logger.warning("%s: characters outside A-Z, apostrophe and space in transcripts: %s", split, unusual)
    seconds = sum(e["duration"] for e in entries)
    manifest = os.path.join(out, f"libri_{split}_manifest.json")
    summary = {"split": split, "utterances": len(entries), "seconds": round(seconds, 3),
               "hours": round(seconds / 3600, 4), "skipped": skipped, "notes": notes, "manifest": manifest,
               "unusual_characters": unusual}
    atomic_write(os.path.join(out, "skipped.tsv"),
                      "id\tsource\treason\tdetail\n" + "".join("\t".join(p) + "\n" for p in problems))
    atomic_write(os.path.join(out, "summary.json"), json.dumps(summary, indent=2, sort_keys=True) + "\n")
    if not entries:                    # no manifest at all rather than an empty one that looks complete
        if os.path.exists(manifest):
            os.remove(manifest)
        summary["manifest"] = None
        return summary
    write_manifest(manifest, entries)  # last: its presence means the split is complete
    return summary


# ----------------------------------------------------------------------------------------------- driver

def _find(root, subset):
    tree = os.path.join(root, "LibriSpeech", subset)
    archive = os.path.join(root, subset + ".tar.gz")
    return tree if os.path.isdir(tree) else None, archive if os.path.isfile(archive) else None


def prepare(root_path, data_ready=False, subsets=None, num_workers=None, mirror=DEFAULT_MIRROR,
            checksums=None, progress=True):
    """Fetch (unless ``data_ready``), verify, extract and convert ``subsets``; returns {split: summary}.

    ``subsets`` defaults to all seven subsets when downloading, and to every subset found in ``root_path``
    (archive or extracted tree) when ``data_ready``.  ``checksums`` ({subset: sha256}) overrides :data:`SHA256`."""
    root = os.path.abspath(root_path)
    try:
        os.makedirs(root, exist_ok=True)
    except OSError as e:
        raise PrepError(f"cannot create {root}: {e.strerror}") from None
    if not os.access(root, os.W_OK | os.X_OK):
        raise PrepError(f"{root} is not writable")
    lock = hold_lock(root, ".prepare.lock", "another preparation")
    try:
        return _prepare(root, data_ready, subsets, num_workers, mirror, checksums, progress)
    finally:
        os.close(lock)


def _prepare(root, data_ready, subsets, num_workers, mirror, checksums, progress):
    unknown = [s for s in subsets or () if s not in SPLIT_OF]
    if unknown:
        raise PrepError(f"unknown subset(s) {unknown}; known: {', '.join(SPLIT_OF)}")
    if not subsets:
        subsets = [s for s in SPLIT_OF if any(_find(root, s))] if data_ready else list(SPLIT_OF)
        if not subsets:
            raise PrepError(f"no LibriSpeech archive (<subset>.tar.gz) or LibriSpeech/<subset>/ tree in {root}")
    sums = {**SHA256, **(checksums or {})}

    split_dirs = {}
    for subset in subsets:
        tree, archive = _find(root, subset)
        if tree is None:
            if archive is None:
                if data_ready:
                    raise PrepError(f"no {subset}.tar.gz archive or LibriSpeech/{subset}/ directory in {root}")
                archive = download(f"{mirror.rstrip('/')}/{subset}.tar.gz", os.path.join(root, subset + ".tar.gz"),
                                   sums.get(subset), progress=progress)
            elif checksums and subset in checksums:
                logger.info("verifying %s", archive)
                verify_sha256(archive, checksums[subset])
            else:
                # an archive the user brought: check it against the published LibriSpeech hash, but a corpus in
                # LibriSpeech layout under the same name is legitimate, so a mismatch is reported, not refused
                logger.info("verifying %s", archive)
                actual = sha256sum(archive)
                if sums.get(subset) and actual != sums[subset]:
                    logger.warning("%s is not the published LibriSpeech %s (SHA-256 %s); using it as given",
                                   archive, subset, actual)
            tree = extract(archive, root, subset)
        split_dirs.setdefault(SPLIT_OF[subset], []).append(tree)
    # a split is rebuilt from all its subsets already extracted here, not only those of this run, so that preparing
    # train-clean-360 after train-clean-100 gives a train manifest with both
    for subset, split in SPLIT_OF.items():
        tree = _find(root, subset)[0]
        if split in split_dirs and tree is not None and tree not in split_dirs[split]:
            logger.info("%s: also including the already extracted %s", split, subset)
            split_dirs[split].append(tree)

    workers = max(1, num_workers or os.cpu_count() or 1)
    return {split: prepare_split(root, split, dirs, workers, progress) for split, dirs in split_dirs.items()}
