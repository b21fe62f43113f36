"""What the kernel guard records (``preprocessors/guard_plan.py``): the modules test cells
import and the dotted names they reach, for one notebook or merged over several. Expected
plans are written by hand from the cell texts below."""

from __future__ import annotations

from tools.instructor.preprocessors.guard_plan import imports_of_sources, merge_plans

CELL_A = (
    "import numpy as _np\n"
    "import keras.ops as _ops\n"
    "import os.path\n"
    "from helpers import testkit as _tk\n"
    "_np.testing.assert_allclose(1, 1)\n"
    "_tk.check(True, 'x')\n"
    "_ops.sum\n"
    "os.path.join\n"
)
CELL_B = "from fractions import Fraction\nFraction.limit_denominator\nimport math\n"


def test_imports_and_the_names_reached_through_each_alias():
    modules, chains = imports_of_sources([CELL_A])
    assert modules == ["helpers", "keras.ops", "numpy", "os.path"]
    # every prefix of an attribute chain is reached too (numpy.testing on the way)
    assert chains == ["helpers.testkit", "helpers.testkit.check", "keras.ops.sum", "numpy.testing",
                      "numpy.testing.assert_allclose", "os.path", "os.path.join"]


def test_helpers_comes_first_even_when_no_cell_imports_it():
    assert imports_of_sources(["import zlib\n"]) == (["helpers", "zlib"], [])
    assert imports_of_sources([]) == (["helpers"], [])


def test_a_cell_that_does_not_parse_is_skipped_not_fatal():
    assert imports_of_sources(["def broken(:\n", CELL_B]) == imports_of_sources([CELL_B])


def test_relative_imports_are_not_recorded():
    assert imports_of_sources(["from . import sibling\nfrom .pkg import thing\n"]) == (["helpers"], [])


def test_merging_plans_records_everything_either_records_in_the_same_order():
    a, b = imports_of_sources([CELL_A]), imports_of_sources([CELL_B])
    merged = merge_plans(a, b)
    assert merged == imports_of_sources([CELL_A, CELL_B])
    assert merged[0] == ["helpers", "fractions", "keras.ops", "math", "numpy", "os.path"]
    assert merge_plans(b, a) == merged
    assert merge_plans(a) == a
