"""What one command does: validate what the command line parsed, load the run or log, call the library, save
the results and draw them.

One module per command (``jobs.train`` for ``lrscope train``, ``jobs.find`` for ``lrscope find``, ...);
``lrscope.cli`` parses the arguments, calls one job and prints what it returns.  Jobs may import every layer
below them (probes, train, viz, report, analysis, logs, schedules); nothing below imports a job.
"""
