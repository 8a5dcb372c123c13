"""`python -m bench`: the performance benchmark of the learning360 source (issue 6).

Runs the emulator and every sync in separate processes (see ``__main__`` and ``child``).
"""
