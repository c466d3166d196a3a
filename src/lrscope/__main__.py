"""``python -m lrscope`` (and ``torchrun -m lrscope``) run the command line."""

from lrscope.cli import main

if __name__ == "__main__":
    main()
