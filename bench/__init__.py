"""Benchmarks of the course package against the original assignment (``make bench``;
bench/RESULTS.md holds the numbers).

``run_all``            every benchmark, and bench/RESULTS.md regenerated
``bench_pairs``        target 1: pair generation, vectorised vs the original Python loop
``bench_training``     target 2: training throughput of the fast loop vs ``model.fit``
``bench_quality``      targets 3 and 4: HR@10 against co-occurrence counts and gensim
``bench_full``         target 4: the fast loop on every complete playlist
``bench_student``      target 5: the student path stays fast
``bench_autograde``    target 6: autograding a class, sequential vs ``--jobs 2``
``bench_instructor_wait`` target 7: the instructor's wait, this checkout against main's code
``bench_colab_wait``   issue 19: the student's wait for 05/06 in a fresh runtime, published vs retrained
``bench_xla_runtime``  issue 19: part 4's fit, XLA's older CPU runtime vs the thunk runtime, here and on Colab's pins
``cell_times``         per-cell times of executed notebooks
``bench_next_song``    issue 14: the next-song model against simple methods
``common``             data, splits, child-process measurements, CSV
``fast_rows``          the original assignment's rows, vectorised
``original_pipeline``  the original assignment's loop-based pipeline
"""
