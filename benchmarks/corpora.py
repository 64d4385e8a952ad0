"""The rendered corpora the benchmarks share, cached under a work folder."""

import json
import time
from pathlib import Path

from corpus import generator

CORPUS_SEED = 0


def rendered_corpus(
    shared_data: Path,
    work: Path,
    split: str,
    size: int | None = None,
    typed_copies: bool = False,
) -> tuple[Path, dict]:
    """The corpus rendered from BANKING77's train.csv or test.csv (cached by its config).

    Args:
      shared_data: the reference corpora folder.
      work: where rendered corpora are kept between runs.
      split: "train" (train.csv, training voices) or "test" (test.csv, held-out voices,
        CLINC150's out-of-scope test queries).
      size: about how many turns; None for every row of the CSV.
      typed_copies: CorpusConfig.typed_copies (a corpus of its own folder).
    """
    folder = work / (
        f"corpus-{split}-{'full' if size is None else size}{'-typed' if typed_copies else ''}"
    )
    config = generator.CorpusConfig(
        size=size, seed=CORPUS_SEED, split=split, workers=2, typed_copies=typed_copies
    )
    manifest_path = folder / generator.MANIFEST_FILE
    if manifest_path.exists():
        manifest = json.loads(manifest_path.read_text())
        # Manifests written before typed copies existed have no such setting: none were made.
        recorded = {"typed_copies": False} | manifest["config"]
        if all(recorded[key] == getattr(config, key) for key in ("seed", "size", "typed_copies")):
            return folder, manifest
    start = time.perf_counter()
    manifest = generator.generate_corpus(
        shared_data / "banking77" / f"{split}.csv", shared_data, folder, config
    )
    manifest["render_seconds"] = time.perf_counter() - start
    manifest_path.write_text(json.dumps(manifest, indent=2))
    return folder, manifest
