"""A transcription server: HTTP API and a web page, on FastAPI + uvicorn.

    mindaudio-serve --checkpoint runs/demo                      # http://127.0.0.1:8000/
    mindaudio-serve --checkpoint RUN --host 0.0.0.0 --token SECRET --decoder beam -o eval.lm_path=lm.arpa

Endpoints:
  GET  /health        {"status": "ok", ...}; never needs the token
  POST /transcribe    multipart upload (field ``audio``) of any common format, rate and channel count →
                      {"text", "words": [{"word", "start", "end", "confidence"}], "duration", "decoder"};
                      optional query ``decoder=greedy|beam``
  WS   /stream        streaming models only: binary messages of 16 kHz mono PCM16 (little-endian) in, JSON
                      {"text", "final": false} partials out after each message; the text message {"end": true}
                      ends the audio and gets the final {"text", "words", "duration", "decoder", "final": true}
  GET  /              the web page (drop or choose a file, or record from the microphone; live with /stream)

Safe by default: it listens on 127.0.0.1 unless ``--host`` says otherwise. With ``--token`` (or the
MINDAUDIO_SERVE_TOKEN environment variable) every endpoint but /health needs ``Authorization: Bearer <token>``;
the page can be opened once as ``/?token=<token>``, which sets a same-site, HTTP-only cookie and redirects to ``/``.
Uploads are decoded from memory (no path from the client touches the file system), refused past ``--max-upload-mb``
(413), and decoded in blocks up to ``--max-seconds`` of audio (413), so a header that lies or a small file of
compressed silence hours long cannot exhaust memory. What is not audio gets a 415, with the reason. One forward
pass at a time: requests wait in a queue for the single inference thread.
"""
import argparse
import asyncio
import concurrent.futures
import hmac
import logging
import os
import time

from mindaudio.cli import guarded

log = logging.getLogger("mindaudio.server")
STATIC = os.path.join(os.path.dirname(os.path.abspath(__file__)), "static")
COOKIE = "mindaudio_token"


class Limits:
    def __init__(self, max_upload_mb=20.0, max_seconds=300.0):
        self.max_upload_bytes = int(max_upload_mb * 2 ** 20)
        self.max_seconds = float(max_seconds)


def create_app(recognizer, token=None, limits=None, decoders=("greedy",)):
    """The ASGI application serving ``recognizer``. ``decoders``: the decoder names a request may ask for (the
    first is the default)."""
    import numpy as np
    from fastapi import FastAPI, HTTPException, Request, UploadFile, WebSocket, WebSocketDisconnect
    from fastapi.responses import FileResponse, JSONResponse, RedirectResponse
    from mindaudio.data.features import AudioError
    from mindaudio.recognizer import decode_audio_bytes

    limits = limits or Limits()
    app = FastAPI(title="mindaudio DeepSpeech2", docs_url=None, redoc_url=None, openapi_url=None)
    # one inference thread: concurrent requests queue instead of running forward passes side by side
    app.state.executor = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="inference")
    app.state.queued = 0

    def authorised(request):
        if not token:
            return True
        header = request.headers.get("authorization", "")
        given = header[7:] if header.lower().startswith("bearer ") else request.cookies.get(COOKIE, "")
        return hmac.compare_digest(given.encode(), token.encode())

    async def run(fn, *args):
        """On the single inference thread (requests and streams queue for it)."""
        app.state.queued += 1
        try:
            return await asyncio.get_running_loop().run_in_executor(app.state.executor, fn, *args)
        finally:
            app.state.queued -= 1

    @app.middleware("http")
    async def guard(request: Request, call_next):
        if request.url.path != "/health" and not authorised(request):
            if request.url.path == "/" and request.query_params.get("token") and \
                    hmac.compare_digest(request.query_params["token"].encode(), token.encode()):
                response = RedirectResponse("/", status_code=303)
                response.set_cookie(COOKIE, token, httponly=True, samesite="strict")
                return response
            return JSONResponse({"detail": "missing or wrong bearer token"}, status_code=401,
                                headers={"WWW-Authenticate": "Bearer"})
        return await call_next(request)

    @app.get("/health")
    async def health():
        return {"status": "ok", "model": os.path.basename(str(recognizer.source)), "decoders": list(decoders),
                "sample_rate": recognizer.sample_rate, "queued": app.state.queued}

    @app.get("/")
    async def page():
        return FileResponse(os.path.join(STATIC, "index.html"), media_type="text/html")

    async def read_limited(upload):
        data = bytearray()
        while True:
            chunk = await upload.read(1 << 20)
            if not chunk:
                return bytes(data)
            data += chunk
            if len(data) > limits.max_upload_bytes:
                raise HTTPException(413, f"upload larger than {limits.max_upload_bytes // 2 ** 20} MB")

    @app.post("/transcribe")
    async def transcribe(audio: UploadFile, decoder: str = ""):
        name = decoder or decoders[0]
        if name not in decoders:
            raise HTTPException(400, f"decoder must be one of {list(decoders)}")
        data = await read_limited(audio)
        if not data:
            raise HTTPException(400, "empty upload")

        def work():
            samples = decode_audio_bytes(data, recognizer.sample_rate, limits.max_seconds)
            return recognizer.transcribe_audio(samples, decoder=name)
        start = time.time()
        try:
            result = await run(work)
        except AudioError as e:
            status = 413 if "longer than the limit" in str(e) else 415
            raise HTTPException(status, str(e)) from None
        log.info("transcribed %.1f s of audio in %.2f s (%s)", result.duration, time.time() - start, name)
        return result.to_dict()

    @app.websocket("/stream")
    async def stream(ws: WebSocket):
        await ws.accept()
        if not authorised(ws) and not (token and hmac.compare_digest(ws.query_params.get("token", "").encode(),
                                                                    token.encode())):
            await ws.send_json({"error": "missing or wrong bearer token"})
            await ws.close(code=1008)
            return
        if not recognizer.streaming:
            await ws.send_json({"error": "this model is bidirectional: it needs the whole utterance. Serve a "
                                         "streaming model (model.bidirectional: false) for /stream"})
            await ws.close(code=1003)
            return
        session, received = await run(recognizer.stream), 0
        try:
            while True:
                message = await ws.receive()
                if message["type"] == "websocket.disconnect":
                    return
                if message.get("bytes") is not None:
                    data = message["bytes"]
                    received += len(data) // 2
                    if len(data) % 2 or received > limits.max_seconds * recognizer.sample_rate:
                        await ws.send_json({"error": "odd byte count (PCM16 expected)" if len(data) % 2 else
                                            f"stream longer than the limit of {limits.max_seconds:g} s"})
                        await ws.close(code=1009)
                        return
                    samples = np.frombuffer(data, dtype="<i2").astype(np.float32) / 32768.0
                    await ws.send_json({"text": await run(session.accept, samples), "final": False})
                elif message.get("text") is not None:
                    result = await run(session.finish)
                    await ws.send_json({**result.to_dict(), "final": True})
                    await ws.close()
                    return
        except WebSocketDisconnect:
            return
        except AudioError as e:
            await ws.send_json({"error": str(e)})
            await ws.close(code=1003)

    return app


@guarded
def main(argv=None):
    from mindaudio.cli import EXIT_CONFIG, fail
    from mindaudio.transcribe import add_model_args, build_recognizer
    parser = add_model_args(argparse.ArgumentParser(prog="mindaudio-serve", description=__doc__,
                                                    formatter_class=argparse.RawDescriptionHelpFormatter))
    parser.add_argument("--host", default="127.0.0.1", help="interface to listen on (default: %(default)s, this "
                        "machine only; 0.0.0.0 for every interface)")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--decoder", choices=["greedy", "beam"], default=None,
                        help="default decoder (default: the config's eval.decoder); greedy is always offered")
    parser.add_argument("--token", default=os.environ.get("MINDAUDIO_SERVE_TOKEN"),
                        help="bearer token required by every endpoint but /health (default: $MINDAUDIO_SERVE_TOKEN)")
    parser.add_argument("--max-upload-mb", type=float, default=20.0)
    parser.add_argument("--max-seconds", type=float, default=300.0, help="longest audio accepted")
    args = parser.parse_args(argv)
    if args.max_upload_mb <= 0 or args.max_seconds <= 0 or not 0 < args.port < 65536:
        fail("--max-upload-mb and --max-seconds must be > 0 and --port in 1..65535", EXIT_CONFIG)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s", datefmt="%H:%M:%S")
    recognizer = build_recognizer(args)
    default = args.decoder or recognizer.cfg.eval.decoder
    decoders = (default,) + tuple(d for d in ("greedy", "beam") if d != default and d == "greedy")
    recognizer.decoder(default)                                 # build (and check) it before serving
    import uvicorn
    app = create_app(recognizer, args.token, Limits(args.max_upload_mb, args.max_seconds), decoders)
    if args.host not in ("127.0.0.1", "localhost", "::1") and not args.token:
        log.warning("listening on %s without --token: anyone who can reach this port can use the model", args.host)
    uvicorn.run(app, host=args.host, port=args.port, log_level="info")


if __name__ == "__main__":
    main()
