"""The transcription server: HTTP API, websocket stream and a web page, on FastAPI (``mindaudio-serve`` runs it).

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

Safe by default: it listens on 127.0.0.1 unless ``--host`` says otherwise, and without a token it answers only to
its own address (the Host header) and its own pages (the Origin header), so that no other web page can reach it
through the browser (DNS rebinding, cross-origin websockets). With ``--token`` (or the
MINDAUDIO_SERVE_TOKEN environment variable) every endpoint but /health needs ``Authorization: Bearer <token>``;
the page can be opened once as ``/?token=<token>``, which sets a same-site, HTTP-only cookie and redirects to ``/``.
Uploads are decoded from memory (no path from the client touches the file system), refused past ``--max-upload-mb``
(413), and decoded in blocks up to ``--max-seconds`` of audio (413), so a header that lies or a small file of
compressed silence hours long cannot exhaust memory. What is not audio gets a 415, with the reason. One forward
pass at a time: requests wait in a queue for the single inference thread.
"""
import asyncio
import concurrent.futures
import hmac
import logging
import os
import time

import numpy as np
from fastapi import APIRouter, FastAPI, File, HTTPException, Request, UploadFile, WebSocket, WebSocketDisconnect
from fastapi.responses import FileResponse, JSONResponse, RedirectResponse

from mindaudio.data import audio
from mindaudio.errors import AudioError

log = logging.getLogger("mindaudio.server")
STATIC = os.path.join(os.path.dirname(os.path.abspath(__file__)), "static")
COOKIE = "mindaudio_token"
router = APIRouter()


class Limits:
    def __init__(self, max_upload_mb=20.0, max_seconds=300.0):
        self.max_upload_bytes = int(max_upload_mb * 2 ** 20)
        self.max_seconds = float(max_seconds)


LOOPBACK = ("127.0.0.1", "localhost", "::1")


class Service:
    """What the endpoints share (``app.state.service``): the recognizer, the token, the limits, the decoders a
    request may ask for (the first is the default), the host names the server answers to without a token, and the
    single inference thread."""

    def __init__(self, recognizer, token=None, limits=None, decoders=("greedy",), hosts=LOOPBACK):
        self.recognizer, self.token, self.limits, self.decoders = recognizer, token, limits or Limits(), decoders
        self.hosts = {h.strip("[]").lower() for h in hosts}
        # one inference thread: concurrent requests queue instead of running forward passes side by side
        self.executor = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="inference")
        self.queued = 0

    def token_matches(self, given):
        return bool(self.token) and hmac.compare_digest((given or "").encode(), self.token.encode())

    def own_origin(self, connection):
        """Without a token, only this machine's own names may be used to reach the server (its Host header), and
        only its own pages may call it (a browser's Origin header): a web page elsewhere cannot use it through DNS
        rebinding or a cross-origin websocket. With a token, the token decides."""
        if self.token:
            return True
        host = _host_name(connection.headers.get("host", ""))
        origin = connection.headers.get("origin")
        if host not in self.hosts:
            return False
        return origin is None or _host_name(origin.split("://", 1)[-1]) == host

    def authorised(self, connection):
        """A request or websocket with the bearer token (header or the page's cookie), or any when no token is set."""
        if not self.token:
            return True
        header = connection.headers.get("authorization", "")
        return self.token_matches(header[7:] if header.lower().startswith("bearer ") else
                                  connection.cookies.get(COOKIE, ""))

    async def run(self, fn, *args):
        """``fn(*args)`` on the single inference thread (requests and streams queue for it)."""
        self.queued += 1
        try:
            return await asyncio.get_running_loop().run_in_executor(self.executor, fn, *args)
        finally:
            self.queued -= 1


def _host_name(host):
    """'127.0.0.1:8000' → '127.0.0.1'; '[::1]:8000' → '::1'; lower case."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[1:host.find("]")] if "]" in host else host
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def create_app(recognizer, token=None, limits=None, decoders=("greedy",), hosts=LOOPBACK):
    """The ASGI application serving ``recognizer`` (see the module docstring). ``hosts``: the names and addresses
    the server answers to when it has no token."""
    app = FastAPI(title="mindaudio DeepSpeech2", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.service = Service(recognizer, token, limits, decoders, hosts)
    app.middleware("http")(require_token)
    app.include_router(router)
    return app


async def require_token(request: Request, call_next):
    """Every path but /health needs the token (when one is set); ``/?token=…`` trades it for a cookie."""
    service = request.app.state.service
    if not service.own_origin(request):
        return JSONResponse({"detail": "this server answers only to its own address and pages (start it with "
                                       "--token to serve other hosts)"}, status_code=403)
    if request.url.path != "/health" and not service.authorised(request):
        if request.url.path == "/" and service.token_matches(request.query_params.get("token")):
            response = RedirectResponse("/", status_code=303)
            response.set_cookie(COOKIE, service.token, httponly=True, samesite="strict")
            return response
        return JSONResponse({"detail": "missing or wrong bearer token"}, status_code=401,
                            headers={"WWW-Authenticate": "Bearer"})
    return await call_next(request)


@router.get("/health")
async def health(request: Request):
    service = request.app.state.service
    recognizer = service.recognizer
    return {"status": "ok", "model": os.path.basename(str(recognizer.source)),
            "kind": "streaming" if recognizer.streaming else "bidirectional", "streaming": recognizer.streaming,
            "decoders": list(service.decoders), "sample_rate": recognizer.sample_rate, "queued": service.queued}


@router.get("/")
async def page():
    return FileResponse(os.path.join(STATIC, "index.html"), media_type="text/html")


async def read_limited(upload, limit):
    """The upload's bytes, or 413 as soon as they pass ``limit``."""
    data = bytearray()
    while True:
        chunk = await upload.read(1 << 20)
        if not chunk:
            return bytes(data)
        data += chunk
        if len(data) > limit:
            raise HTTPException(413, f"upload larger than {limit // 2 ** 20} MB")


@router.post("/transcribe")
async def transcribe(request: Request, audio_file: UploadFile = File(alias="audio"), decoder: str = ""):
    service = request.app.state.service
    name = decoder or service.decoders[0]
    if name not in service.decoders:
        raise HTTPException(400, f"decoder must be one of {list(service.decoders)}")
    data = await read_limited(audio_file, service.limits.max_upload_bytes)
    if not data:
        raise HTTPException(400, "empty upload")
    recognizer = service.recognizer

    def work():
        samples = audio.read(data, recognizer.sample_rate, name="the upload", max_seconds=service.limits.max_seconds)
        return recognizer.transcribe_audio(samples, decoder=name)
    start = time.time()
    try:
        result = await service.run(work)
    except AudioError as e:
        raise HTTPException(413 if "longer than the limit" in str(e) else 415, str(e)) from None
    log.info("transcribed %.1f s of audio in %.2f s (%s)", result.duration, time.time() - start, name)
    return result.to_dict()


@router.websocket("/stream")
async def stream(ws: WebSocket):
    """Streaming models: PCM16 chunks in, partial transcripts out, ``{"end": true}`` for the final one."""
    service = ws.app.state.service
    if not service.own_origin(ws):
        await ws.close(code=1008)                     # refused before the handshake completes: a 403
        return
    await ws.accept()
    if not service.authorised(ws) and not service.token_matches(ws.query_params.get("token")):
        await ws.send_json({"error": "missing or wrong bearer token"})
        await ws.close(code=1008)
        return
    recognizer, limit = service.recognizer, service.limits.max_seconds
    if not recognizer.streaming:
        await ws.send_json({"error": "this model is bidirectional: it needs the whole utterance. Serve a "
                                     "streaming model (model.bidirectional: false) for /stream"})
        await ws.close(code=1003)
        return
    session, received = await service.run(recognizer.stream), 0
    try:
        while True:
            message = await ws.receive()
            if message["type"] == "websocket.disconnect":
                return
            if message.get("bytes") is not None:
                data = message["bytes"]
                received += len(data) // 2
                if len(data) % 2 or received > limit * recognizer.sample_rate:
                    await ws.send_json({"error": "odd byte count (PCM16 expected)" if len(data) % 2 else
                                        f"stream longer than the limit of {limit:g} s"})
                    await ws.close(code=1009)
                    return
                samples = np.frombuffer(data, dtype="<i2")
                await ws.send_json({"text": await service.run(session.accept, samples), "final": False})
            elif message.get("text") is not None:
                result = await service.run(session.finish)
                await ws.send_json({**result.to_dict(), "final": True})
                await ws.close()
                return
    except WebSocketDisconnect:
        return
    except AudioError as e:
        await ws.send_json({"error": str(e)})
        await ws.close(code=1003)
