"""Support for one lesson each, named after it: ``l04_cpu.py`` serves lesson 04.

What lives here is what a lesson needs but is not its subject: a figure only that lesson
draws, a job a process pool must import by module path, a recorder. A lesson module imports
the bench (``helpers`` and its private modules), never another lesson's module
(``tests/test_init.py`` checks both directions).
"""
