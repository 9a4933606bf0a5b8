"""gmmx ships type information: a py.typed marker and stubs of the compiled kernels."""

import inspect
from pathlib import Path

import gmmx
from gmmx import GaussianMixture


def test_py_typed_and_kernel_stubs_are_installed():
    root = Path(gmmx.__file__).parent
    assert (root / "py.typed").is_file()
    for name in ("_estep", "_kmeans", "_hmm"):
        assert (root / "_kernels" / f"{name}.pyi").is_file()


def test_public_estimator_api_is_annotated():
    for method in ("fit", "partial_fit", "predict", "predict_proba", "score_samples",
                   "score", "bic", "aic", "icl", "sample", "save"):
        sig = inspect.signature(getattr(GaussianMixture, method))
        assert sig.return_annotation is not inspect.Signature.empty, method
    init = inspect.signature(GaussianMixture.__init__)
    assert all(p.annotation is not inspect.Parameter.empty
               for name, p in init.parameters.items() if name != "self")
