"""Tooling around the course package; none of it is installed with ``songrec``.

``tools/instructor/``  the nbgrader course: checks, release, publish, grading, and the
                       nbgrader preprocessors ``nbgrader_config.py`` installs
                       (``python -m tools.instructor <command>``, docs/GRADING.md)
``run_notebooks.py``   executes the six notebooks into build/ (``make run``)
``pin_outputs.py``     refreshes the outputs nbval compares (``# NBVAL_CHECK_OUTPUT``)
``ci_venv.py``         builds the cached extra environments of ``make test-min`` and
                       ``make test-colab``
``colab_pins.py``      turns Colab's published pip freeze into tests/colab/colab-py313.txt
``colab_sim.py``       the simulated Colab course of ``make test-colab`` and of the
                       student-wait benchmark (data mirror, wheel, runtimes)

The four scripts run as ``python tools/<name>.py`` (``ci_venv.py`` also without a venv,
so it uses the standard library only) and import as ``tools.<name>`` in tests.
"""
