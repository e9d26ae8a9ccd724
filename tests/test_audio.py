"""The one audio loader's contract, table by table: every kind of source, dtype and channel layout gives the same
mono float32 samples as an independent NumPy computation; what is ambiguous, non-finite, empty or not audio is an
AudioError naming the input."""
import io
import struct

import numpy as np
import pytest
import soundfile

from mindaudio.data import audio
from mindaudio.errors import AudioError

RATE = 16000
MONO = (np.sin(np.arange(RATE) * 2 * np.pi * 440 / RATE) * 0.5).astype(np.float32)
STEREO = np.stack([MONO, MONO * 0.25], axis=1)                    # [S, 2]
MIXED = STEREO.mean(axis=1)                                        # the reference mono of STEREO


def wav_bytes(samples, subtype="FLOAT", rate=RATE):
    buffer = io.BytesIO()
    soundfile.write(buffer, samples, rate, subtype=subtype, format="WAV")
    return buffer.getvalue()


@pytest.mark.parametrize("name, source, want", [
    ("1-D float32", MONO, MONO),
    ("1-D float64", MONO.astype(np.float64), MONO),
    ("[S, 2] stereo", STEREO, MIXED),
    ("[2, S] stereo", STEREO.T.copy(), MIXED),
    ("[S, 1]", MONO[:, None], MONO),
    ("[1, S]", MONO[None, :], MONO),
    ("int16, full scale 2^15", np.round(MONO * 32767).astype(np.int16), np.round(MONO * 32767) / 32768),
    ("int32, full scale 2^31", (MONO * 2 ** 30).astype(np.int32), (MONO * 2 ** 30).astype(np.int32) / 2 ** 31),
    ("uint8, offset 128", np.round(MONO * 127 + 128).astype(np.uint8), (np.round(MONO * 127 + 128) - 128) / 128),
    ("(samples, rate) at the model's rate", (MONO, RATE), MONO),
    ("bytes of a float WAV", wav_bytes(MONO), MONO),
    ("bytes of a stereo FLAC", None, None),
])
def test_every_source_gives_the_reference_samples(name, source, want):
    if source is None:                                             # FLAC is 16-bit: compare to the decoded file
        buffer = io.BytesIO()
        soundfile.write(buffer, STEREO, RATE, format="FLAC")
        source = buffer.getvalue()
        decoded, _ = soundfile.read(io.BytesIO(source), dtype="float32")
        want = decoded.mean(axis=1)
    got = audio.read(source, RATE)
    assert got.dtype == np.float32 and got.ndim == 1
    np.testing.assert_allclose(got, want, atol=1e-6, err_msg=name)


def test_a_path_and_other_rates_are_resampled(tmp_path):
    """A 44.1 kHz stereo file and a (samples, 44100) pair become the same 16 kHz mono, equal to soxr's HQ resampling
    of the channel mean; the length is the rate ratio's."""
    import soxr
    rate = 44100
    stereo = np.stack([np.sin(np.arange(rate) * 2 * np.pi * 300 / rate)] * 2, axis=1).astype(np.float32) * 0.3
    path = tmp_path / "a.wav"
    soundfile.write(path, stereo, rate, subtype="FLOAT")
    want = soxr.resample(stereo.mean(axis=1), rate, RATE, quality="HQ")
    for source in (str(path), (stereo, rate)):
        got = audio.read(source, RATE)
        assert len(got) == len(want) == RATE
        np.testing.assert_allclose(got, want, atol=1e-6)


@pytest.mark.parametrize("name, source, message", [
    ("NaN sample", np.where(np.arange(RATE) == 8000, np.nan, MONO).astype(np.float32), "1 sample(s) are NaN"),
    ("infinite sample", np.where(np.arange(RATE) == 5, np.inf, MONO), "are NaN or infinite"),
    ("NaN in a file", wav_bytes(np.where(np.arange(RATE) == 16, np.nan, MONO).astype(np.float32)),
     "(the first at 0.001 s)"),
    ("ambiguous [2, 2]", np.zeros((2, 2), np.float32), "cannot tell the channel axis of shape (2, 2)"),
    ("ambiguous [100, 100]", np.zeros((100, 100), np.float32), "state channel_axis"),
    ("3-D", np.zeros((2, 2, 100), np.float32), "expected samples as a 1-D array"),
    ("strings", np.array(["a", "b"]), "samples must be integers or floats"),
    ("complex", np.zeros(10, np.complex64), "samples must be integers or floats"),
    ("not audio", b"this is not audio at all", "not a readable audio file (format not recognised)"),
    ("empty bytes", b"", "the file is empty"),
    ("a rate of 0", (MONO, 0), "the sample rate must be a positive integer"),
    ("a truncated WAV", wav_bytes(MONO)[:-1000], "truncated WAV file"),
])
def test_what_cannot_be_used_is_refused_by_name(name, source, message):
    with pytest.raises(AudioError) as error:
        audio.read(source, RATE, name="the input")
    assert message in str(error.value) and "the input" in str(error.value), (name, str(error.value))
    assert "0x" not in str(error.value) and "BytesIO" not in str(error.value)   # no object repr


def test_a_stated_channel_axis_decides(tmp_path):
    square = np.stack([MONO[:100], np.zeros(100, np.float32)])          # [2, 100]: ambiguous? no: 2 ≤ 8 < 100
    np.testing.assert_allclose(audio.read(square, RATE), MONO[:100] / 2, atol=1e-7)
    both = np.ones((4, 4), np.float32) * np.arange(4)[:, None]
    np.testing.assert_allclose(audio.read(both, RATE, channel_axis=0), np.full(4, 1.5))
    np.testing.assert_allclose(audio.read(both, RATE, channel_axis=1), np.arange(4))


def test_files_are_named_in_errors_and_never_read_past_the_limit(tmp_path):
    missing = tmp_path / "nonexistent.wav"
    with pytest.raises(AudioError, match=f"audio file not found: {missing}"):
        audio.read(str(missing), RATE)
    with pytest.raises(AudioError, match="is a directory"):
        audio.read(str(tmp_path), RATE)
    long = tmp_path / "long.wav"
    soundfile.write(long, np.zeros(RATE * 5, np.float32), RATE)
    with pytest.raises(AudioError, match="longer than the limit of 2 s"):
        audio.read(str(long), RATE, max_seconds=2)
    header = wav_bytes(MONO, "PCM_16")
    lying = header[:40] + struct.pack("<I", 10 ** 9) + header[44:]      # a data chunk that claims 1 GB
    with pytest.raises(AudioError, match="truncated WAV"):
        audio.read(lying, RATE)


def test_the_beginning_of_a_long_file(tmp_path):
    """first_seconds reads the start of a file (noise for augmentation) where max_seconds refuses it."""
    import soundfile as sf
    x = np.random.default_rng(0).uniform(-0.5, 0.5, 16000 * 3).astype(np.float32)
    sf.write(tmp_path / "long.wav", x, 16000, subtype="FLOAT")
    np.testing.assert_array_equal(audio.read(tmp_path / "long.wav", 16000, first_seconds=1), x[:16001])
    np.testing.assert_array_equal(audio.read(tmp_path / "long.wav", 16000, first_seconds=5), x)
    with pytest.raises(AudioError, match="longer than the limit of 1 s"):
        audio.read(tmp_path / "long.wav", 16000, max_seconds=1)
