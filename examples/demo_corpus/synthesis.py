"""Audio of one utterance: run espeak-ng or flite, warp, trim, tilt, level, noise, Ogg Opus.

A speaker's settings (see voices.py) fix the voice, rate, pitch, warp, tilt and level;
synthesize() adds the per-utterance variation (speed, pitch, word gap, level, noise, edge
padding) from a Generator seeded by the utterance id (utterance_rng), so an utterance's
audio does not depend on which worker makes it or when.
"""
import os
import struct
import subprocess
import zlib
from fractions import Fraction

import numpy as np
import soundfile as sf
from scipy.signal import resample_poly

SAMPLE_RATE = 16000
AUDIO_EXT = ".opus"
# libsndfile maps the Opus "compression level" c in [0, 1] linearly to a target bitrate of
# about 6 + 250 * (1 - c) kbit/s: 0.94 -> 21 kbit/s (about 22 kbit/s measured on this
# corpus, Ogg container included): wideband (8 kHz) speech that stays clearly intelligible.
# (libsndfile 1.2.2 rejects a bitrate_mode for Opus, so the encoder's default VBR is used.)
OPUS_COMPRESSION_LEVEL = 0.94


def is_flite(voice):
    """True for a flite voice ("flite:<name>"), False for an espeak-ng one ("<accent>+<variant>")."""
    return voice.startswith("flite:")


def utterance_rng(seed, utt_id):
    """The Generator of one utterance's random variation."""
    return np.random.default_rng([seed, zlib.crc32(utt_id.encode())])


def run_synthesizer(voice, say, rate_factor, pitch_shift, gap, settings, wav):
    """Run espeak-ng or flite for one utterance; returns (float64 audio, sample rate)."""
    warp = settings["warp"]
    if is_flite(voice):
        # duration_stretch > 1 is slower; the warp below speeds up by `warp`, so compensate here
        cmd = ["flite", "-voice", voice[6:], "--setf", f"duration_stretch={settings['stretch'] * warp / rate_factor:.4f}"]
        if settings["f0"]:
            cmd += ["--setf", f"int_f0_target_mean={settings['f0'] * pitch_shift:.1f}"]
        cmd += ["-t", say.lower(), "-o", wav]
    else:
        # espeak-ng reads lower-case text more naturally (no acronym spelling of short capitals)
        wpm = int(round(settings["wpm"] * rate_factor / warp))
        pitch = int(np.clip(settings["pitch"] + pitch_shift, 0, 99))
        cmd = ["espeak-ng", "-v", voice, "-s", str(wpm), "-p", str(pitch), "-g", str(gap), "-a", "100",
               "-w", wav, say.lower()]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    x, sr = sf.read(wav, dtype="float64")
    os.remove(wav)
    if x.ndim > 1:
        x = x.mean(axis=1)
    return x, sr


def resample_warp(x, sr, warp):
    """Resample to SAMPLE_RATE / warp and reinterpret as SAMPLE_RATE: pitch and formants
    go up by `warp`, duration down by it (a shorter or longer "vocal tract")."""
    ratio = Fraction(SAMPLE_RATE / (sr * warp)).limit_denominator(400)
    if ratio == 1:
        return x
    return resample_poly(x, ratio.numerator, ratio.denominator)


def synthesize(say, voice, settings, rng, tmpdir, utt_id):
    """The audio of one utterance (float64 at SAMPLE_RATE, within +-0.95). rng: utterance_rng();
    tmpdir: where the synthesizer's WAV file goes (named after utt_id, deleted after reading)."""
    if is_flite(voice):
        rate, pitch_shift, gap = rng.uniform(0.92, 1.08), rng.uniform(0.94, 1.06), 0
    else:
        rate, pitch_shift, gap = rng.uniform(0.92, 1.08), int(rng.integers(-6, 7)), int(rng.integers(0, 3))
    x, sr = run_synthesizer(voice, say, rate, pitch_shift, gap, settings, os.path.join(tmpdir, utt_id + ".wav"))
    y = resample_warp(x, sr, settings["warp"])
    # trim leading/trailing silence (-50 dB re. peak), then pad 50-150 ms each side
    peak = np.max(np.abs(y)) if len(y) else 0
    if peak <= 0:
        raise RuntimeError(f"{voice} produced silence for {say!r}")
    idx = np.nonzero(np.abs(y) > peak * 10 ** (-50 / 20))[0]
    y = y[idx[0]:idx[-1] + 1]
    rms = np.sqrt(np.mean(y ** 2))
    pad = rng.integers(int(0.05 * SAMPLE_RATE), int(0.15 * SAMPLE_RATE), size=2)
    y = np.concatenate([np.zeros(pad[0]), y, np.zeros(pad[1])])
    # speaker "channel": mild first-order spectral tilt
    tilt = settings["tilt"]
    if tilt:
        y = y + tilt * np.concatenate([[0.0], np.diff(y)])
    # level: speaker RMS (over speech) +- 3 dB
    level = settings["level"]
    y *= level * 10 ** (rng.uniform(-3, 3) / 20) / rms
    # background noise at high SNR
    y += rng.standard_normal(len(y)) * level * 10 ** (-rng.uniform(50, 65) / 20)
    return np.clip(y, -0.95, 0.95)


# Ogg pages carry a stream serial number that libsndfile draws at random; replace it with
# a fixed one (and fix the page checksums) so that the files are reproducible.
def _ogg_crc_table():
    table = []
    for i in range(256):
        r = i << 24
        for _ in range(8):
            r = ((r << 1) ^ 0x04C11DB7) if r & 0x80000000 else (r << 1)
        table.append(r & 0xFFFFFFFF)
    return table


OGG_CRC = _ogg_crc_table()


def _ogg_crc(data):
    crc = 0
    for b in data:
        crc = ((crc << 8) & 0xFFFFFFFF) ^ OGG_CRC[((crc >> 24) ^ b) & 0xFF]
    return crc


def ogg_set_serial(data, serial):
    """The Ogg stream `data` with every page's serial number set to `serial` (checksums redone)."""
    out = bytearray()
    pos = 0
    while pos < len(data):
        if data[pos:pos + 4] != b"OggS":
            raise ValueError("not an Ogg page")
        nseg = data[pos + 26]
        size = 27 + nseg + sum(data[pos + 27:pos + 27 + nseg])
        page = bytearray(data[pos:pos + size])
        struct.pack_into("<I", page, 14, serial)
        struct.pack_into("<I", page, 22, 0)
        struct.pack_into("<I", page, 22, _ogg_crc(page))
        out += page
        pos += size
    return bytes(out)


def write_opus(path, y, utt_id):
    """Write y as 16 kHz Ogg Opus with a stream serial number derived from utt_id."""
    tmp = path + ".tmp.opus"
    sf.write(tmp, y, SAMPLE_RATE, format="OGG", subtype="OPUS", compression_level=OPUS_COMPRESSION_LEVEL)
    with open(tmp, "rb") as f:
        data = ogg_set_serial(f.read(), zlib.crc32(utt_id.encode()))
    os.remove(tmp)
    with open(path, "wb") as f:
        f.write(data)
