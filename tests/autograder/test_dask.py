"""autograder.pipeline on Dask distributed: the same grades as the local process pool, on a LocalCluster."""
from __future__ import annotations

import shutil

import nbformat
import pytest

from autograder import pipeline
from autograder.course import release_notebook
from autograder.grade import score_table
from autograder.release import release, write_notebook
from autograder.submissions import fill_solutions
from labfactory import SNEAKY_ADD, TINY_BUG
from labfactory import TINY_LAB

distributed = pytest.importorskip(
    "distributed", reason="Dask distributed is not installed: pip install 'seqlab[scale]' to test the dask engine")


def verdicts(results) -> dict:
    """student -> {test: (points, status)}, and nothing that depends on timing or paths."""
    return {r.student: {t.name: (t.points, t.status) for t in r.tests} for r in results}


@pytest.fixture(scope="module")
def ungraded(tiny_repo, tmp_path_factory):
    """A released tiny course with three collected submissions, graded by nothing yet."""
    course = tmp_path_factory.mktemp("dask") / "course"
    release(TINY_LAB, course, repo=tiny_repo, cell_timeout=60)
    released = nbformat.read(str(release_notebook(course, TINY_LAB)), as_version=4)
    source = nbformat.read(str(tiny_repo / "solutions" / f"{TINY_LAB}.ipynb"), as_version=4)
    for student, overrides in {"reference": {}, "buggy": {TINY_BUG.grade_id: TINY_BUG.code(source)},
                               "sneaky": {"add": SNEAKY_ADD}}.items():
        write_notebook(fill_solutions(released, source, overrides),
                       course / "submitted" / student / TINY_LAB / f"{TINY_LAB}.ipynb")
    return course


def copy_of(course, tmp_path):
    return shutil.copytree(course, tmp_path / "course")


@pytest.fixture(scope="module")
def local(ungraded, tmp_path_factory):
    """The local engine's results on a copy of the course: what the dask engine must reproduce."""
    course = shutil.copytree(ungraded, tmp_path_factory.mktemp("local") / "course")
    results = pipeline.autograde(course, TINY_LAB, workers=2, engine="local", progress=False)
    assert verdicts(results)["reference"] == {"test_add": (2.0, "passed"), "test_scale": (1.0, "passed")}
    assert verdicts(results)["buggy"]["test_add"] == (0.0, "failed")
    assert verdicts(results)["sneaky"]["test_add"] == (0.0, "hidden_failed")
    return results


def test_dask_engine_starts_a_local_cluster_and_grades_like_the_local_pool(ungraded, local, tmp_path):
    """Without a scheduler, does engine="dask" start its own cluster and give every test the local engine's verdict?"""
    course = copy_of(ungraded, tmp_path)
    results = pipeline.autograde(course, TINY_LAB, workers=2, engine="dask", progress=False)
    assert verdicts(results) == verdicts(local)
    assert not [r.problem for r in results if r.problem]
    table = score_table(course, TINY_LAB)   # the parent wrote the gradebook, not the workers
    assert {s: table[s]["total"] for s in table.scores} == {"reference": 3, "buggy": 1, "sneaky": 1}
    # A rerun finds every result up to date and needs no cluster: nothing listens at this address.
    again = pipeline.autograde(course, TINY_LAB, engine="dask", scheduler="tcp://127.0.0.1:9", progress=False)
    assert verdicts(again) == verdicts(results)


def test_dask_engine_uses_a_running_scheduler(ungraded, local, tmp_path):
    """Given the address of a cluster that is already running, are the submissions graded on it, with the same verdicts?"""
    course = copy_of(ungraded, tmp_path)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster, distributed.Client(cluster) as client:
        with distributed.get_task_stream(client) as stream:
            results = pipeline.autograde(course, TINY_LAB, engine="dask", scheduler=cluster.scheduler_address,
                                         progress=False)
    assert verdicts(results) == verdicts(local)
    assert len(stream.data) == 3   # one task per submission ran on this cluster's workers


def test_a_worker_grading_two_submissions_at_once_keeps_both_kernels(ungraded, tiny_repo, tmp_path):
    """On a Dask worker with two threads (`dask worker` runs one per core), do sandboxes graded side by side keep their kernels?"""
    course = copy_of(ungraded, tmp_path)
    shutil.rmtree(course / "submitted")
    released = nbformat.read(str(release_notebook(course, TINY_LAB)), as_version=4)
    source = nbformat.read(str(tiny_repo / "solutions" / f"{TINY_LAB}.ipynb"), as_version=4)
    for i in range(4):   # staggered, so one kernel starts while another is running cells
        slow = f"import time\ntime.sleep({i})\n\ndef add(a, b):\n    return a + b"
        write_notebook(fill_solutions(released, source, {"add": slow}),
                       course / "submitted" / f"slow{i}" / TINY_LAB / f"{TINY_LAB}.ipynb")
    with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=True,
                                  dashboard_address=None) as cluster:
        results = pipeline.autograde(course, TINY_LAB, engine="dask", scheduler=cluster.scheduler_address,
                                     progress=False)
    assert {r.student: (r.score, r.problem, r.repairs) for r in results} == {
        f"slow{i}": (3.0, "", []) for i in range(4)}
