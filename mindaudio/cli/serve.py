"""Serve a model over HTTP, a websocket and a web page:

    mindaudio-serve --checkpoint runs/demo                      # http://127.0.0.1:8000/
    mindaudio-serve --checkpoint RUN --host 0.0.0.0 --token SECRET --decoder beam -o eval.lm_path=lm.arpa

The endpoints, limits and security are described in mindaudio/serving/app.py and docs/inference.md.
"""
import logging
import os
import socket

import uvicorn

from mindaudio.cli import Parser, add_model_args, build_recognizer, guarded
from mindaudio.config import option
from mindaudio.errors import DataError
from mindaudio.serving.app import LOOPBACK, Limits, create_app

log = logging.getLogger("mindaudio.server")


@guarded
def main(argv=None):
    parser = add_model_args(Parser(prog="mindaudio-serve", description=__doc__))
    parser.add_argument("--host", default="127.0.0.1", help="interface to listen on (default: %(default)s, this "
                        "machine only; 0.0.0.0 for every interface)")
    parser.add_argument("--port", type=option(int, 1, 65535), default=8000)
    parser.add_argument("--decoder", choices=["greedy", "beam"], default=None,
                        help="default decoder (default: the config's eval.decoder); greedy is always offered")
    parser.add_argument("--token", default=os.environ.get("MINDAUDIO_SERVE_TOKEN"),
                        help="bearer token required by every endpoint but /health (default: $MINDAUDIO_SERVE_TOKEN)")
    parser.add_option("--max-upload-mb", old=("--max_upload_mb",), type=option(float, 0, 1e6, True), default=20.0)
    parser.add_option("--max-seconds", old=("--max_seconds",), type=option(float, 0, 1e6, True), default=300.0,
                      help="longest audio accepted (default: %(default)s)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s", datefmt="%H:%M:%S")
    recognizer = build_recognizer(args)
    default = args.decoder or recognizer.cfg.eval.decoder
    decoders = (default,) + tuple(d for d in ("greedy", "beam") if d != default and d == "greedy")
    recognizer.decoder(default)                                 # build (and check) it before serving
    hosts = set(LOOPBACK) | {args.host}
    if args.host in ("0.0.0.0", "::"):                # every interface: this machine's names and addresses
        name = socket.gethostname()
        hosts |= {name, socket.getfqdn(), *socket.gethostbyname_ex(name)[2]}
    app = create_app(recognizer, args.token, Limits(args.max_upload_mb, args.max_seconds), decoders, hosts)
    if args.host not in LOOPBACK and not args.token:
        log.warning("listening on %s without --token: anyone who can reach this port can use the model", args.host)
    check_port_free(args.host, args.port)
    try:
        uvicorn.run(app, host=args.host, port=args.port, log_level="info")
    except SystemExit as e:                           # uvicorn exits 3 when it cannot start
        if e.code not in (0, None):
            raise DataError(f"the server could not start on {args.host}:{args.port} (see the log above)") from None


def check_port_free(host, port):
    """A clear error, before the model server starts, when another program listens on the port."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as e:
            raise DataError(f"cannot listen on {host}:{port}: {e.strerror} (another program uses the port? pick "
                            "another with --port)") from None


if __name__ == "__main__":
    main()
