"""`mmcs serve`: TF Serving's REST API for a model base directory, from the command line."""

import argparse
import logging
import signal
import sys
import threading

DEFAULT_PORT = 8501


def add_parser(commands) -> None:
    """Registers the `serve` subcommand on the `mmcs` subparsers."""
    serve = commands.add_parser(
        "serve", help="serve a model base directory with TF Serving's REST API"
    )
    serve.add_argument(
        "--model-base", required=True, help="the Pusher's model base directory (<base>/<version>/)"
    )
    serve.add_argument("--model-name", default="mmcs", help="name in the URLs (default mmcs)")
    serve.add_argument("--port", type=int, default=DEFAULT_PORT, help="REST port (default 8501)")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on")
    serve.add_argument(
        "--enable-batching", action="store_true", help="merge concurrent predict requests"
    )
    serve.add_argument("--max-batch-size", type=int, default=None, help="rows per merged call")
    serve.add_argument(
        "--batch-timeout-micros", type=int, default=None, help="how long a batch waits to fill"
    )
    serve.add_argument(
        "--poll-seconds",
        type=float,
        default=1.0,
        help="how often to look for a new version (0: never; default 1)",
    )
    serve.add_argument(
        "--max-body-mb", type=float, default=64, help="largest request body in MiB (default 64)"
    )
    serve.set_defaults(func=run_serve)


def run_serve(args: argparse.Namespace) -> int:
    """Serves until Ctrl-C or SIGTERM."""
    from serving.model_server.batching import BatchingOptions
    from serving.model_server.server import ModelServer

    batching = None
    if args.enable_batching:
        defaults = BatchingOptions()
        try:
            batching = BatchingOptions(
                max_batch_size=args.max_batch_size or defaults.max_batch_size,
                batch_timeout_micros=(
                    defaults.batch_timeout_micros
                    if args.batch_timeout_micros is None
                    else args.batch_timeout_micros
                ),
            )
        except ValueError as error:
            print(f"mmcs serve: {error}", file=sys.stderr)
            return 2
    elif args.max_batch_size is not None or args.batch_timeout_micros is not None:
        print("mmcs serve: batching options need --enable-batching", file=sys.stderr)
        return 2
    logging.getLogger("serving.model_server").setLevel(logging.INFO)
    if not logging.getLogger().handlers:
        logging.basicConfig(format="%(asctime)s %(levelname)s %(message)s")
    server = ModelServer(
        args.model_base,
        model_name=args.model_name,
        host=args.host,
        port=args.port,
        batching=batching,
        poll_seconds=args.poll_seconds,
        max_body_bytes=int(args.max_body_mb * 1024 * 1024),
    )
    try:
        server.start()
    except (FileNotFoundError, OSError) as error:
        print(f"mmcs serve: {error}", file=sys.stderr)
        server.stop()
        return 1
    version = server.versions.current_version
    print(
        f"serving {args.model_base} (version {version}) as {args.model_name} at {server.url}"
        f" (batching {'on' if batching else 'off'}); Ctrl-C stops",
        flush=True,
    )
    stopped = threading.Event()
    # Both set here: a process started in the background by a shell inherits SIGINT ignored.
    for signal_number in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signal_number, lambda *_: stopped.set())
    while not stopped.wait(0.5):
        pass
    print("stopping", flush=True)
    server.stop()
    return 0
