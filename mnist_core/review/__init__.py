"""Review: where a model and the labels disagree, and what people decided about it.

    suspects.py     the review queue: images ranked by p(given label | image), likely label issues
    issues.py       cleanlab's finders on either split: label issues, outliers, near duplicates, train/test leaks
    browse.py       filtering, ordering and paging test images for the Predictions and Probabilities pages
    store.py        the review store: reviewers' verdicts in a database (SQLite or any SQLAlchemy URL)
    export.py       verdicts as CSV/JSON rows, and the corrected labels a review found
    corrections.py  corrected-labels files, to retrain with
    __main__.py     the command line: python -m mnist_core.review --help
"""
