"""Run every notebook in nbs/ as a test, as `nbdev_test` does, so pytest reports one result per notebook.

Cells flagged with the tst_flags of settings.ini (`slow`, `cuda`) are skipped unless EXCEL_NB_TEST_FLAGS names
them (e.g. `EXCEL_NB_TEST_FLAGS="slow" make test`). Papermill templates run with their default (smoke) parameters.
"""
import io
import os
from contextlib import redirect_stderr
from pathlib import Path

import pytest
from nbdev.config import get_config
from nbdev.test import test_nb as run_notebook  # renamed so pytest does not collect it

ROOT = Path(__file__).resolve().parent.parent
NBS = sorted(p for p in (ROOT/'nbs').glob('*.ipynb') if not p.name.startswith('_'))


@pytest.mark.parametrize('nb', NBS, ids=[p.stem for p in NBS])
def test_notebook(nb):
    skip = get_config(path=ROOT).tst_flags.split()
    force = os.environ.get('EXCEL_NB_TEST_FLAGS', '').split()
    err = io.StringIO()
    with redirect_stderr(err):
        ok, secs = run_notebook(nb, skip_flags=skip, force_flags=force, basepath=ROOT)
    assert ok, f'{nb.name} failed:\n{err.getvalue()[-6000:]}'
