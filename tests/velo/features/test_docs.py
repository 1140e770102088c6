from velo.features.docs import DOC, render


def test_features_doc_is_current() -> None:
    assert DOC.read_text() == render(), "run `python -m velo.features.docs` and commit docs/features.md"
