"""Acceptance tests of issue 16: `lrscope explain` on each real log in ../shared/data/real-logs tells its README's
truth."""
