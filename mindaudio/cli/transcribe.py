"""Transcribe audio files with a trained model:

    mindaudio-transcribe --checkpoint runs/demo FILE.wav [FILE.flac ...]
    mindaudio-transcribe --checkpoint best.ckpt -o eval.decoder=beam -o eval.lm_path=lm.arpa --json a.flac
    mindaudio-transcribe --mindir model.mindir talk.wav
    mindaudio-transcribe --checkpoint runs/demo_streaming --stream talk.wav     # partials as the file is read

Prints ``<file>\\t<text>`` per file; ``--text-only``: the text alone, one line per file (an empty line for a file
that cannot be read, so that lines match the inputs); ``--json``: one JSON object per file with the text, the
words with their start and end times (seconds) and confidence, the duration and the decoder. Any format libsndfile
reads (wav, flac, ogg/opus, mp3...), any sample rate (resampled), any channels (mixed down). Long recordings are
cut in pauses into chunks of at most ``--chunk-seconds`` (see mindaudio/inference/recognizer.py). A file that cannot be read
is reported on stderr and the others are still transcribed.

``--stream`` (streaming models): the file is read and fed ``--chunk-ms`` at a time, each new partial transcript is
printed as it comes (on a terminal, over the same line), then the final one as above.

Exit status: 0 all transcribed; 1 error (none transcribed); 2 bad arguments or config; 3 some files failed.
"""
import json
import logging
import sys

from mindaudio.cli import EXIT_ERROR, EXIT_PARTIAL, Parser, add_model_args, build_recognizer, fail, guarded
from mindaudio.config import option
from mindaudio.errors import AudioError, ConfigError


def stream_file(recognizer, path, chunk_ms):
    """Feed ``path`` to a stream ``chunk_ms`` at a time, printing each new partial to stderr."""
    audio = recognizer.load(path)
    step = max(1, int(chunk_ms * recognizer.sample_rate / 1000))
    stream, last, tty = recognizer.stream(), None, sys.stderr.isatty()
    for start in range(0, len(audio), step):
        partial = stream.accept(audio[start:start + step])
        if partial != last:
            print(("\r\033[K" if tty else "") + f"... {partial}", end="" if tty else "\n", file=sys.stderr, flush=True)
            last = partial
    if tty:
        print("\r\033[K", end="", file=sys.stderr, flush=True)
    return stream.finish()


@guarded
def main(argv=None):
    parser = add_model_args(Parser(prog="mindaudio-transcribe", description=__doc__))
    parser.add_argument("files", nargs="+", metavar="FILE", help="audio files")
    out = parser.add_mutually_exclusive_group()
    out.add_argument("--text-only", action="store_true", help="print only the text, one line per file")
    out.add_argument("--json", action="store_true", help="one JSON object per file, with word times")
    parser.add_argument("--hotwords", nargs="+", default=None, help="words to favour (beam decoder)")
    parser.add_option("--hotword-weight", old=("--hotword_weight",), type=option(float), default=10.0)
    parser.add_argument("--stream", action="store_true", help="feed the file chunk by chunk, printing partials")
    parser.add_option("--chunk-ms", old=("--chunk_ms",), type=option(float, 0, 60000, True), default=160.0,
                      help="chunk size for --stream (default 160 ms)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(message)s")
    recognizer = build_recognizer(args)
    failed = 0
    if args.stream and not recognizer.streaming:
        raise ConfigError("--stream needs a streaming model (model.bidirectional: false)")
    for path in args.files:
        try:
            if args.stream:
                result = stream_file(recognizer, path, args.chunk_ms)
            else:
                result = recognizer.transcribe(path, hotwords=args.hotwords, hotword_weight=args.hotword_weight)
        except AudioError as e:
            failed += 1
            print(f"error: {e}", file=sys.stderr, flush=True)
            if args.text_only:
                print("", flush=True)                       # one line per input, always
            elif args.json:
                print(json.dumps({"file": path, "error": str(e)}), flush=True)
            continue
        if args.json:
            print(json.dumps({"file": path, **result.to_dict()}), flush=True)
        else:
            print(result.text if args.text_only else f"{path}\t{result.text}", flush=True)
    if failed:
        fail(f"{failed} of {len(args.files)} file(s) could not be transcribed",
             EXIT_ERROR if failed == len(args.files) else EXIT_PARTIAL)


if __name__ == "__main__":
    main()
