"""The Django site that bench/e2e.py serves with gunicorn: one page that uses its cache as a
typical page does. Not an example to copy: it exists to be measured."""
