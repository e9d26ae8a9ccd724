"""Evaluation (``mindaudio-eval`` / eval.py) on a tiny model trained by the ``tiny_run`` fixture (barely trained:
the tests check plumbing, counting and invariance, not accuracy)."""
import json
import os
import re
import sys

import pytest

from mindaudio.data.manifest import read_manifest
from tests.helpers import EVAL_LINE as LINE, edit_distance, python



@pytest.fixture(scope="session")
def broken_manifest(tiny_run, tmp_path_factory):
    """Four val utterances and one whose audio file is not audio."""
    d = tmp_path_factory.mktemp("broken")
    bad = d / "corrupt.wav"
    bad.write_bytes(b"RIFF....this is not a wav file")
    entries = read_manifest(tiny_run["val"])[:4]
    entries.insert(2, {"id": "corrupt-0000", "audio_filepath": str(bad), "duration": 1.0, "text": "NOT HEARD"})
    path = d / "broken_manifest.json"
    path.write_text("".join(json.dumps(e) + "\n" for e in entries))
    return str(path)


@pytest.fixture(scope="session")
def eval_output(tiny_run, chatty_checkpoint, broken_manifest, tmp_path_factory):
    """eval.py on a run directory (the chatty one), three manifests, one with an unreadable file."""
    out = tmp_path_factory.mktemp("eval") / "results.jsonl"
    run_dir = os.path.dirname(os.path.dirname(chatty_checkpoint))
    proc = python("eval.py", "--checkpoint", run_dir, "--output", str(out),
                  "--manifests", tiny_run["val"], tiny_run["test_clean"], broken_manifest)
    return proc, out


def test_eval_scores_every_utterance_once_and_reports_unreadable_audio(tiny_run, broken_manifest, eval_output):
    proc, out = eval_output
    assert proc.returncode == 3, proc.stderr                      # scored, but one file was unreadable
    lines = LINE.findall(proc.stdout)
    assert [m[0] for m in lines] == ["val", "test_clean", "broken_manifest"], proc.stdout
    rows = [json.loads(line) for line in open(out)]
    summary = json.load(open(str(out).replace(".jsonl", "_summary.json")))
    assert summary["checkpoint"].endswith(os.path.join("checkpoints", "best.ckpt"))   # run dir → its best
    for (name, wer, cer, cer_nospace, n, decoder), manifest in zip(lines, [tiny_run["val"], tiny_run["test_clean"],
                                                              broken_manifest]):
        entries = read_manifest(manifest)
        mine = [r for r in rows if r["manifest"] == name]
        assert int(n) == len(entries) == len(mine) == summary["results"][name]["utterances"]
        assert [r["id"] for r in mine] == [e["id"] for e in entries]  # each once, in manifest order
        assert [r["ref"] for r in mine] == [" ".join(e["text"].upper().split()) for e in entries]
        assert decoder == "greedy"
        for r in mine:                                             # the counts are those of the strings shown
            assert r["word_edits"] == edit_distance(r["ref"].split(), r["hyp"].split())
            assert r["char_edits"] == edit_distance(r["ref"], r["hyp"])
            assert r["char_edits_nospace"] == edit_distance(r["ref"].replace(" ", ""), r["hyp"].replace(" ", ""))
            assert r["ref"] == " ".join(r["ref"].split()) and r["hyp"] == " ".join(r["hyp"].split())
        want_wer = 100 * sum(edit_distance(r["ref"].split(), r["hyp"].split()) for r in mine) \
            / sum(len(r["ref"].split()) for r in mine)
        want_cer = 100 * sum(edit_distance(r["ref"], r["hyp"]) for r in mine) / sum(len(r["ref"]) for r in mine)
        want_nospace = 100 * sum(edit_distance(r["ref"].replace(" ", ""), r["hyp"].replace(" ", "")) for r in mine) \
            / sum(len(r["ref"].replace(" ", "")) for r in mine)
        assert float(wer) == pytest.approx(want_wer, abs=0.005) and float(cer) == pytest.approx(want_cer, abs=0.005)
        assert float(cer_nospace) == pytest.approx(want_nospace, abs=0.005) and want_nospace != want_cer
        assert summary["results"][name]["cer_nospace"] == pytest.approx(want_nospace)
        assert summary["results"][name]["wer"] == pytest.approx(want_wer)
        assert summary["results"][name]["cer"] == pytest.approx(want_cer)
    bad = [r for r in rows if r["id"] == "corrupt-0000"]
    assert len(bad) == 1 and bad[0]["hyp"] == "" and "corrupt.wav" in bad[0]["error"]
    assert bad[0]["word_edits"] == 2 and bad[0]["char_edits"] == len("NOT HEARD")   # counted as deletions
    assert summary["results"]["broken_manifest"]["unreadable"] == ["corrupt-0000"]
    assert "corrupt.wav" in proc.stderr and "1 of 5 utterances could not be read" in proc.stderr
    assert sum(len(r["hyp"]) for r in rows) > 100       # real hypotheses, so the recomputation means something


@pytest.mark.slow
def test_results_do_not_depend_on_batch_size(tiny_run, batch_results):
    assert len(batch_results[1]) == len(read_manifest(tiny_run["test_clean"]))
    assert [(r["id"], r["hyp"]) for r in batch_results[1]] == [(r["id"], r["hyp"]) for r in batch_results[32]]
    assert sum(len(r["hyp"]) for r in batch_results[1]) > 100, "transcripts too short for a real comparison"


def test_eval_uses_the_stored_config_and_default_manifests(tiny_run):
    from mindaudio.inference.evaluate import manifest_name
    from mindaudio.inference.network import config_for
    cfg = config_for(tiny_run["checkpoint"])
    assert cfg.model.rnn_hidden == 16 and cfg.data.test_manifests == [tiny_run["test_clean"]]
    assert manifest_name("/x/libri_test_other_manifest.json") == "test_other"
    assert manifest_name("/y/dev.json") == "dev"
