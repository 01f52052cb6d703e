"""Hailong: real-time citizen satisfaction with public administrative services.

The shared core every stage imports: settings, the wire contract, the methodology's
formulas, errors, and the ``hailong`` command line. The data itself flows through
``producers`` → ``streams`` → ``warehouse`` → ``pipelines``; ``infra`` starts what
they run on.
"""

__version__ = "0.1.0"
