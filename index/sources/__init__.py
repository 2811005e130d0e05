"""Where articles come from: fetching pages and feeds, loading and cleaning
articles, keeping credentials out of what is shown."""
