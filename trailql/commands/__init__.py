"""One module per command, each with ``run(arguments) -> exit code``.

The parser (``trailql.cli``) imports none of them, so ``trailql --help`` stays fast; the
command asked for is imported when it runs.
"""
