#!/usr/bin/env python
"""Latency and throughput of the transcription server (mindaudio-serve) over HTTP on this machine.

    python benchmarks/bench_server.py --model full --seconds 10          # random weights of the full network
    python benchmarks/bench_server.py --checkpoint runs/demo --seconds 10 --clients 4

Starts ``mindaudio-serve`` on a free local port (random weights are saved to a temporary checkpoint first), uploads a
WAV of ``--seconds`` of audio: ``--requests`` one after the other (latency = request sent → JSON received, features,
forward pass and decoding included), then the same number from ``--clients`` concurrent clients (they queue for the
single inference thread: throughput in audio seconds per second, and the latency each client saw).
"""
import argparse
import concurrent.futures
import io
import json
import os
import socket
import subprocess
import sys
import tempfile
import time

import numpy as np

from common import config, emit, machine


def random_checkpoint(model, directory):
    from mindaudio import checkpoint
    from mindaudio.config import to_dict
    from mindaudio.device import set_device
    from mindaudio.inference.network import build_network
    cfg = config(model)
    set_device("CPU")
    net = build_network(cfg)
    path = os.path.join(directory, f"{model}.ckpt")
    checkpoint.save(path, dict(net.parameters_and_names()), {"config": json.dumps(to_dict(cfg)), "global_step": 0})
    return path


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wav_bytes(seconds):
    import soundfile as sf
    audio = np.random.default_rng(0).standard_normal(int(seconds * 16000)).astype(np.float32) * 0.1
    buf = io.BytesIO()
    sf.write(buf, audio, 16000, format="WAV", subtype="PCM_16")
    return buf.getvalue()


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", choices=["full", "demo"], default="full", help="random weights of this size")
    p.add_argument("--checkpoint", help="serve this run or checkpoint instead")
    p.add_argument("--seconds", type=float, default=10.0)
    p.add_argument("--requests", type=int, default=8)
    p.add_argument("--clients", type=int, default=4)
    args = p.parse_args()
    import httpx

    with tempfile.TemporaryDirectory() as tmp:
        ckpt = args.checkpoint or random_checkpoint(args.model, tmp)
        port = free_port()
        server = subprocess.Popen([sys.executable, "-m", "mindaudio.cli.serve", "--checkpoint", ckpt, "--port", str(port)],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            url = f"http://127.0.0.1:{port}"
            deadline = time.time() + 300
            while True:
                try:
                    if httpx.get(url + "/health", timeout=2).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if time.time() > deadline or server.poll() is not None:
                    raise SystemExit("the server did not start")
                time.sleep(0.5)
            data = wav_bytes(args.seconds)

            def request(_=None):
                t = time.perf_counter()
                r = httpx.post(url + "/transcribe", files={"audio": ("a.wav", data, "audio/wav")}, timeout=600)
                r.raise_for_status()
                return time.perf_counter() - t
            request()                                                    # the first request compiles
            sequential = [request() for _ in range(args.requests)]
            start = time.perf_counter()
            with concurrent.futures.ThreadPoolExecutor(args.clients) as pool:
                concurrent_lat = list(pool.map(request, range(args.requests)))
            wall = time.perf_counter() - start
        finally:
            server.terminate()
            server.wait(30)
    emit({"benchmark": "server", "model": args.checkpoint or args.model, "audio_s": args.seconds,
          "latency_s_median": round(float(np.median(sequential)), 3), "latency_s_min": round(min(sequential), 3),
          "rtf": round(float(np.median(sequential)) / args.seconds, 4), "clients": args.clients,
          "concurrent_latency_s_median": round(float(np.median(concurrent_lat)), 3),
          "concurrent_latency_s_max": round(max(concurrent_lat), 3),
          "throughput_audio_s_per_s": round(args.requests * args.seconds / wall, 2), **machine()})


if __name__ == "__main__":
    main()
