"""The one audio loader. Audio enters the package only here (training and evaluation files, preparation, the Python
API, server uploads, stream chunks), under one contract:

- a file path, the bytes of a file (any format libsndfile reads: wav, flac, ogg/opus, mp3...), a NumPy array of
  samples, or a ``(samples, rate)`` pair;
- integer samples are scaled to [-1, 1) by their type's full scale (int16 / 2^15, int32 / 2^31, uint8
  (x - 128) / 128); floating-point samples are taken as they are;
- several channels are averaged to mono; an array's channel axis is the short one (``[S, C]`` or ``[C, S]`` with
  C ≤ 8 < S), or ``channel_axis`` states it; any other 2-D shape is refused as ambiguous;
- any rate is resampled to the model's (soxr, HQ);
- every sample must be finite: NaN or Inf is an AudioError naming the input, never a silent empty transcript;
- nothing beyond ``max_seconds`` is decoded (blocks of 10 s), and a WAV file whose header announces more audio than
  the file holds is refused (libsndfile would quietly read what is there).

NumPy, soundfile and soxr only.
"""
import io
import os
import re
import struct

import numpy as np
import soundfile
import soxr

from mindaudio.errors import AudioError

MAX_CHANNELS = 8                      # an array axis this short (and shorter than the other) holds channels


def read(source, sample_rate, name=None, max_seconds=None, channel_axis=None, first_seconds=None):
    """Any audio source (see the module docstring) → mono float32 samples [S] at ``sample_rate``. ``name`` is how
    errors call the input (default: the path, "audio bytes" or "audio array"). ``first_seconds``: read only the
    beginning of a file (noise for augmentation), where ``max_seconds`` refuses a longer one."""
    if isinstance(source, (str, os.PathLike)) and first_seconds is not None:
        name = name or os.fspath(source)
        samples, rate = read_file(os.fspath(source), name, first_seconds, cut=True)
    elif isinstance(source, (str, os.PathLike)):
        name = name or os.fspath(source)
        samples, rate = read_file(os.fspath(source), name, max_seconds)
    elif isinstance(source, (bytes, bytearray, memoryview)):
        name = name or "audio bytes"
        samples, rate = read_file(bytes(source), name, max_seconds)
    elif isinstance(source, tuple):
        if len(source) != 2:
            raise AudioError(f"{name or 'audio'}: expected (samples, rate), got a tuple of {len(source)}")
        samples, rate = source
        name = name or "audio array"
        if isinstance(rate, bool) or not isinstance(rate, (int, np.integer)) or rate <= 0:
            raise AudioError(f"{name}: the sample rate must be a positive integer, got {rate!r}")
        samples = to_mono(samples, name, channel_axis)
    else:
        name = name or "audio array"
        samples, rate = to_mono(source, name, channel_axis), sample_rate
    if max_seconds is not None and len(samples) > max_seconds * rate + 1:
        raise AudioError(f"{name}: audio of {len(samples) / rate:.1f} s is longer than the limit of {max_seconds:g} s")
    return resample(samples, int(rate), sample_rate)


def to_mono(samples, name="audio array", channel_axis=None):
    """An array of samples (1-D, or 2-D with channels) → mono float32 [S] in [-1, 1], finite (see the contract)."""
    a = np.asarray(samples)
    if a.dtype == object or a.dtype.kind not in "iuf":
        raise AudioError(f"{name}: samples must be integers or floats, got {a.dtype}")
    if a.ndim == 2:
        if channel_axis is None:
            rows, cols = a.shape
            if cols <= MAX_CHANNELS < rows or (cols <= MAX_CHANNELS and rows > cols):
                channel_axis = 1
            elif rows <= MAX_CHANNELS < cols or (rows <= MAX_CHANNELS and cols > rows):
                channel_axis = 0
            else:
                raise AudioError(f"{name}: cannot tell the channel axis of shape {a.shape}; give a 1-D array, or "
                                 "state channel_axis (0 for [channels, samples], 1 for [samples, channels])")
        if channel_axis not in (0, 1, -1, -2):
            raise AudioError(f"{name}: channel_axis must be 0 or 1, got {channel_axis!r}")
        a = np.moveaxis(a, channel_axis, 1)
    elif a.ndim != 1:
        raise AudioError(f"{name}: expected samples as a 1-D array (or 2-D with channels), got shape {a.shape}")
    if a.dtype.kind == "f":
        a = a.astype(np.float32, copy=False)
    else:
        full_scale = 2.0 ** (8 * a.dtype.itemsize - 1)
        offset = full_scale if a.dtype.kind == "u" else 0.0
        a = ((a.astype(np.float64) - offset) / full_scale).astype(np.float32)
    if a.ndim == 2:
        a = a.mean(axis=1, dtype=np.float32) if a.shape[1] > 1 else a[:, 0]
    return check_finite(np.ascontiguousarray(a), name)


def check_finite(samples, name, sample_rate=None):
    """``samples`` if every one is finite, else an AudioError saying how many are not and where the first is."""
    finite = np.isfinite(samples)
    if not finite.all():
        first = int(np.argmin(finite))
        where = f" (the first at {first / sample_rate:.3f} s)" if sample_rate else f" (the first at sample {first})"
        raise AudioError(f"{name}: {int(finite.size - finite.sum())} sample(s) are NaN or infinite{where}; "
                         "the audio is corrupt")
    return samples


def read_file(source, name, max_seconds=None, cut=False):
    """A path or the bytes of an audio file → (mono float32 samples, their rate), decoded in blocks up to
    ``max_seconds`` (or, with ``cut``, its first ``max_seconds``)."""
    if isinstance(source, str):
        _check_path(source)
        with open(source, "rb") as f:
            head, size = f.read(1 << 16), os.fstat(f.fileno()).st_size
        handle = source
    else:
        head, size, handle = source[:1 << 16], len(source), io.BytesIO(source)
    if not size:
        raise AudioError(f"{name}: the file is empty")
    if _wav_truncated(head, size):
        raise AudioError(f"{name}: truncated WAV file (its header announces more audio than the file holds)")
    try:
        with soundfile.SoundFile(handle) as f:
            rate, frames = f.samplerate, f.frames
            limit = None if max_seconds is None else int(max_seconds * rate) + 1
            if cut:
                frames = min(frames, limit) if 0 < frames < 2 ** 62 else frames
                blocks = [f.read(frames=limit, dtype="float32", always_2d=True)]
            elif limit is not None and 0 < frames < 2 ** 62 and frames > limit:
                raise AudioError(f"{name}: audio of {frames / rate:.1f} s is longer than the limit of "
                                 f"{max_seconds:g} s")
            elif limit is None:
                blocks = [f.read(dtype="float32", always_2d=True)]
            else:
                blocks, total = [], 0
                for block in f.blocks(blocksize=rate * 10, dtype="float32", always_2d=True):
                    blocks.append(block)
                    total += len(block)
                    if total > limit:
                        raise AudioError(f"{name}: audio is longer than the limit of {max_seconds:g} s")
    except AudioError:
        raise
    except Exception as e:  # noqa: BLE001 - libsndfile raises several types for what is not audio
        raise AudioError(f"{name}: not a readable audio file ({_reason(e)})") from None
    data = np.concatenate(blocks) if len(blocks) > 1 else blocks[0]
    if 0 < frames < 2 ** 62 and len(data) < frames:
        raise AudioError(f"{name}: truncated audio (decoded {len(data)} of {frames} frames)")
    if len(data) == 0:
        raise AudioError(f"{name}: the audio holds no samples")
    audio = data.mean(axis=1, dtype=np.float32) if data.shape[1] > 1 else data[:, 0]
    return check_finite(np.ascontiguousarray(audio), name, rate), rate


def info(path):
    """(sample rate, frames, channels) from a file's header, without decoding; AudioError if unreadable."""
    _check_path(path)
    try:
        header = soundfile.info(path)
    except Exception as e:  # noqa: BLE001
        raise AudioError(f"{path}: not a readable audio file ({_reason(e)})") from None
    return header.samplerate, header.frames, header.channels


def resample(samples, rate, target):
    """Mono float32 samples from ``rate`` to ``target`` Hz (soxr, HQ); unchanged when the rates agree."""
    if rate == target:
        return samples
    return soxr.resample(samples, rate, target, quality="HQ").astype(np.float32)


def _check_path(path):
    if not os.path.exists(path):
        raise AudioError(f"audio file not found: {path}")
    if os.path.isdir(path):
        raise AudioError(f"{path} is a directory, not an audio file")
    if not os.access(path, os.R_OK):
        raise AudioError(f"{path}: permission denied")


def _reason(error):
    """libsndfile's message without the file object or path it repeats: 'Format not recognised', ..."""
    text = " ".join(str(error).split())
    text = re.sub(r"^Error opening (?:<[^>]*>|'.*?'|\".*?\"|\S+): ", "", text)
    text = text.rstrip(".") or type(error).__name__
    return "the file could not be opened" if text == "System error" else text[:1].lower() + text[1:200]


def _wav_truncated(head, size):
    """True for a RIFF/WAVE file whose data chunk claims more bytes than the file holds. ``head``: its first bytes;
    ``size``: its length. Sizes of 0 and 0xFFFFFFFF mean "unknown" (streamed WAV) and pass."""
    if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
        return False
    offset = 12
    while offset + 8 <= len(head):
        chunk, length = head[offset:offset + 4], struct.unpack("<I", head[offset + 4:offset + 8])[0]
        if chunk == b"data":
            return length not in (0, 0xFFFFFFFF) and length > size - offset - 8
        offset += 8 + length + (length & 1)
    return offset + 8 > size                       # no data chunk within the file
