"""The benchmarks' rendered-corpus cache keeps a typed-copies corpus apart from the plain one."""

from benchmarks import corpora
from tests.shared_data import SHARED_DATA, requires_shared_data


@requires_shared_data
def test_typed_copies_get_their_own_cached_corpus(tmp_path, monkeypatch):
    plain_folder, plain = corpora.rendered_corpus(SHARED_DATA, tmp_path, "train", size=20)
    typed_folder, typed = corpora.rendered_corpus(
        SHARED_DATA, tmp_path, "train", size=20, typed_copies=True
    )
    assert plain_folder != typed_folder
    assert not plain["config"]["typed_copies"] and typed["config"]["typed_copies"]
    assert typed["turns"] > plain["turns"]

    def not_again(*args, **kwargs):
        raise AssertionError("a cached corpus was rendered again")

    monkeypatch.setattr(corpora.generator, "generate_corpus", not_again)
    assert corpora.rendered_corpus(SHARED_DATA, tmp_path, "train", size=20) == (
        plain_folder,
        plain,
    )
    assert corpora.rendered_corpus(SHARED_DATA, tmp_path, "train", size=20, typed_copies=True) == (
        typed_folder,
        typed,
    )
