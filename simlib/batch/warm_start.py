"""Imported by the batch's fork server only (its preload list): every run process is forked from
it, so what it loads and warms here is ready in each run at no cost.

Besides the imports, one tiny notebook goes through what every run does outside its kernel —
inspecting and parameterizing it with Papermill (nbformat's schema validators are compiled on
first use) and exporting it to HTML both ways (nbconvert's templates are compiled on first use).
Then the heap is frozen, so that the garbage collector does not touch — and so copy — the fork
server's memory in every forked run.
"""

from __future__ import annotations

import gc
import tempfile
from pathlib import Path

import nbformat
import papermill
from jupyter_client.kernelspec import KernelSpecManager
from papermill.iorw import load_notebook_node, write_ipynb
from papermill.parameterize import parameterize_notebook

from simlib.batch.worker import KERNEL_NAME, export_html


def warm_up() -> None:
    """Run once what the first run would otherwise pay for."""
    notebook = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("value = 1", metadata={"tags": ["parameters"]}),
        nbformat.v4.new_markdown_cell("# warm\n\n**up** `code`"),
    ])
    notebook.metadata["kernelspec"] = {"name": KERNEL_NAME, "display_name": "Python 3", "language": "python"}
    with tempfile.TemporaryDirectory(prefix="simlib-warm-") as folder:
        source, executed = Path(folder) / "warm.ipynb", Path(folder) / "executed.ipynb"
        nbformat.write(notebook, source)
        papermill.inspect_notebook(str(source))
        write_ipynb(parameterize_notebook(load_notebook_node(str(source)), {"value": 2}), str(executed))
        export_html(executed, Path(folder) / "with_code.html", with_code=True, sanitize=True)
        export_html(executed, Path(folder) / "without_code.html", with_code=False)
    KernelSpecManager().get_kernel_spec(KERNEL_NAME)


try:
    warm_up()
except Exception:  # only a head start: a run that meets the same problem reports it itself
    pass
gc.freeze()
