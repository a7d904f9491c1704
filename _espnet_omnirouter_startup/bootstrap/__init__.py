"""The directory ``espnet-omnirouter-python`` puts first on ``PYTHONPATH``: it holds only
the ``sitecustomize`` module that Python's start-up imports from there."""
