"""The streaming model: chunked recognition equals whole-utterance recognition (any chunk size), state is carried
and reset, it trains, resumes exactly and evaluates through the ordinary commands, its exported step streams the
same, and the transcription CLI and the server stream it."""
import io
import json
import os
import subprocess
import sys

import numpy as np
import pytest

import mindspore as ms

from mindaudio import checkpoint
from mindaudio.config import load_config, to_dict
from mindaudio.data.manifest import read_manifest
from tests.helpers import DEMO, REPO, TINY_MODEL

STREAMING = ["model.bidirectional=false", "model.lookahead=3", "features.normalize=running", "train.device_target=CPU"]


@pytest.fixture(scope="module")
def streaming_checkpoint(tmp_path_factory):
    """A tiny streaming network with random weights (a chatty projection), saved with its config."""
    from mindaudio.device import set_device
    from mindaudio.models.deepspeech2 import build_model
    cfg = load_config(DEMO, TINY_MODEL + STREAMING + ["model.conv_kernel=[7,5]", "model.rnn_layers=2"])
    set_device("CPU")
    ms.set_seed(3)
    net = build_model(cfg)
    rng = np.random.default_rng(1)
    for name, p in net.parameters_and_names():                   # livelier LSTMs: states that follow the input
        if ".weight_" in name:
            p.set_data(ms.Tensor(rng.normal(0, 0.6, p.shape).astype(np.float32)))
    net.lookahead.weight.set_data(ms.Tensor(rng.normal(0, 0.8, net.lookahead.weight.shape).astype(np.float32)))
    net.fc.weight.set_data(ms.Tensor(rng.normal(0, 3, net.fc.weight.shape).astype(np.float32)))
    bias = np.zeros(net.fc.bias.shape, np.float32)
    bias[cfg.text.blank_index] = -4.0                             # few blanks: characters that follow the audio
    net.fc.bias.set_data(ms.Tensor(bias))
    path = str(tmp_path_factory.mktemp("stream") / "stream.ckpt")
    checkpoint.save(path, dict(net.parameters_and_names()), {"config": json.dumps(to_dict(cfg)), "global_step": 0})
    return path


@pytest.fixture(scope="module")
def recognizer(streaming_checkpoint):
    from mindaudio import Recognizer
    return Recognizer.from_checkpoint(streaming_checkpoint)


@pytest.fixture(scope="module")
def utterances(demo_data):
    from mindaudio.data import audio
    entries = sorted(read_manifest(demo_data["val"]), key=lambda e: e["duration"])
    return [audio.read(entries[i]["audio_filepath"], 16000) for i in (10, len(entries) - 5)]


def _stream(recognizer, audio, chunk):
    stream, partials = recognizer.stream(), []
    for start in range(0, len(audio), chunk):
        partials.append(stream.accept(audio[start:start + chunk]))
    return stream, partials, stream.finish()


# one frame, 160 ms, an odd size, 1 s
@pytest.mark.parametrize("chunk", [pytest.param(160, marks=pytest.mark.slow), 2560, 1237, 16000])
def test_chunked_equals_whole_utterance(recognizer, utterances, chunk):
    audio = utterances[1]
    whole = recognizer.log_probs(audio)
    stream, partials, final = _stream(recognizer, audio, chunk)
    got = np.stack(stream.log_probs)
    assert got.shape == whole.shape
    np.testing.assert_allclose(got, whole, atol=1e-4)
    assert final.text == recognizer.transcribe(audio).text and len(final.text) > 10


def test_partials_grow_as_audio_arrives(recognizer, utterances):
    _, partials, final = _stream(recognizer, utterances[1], 2560)
    non_empty = [p for p in partials if p]
    assert len(set(non_empty)) >= 3                            # the transcript appears as the audio arrives
    assert all(final.text.startswith(p.rsplit(" ", 1)[0]) for p in non_empty if " " in p)


def test_state_is_reset_between_utterances(recognizer, utterances):
    a, b = utterances
    first = _stream(recognizer, a, 2560)[2].text
    second = _stream(recognizer, b, 2560)[2].text
    assert first == recognizer.transcribe(a).text and second == recognizer.transcribe(b).text
    carried = recognizer.stream()                              # one stream for both: the state leaks across
    carried.accept(np.concatenate([a, b]))
    assert carried.finish().text != second


@pytest.mark.slow
def test_exported_step_streams_the_same(recognizer, streaming_checkpoint, utterances, tmp_path):
    from mindaudio import Recognizer
    proc = subprocess.run([sys.executable, "-m", "mindaudio.cli.export", "--checkpoint", streaming_checkpoint, "--output",
                           str(tmp_path / "stream.mindir")], capture_output=True, text=True, cwd=REPO)
    assert proc.returncode == 0, proc.stderr
    meta = json.load(open(tmp_path / "stream.json"))
    assert meta["streaming_step"]["file"] == "stream.step.mindir" and (tmp_path / "stream.step.mindir").exists()
    exported = Recognizer.from_mindir(str(tmp_path / "stream.mindir"))
    audio = utterances[0]
    _, want_partials, want = _stream(recognizer, audio, 2560)
    _, got_partials, got = _stream(exported, audio, 2560)
    assert got_partials == want_partials and got.text == want.text


@pytest.mark.slow
def test_transcribe_stream_cli(recognizer, streaming_checkpoint, demo_data, utterances):
    path = sorted(read_manifest(demo_data["val"]), key=lambda e: e["duration"])[-5]["audio_filepath"]
    proc = subprocess.run([sys.executable, "-m", "mindaudio.cli.transcribe", "--checkpoint", streaming_checkpoint,
                           "--stream", "--chunk-ms", "160", "--text-only", path], capture_output=True, text=True,
                          cwd=REPO)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == recognizer.transcribe(path).text
    assert proc.stderr.count("... ") >= 3                      # partials, one line each off a terminal


def test_websocket_stream(recognizer, utterances):
    from fastapi.testclient import TestClient
    from mindaudio.serving.app import create_app
    client = TestClient(create_app(recognizer), base_url="http://127.0.0.1")
    audio = utterances[1]
    pcm = (np.clip(audio, -1, 1) * 32767).astype("<i2")
    with client.websocket_connect("/stream", headers={"Host": "127.0.0.1"}) as ws:
        partials = []
        for start in range(0, len(pcm), 2560):
            ws.send_bytes(pcm[start:start + 2560].tobytes())
            message = ws.receive_json()
            assert message["final"] is False
            partials.append(message["text"])
        ws.send_text(json.dumps({"end": True}))
        final = ws.receive_json()
    assert final["final"] is True and final["text"] == recognizer.transcribe(pcm.astype(np.float32) / 32768).text
    assert [w["word"] for w in final["words"]] == final["text"].split() and any(partials)


def test_websocket_refuses_a_bidirectional_model(chatty_checkpoint):
    from fastapi.testclient import TestClient
    from mindaudio import Recognizer
    from mindaudio.serving.app import create_app
    with TestClient(create_app(Recognizer.from_checkpoint(chatty_checkpoint)),
                    base_url="http://127.0.0.1").websocket_connect("/stream", headers={"Host": "127.0.0.1"}) as ws:
        assert "bidirectional" in ws.receive_json()["error"]


@pytest.mark.slow
def test_streaming_model_trains_resumes_exactly_and_evaluates(demo_data, tmp_path):
    def train(out, *extra, env=None):
        cmd = [sys.executable, os.path.join(REPO, "train.py"), "-c", DEMO]
        for o in [f"data.train_manifest={demo_data['train_small']}", f"data.val_manifest={demo_data['val_small']}",
                  f"train.output_dir={out}", *TINY_MODEL, *STREAMING, "train.epochs=1", "train.batch_size=8",
                  "train.ckpt_every=2", "data.num_workers=1", *extra]:
            cmd += ["-o", o]
        return subprocess.run(cmd, capture_output=True, text=True, cwd=REPO, env=dict(os.environ, **(env or {})))
    full = train(tmp_path / "full")
    assert full.returncode == 0, full.stderr[-2000:]
    killed = train(tmp_path / "killed", env={"MINDAUDIO_TEST_KILL_AT": "0:3"})
    assert killed.returncode != 0
    resumed = train(tmp_path / "killed", "train.resume=auto")
    assert resumed.returncode == 0 and "resumed from" in resumed.stderr, resumed.stderr[-2000:]
    want, _ = checkpoint.load(str(tmp_path / "full" / "checkpoints" / "step_000000006.ckpt"))
    got, _ = checkpoint.load(str(tmp_path / "killed" / "checkpoints" / "step_000000006.ckpt"))
    assert "lookahead.weight" in want
    for name in want:
        np.testing.assert_allclose(got[name].asnumpy(), want[name].asnumpy(), atol=1e-6, err_msg=name)
    from mindaudio.inference.evaluate import evaluate
    from mindaudio.inference.network import config_for
    out = io.StringIO()
    best = str(tmp_path / "full" / "checkpoints" / "best.ckpt")
    summary = evaluate(config_for(best), best, [demo_data["val_small"]], out=out)
    assert "val_small: WER" in out.getvalue() and summary["results"]["val_small"]["utterances"] == 32


def test_stream_chunks_follow_the_audio_contract(recognizer, utterances):
    """int16 chunks are scaled like float ones (they used to change the output), a 2-D chunk is mixed down, not
    interleaved, and a NaN sample is refused by name."""
    audio = utterances[0]
    _, _, want = _stream(recognizer, audio, 2560)
    as_int16 = np.round(audio * 32767).astype(np.int16)
    _, _, got_int = _stream(recognizer, as_int16, 2560)
    _, _, got_float = _stream(recognizer, as_int16.astype(np.float32) / 32768, 2560)
    assert got_int.text == got_float.text
    stream = recognizer.stream()
    for start in range(0, len(audio), 2560):
        stream.accept(np.stack([audio[start:start + 2560]] * 2, axis=1))    # [n, 2]
    assert stream.finish().text == want.text
    from mindaudio.errors import AudioError
    with pytest.raises(AudioError, match="stream chunk: 1 sample"):
        recognizer.stream().accept(np.array([0.1, np.nan, 0.1], np.float32))
