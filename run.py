"""Entry point: `python run.py [group=option ...] [key=value ...]` runs one style transfer
(the installed `audiostyle` command is the same)."""

from audiostyle.commands.main import main

if __name__ == "__main__":
    main()
