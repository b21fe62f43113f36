"""Stand-in for Colab's ``google.colab`` package in the simulated-Colab test.

Colab's kernel imports the real package at start, so code can tell it runs on Colab by
``"google.colab" in sys.modules``; the course's setup cells do exactly that. This stub is
imported the same way (an IPython startup file) and offers nothing else: a notebook that
called into it would fail the test. There is deliberately no ``google/__init__.py`` here,
so ``google`` stays a namespace package and ``google.protobuf`` (TensorFlow's) still loads.
"""

SIMULATED = True
