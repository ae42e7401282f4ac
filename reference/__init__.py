"""Reference solutions for the course's homework sets.

Pure, deterministic functions: no file or network I/O and no grading logic.
Each module's docstrings state the handout's equations and the shapes involved,
so a reader can check them against the problem text line by line.
"""
