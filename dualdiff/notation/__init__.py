"""Textbook notation: formulas in plain text and LaTeX (:mod:`.formulas`), tables in four formats (:mod:`.tabular`).

Imports only :mod:`dualdiff.rules` (a formula is a rule's template filled in).
"""
