"""Layer 7: the ``dualdiff`` command (:mod:`.main`), its ``compare`` subcommand and the formula parser."""
