"""Bad inputs, one row each: the command, its exit status, and the sentence it must print. No traceback, ever.

Commands run in-process (their ``main`` under cli.guarded), so a row costs milliseconds to a second; add the next
case as one more row of CASES. Exit statuses: 0 ok, 1 error, 2 config or usage error, 3 partial results.
"""
import json
import logging
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import soundfile

from tests.helpers import DEMO, REPO, python


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
    import mindspore as ms
    from mindaudio import checkpoint
    params, meta = checkpoint.load(tiny_run["checkpoint"])
    stats = params["conv1.bn.moving_mean"].asnumpy().copy()
    stats[0] = np.nan                                                  # what a poisoned BatchNorm leaves
    params["conv1.bn.moving_mean"].set_data(ms.Tensor(stats))
    checkpoint.save(str(d / "nan.ckpt"), params, meta)
    nan_wav = d / "nan.wav"
    soundfile.write(nan_wav, np.where(np.arange(16000) == 100, np.nan, 0.1).astype(np.float32), 16000,
                    subtype="FLOAT")
    (d / "metrics.jsonl").write_text('{"step": 2, "loss": 3.1}\n{"step": 4, "lo')   # the last line cut short
    (d / "latin1.yaml").write_bytes("train:\n  output_dir: caf\xe9\n".encode("latin-1"))
    from mindaudio.lm import estimate, write_arpa
    write_arpa(str(d / "lm.arpa"), *estimate([["HELLO", "THERE"], ["HELLO"]], 2)[:2], 2)
    (d / "bad_line.json").write_text('{"text": "HELLO THERE"}\n{"AUDIO_FILEPATH": "x.wav", "duration": 1}\n')
    return {
        "dir": str(d), "wav": str(wav), "tiny": tiny_run["checkpoint"], "flipped": str(d / "flipped.ckpt"),
        "nan_ckpt": str(d / "nan.ckpt"), "nan_wav": str(nan_wav), "metrics": str(d / "metrics.jsonl"),
        "latin1": str(d / "latin1.yaml"), "bad_line": str(d / "bad_line.json"), "train": tiny_run["train"],
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


def _tune_lm(argv):
    from mindaudio.cli.tune_lm import main
    return main(argv)


def _build_arpa(argv):
    from mindaudio.cli.build_arpa import main
    return main(argv)


def _plot(argv):
    from mindaudio.cli.plot import main
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
    # a score needs its denominator
    ("tune_lm: empty manifest", _tune_lm, ["--checkpoint", "{tiny}", "--lm", "{dir}/lm.arpa", "--manifest", "{empty}"],
     1, "holds no utterance: nothing to score"),
    ("tune_lm: all references empty", _tune_lm, ["--checkpoint", "{tiny}", "--lm", "{dir}/lm.arpa", "--manifest",
                                                 "{all_empty_refs}"], 1, "every reference transcript"),
    # every number a result is built from is finite
    ("average: NaN parameter", _average, ["{tiny}", "{nan_ckpt}", "--output", "{dir}/avg3.ckpt"], 1,
     "holds non-finite values (NaN or infinity) in conv1.bn.moving_mean"),
    ("eval: NaN parameter", _eval, ["--checkpoint", "{nan_ckpt}", "--manifests", "{good}"], 1, "non-finite values"),
    ("export: NaN parameter", _export, ["--checkpoint", "{nan_ckpt}", "--output", "{dir}/y.mindir"], 1,
     "non-finite values"),
    ("transcribe: NaN sample", _transcribe, ["--checkpoint", "{tiny}", "{nan_wav}"], 1,
     "1 sample(s) are NaN or infinite"),
    # every option through the schema: none can configure a hang
    ("transcribe: chunk of 1e-9 s", _transcribe, ["--checkpoint", "{tiny}", "--chunk-seconds", "1e-9", "{wav}"], 2,
     "chunk_seconds must be a finite number of at least 0.07 s"),
    ("transcribe: chunk of 5 ms", _transcribe, ["--checkpoint", "{tiny}", "--chunk-seconds", "0.005", "{wav}"], 2,
     "at least 0.07 s (the input one output frame of this network sees)"),
    ("serve: chunk of 0 s", _serve, ["--checkpoint", "{tiny}", "--chunk-seconds", "0"], 2,
     "argument --chunk-seconds: must be > 0"),
    ("serve: infinite limit", _serve, ["--checkpoint", "{tiny}", "--max-seconds", "inf"], 2,
     "argument --max-seconds: must be a finite number"),
    ("serve: negative search", _serve, ["--checkpoint", "{tiny}", "--search-seconds", "-5"], 2,
     "argument --search-seconds: must be ≥ 0"),
    ("tune_lm: --random -1", _tune_lm, ["--checkpoint", "{tiny}", "--random", "-1"], 2, "argument --random"),
    ("build_arpa: order 0", _build_arpa, ["{train}", "--order", "0", "--output", "{dir}/o.arpa"], 2,
     "argument --order: must be ≥ 1"),
    ("lookahead on a bidirectional model", _train, ["-c", DEMO, "-o", "model.lookahead=5"], 2,
     "model.lookahead is the streaming model's"),
    # every entry point under the same guard
    ("plot: no metrics file", _plot, ["{dir}/none.jsonl"], 1, "No such file or directory"),
    ("plot: output is a directory", _plot, ["{metrics}", "--output", "{dir}/out_dir"], 1, "is a directory"),
    ("build_arpa: missing input", _build_arpa, ["{dir}/none.txt", "--output", "{dir}/o.arpa"], 1,
     "No such file or directory"),
    ("build_arpa: output is a directory", _build_arpa, ["{train}", "--output", "{dir}/out_dir"], 1, "is a directory"),
    ("build_arpa: a malformed manifest line", _build_arpa, ["{bad_line}", "--output", "{dir}/o.arpa"], 1,
     "bad_line.json:2: not a JSON object with a \"text\" field"),
    ("config is a directory", _train, ["-c", "{dir}/out_dir"], 2, "is a directory, not a YAML file"),
    ("config not UTF-8", _train, ["-c", "{latin1}"], 2, "is not UTF-8 text"),
    # messages a user can act on
    ("train: missing manifest", _train, ["-c", DEMO, "-o", "data.train_manifest={dir}/nope.json", "-o",
                                         "train.output_dir={dir}/never_made"], 1, "mindaudio-prepare-librispeech"),
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


def test_a_failed_start_leaves_no_run_directory(files):
    assert not os.path.exists(os.path.join(files["dir"], "never_made"))


def test_no_npu_here_says_what_to_do(files):
    """On a machine without Ascend's libraries, the full recipe's device: one sentence with the override to use
    (in a subprocess: selecting a device the process cannot load leaves MindSpore unable to select another)."""
    proc = python("train.py", "-c", "deepspeech2", "-o", f"data.train_manifest={files['good']}", "-o",
                  f"train.output_dir={files['dir']}/npu_run")
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.strip().splitlines() == [
        "config error: this machine cannot run on Ascend, device 0 (MindSpore could not load its Ascend plugin: "
        "libge_runner.so: cannot open shared object file: No such file or directory); on a machine without an NPU, "
        "add -o train.device_target=CPU"]


def test_a_metrics_file_cut_short_still_plots(files, tmp_path, capsys):
    out = tmp_path / "new" / "dir" / "curve.png"                    # a missing output directory is made
    _plot([files["metrics"], "--output", str(out)])
    err = capsys.readouterr().err
    assert out.is_file() and "metrics.jsonl:2: not a JSON line (cut short?), skipped" in err


def test_one_run_per_directory(files, tmp_path, capsys):
    """A second training into a directory a running training holds stops at once, naming the first one's pid; the
    lock dies with its process, so SIGKILL + resume keeps working (tests/test_loop.py)."""
    run_dir = tmp_path / "held"
    holder = subprocess.Popen([sys.executable, "-c", "import time; from mindaudio.fileio import hold_lock; "
                               f"hold_lock({str(run_dir)!r}, '.run.lock', 'x'); print('held', flush=True); "
                               "time.sleep(60)"], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(SystemExit) as exit_info:
            _train(["-c", DEMO, "-o", f"data.train_manifest={files['good']}", "-o", "data.val_manifest=",
                    "-o", f"train.output_dir={run_dir}"])
    finally:
        holder.kill()
        holder.wait()
    assert exit_info.value.code == 1
    assert f"another training run is running in {run_dir} (pid {holder.pid})" in capsys.readouterr().err


def _corpus(root, chapters):
    """chapters: {(speaker, chapter): {utt: text}} → LibriSpeech/dev-clean tree with 0.5 s of noise per utterance."""
    for (speaker, chapter), texts in chapters.items():
        d = root / "LibriSpeech" / "dev-clean" / speaker / chapter
        d.mkdir(parents=True)
        for uid in texts:
            soundfile.write(d / f"{uid}.flac", np.random.default_rng(0).normal(0, 0.1, 8000).astype(np.float32),
                            16000)
        (d / f"{speaker}-{chapter}.trans.txt").write_text("".join(f"{u} {t}\n" for u, t in texts.items()))
    return root


def test_preparation_refuses_an_utterance_id_found_twice(tmp_path, capsys):
    """The same utterance id in two speaker directories would pair one speaker's audio with the other's transcript."""
    root = _corpus(tmp_path, {("1", "2"): {"1-2-0000": "HELLO"}, ("3", "4"): {"3-4-0000": "THERE"}})
    os.rename(root / "LibriSpeech/dev-clean/3/4/3-4-0000.flac", root / "LibriSpeech/dev-clean/3/4/1-2-0000.flac")
    with pytest.raises(SystemExit) as exit_info:
        _prep(["--root-path", str(root), "--data-ready", "--no-progress", "--num-workers", "1"])
    err = capsys.readouterr().err
    assert exit_info.value.code == 1 and "utterance id 1-2-0000 has two audio files" in err
    assert "1/2/1-2-0000.flac" in err and "3/4/1-2-0000.flac" in err and "Traceback" not in err


def test_preparation_names_an_undecodable_transcript_file_and_goes_on(tmp_path, capsys, caplog):
    root = _corpus(tmp_path, {("1", "2"): {"1-2-0000": "HELLO", "1-2-0001": "WORLD"}, ("3", "4"): {"3-4-0000": "OK"}})
    bad = root / "LibriSpeech/dev-clean/1/2/1-2.trans.txt"
    bad.write_bytes("1-2-0000 CAF\xc9\n1-2-0001 WORLD\n".encode("latin-1"))
    with pytest.raises(SystemExit) as exit_info:
        _prep(["--root-path", str(root), "--data-ready", "--no-progress", "--num-workers", "1"])
    out, err = capsys.readouterr()
    assert exit_info.value.code == 0 and f"{bad} is not UTF-8 text" in caplog.text
    assert "val: 1 utterances" in out and "undecodable_transcript 2" in out


def _interrupt(cmd, cwd, after=None, wait_for=None, timeout=120):
    """Start ``cmd`` in its own process group; send the group SIGINT (what Ctrl-C in a terminal does) ``after``
    seconds, or as soon as ``wait_for`` appears in its stderr. → (exit status, stderr)."""
    proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True, env=dict(os.environ, PYTHONUNBUFFERED="1"))
    lines = []
    if wait_for:
        for line in proc.stderr:
            lines.append(line)
            if wait_for in line:
                break
    else:
        time.sleep(after)
    os.killpg(proc.pid, signal.SIGINT)
    out, err = proc.communicate(timeout=timeout)
    return proc.returncode, "".join(lines) + err


@pytest.mark.slow
@pytest.mark.parametrize("phase", ["data", "compile", "steps"])
def test_ctrl_c_at_any_phase_of_training(files, tmp_path, phase):
    """Ctrl-C while the data loads, while MindSpore compiles the graph (it used to dump a C++ stack and leave
    rank_0/om/analyze_fail.ir in the current directory) and between steps (MindSpore turns it into a SIGTERM of its
    own, and the run used to exit 143 in silence): 'error: interrupted', exit 130, nothing in the current
    directory, and the run resumes."""
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    run = tmp_path / "run"
    cmd = [sys.executable, os.path.join(REPO, "train.py"), "-c", DEMO, "-o", f"data.train_manifest={files['train']}",
           "-o", "data.val_manifest=", "-o", f"train.output_dir={run}", "-o", "train.resume=auto"]
    wait_for = {"data": "padded frames per batch", "compile": "steps/epoch", "steps": " step 20 "}[phase]
    status, err = _interrupt(cmd, cwd, wait_for=wait_for)
    assert status == 130, err[-2000:]
    assert err.rstrip().endswith("error: interrupted") and "Traceback" not in err and "[ERROR]" not in err
    assert os.listdir(cwd) == []


@pytest.mark.slow
def test_ctrl_c_during_preparation(tmp_path):
    root = tmp_path / "corpus"
    root.mkdir()
    os.symlink(os.path.join(REPO, "examples", "demo_corpus", "LibriSpeech"), root / "LibriSpeech")
    cmd = [sys.executable, "-m", "mindaudio.cli.prepare", "--root-path", str(root), "--data-ready", "--num-workers",
           "2", "--no-progress"]
    status, err = _interrupt(cmd, tmp_path, after=1.5)                # while the training split converts
    assert status == 130 and err.rstrip().endswith("error: interrupted") and "Traceback" not in err, err[-2000:]
    leftovers = [f for _, _, names in os.walk(root) for f in names if f.startswith(".tmp-")]
    assert leftovers == [] and not (root / "train" / "libri_train_manifest.json").exists()
    assert subprocess.run(cmd, capture_output=True).returncode == 0       # and a rerun finishes the work
