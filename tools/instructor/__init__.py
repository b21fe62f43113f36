"""Instructor tooling for the song2vec nbgrader course: ``python -m tools.instructor <command>``.

One module per concern, in the order a course goes through them:

``settings``       defaults read from the environment (cell timeout, exchange folder)
``errors``         ``CourseToolError``, the one exception of a failed step
``paths``          the course layout fixed in nbgrader_config.py; the gradebook URL
``cells``          what a cell is in this course's conventions (its role, points, owner)
``views``          a notebook and its cells as the rules see them
``rules``          the convention rules, as a table; ``checks`` runs them
``nbgrader_calls`` nbgrader as a subprocess, with the course's environment
``colab``          what a release bakes in for Colab (install spec, data URL, badge)
``release``        ``generate_assignment`` plus the Colab baking and the leak checks, zipped
                   (``reference_release``: the reference runs it trains once and publishes)
``publish``        the release committed to the branch the Colab badges open
``scores``         gradebook scores, the score table and grades.csv
``grading``        autograde and feedback
``class_autograde`` a class autograded in parallel (Dask): ``student_job`` one student's
                   job, ``gradebook_merge`` its results merged into the gradebook,
                   ``resume`` which students still need grading (its progress bar:
                   ``helpers.progress``), ``grading_runs`` the reference runs each
                   worker trains once for its kernels
``kernel_guard``   runs inside each autograded kernel: the state test cells rely on
``sandbox``        each autograded kernel in a bubblewrap sandbox
``collect``        an LMS download into submitted/: ``collect_files`` (the download, names
                   checked), ``collect_names`` (each LMS's naming), ``collect_roster``
``export_lms``     each LMS's grade import CSV, the feedback zip; ``export_grades`` the points
``report``         the class report page; ``report_data`` what it shows; ``static_page``
                   the escaped, script-free shell of both report pages
``tasks``          the task -> reference helper -> test cells table of docs/GRADING.md
``tamper``         the tamper report: what is unusual about one student's submission
``similarity``     the similarity report: answers against the reference and each other
                   (``fingerprint``, ``reference_code``; ``similarity_html``: the page)
``docs``           the generated tables of docs/GRADING.md, rewritten in place
``preprocessors``  nbgrader preprocessors installed by nbgrader_config.py
``cli``            the command line (``cli_lms``: the options of collect, export --to, report;
                   ``__main__``: ``python -m tools.instructor``)

Every step is a function taking ``course_root`` (the folder holding
``nbgrader_config.py``), so tests can drive a throw-away course. This package imports
nothing heavy on import: ``nbgrader_config.py`` loads ``settings`` and ``preprocessors``.
"""
