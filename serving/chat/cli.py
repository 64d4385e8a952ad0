"""`mmcs chat-server`: the customer-service chat service, from the command line."""

import argparse
import logging
import os
import signal
import sys
import threading

from serving.chat import knowledge_base, model_client

DEFAULT_PORT = 8080
EXIT_USAGE = 2


def add_parser(commands) -> None:
    """Registers the `chat-server` subcommand on the `mmcs` subparsers."""
    chat = commands.add_parser(
        "chat-server", help="the customer-service chat service (REST API and web page)"
    )
    chat.add_argument(
        "--model-url",
        default=model_client.DEFAULT_URL,
        help="TF Serving REST base URL: `mmcs serve` or TF Serving (default %(default)s)",
    )
    chat.add_argument("--model-name", default=model_client.DEFAULT_MODEL_NAME)
    chat.add_argument(
        "--model-base",
        default=None,
        help="the served model's base directory (<base>/<version>/), where this host can "
        "read it: the service refuses to start when the newest version was trained on "
        "transcripts and picture texts of other recognizers than this host runs",
    )
    chat.add_argument(
        "--model-timeout",
        type=float,
        default=model_client.DEFAULT_TIMEOUT_SECONDS,
        help="seconds to wait for a prediction (default %(default)s)",
    )
    chat.add_argument(
        "--db",
        default=os.path.join("runs", "chat", "conversations.sqlite"),
        help="SQLite file of conversations (default %(default)s)",
    )
    chat.add_argument(
        "--log-dir",
        default=os.path.join("runs", "chat", "logs"),
        help="log folder every served turn is appended to, in the raw log format "
        "(default %(default)s)",
    )
    chat.add_argument(
        "--knowledge-base",
        default=knowledge_base.DEFAULT_PATH,
        help="reply templates (YAML/JSON; default: the shipped serving/chat/knowledge_base.yaml)",
    )
    chat.add_argument("--port", type=int, default=DEFAULT_PORT, help="default %(default)s")
    chat.add_argument("--host", default="127.0.0.1", help="address to listen on")
    chat.add_argument(
        "--confidence-threshold",
        type=float,
        default=0.5,
        help="below it a turn is unclear: clarifying question, then handoff (default 0.5)",
    )
    chat.add_argument(
        "--speak",
        action="store_true",
        help="spoken replies (espeak-ng WAV) when the customer sent audio or on the voice channel",
    )
    chat.add_argument(
        "--max-body-mb", type=float, default=32, help="largest request body in MiB (default 32)"
    )
    chat.set_defaults(func=run_chat_server)


def build_server(args: argparse.Namespace):
    """The ChatServer the arguments describe (not started).

    Raises:
      knowledge_base.KnowledgeBaseError: the knowledge base does not load.
    """
    from serving.chat import app, conversations, dialogue_policy, service, traffic_log

    kb = knowledge_base.load(args.knowledge_base)
    chat_service = service.ChatService(
        conversations.ConversationStore(args.db),
        model_client.ModelClient(args.model_url, args.model_name, args.model_timeout),
        kb,
        traffic_log.TrafficLog(args.log_dir),
        policy=dialogue_policy.PolicyConfig(confidence_threshold=args.confidence_threshold),
        speak_voice_replies=args.speak,
    )
    return app.ChatServer(
        chat_service, args.host, args.port, max_body_bytes=int(args.max_body_mb * 1024 * 1024)
    )


def _recognizer_mismatch(model_base: str) -> str | None:
    """Why the newest model version under `model_base` must not be served with this host's
    speech and text recognizers (models/derived_text_versions.py), or None."""
    import tensorflow as tf

    from models import derived_text_versions
    from serving.batch_predict import latest_version_dir

    if not tf.io.gfile.isdir(model_base):
        return f"--model-base {model_base} is not a directory"
    try:
        derived_text_versions.check_model(latest_version_dir(model_base))
    except (FileNotFoundError, ValueError) as error:
        return str(error)
    return None


def run_chat_server(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    if not 0.0 <= args.confidence_threshold <= 1.0:
        print("mmcs chat-server: --confidence-threshold must be within 0-1", file=sys.stderr)
        return EXIT_USAGE
    if args.model_base:
        problem = _recognizer_mismatch(args.model_base)
        if problem:
            print(f"mmcs chat-server: {problem}", file=sys.stderr)
            return EXIT_USAGE
    try:
        server = build_server(args)
        server.start()
    except knowledge_base.KnowledgeBaseError as error:
        print(f"mmcs chat-server: bad knowledge base: {error}", file=sys.stderr)
        return EXIT_USAGE
    except OSError as error:
        print(
            f"mmcs chat-server: cannot listen on {args.host}:{args.port}: {error}", file=sys.stderr
        )
        return EXIT_USAGE
    print(
        f"chat service at {server.url} (model {args.model_url}, db {args.db}, logs {args.log_dir})"
    )
    sys.stdout.flush()
    stopped = threading.Event()

    def _stop(signum, frame):
        stopped.set()

    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    stopped.wait()
    server.stop()
    return 0
