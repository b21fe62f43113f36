"""Reference implementation of a skip-gram song recommender (SGNS on playlists).

Modules, one per stage (docs/ARCHITECTURE.md draws how they fit together):

* inputs: ``data`` (Cornell's files, ``Dataset``), ``npz`` (songrec's own dataset file),
  ``course_pickle`` (the original assignment's pickle, on opt-in), ``fetch`` (download
  and verify), ``synthetic`` (a genre corpus with known answers), ``locations`` (where
  data and caches go), ``environment`` (the names of the ``SONGREC_*`` variables);
* vocabulary and pairs: ``vocab`` (raw IDs <-> indices 1..V), ``windows`` (which
  positions see each other), ``noise`` (the negative-sampling distribution),
  ``skipgrams`` (the keras loop's training rows);
* training: ``sgns`` (``SGNSConfig``, ``PRESETS``, ``LOOPS``, ``train``), ``model`` (the
  Keras SGNS network), ``keras_loop`` and ``fast_loop`` (the skip-gram loops),
  ``fast_model`` (the fast loop's Keras model and its lazy Adam), ``sessions`` (listening
  sessions: training examples, held-out histories, a session model's tables),
  ``session_loop`` and ``session_model`` (the next-song model), ``progress`` (one line per
  epoch);
* using and judging the vectors: ``ranking`` (the rules every ranking follows),
  ``recommend`` (cosine top-N), ``splits`` (playlist splits, next-song cases),
  ``baselines`` (scorers to compare with), ``session_scorers`` (the session model's scores
  and the session kNNs), ``blend`` (the learned blend of the session model with the
  sequence and session kNNs), ``scorers`` (their registry), ``metrics``
  (HR@K, MRR@K, coverage, label agreement), ``evaluate`` (``songrec evaluate``), ``plots``,
  ``projector`` (TensorBoard Projector files);
* around them: ``runs`` (saved runs, ``RunSettings``), ``run_data`` (a run's split and
  vocabulary, the same for training and evaluating), ``train_flags`` (``songrec train``'s
  flags, made from ``SGNSConfig``), ``course`` (the notebooks' profiles and reference
  outputs), ``published_runs`` (the release's trained reference runs, verified on
  download), ``testkit`` (what the notebooks' test cells call: guarded calls of the
  student's functions, plain-value conversion, expected/got checks), ``cli`` and
  ``__main__`` (the ``songrec`` command), ``validate`` (argument checks and file
  schemas), ``errors``, ``digest`` (checksums), ``outdir`` (the
  output-folder rule), ``limits`` (resource limits), ``terminal`` (safe printing),
  ``quiet_tensorflow`` (TensorFlow's start-up lines). The nbgrader preprocessors are
  instructor tooling and live in ``tools.instructor.preprocessors``.

TensorFlow is imported only by the modules that train (``model``, ``keras_loop``,
``fast_model``, ``session_model``, ``fast_loop`` and ``session_loop`` when they run), so data
work stays fast. Importing ``helpers`` installs ``quiet_tensorflow``'s hook, so that
TensorFlow's first import (also through ``import keras``) prints none of its start-up log
lines.
"""

from helpers import quiet_tensorflow as _quiet_tensorflow

_quiet_tensorflow.install()

__version__ = "0.1.0"
