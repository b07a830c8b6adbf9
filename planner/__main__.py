"""``python -m planner`` runs the command-line interface (the ``planner`` command)."""

from planner.cli.main import main

if __name__ == "__main__":
    main()
