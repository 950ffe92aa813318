#!/usr/bin/env python
"""The e2e test project's manage.py, wired as otel_setup's README says."""

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "e2esite.settings")
    import otel_setup

    otel_setup.configure()

    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
