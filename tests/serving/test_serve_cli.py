"""`mmcs serve` command-line options."""

from pipeline import cli


def test_serve_options_parse():
    args = cli.build_parser().parse_args(
        [
            "serve",
            "--model-base",
            "runs/demo/serving/mmcs",
            "--enable-batching",
            "--max-batch-size",
            "8",
            "--batch-timeout-micros",
            "500",
            "--poll-seconds",
            "0.5",
        ]
    )
    assert args.model_base == "runs/demo/serving/mmcs"
    assert (args.model_name, args.host, args.port) == ("mmcs", "127.0.0.1", 8501)
    assert args.enable_batching and args.max_batch_size == 8
    assert args.batch_timeout_micros == 500 and args.poll_seconds == 0.5


def test_batching_options_without_enable_batching_are_a_usage_error(capsys):
    args = cli.build_parser().parse_args(["serve", "--model-base", "x", "--max-batch-size", "4"])
    assert args.func(args) == 2
    assert "--enable-batching" in capsys.readouterr().err


def test_missing_model_base_is_a_clear_error(tmp_path, capsys):
    args = cli.build_parser().parse_args(["serve", "--model-base", str(tmp_path / "none")])
    assert args.func(args) == 1
    assert "does not exist" in capsys.readouterr().err
