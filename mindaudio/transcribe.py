"""Transcribe audio files with a checkpoint:

    python -m mindaudio.transcribe --checkpoint runs/demo FILE.wav [FILE.flac ...]
    python -m mindaudio.transcribe --checkpoint best.ckpt -c deepspeech2.yaml \\
        -o eval.decoder=beam -o eval.lm_path=lm.arpa a.flac

Prints ``<file>\\t<text>`` per file (``--text-only``: just the text). Any format libsndfile reads (wav, flac, ...),
any sample rate (resampled), mono or multi-channel (mixed down). Without ``-c`` the config stored in the
checkpoint is used. Long recordings are cut into chunks of at most ``--chunk-seconds`` at the quietest point of
the chunk's last ``--search-seconds`` (so cuts fall in pauses, not inside words), each chunk gets the same
features as a training utterance, and the chunks' log-probabilities are joined and decoded in one pass (so a
beam search LM sees across cuts). A file that cannot be read is reported on stderr, the others are still
transcribed, and the exit status is 1 if any file failed.
"""
import argparse
import logging
import sys

import numpy as np

from mindaudio.config import add_config_args
from mindaudio.data.features import AudioError, frame_params, load_any_audio, spectrogram

log = logging.getLogger("mindaudio.transcribe")


def chunk_bounds(audio, sample_rate, chunk_seconds=30.0, search_seconds=10.0, window_seconds=0.1):
    """Cut points for long audio: [(start, end)] sample ranges covering ``audio`` with no gap or overlap, each at
    most ``chunk_seconds`` long. Each cut is placed at the centre of the quietest ``window_seconds`` window (mean
    power) in the last ``search_seconds`` of the chunk."""
    n = len(audio)
    max_len = int(chunk_seconds * sample_rate)
    if n <= max_len:
        return [(0, n)]
    search = min(int(search_seconds * sample_rate), max_len // 2)
    win = max(1, int(window_seconds * sample_rate))
    power = np.asarray(audio, dtype=np.float64) ** 2
    cumulative = np.concatenate([[0.0], np.cumsum(power)])
    bounds, start = [], 0
    while n - start > max_len:
        lo, hi = start + max_len - search, start + max_len      # the cut lies in [lo, hi]
        centres = np.arange(lo, hi + 1)
        left = np.clip(centres - win // 2, 0, n)
        right = np.clip(centres + (win - win // 2), 0, n)
        energy = (cumulative[right] - cumulative[left]) / np.maximum(right - left, 1)
        cut = int(centres[int(np.argmin(energy))])
        bounds.append((start, cut))
        start = cut
    bounds.append((start, n))
    return bounds


class Transcriber:
    """A checkpoint's network + the configured decoder: audio → text."""

    def __init__(self, cfg, checkpoint_path, chunk_seconds=30.0, search_seconds=10.0):
        from mindaudio.decoding import build_decoder
        from mindaudio.inference import load_network, resolve_checkpoint
        from mindaudio.text import Labels
        self.cfg = cfg
        self.labels = Labels.from_config(cfg.text)
        self.decoder = build_decoder(cfg.eval, self.labels)
        self.net = load_network(cfg, resolve_checkpoint(checkpoint_path))
        self.chunk_seconds, self.search_seconds = chunk_seconds, search_seconds

    def log_probs(self, audio):
        """audio [S] at ``features.sample_rate`` → log-probs [T', C] of the whole recording (chunks joined)."""
        from mindaudio.inference import forward
        sr = self.cfg.features.sample_rate
        hop = frame_params(self.cfg.features)[1]
        parts = []
        for start, end in chunk_bounds(audio, sr, self.chunk_seconds, self.search_seconds):
            chunk = audio[start:end]
            if len(chunk) < hop and parts:                   # a sliver at the very end: nothing to hear
                continue
            lp, lens = forward(self.net, [spectrogram(chunk, self.cfg.features)], self.cfg)
            parts.append(lp[:int(lens[0]), 0])
        return np.concatenate(parts, axis=0)

    def transcribe_audio(self, audio):
        lp = self.log_probs(audio)
        return self.decoder.decode(lp[:, None, :], np.array([lp.shape[0]]))[0]

    def transcribe_file(self, path):
        """Raises AudioError (with the path) for a file that cannot be read."""
        audio = load_any_audio(path, self.cfg.features.sample_rate)
        if len(audio) == 0:
            raise AudioError(f"{path}: empty audio")
        return self.transcribe_audio(audio)


def main(argv=None):
    parser = add_config_args(argparse.ArgumentParser(prog="python -m mindaudio.transcribe", description=__doc__,
                                                     formatter_class=argparse.RawDescriptionHelpFormatter))
    parser.add_argument("--checkpoint", required=True, help="checkpoint file, or a run directory (uses its best)")
    parser.add_argument("files", nargs="+", metavar="FILE", help="audio files (wav, flac, ...)")
    parser.add_argument("--chunk-seconds", type=float, default=30.0,
                        help="longest piece fed to the network at once (default: %(default)s)")
    parser.add_argument("--search-seconds", type=float, default=10.0,
                        help="where to look for a pause before each cut (default: last %(default)s s of a chunk)")
    parser.add_argument("--text-only", action="store_true", help="print only the text, one line per file")
    args = parser.parse_args(argv)
    if args.chunk_seconds <= 0 or args.search_seconds < 0:
        parser.error("--chunk-seconds must be > 0 and --search-seconds ≥ 0")
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(message)s")
    from mindaudio.cli import checkpoint_and_config, fail
    checkpoint, cfg = checkpoint_and_config(args)
    try:
        transcriber = Transcriber(cfg, checkpoint, args.chunk_seconds, args.search_seconds)
    except (FileNotFoundError, RuntimeError, ValueError) as e:
        fail(e)
    failed = 0
    for path in args.files:
        try:
            text = transcriber.transcribe_file(path)
        except AudioError as e:
            failed += 1
            print(f"error: {e}", file=sys.stderr, flush=True)
            continue
        print(text if args.text_only else f"{path}\t{text}", flush=True)
    if failed:
        parser.exit(1, f"error: {failed} of {len(args.files)} file(s) could not be transcribed\n")


if __name__ == "__main__":
    main()
