"""Bad inputs, one row each: the command, its exit status, and the sentence it must print. No traceback, ever.

Commands run in-process (their ``main`` under cli.guarded), so a row costs milliseconds to a second; add the next
case as one more row of CASES. Exit statuses: 0 ok, 1 error, 2 config or usage error, 3 partial results.
"""
import json
import logging
import os
import subprocess
import sys

import numpy as np
import pytest
import soundfile

from tests.helpers import DEMO, REPO


@pytest.fixture(scope="module")
def files(tmp_path_factory, tiny_run):
    """Every bad file the table refers to, by name."""
    d = tmp_path_factory.mktemp("bad")
    wav = d / "ok.wav"
    soundfile.write(wav, np.random.default_rng(0).normal(0, 0.1, 16000).astype(np.float32), 16000)
    corrupt = d / "corrupt.wav"
    corrupt.write_bytes(b"RIFF this is not a wav file at all")

    def manifest(name, lines):
        path = d / name
        path.write_text("".join((line if isinstance(line, str) else json.dumps(line)) + "\n" for line in lines))
        return str(path)

    def entry(uid, path=str(wav), text="HELLO", duration=1.0):
        return {"id": uid, "audio_filepath": path, "duration": duration, "text": text}
    (d / "out_dir").mkdir()
    (d / "bad.yaml").write_text("train:\n  lr: [unclosed\n")
    (d / "list.yaml").write_text("- just\n- a list\n")
    (d / "broken.ckpt").write_bytes(b"not a checkpoint")
    flipped = bytearray(open(tiny_run["checkpoint"], "rb").read())    # one bit of one byte changed
    flipped[len(flipped) // 3] ^= 0x04
    (d / "flipped.ckpt").write_bytes(bytes(flipped))
    return {
        "dir": str(d), "wav": str(wav), "tiny": tiny_run["checkpoint"], "flipped": str(d / "flipped.ckpt"),
        "empty": manifest("empty.json", []),
        "no_field": manifest("no_field.json", [{"id": "a", "duration": 1.0, "text": "A"}]),
        "not_json": manifest("not_json.json", ["{this is not json"]),
        "negative": manifest("negative.json", [entry("a", duration=-1.0)]),
        "all_corrupt": manifest("all_corrupt.json", [entry(f"c{i}", str(corrupt)) for i in range(3)]),
        "all_empty_refs": manifest("all_empty_refs.json", [entry("a", text=""), entry("b", text=" ")]),
        "all_filtered": manifest("all_filtered.json", [entry("a", duration=1.0), entry("b", duration=1.0)]),
        "good": manifest("good.json", [entry("a")]),
    }


def _train(argv):
    import train
    return train.main(argv)


def _eval(argv):
    import eval as evaluate_cli
    return evaluate_cli.main(argv)


def _transcribe(argv):
    from mindaudio.cli.transcribe import main
    return main(argv)


def _average(argv):
    from mindaudio.cli.average import main
    return main(argv)


def _export(argv):
    from mindaudio.cli.export import main
    return main(argv)


def _serve(argv):
    from mindaudio.cli.serve import main
    return main(argv)


def _prep(argv):
    from mindaudio.cli.prepare import main
    return main(argv)


CASES = [  # (name, command, argv with {placeholders} from the files fixture, exit status, message)
    ("lr infinite", _train, ["-c", DEMO, "-o", "train.lr=.inf"], 2, "train.lr: must be a finite number"),
    ("lr not a number", _train, ["-c", DEMO, "-o", "train.lr=.nan"], 2, "must be a finite number, got nan"),
    ("ratio out of range", _train, ["-c", DEMO, "-o", "augment.time_ratio=1.5"], 2, "augment.time_ratio must be"),
    ("negative batch", _train, ["-c", DEMO, "-o", "train.batch_size=-4"], 2, "train.batch_size must be ≥ 1"),
    ("unknown key", _train, ["-c", DEMO, "-o", "train.epoch=3"], 2, "did you mean 'train.epochs'"),
    ("missing config", _train, ["-c", "{dir}/missing.yaml"], 2, "config file not found"),
    ("broken yaml", _train, ["-c", "{dir}/bad.yaml"], 2, "not valid YAML"),
    ("yaml not a mapping", _train, ["-c", "{dir}/list.yaml"], 2, "must be a mapping"),
    ("hop beyond window", _train, ["-c", DEMO, "-o", "features.hop_ms=30"], 2, "hop_ms must not exceed"),
    ("train manifest missing", _train, ["-c", DEMO, "-o", "data.train_manifest={dir}/nope.json"], 1,
     "manifest not found"),
    ("empty train manifest", _train, ["-c", DEMO, "-o", "data.train_manifest={empty}", "-o", "data.val_manifest="], 1,
     "0 usable training utterance(s) of 0 (the manifest is empty)"),
    ("manifest field missing", _train, ["-c", DEMO, "-o", "data.train_manifest={no_field}"], 1,
     "missing field(s) ['audio_filepath']"),
    ("manifest not JSON", _train, ["-c", DEMO, "-o", "data.train_manifest={not_json}"], 1, "not valid JSON"),
    ("negative duration", _train, ["-c", DEMO, "-o", "data.train_manifest={negative}"], 1,
     "'duration' must be a positive number"),
    ("no readable audio", _train, ["-c", DEMO, "-o", "data.train_manifest={all_corrupt}", "-o", "data.val_manifest="],
     1, "0 usable training utterance(s) of 3 (unreadable audio 3)"),
    ("everything filtered", _train, ["-c", DEMO, "-o", "data.train_manifest={all_filtered}", "-o",
                                     "data.val_manifest=", "-o", "data.max_duration=0.5"], 1, "too long 2"),
    ("resume from a missing file", _train, ["-c", DEMO, "-o", "data.train_manifest={good}", "-o",
                                            "data.val_manifest=", "-o", "train.output_dir={dir}/r1", "-o",
                                            "train.resume={dir}/none.ckpt"], 1, "checkpoint not found"),
    ("resume from a corrupt file", _train, ["-c", DEMO, "-o", "data.train_manifest={good}", "-o",
                                            "data.val_manifest=", "-o", "train.output_dir={dir}/r2", "-o",
                                            "train.resume={dir}/broken.ckpt"], 1, "cannot read checkpoint"),
    ("eval: missing checkpoint", _eval, ["--checkpoint", "{dir}/none.ckpt"], 1, "checkpoint not found"),
    ("eval: corrupt checkpoint", _eval, ["--checkpoint", "{dir}/broken.ckpt"], 1, "cannot read checkpoint"),
    ("eval: empty run directory", _eval, ["--checkpoint", "{dir}/out_dir"], 1, "no checkpoint in run directory"),
    ("eval: empty manifest", _eval, ["--checkpoint", "{tiny}", "--manifests", "{empty}"], 1, "holds no utterance"),
    ("eval: all references empty", _eval, ["--checkpoint", "{tiny}", "--manifests", "{all_empty_refs}"], 1,
     "every reference transcript"),
    ("eval: output is a directory", _eval, ["--checkpoint", "{tiny}", "--manifests", "{good}", "--output",
                                            "{dir}/out_dir"], 1, "is a directory"),
    ("eval: missing LM", _eval, ["--checkpoint", "{tiny}", "--manifests", "{good}", "-o", "eval.decoder=beam", "-o",
                                 "eval.lm_path={dir}/none.arpa"], 1, "language model not found"),
    ("eval: bad override", _eval, ["--checkpoint", "{tiny}", "-o", "eval.beam_width=0"], 2, "beam_width must be"),
    ("transcribe: no model", _transcribe, ["{wav}"], 2, "exactly one of --checkpoint and --mindir"),
    ("transcribe: nothing readable", _transcribe, ["--checkpoint", "{tiny}", "{dir}/none.wav", "--text-only"], 1,
     "1 of 1 file(s) could not be transcribed"),
    ("average: no validations", _average, ["{dir}/out_dir", "--best", "2", "--output", "{dir}/avg.ckpt"], 1,
     "has no metrics.jsonl"),
    ("eval: one flipped byte", _eval, ["--checkpoint", "{flipped}", "--manifests", "{good}"], 1,
     "is corrupted: its checksum does not match"),
    ("transcribe: one flipped byte", _transcribe, ["--checkpoint", "{flipped}", "{wav}"], 1, "is corrupted"),
    ("export: one flipped byte", _export, ["--checkpoint", "{flipped}", "--output", "{dir}/x.mindir"], 1,
     "is corrupted"),
    ("average: one flipped byte", _average, ["{tiny}", "{flipped}", "--output", "{dir}/avg2.ckpt"], 1,
     "is corrupted"),
    ("serve: one flipped byte", _serve, ["--checkpoint", "{flipped}"], 1, "is corrupted"),
    ("resume: one flipped byte", _train, ["-c", DEMO, "-o", "data.train_manifest={good}", "-o", "data.val_manifest=",
                                         "-o", "train.output_dir={dir}/r3", "-o", "train.resume={flipped}"], 1,
     "is corrupted"),
    ("average: output is a directory", _average, ["{tiny}", "{tiny}", "-o", "{dir}/out_dir"], 2, "is a directory"),
    ("prep: nothing there", _prep, ["--root-path", "{dir}/no_corpus", "--data-ready", "--no-progress"], 1,
     "no LibriSpeech archive"),
]


@pytest.mark.parametrize("name, command, argv, status, message", CASES, ids=[c[0] for c in CASES])
def test_bad_input(files, name, command, argv, status, message, capsys):
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    try:
        with pytest.raises(SystemExit) as exit_info:
            command([a.format(**files) for a in argv])
    finally:
        root.handlers[:], root.level = handlers, level
    out, err = capsys.readouterr()
    assert exit_info.value.code == status, err
    assert message in err, err
    assert "Traceback" not in out + err


def test_transcribe_keeps_one_line_per_input(files, capsys):
    with pytest.raises(SystemExit) as exit_info:
        _transcribe(["--checkpoint", files["tiny"], files["wav"], f"{files['dir']}/none.wav", files["wav"],
                     "--text-only"])
    out, err = capsys.readouterr()
    assert exit_info.value.code == 3 and len(out.splitlines()) == 3 and out.splitlines()[1] == ""
    assert "none.wav" in err


@pytest.fixture
def tiny_disk(tmp_path):
    """A 1 MB tmpfs: a real full disk (root only)."""
    mount = tmp_path / "disk"
    mount.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)], capture_output=True).returncode:
        pytest.skip("cannot mount a tmpfs here (needs root)")
    yield mount
    subprocess.run(["umount", str(mount)], capture_output=True)


def test_full_disk_while_saving_a_checkpoint(tiny_disk):
    import mindspore as ms
    from mindaudio import checkpoint
    manager = checkpoint.CheckpointManager(str(tiny_disk), keep=3)
    small = {"w": ms.Tensor(np.ones(1000, np.float32))}
    first = manager.save(small, {"global_step": 1})
    with pytest.raises(checkpoint.CheckpointError, match=f"no space left on {tiny_disk}"):
        manager.save({"w": ms.Tensor(np.ones(1_000_000, np.float32))}, {"global_step": 2})   # 4 MB
    assert os.listdir(manager.dir) == [os.path.basename(first)]          # the earlier one kept, no half file


def test_full_disk_while_preparing(tiny_disk, capsys):
    """Converting the demo corpus into 1 MB: 'no space left', no temporary file left, finished files kept."""
    os.symlink(os.path.join(REPO, "examples", "demo_corpus", "LibriSpeech"), tiny_disk / "LibriSpeech")
    with pytest.raises(SystemExit) as exit_info:
        _prep(["--root-path", str(tiny_disk), "--data-ready", "--subsets", "dev-clean", "--num-workers", "1",
               "--no-progress"])
    err = capsys.readouterr().err
    assert exit_info.value.code == 1 and "no space left on" in err and "Traceback" not in err
    leftovers = [f for _, _, names in os.walk(tiny_disk / "val") for f in names if ".tmp" in f]
    assert leftovers == [] and not os.path.exists(tiny_disk / "val" / "libri_val_manifest.json")


def test_a_second_preparation_of_the_same_directory_is_refused(tmp_path, capsys):
    root = tmp_path / "corpus"
    holder = subprocess.Popen([sys.executable, "-c", "import sys, time; from mindaudio.fileio import hold_lock; "
                               f"hold_lock({str(root)!r}, '.prepare.lock', 'x'); print('held', flush=True); "
                               "time.sleep(60)"], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(SystemExit) as exit_info:
            _prep(["--root-path", str(root), "--data-ready", "--no-progress"])
    finally:
        holder.kill()
        holder.wait()
    err = capsys.readouterr().err
    assert exit_info.value.code == 1 and f"another preparation is running in {root} (pid {holder.pid})" in err


def test_prep_writes_no_manifest_for_a_split_with_nothing_usable(tmp_path, capsys):
    """Every transcript empty: the split has no manifest (not an empty one), and the error says where to look."""
    d = tmp_path / "LibriSpeech" / "dev-clean" / "1" / "2"
    d.mkdir(parents=True)
    for i in range(2):
        soundfile.write(d / f"1-2-{i:04d}.flac", np.zeros(8000, np.float32), 16000)
    (d / "1-2.trans.txt").write_text("1-2-0000\n1-2-0001 \n")
    with pytest.raises(SystemExit) as exit_info:
        _prep(["--root-path", str(tmp_path), "--data-ready", "--no-progress", "--num-workers", "1"])
    err = capsys.readouterr().err
    assert exit_info.value.code == 1 and "val: no usable utterance (empty_transcript 2)" in err
    assert "skipped.tsv" in err and not (tmp_path / "val" / "libri_val_manifest.json").exists()
