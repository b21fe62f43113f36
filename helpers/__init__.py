"""Reference implementation of a skip-gram song recommender (SGNS on playlists).

Modules, one per stage: ``data``/``fetch``/``synthetic`` (inputs), ``vocab`` (ID mapping),
``skipgrams`` (training pairs), ``model`` and ``training`` (Keras SGNS), ``recommend``
(cosine top-N), ``runs`` (saved runs), ``evaluate``/``baselines``/``plots``/``projector``
(evaluation), ``course`` (notebook profiles), ``cli`` (the ``songrec`` command).

TensorFlow is imported lazily by ``model`` and ``training`` only, so data work stays fast.
Importing ``helpers`` installs ``quiet_tensorflow``'s hook, so that TensorFlow's first
import (also through ``import keras``) prints none of its start-up log lines.
"""

from helpers import quiet_tensorflow as _quiet_tensorflow

_quiet_tensorflow.install()

__version__ = "0.1.0"
