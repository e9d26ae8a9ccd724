"""MindIR export: the exported graph gives the checkpoint's log-probabilities and transcripts, for any length and,
loaded with its dynamic signature, any batch size."""
import os

import numpy as np
import pytest

from mindaudio.data.manifest import read_manifest


@pytest.mark.slow
def test_export_mindir_gives_the_checkpoints_transcripts(tiny_run, chatty_checkpoint, tmp_path):
    import mindspore as ms
    from mindspore import nn
    from mindaudio.data import audio
    from mindaudio.data.features import spectrogram
    from mindaudio.decoding import greedy_decode
    from mindaudio.inference.export import export_mindir
    from mindaudio.inference.network import config_for, forward, load_mindir, load_network
    from mindaudio.text import Labels
    cfg = config_for(chatty_checkpoint)
    path = export_mindir(cfg, chatty_checkpoint, str(tmp_path / "model"))
    assert path == str(tmp_path / "model.mindir") and os.path.isfile(tmp_path / "model.json")
    net = load_network(cfg, chatty_checkpoint)
    labels = Labels.from_config(cfg.text)
    entries = read_manifest(tiny_run["test_clean"])
    shortest, longest = min(entries, key=lambda e: e["duration"]), max(entries, key=lambda e: e["duration"])
    feats = [spectrogram(audio.read(e["audio_filepath"], 16000), cfg.features) for e in (shortest, longest)]
    assert feats[0].shape[1] != feats[1].shape[1]

    def check(graph, batch):
        want_lp, want_len = forward(net, batch, cfg)
        x = np.zeros((len(batch), 1, batch[0].shape[0], max(f.shape[1] for f in batch)), np.float32)
        for b, f in enumerate(batch):
            x[b, 0, :, :f.shape[1]] = f
        got_lp, got_len = graph(ms.Tensor(x), ms.Tensor(np.array([f.shape[1] for f in batch], np.int32)))
        got_lp, got_len = got_lp.asnumpy(), got_len.asnumpy()
        np.testing.assert_array_equal(got_len, want_len)
        for b, n in enumerate(want_len):
            np.testing.assert_allclose(got_lp[:n, b], want_lp[:n, b], atol=1e-4)
        texts = greedy_decode(got_lp, got_len, labels)
        assert texts == greedy_decode(want_lp, want_len, labels) and all(texts)

    plain = nn.GraphCell(ms.load(path))
    for batch in ([feats[0]], [feats[1]]):                        # two lengths
        check(plain, batch)
    dynamic = load_mindir(path)
    for batch in ([feats[1]], feats, [feats[0]]):                 # and batch sizes (needs set_inputs)
        check(dynamic, batch)
