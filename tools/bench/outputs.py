"""outputs.py - where a benchmark run writes its results and report, so no run loses any.

Three kinds of run, each with its own files (paths relative to the repository):

- published (`make bench`, bench.py --publish: every scenario, every mode): the raw
  results go to docs/bench/results.json and the report to docs/performance.md, both
  tracked. They are replaced only when the run finished without an error, each through a
  temporary file and a rename, under a signal shield. During the run, and for a run that
  failed or was interrupted, the results are in build/bench/full.json and full.md only.
- quick (`make bench-quick`): build/bench/quick.json and quick.md.
- any other run (bench.py --scenarios 5, ...): build/bench/results.json and report.md.

Only a published run writes into the repository outside build/ (check_path refuses the
others), so neither bench-quick nor a partial run can change a tracked file.
"""
import json
import os

import shield

PUBLISHED_RESULTS = os.path.join("docs", "bench", "results.json")
PUBLISHED_DOC = os.path.join("docs", "performance.md")
BUILD = os.path.join("build", "bench")
FILES = {  # kind: (results, report), under BUILD
    "full": ("full.json", "full.md"),
    "quick": ("quick.json", "quick.md"),
    "other": ("results.json", "report.md"),
}


class OutputError(Exception):
    """A run was told to write where it must not."""


def _inside(path, folder):
    path, folder = os.path.realpath(path), os.path.realpath(folder)
    return path == folder or path.startswith(folder + os.sep)


def check_path(root, path):
    """Refuse @path when it lies in the repository at @root outside its build/ (that
    is: where tracked files live). Paths outside the repository are the caller's."""
    if _inside(path, root) and not _inside(path, os.path.join(root, "build")):
        raise OutputError(f"{os.path.relpath(path, root)} is in the source tree: only "
                          "`make bench` (bench.py --publish) writes there; give a path "
                          "under build/ or outside the repository")
    return path


def plan(root, kind, out=None, doc=None):
    """The files of a run of @kind ("full", "quick" or "other"): where it checkpoints
    and reports while running or after a failure (out, doc, both under build/ unless
    given), and for "full" where it publishes once it succeeded."""
    res_name, doc_name = FILES[kind]
    p = {"out": check_path(root, out or os.path.join(root, BUILD, res_name)),
         "doc": check_path(root, doc or os.path.join(root, BUILD, doc_name)),
         "root": root, "published": None}
    if kind == "full":
        p["published"] = (os.path.join(root, PUBLISHED_RESULTS),
                          os.path.join(root, PUBLISHED_DOC))
    return p


def write_atomic(path, text):
    """Replace @path by @text whole: a reader, or a run killed meanwhile, sees the old
    file or the new one, never a torn one (same-directory temp file, fsync, rename)."""
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    tmp = f"{path}.tmp.{os.getpid()}"
    try:
        with open(tmp, "w") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def results_text(res):
    """The JSON of results @res (serialized before any file is opened: a value JSON
    cannot hold fails here, not halfway through a file)."""
    return json.dumps(res, indent=1) + "\n"


def checkpoint(p, res):
    """Save the results so far (after each scenario) to the run's own file."""
    write_atomic(p["out"], results_text(res))


def finish(p, res, ok, render):
    """Write the run's results and report; publish them if @p says so and @ok.
    @render(res, results_path) returns the report's text. Returns the files written.
    The results reach the run's own file first, so a report that fails to render
    costs no measurement."""
    data = results_text(res)
    write_atomic(p["out"], data)
    if not (p["published"] and ok):
        write_atomic(p["doc"], render(res, os.path.relpath(p["out"], p["root"])))
        return p["out"], p["doc"]
    out, doc = p["published"]
    text = render(res, os.path.relpath(out, p["root"]))
    with shield.shielded():  # both or, if the disk fails between them, the first
        write_atomic(out, data)
        write_atomic(doc, text)
    os.unlink(p["out"])  # the same run, now published: not kept twice
    return out, doc


def load_published(root):
    """The published run's results, or (None, why not)."""
    path = os.path.join(root, PUBLISHED_RESULTS)
    try:
        with open(path) as f:
            return json.load(f), None
    except FileNotFoundError:
        return None, (f"`{PUBLISHED_RESULTS}` does not exist yet: the next full `make "
                      "bench` writes it (the run in docs/performance.md did not keep its "
                      "raw results)")
    except (OSError, ValueError) as e:
        return None, f"cannot read `{PUBLISHED_RESULTS}`: {e}"
