#!/usr/bin/env python
"""The live test app's manage.py, wired as the tree's instrumentation/django/README.md says."""

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "livesite.settings")
    import otel_setup

    otel_setup.configure()

    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
