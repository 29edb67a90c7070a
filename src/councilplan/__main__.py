"""``python -m councilplan``: the same command line as ``councilplan``."""

from councilplan.cli import app

if __name__ == "__main__":
    app(prog_name="councilplan")
