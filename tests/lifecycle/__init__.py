"""An index over time, through the command line and real builds with the real model:
the articles as an operator changes them (test_articles.py), and versions published
while questions are answered, builds killed or run twice, disks failing
(test_publishing.py). Two files, so two workers run them side by side."""
