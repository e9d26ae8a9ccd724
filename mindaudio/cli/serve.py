"""Serve a model over HTTP, a websocket and a web page:

    mindaudio-serve --checkpoint runs/demo                      # http://127.0.0.1:8000/
    mindaudio-serve --checkpoint RUN --host 0.0.0.0 --token SECRET --decoder beam -o eval.lm_path=lm.arpa

The endpoints, limits and security are described in mindaudio/serving/app.py and docs/inference.md.
"""
import logging
import os

import uvicorn

from mindaudio.cli import Parser, add_model_args, build_recognizer, guarded
from mindaudio.errors import ConfigError
from mindaudio.serving.app import Limits, create_app

log = logging.getLogger("mindaudio.server")


@guarded
def main(argv=None):
    parser = add_model_args(Parser(prog="mindaudio-serve", description=__doc__))
    parser.add_argument("--host", default="127.0.0.1", help="interface to listen on (default: %(default)s, this "
                        "machine only; 0.0.0.0 for every interface)")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--decoder", choices=["greedy", "beam"], default=None,
                        help="default decoder (default: the config's eval.decoder); greedy is always offered")
    parser.add_argument("--token", default=os.environ.get("MINDAUDIO_SERVE_TOKEN"),
                        help="bearer token required by every endpoint but /health (default: $MINDAUDIO_SERVE_TOKEN)")
    parser.add_option("--max-upload-mb", old=("--max_upload_mb",), type=float, default=20.0)
    parser.add_option("--max-seconds", old=("--max_seconds",), type=float, default=300.0,
                      help="longest audio accepted (default: %(default)s)")
    args = parser.parse_args(argv)
    if args.max_upload_mb <= 0 or args.max_seconds <= 0 or not 0 < args.port < 65536:
        raise ConfigError("--max-upload-mb and --max-seconds must be > 0 and --port in 1..65535")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s", datefmt="%H:%M:%S")
    recognizer = build_recognizer(args)
    default = args.decoder or recognizer.cfg.eval.decoder
    decoders = (default,) + tuple(d for d in ("greedy", "beam") if d != default and d == "greedy")
    recognizer.decoder(default)                                 # build (and check) it before serving
    app = create_app(recognizer, args.token, Limits(args.max_upload_mb, args.max_seconds), decoders)
    if args.host not in ("127.0.0.1", "localhost", "::1") and not args.token:
        log.warning("listening on %s without --token: anyone who can reach this port can use the model", args.host)
    uvicorn.run(app, host=args.host, port=args.port, log_level="info")


if __name__ == "__main__":
    main()
