#!/usr/bin/env python
"""Streaming transcription: real-time factor, per-chunk compute time and word latency per chunk size.

    python benchmarks/bench_streaming.py --model demo --chunks 160 1600 3200 8000      # random weights: speed only
    python benchmarks/bench_streaming.py --model full --chunks 1600 3200 8000 --seconds 10
    python benchmarks/bench_streaming.py --checkpoint runs/demo_streaming --utterances 20   # + word latency

Audio is fed chunk by chunk as if it arrived in real time (chunk i is complete at audio time (i+1)·chunk). RTF =
compute time / audio time. With a trained ``--checkpoint``, the test-clean utterances of its config are streamed and
each word of the final transcript gets a latency: the audio time at which the chunk whose partial first shows the word
(as in the final) was complete, plus that chunk's compute time, minus the end of the word (its last CTC frame in the
final transcript). Also prints the forward FLOPs per second of audio against the bidirectional model of the same size.
"""
import argparse
import dataclasses
import time

import numpy as np

from common import config, emit, machine

STREAMING = ["model.bidirectional=false", "features.normalize=running"]


def stream_once(rec, audio, chunk, sr):
    """→ (compute seconds per chunk, (audio end time, partial) per chunk, final transcript)."""
    stream, times, partials = rec.stream(), [], []
    for start in range(0, len(audio), chunk):
        t = time.perf_counter()
        text = stream.accept(audio[start:start + chunk])
        times.append(time.perf_counter() - t)
        partials.append((min(start + chunk, len(audio)) / sr, text))
    t = time.perf_counter()
    final = stream.finish()
    times.append(time.perf_counter() - t)
    partials.append((len(audio) / sr, final.text))
    return times, partials, final


def word_latencies(times, partials, final):
    out = []
    for k, word in enumerate(final.words):
        for (audio_time, text), compute in zip(partials, times):
            words = text.split()
            if len(words) > k and words[k] == word.word:
                out.append(audio_time + compute - word.end)
                break
    return out


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", choices=["full", "demo"], default="demo", help="random weights of this size")
    p.add_argument("--lookahead", type=int, default=0, help="frames (default: demo 10 as streaming.yaml, full 20)")
    p.add_argument("--checkpoint", help="a trained streaming run or checkpoint: word latency on its test set")
    p.add_argument("--utterances", type=int, default=20)
    p.add_argument("--seconds", type=float, default=10.0, help="length of the random audio (random weights)")
    p.add_argument("--chunks", type=int, nargs="+", default=[160, 1600, 3200, 8000], help="chunk sizes in samples")
    args = p.parse_args()

    from mindaudio import Recognizer
    from mindaudio.data.manifest import read_manifest
    from mindaudio.device import set_device
    from mindaudio.inference.network import build_network
    from mindaudio.models.cost import forward_flops

    if args.checkpoint:
        rec = Recognizer.from_checkpoint(args.checkpoint)
        entries = sorted(read_manifest(rec.cfg.data.test_manifests[0]), key=lambda e: e["id"])[:args.utterances]
        audios = [rec.load(e["audio_filepath"]) for e in entries]
        name = args.checkpoint
    else:
        lookahead = args.lookahead or (20 if args.model == "full" else 10)
        cfg = config(args.model, overrides=STREAMING + [f"model.lookahead={lookahead}"])
        set_device("CPU")
        rec = Recognizer(cfg, build_network(cfg), "random weights")
        audios = [np.random.default_rng(0).standard_normal(int(args.seconds * 16000)).astype(np.float32) * 0.1]
        name = args.model
    cfg, sr = rec.cfg, rec.sample_rate
    stream_once(rec, audios[0][:sr], 1600, sr)                                   # compile
    frames_per_s = sr / (cfg.features.hop_ms * sr / 1000)
    bidir = dataclasses.replace(cfg.model, bidirectional=True, lookahead=0)
    flops = {"streaming_gflop_per_audio_s": round(forward_flops(cfg.model, 1, int(frames_per_s)) / 1e9, 3),
             "bidirectional_gflop_per_audio_s": round(forward_flops(bidir, 1, int(frames_per_s)) / 1e9, 3)}
    for chunk in args.chunks:
        compute, audio_s, latencies, chunk_times = 0.0, 0.0, [], []
        for audio in audios:
            times, partials, final = stream_once(rec, audio, chunk, sr)
            compute += sum(times)
            audio_s += len(audio) / sr
            chunk_times += times[:-1]
            if args.checkpoint:
                latencies += word_latencies(times, partials, final)
        record = {"benchmark": "streaming", "model": name, "lookahead_frames": cfg.model.lookahead,
                  "chunk_ms": round(1000 * chunk / sr, 1), "rtf": round(compute / audio_s, 4),
                  "chunk_compute_ms_median": round(1000 * float(np.median(chunk_times)), 2),
                  "chunk_compute_ms_max": round(1000 * float(np.max(chunk_times)), 2), **flops}
        if latencies:
            record.update(words=len(latencies), word_latency_s_median=round(float(np.median(latencies)), 3),
                          word_latency_s_p90=round(float(np.percentile(latencies, 90)), 3))
        emit({**record, **machine()})


if __name__ == "__main__":
    main()
