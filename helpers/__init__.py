"""Reference implementation of a skip-gram song recommender (SGNS on playlists).

Modules, one per stage: ``data``/``fetch``/``synthetic`` (inputs), ``vocab`` (ID mapping),
``skipgrams`` (training pairs), ``model`` and ``training`` (Keras SGNS), ``recommend``
(cosine top-N), ``runs`` (saved runs), ``evaluate``/``baselines``/``plots``/``projector``
(evaluation), ``course`` (notebook profiles), ``cli`` (the ``songrec`` command).

TensorFlow is imported lazily by ``model`` and ``training`` only, so data work stays fast.
"""

__version__ = "0.1.0"
